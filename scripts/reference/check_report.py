#!/usr/bin/env python3
"""An independent reference for every column of an `unlearn bench` report.

Reads a bench run directory: report.csv, challenge-splits.json, and for each row the zoo it scored
and its oracles (`logits.npy`, `labels.npy`, `manifest.json`) and the forget set
(`forget/<set>.txt`). Recomputes each column from those stored logits with numpy, scipy and
scikit-learn, following the metrics' origins rather than unlearn's Rust:

- margins and KLoM (the paper "Attribute-to-Delete", Georgiev et al. 2025; the spec's histogram
  rules via numpy's own `np.histogram`, and the public benchmark's rules as its `eval.py` states
  them: 21 `linspace` edges, `np.digitize`, Q floored at 1e-5 where P > 0);
- the NeurIPS 2023 unlearning challenge score (Triantafillou et al. 2024, and the competition's
  public scorer): per forget example the loss under each model, every threshold attack and a
  cross-validated scikit-learn `LogisticRegression`, `compute_epsilon_s`, 13 bins of width 0.5,
  times the retain and test accuracy ratios; and unlearn's two-sided variant, where each
  threshold rule's opposite (at or below t) is an attack too;
- MIA efficacy (Jia et al. 2023, "Model sparsity can simplify machine unlearning"): an attack
  trained on true-class confidence to tell retain (members) from validation (non-members), the
  share of forget points it calls non-members; unlearn's documented choice of attack is a
  class-balanced logistic regression on the standardised confidence with ridge 1e-4, which this
  script fits with scikit-learn;
- U-LiRA AUC (Hayes et al. 2024, "Inexact unlearning needs more careful evaluations"), in the
  protocol docs/algorithms.md §10 states: Gaussians fitted on one parity half of the models,
  the log-likelihood ratio scored on the other half, AUC by scikit-learn's `roc_auc_score`;
- accuracy gaps: oracle minus method accuracy, averaged over models.

The regression attack draws random splits; the run directory records the ones unlearn used
(challenge-splits.json), and the comparison uses the same. With equal zoo sizes, the score with
scikit-learn's own `StratifiedShuffleSplit(n_splits=3, random_state=0)` (the competition's call,
default tolerance) is printed too, for information.

Prints one line per column with the largest difference over the rows; exits 1 when a column
differs beyond its tolerance, 2 on unusable input.

Usage: check_report.py RUN_DIR [--rows N]
"""

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import warnings

import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

# Newton's method at a tolerance of 1e-10 reaches the optimum and then cannot shorten its last
# step, which scikit-learn reports as a warning: the fit is done.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

CLIP = 100.0
KLOM_BINS = 20
KLOM_EPS = 1e-5
MIA_RIDGE = 1e-4
ULIRA_VAR_FLOOR = 1e-4
CHALLENGE_DELTA = 0.01

# Largest allowed |reference − report| per column. KLoM: both sides compute margins in float32
# with their own summation order, so a margin within an ulp of a bin edge can fall in the
# neighbouring bin; on the digits bench (132 rows, 1 797 points) that moved one percentile by
# 1.2e-3 and the rest by < 3e-4 (report.csv prints 6 decimals). The rest are exact up to printing:
# MIA and the challenge count predictions, so a point on a decision boundary would show as a
# whole step.
TOLERANCES = {
    "klom_p95_forget": 5e-3,
    "klom_p95_retain": 5e-3,
    "klom_p95_validation": 5e-3,
    "klom_p99_forget": 5e-3,
    "klom_p99_retain": 5e-3,
    "klom_p99_validation": 5e-3,
    "klom_p99_split_average": 5e-3,
    "klom_benchmark_p95_forget": 5e-3,
    "klom_benchmark_p95_retain": 5e-3,
    "klom_benchmark_p95_validation": 5e-3,
    "klom_benchmark_p99_forget": 5e-3,
    "klom_benchmark_p99_retain": 5e-3,
    "klom_benchmark_p99_validation": 5e-3,
    "delta_acc_forget": 2e-6,
    "delta_acc_validation": 2e-6,
    "mia_efficacy": 2e-6,
    "ulira_auc": 2e-6,
    "challenge_score": 2e-6,
    "challenge_score_two_sided": 2e-6,
}


def fail(message):
    print(f"check_report: {message}", file=sys.stderr)
    sys.exit(2)


def load_npy(path):
    if not path.is_file():
        fail(f"{path} is missing; is this a bench run directory?")
    return np.load(path)


class ZooLogits:
    """A zoo's logits (models × points × classes), labels and training-set size."""

    def __init__(self, directory):
        self.logits = load_npy(directory / "logits.npy")
        self.labels = load_npy(directory / "labels.npy").astype(np.int64)
        manifest = directory / "manifest.json"
        if not manifest.is_file():
            fail(f"{manifest} is missing")
        self.n_train = json.loads(manifest.read_text())["dataset"]["n_train"]
        if self.logits.ndim != 3 or self.logits.shape[1] != len(self.labels):
            fail(f"{directory}: logits {self.logits.shape} do not match {len(self.labels)} labels")


def margins(logits, labels):
    """z_y − logsumexp_{c≠y} z_c in float32, models × points."""
    z = logits.astype(np.float32)
    points = np.arange(z.shape[1])
    true = z[:, points, labels]
    others = z.copy()
    others[:, points, labels] = -np.inf
    top = others.max(axis=2, keepdims=True)
    rest = top[..., 0] + np.log(np.exp(others - top).sum(axis=2, dtype=np.float32))
    return (true - rest).astype(np.float32)


def klom_spec(u, o):
    """KL(P‖Q) of 20-bin histograms on [min, max] of both (numpy's histogram: last bin closed)."""
    u = np.clip(u, -CLIP, CLIP).astype(np.float64)
    o = np.clip(o, -CLIP, CLIP).astype(np.float64)
    lo, hi = min(u.min(), o.min()), max(u.max(), o.max())
    if hi <= lo:
        hi = lo + 1.0
    p = np.histogram(u, bins=KLOM_BINS, range=(lo, hi))[0] / len(u)
    q = np.histogram(o, bins=KLOM_BINS, range=(lo, hi))[0] / len(o)
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], KLOM_EPS))))


def klom_benchmark(u, o):
    """The public benchmark's rules: 21 linspace edges, np.digitize (the top edge falls out),
    each histogram normalised by what it counted, Q floored where P > 0."""
    # In float64, as numpy 1.x (the benchmark's era) computed linspace of float32 scalars;
    # numpy 2 keeps such edges in float32, which moves values that sit on an edge.
    u = np.clip(u.astype(np.float64), -CLIP, CLIP)
    o = np.clip(o.astype(np.float64), -CLIP, CLIP)
    start, end = min(u.min(), o.min()), max(u.max(), o.max())
    if start >= end:
        end = start + 1.0
    edges = np.linspace(start, end, KLOM_BINS + 1)
    iu, io = np.digitize(u, edges), np.digitize(o, edges)
    pc = np.array([np.sum(iu == i) for i in range(1, KLOM_BINS + 1)], dtype=np.float64)
    qc = np.array([np.sum(io == i) for i in range(1, KLOM_BINS + 1)], dtype=np.float64)
    p = pc / pc.sum() if pc.sum() > 0 else pc
    q = qc / qc.sum() if qc.sum() > 0 else qc
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], KLOM_EPS))))


def accuracy(logits, labels, idx):
    """Mean over models of each model's accuracy on the points idx."""
    return float(np.mean(np.argmax(logits[:, idx, :], axis=2) == labels[idx]))


def confidences(logits, labels):
    """Softmax probability of the true class, models × points."""
    z = logits.astype(np.float64)
    logp = z - logsumexp(z, axis=2, keepdims=True)
    return np.exp(logp[:, np.arange(z.shape[1]), labels])


def mia_efficacy(logits, labels, forget, retain, validation):
    conf = confidences(logits, labels)
    n = len(retain) + len(validation)
    y = np.r_[np.ones(len(retain)), np.zeros(len(validation))]
    shares = []
    for row in conf:
        scaler = StandardScaler().fit(np.r_[row[retain], row[validation]].reshape(-1, 1))
        x = scaler.transform(np.r_[row[retain], row[validation]].reshape(-1, 1))
        # unlearn's ridge λ on a class-weighted mean loss is C = 1/(λ n) on scikit-learn's
        # balanced weights (each class weighs n/2 in total).
        attack = LogisticRegression(C=1.0 / (MIA_RIDGE * n), class_weight="balanced",
                                    tol=1e-10, max_iter=10000).fit(x, y)
        said = attack.predict(scaler.transform(row[forget].reshape(-1, 1)))
        shares.append(np.mean(said == 0))
    return float(np.mean(shares))


def ulira_auc(mu, mo, forget):
    scores, truth = [], []
    for j in forget:
        u = np.clip(mu[:, j], -CLIP, CLIP).astype(np.float64)
        o = np.clip(mo[:, j], -CLIP, CLIP).astype(np.float64)
        for fit in (0, 1):
            def gauss(v):
                half = v[fit::2]
                var = half.var(ddof=1) if len(half) > 1 else 0.0
                return half.mean(), math.sqrt(max(var, ULIRA_VAR_FLOOR))
            (au, su), (ao, so) = gauss(u), gauss(o)
            for values, label in ((u[1 - fit::2], 1), (o[1 - fit::2], 0)):
                scores.extend(norm.logpdf(values, au, su) - norm.logpdf(values, ao, so))
                truth.extend([label] * len(values))
    return float(roc_auc_score(truth, scores))


def losses(logits, labels, forget):
    """Cross-entropy of the true label, models × forget points."""
    z = logits[:, forget, :].astype(np.float64)
    return logsumexp(z, axis=2) - z[:, np.arange(len(forget)), labels[forget]]


def rates(truth, said):
    fpr = np.sum((said == 1) & (truth == 0)) / np.sum(truth == 0)
    fnr = np.sum((said == 0) & (truth == 1)) / np.sum(truth == 1)
    return fpr, fnr


def threshold_attacks(out_u, out_r):
    samples = np.concatenate((out_r, out_u))
    truth = np.r_[np.zeros(len(out_r)), np.ones(len(out_u))]
    return [rates(truth, (samples > t).astype(int)) for t in sorted(samples)]


def logistic_attack(out_u, out_r, splits, tol):
    samples = np.concatenate((out_r, out_u)).reshape(-1, 1)
    truth = np.r_[np.zeros(len(out_r)), np.ones(len(out_u))]
    fprs, fnrs = [], []
    for train, test in splits:
        # The comparison solves the regression to its optimum (Newton's method); the competition's
        # own call, L-BFGS at tol 1e-4, stops early on losses in the thousandths.
        if tol < 1e-4:
            attack = LogisticRegression(solver="newton-cholesky", tol=tol, max_iter=1000)
        else:
            attack = LogisticRegression(tol=tol)
        attack.fit(samples[train], truth[train])
        fpr, fnr = rates(truth[test], attack.predict(samples[test]))
        fprs.append(fpr)
        fnrs.append(fnr)
    return float(np.mean(fprs)), float(np.mean(fnrs))


def epsilon(attacks):
    best = [0.0]
    for fpr, fnr in attacks:
        if fpr == 0 and fnr == 0:
            best.append(np.inf)
        elif fpr == 0 or fnr == 0:
            continue
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                e1 = np.log(1.0 - CHALLENGE_DELTA - fpr) - np.log(fnr)
                e2 = np.log(1.0 - CHALLENGE_DELTA - fnr) - np.log(fpr)
            best.append(np.inf if np.isnan(e1) and np.isnan(e2) else np.nanmax([e1, e2]))
    return float(np.nanmax(best))


def challenge_scores(zoo, oracles, forget, retain, validation, splits, tol):
    """The competition's score, and the two-sided variant: each threshold rule's opposite
    ("unlearned" at or below t) joins the attacks."""
    lu, lr = losses(zoo.logits, oracles.labels, forget), losses(oracles.logits, oracles.labels, forget)
    competition, two_sided = [], []
    for j in range(len(forget)):
        attacks = threshold_attacks(lu[:, j], lr[:, j])
        attacks.append(logistic_attack(lu[:, j], lr[:, j], splits, tol))
        competition.append(epsilon(attacks))
        truth = np.r_[np.zeros(len(lr)), np.ones(len(lu))]
        samples = np.concatenate((lr[:, j], lu[:, j]))
        opposite = [rates(truth, (samples <= t).astype(int)) for t in sorted(samples)]
        two_sided.append(epsilon(attacks + opposite))
    labels = oracles.labels
    ratio = lambda idx: accuracy(zoo.logits, labels, idx) / accuracy(oracles.logits, labels, idx)
    ratios = ratio(retain) * ratio(validation)
    quality = lambda eps: float(np.mean(2.0 / 2.0 ** np.digitize(np.array(eps), np.arange(13) * 0.5)))
    return quality(competition) * ratios, quality(two_sided) * ratios


def recorded_splits(run, n_retrained, n_unlearned):
    path = run / "challenge-splits.json"
    if not path.is_file():
        fail(f"{path} is missing (written by `unlearn bench` beside report.csv)")
    recorded = json.loads(path.read_text())
    for entry in recorded["splits"]:
        if entry["retrained"] == n_retrained and entry["unlearned"] == n_unlearned:
            n = n_retrained + n_unlearned
            # The splits are checked against their description, not taken on trust: as
            # scikit-learn's StratifiedShuffleSplit, ⌈fraction · n⌉ held out (at least 2),
            # shared between the sides in proportion, each side keeping samples to train on.
            n_test = min(max(2, math.ceil(recorded["test_fraction"] * n)), n - 2)
            share = n_test * n_retrained / n
            out = []
            for k, test in enumerate(entry["test"]):
                test = np.array(test, dtype=np.int64)
                held_r = int(np.sum(test < n_retrained))
                if (len(test) != n_test or len(np.unique(test)) != len(test)
                        or test.min() < 0 or test.max() >= n
                        or not 1 <= held_r <= n_retrained - 1
                        or not 1 <= n_test - held_r <= n_unlearned - 1
                        or abs(held_r - share) > 1):
                    fail(f"{path}: split {k} of {n_retrained} + {n_unlearned} samples is not a "
                         f"stratified hold-out of {n_test}: {test.tolist()}")
                out.append((np.setdiff1d(np.arange(n), test), test))
            if len({tuple(t) for _, t in out}) < len(out):
                fail(f"{path}: the splits of {n_retrained} + {n_unlearned} samples repeat")
            return out
    fail(f"{path} has no splits for {n_retrained} retrained and {n_unlearned} unlearned models")


def competition_splits(n_retrained, n_unlearned):
    truth = np.r_[np.zeros(n_retrained), np.ones(n_unlearned)]
    cv = StratifiedShuffleSplit(n_splits=3, random_state=0)
    return list(cv.split(np.zeros((len(truth), 1)), truth))


def number(text):
    return float(text) if text not in ("", None) else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a bench run directory (holds report.csv)")
    parser.add_argument("--rows", type=int, default=0, help="check only the first N scored rows")
    parser.add_argument("--forget-set", action="append", default=[],
                        help="check only the rows of this forget set (repeatable)")
    args = parser.parse_args()
    report = args.run / "report.csv"
    if not report.is_file():
        fail(f"{report} is missing; pass the directory `unlearn bench --out` wrote")
    with report.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("zoo") and not r.get("failure")]
    if not rows:
        fail(f"{report} has no scored rows with a zoo column (written by an older unlearn?)")
    if args.forget_set:
        rows = [r for r in rows if r["forget_set"] in args.forget_set]
    if args.rows:
        rows = rows[: args.rows]
    if not rows:
        fail(f"no rows of {report} left to check (--forget-set {args.forget_set}, --rows {args.rows})")

    worst = {column: (0.0, "") for column in TOLERANCES}
    info = 0.0
    cache = {}
    for row in rows:
        def zoo(rel):
            if rel not in cache:
                cache[rel] = ZooLogits(args.run / rel)
            return cache[rel]
        unlearned, oracles = zoo(row["zoo"]), zoo(row["oracles"])
        labels, n_train = oracles.labels, oracles.n_train
        forget_file = args.run / "forget" / f"{row['forget_set']}.txt"
        if not forget_file.is_file():
            fail(f"{forget_file} is missing")
        forget = np.array(sorted(int(v) for v in forget_file.read_text().split()), dtype=np.int64)
        retain = np.setdiff1d(np.arange(n_train), forget)
        validation = np.arange(n_train, len(labels))
        mu, mo = margins(unlearned.logits, labels), margins(oracles.logits, labels)
        spec = np.array([klom_spec(mu[:, j], mo[:, j]) for j in range(len(labels))], dtype=np.float32)
        bench = np.array([klom_benchmark(mu[:, j], mo[:, j]) for j in range(len(labels))],
                         dtype=np.float32)
        p = lambda values, idx, q: float(np.percentile(values[idx].astype(np.float64), q))
        ours = {}
        for name, idx in (("forget", forget), ("retain", retain), ("validation", validation)):
            ours[f"klom_p95_{name}"] = p(spec, idx, 95)
            ours[f"klom_p99_{name}"] = p(spec, idx, 99)
            ours[f"klom_benchmark_p95_{name}"] = p(bench, idx, 95)
            ours[f"klom_benchmark_p99_{name}"] = p(bench, idx, 99)
        ours["klom_p99_split_average"] = (
            ours["klom_p99_forget"] + ours["klom_p99_retain"] + ours["klom_p99_validation"]) / 3
        for name, idx in (("forget", forget), ("validation", validation)):
            ours[f"delta_acc_{name}"] = (accuracy(oracles.logits, labels, idx)
                                         - accuracy(unlearned.logits, labels, idx))
        ours["mia_efficacy"] = mia_efficacy(unlearned.logits, labels, forget, retain, validation)
        ours["ulira_auc"] = ulira_auc(mu, mo, forget)
        n_u, n_r = unlearned.logits.shape[0], oracles.logits.shape[0]
        splits = recorded_splits(args.run, n_r, n_u)
        ours["challenge_score"], ours["challenge_score_two_sided"] = challenge_scores(
            unlearned, oracles, forget, retain, validation, splits, 1e-10)
        if n_u == n_r:
            theirs = challenge_scores(unlearned, oracles, forget, retain, validation,
                                      competition_splits(n_r, n_u), 1e-4)[0]
            info = max(info, abs(theirs - ours["challenge_score"]))
        where = f"{row['forget_set']} / {row['label']}"
        for column, value in ours.items():
            reported = number(row[column])
            # Equal only as numbers, or as the same infinity: NaN (an empty cell) against
            # anything, a missing value included, is a disagreement.
            if value == reported:
                diff = 0.0
            else:
                diff = abs(value - reported)
                if math.isnan(diff):
                    diff = math.inf
            if diff >= worst[column][0]:
                worst[column] = (diff, f"{where}: report {reported:.6f}, reference {value:.6f}")

    failed = 0
    print(f"reference check of {len(rows)} rows in {report}")
    for column, tolerance in TOLERANCES.items():
        diff, where = worst[column]
        ok = diff <= tolerance
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {column:<30} max |diff| {diff:.2e} (tolerance {tolerance:.0e})"
              + ("" if ok else f"  worst: {where}"))
    print(f"info: challenge score with the competition's own splits (StratifiedShuffleSplit, "
          f"random_state=0, tol 1e-4) differs from the recorded splits' by at most {info:.3f}")
    if failed:
        print(f"check_report: {failed} column(s) disagree with the reference", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
