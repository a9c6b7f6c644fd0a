"""A tiny synthetic margin tree in the public CIFAR-10 unlearning benchmark's layout, and the
KLoM numpy computes on it, for unlearn-eval's published-margins test.

    python scripts/torch_reference/make_margin_tree.py

Writes crates/unlearn-eval/tests/fixtures/margin-tree/: forget_sets/cifar10/forget_set_3.npy,
margins/cifar10/{pretrain,oracle}/… (8 originals, 16 oracles; 30 training points, 5 forgotten,
12 test points), and expected.json: P95, P99 and mean KLoM per split for the originals against
oracles 0–7 and for oracles 8–15 against 0–7 (the noise floor), under both rules of
docs/algorithms.md §2: the spec's (np.histogram, last bin closed) and the benchmark's
(np.digitize on 21 linspace edges, the top edge dropped). Needs numpy only.
"""

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "crates/unlearn-eval/tests/fixtures/margin-tree"
FORGET_ID, N_TRAIN, N_VAL, ORIGINALS, ORACLES = 3, 30, 12, 8, 16
EPS, BINS, CLIP = 1e-5, 20, 100.0


def kl_spec(p_samples, q_samples):
    p_samples, q_samples = np.clip(p_samples, -CLIP, CLIP), np.clip(q_samples, -CLIP, CLIP)
    lo = min(p_samples.min(), q_samples.min())
    hi = max(p_samples.max(), q_samples.max())
    if hi <= lo:
        hi = lo + 1.0
    p = np.histogram(p_samples, bins=BINS, range=(lo, hi))[0] / len(p_samples)
    q = np.histogram(q_samples, bins=BINS, range=(lo, hi))[0] / len(q_samples)
    keep = p > 0
    return float(np.sum(p[keep] * np.log(p[keep] / np.maximum(q[keep], EPS))))


def kl_benchmark(p_samples, q_samples):
    p_samples, q_samples = np.clip(p_samples, -CLIP, CLIP), np.clip(q_samples, -CLIP, CLIP)
    lo = min(p_samples.min(), q_samples.min())
    hi = max(p_samples.max(), q_samples.max())
    if lo >= hi:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, BINS + 1)

    def shares(samples):
        bins = np.digitize(samples, edges)
        counts = np.array([np.count_nonzero(bins == b) for b in range(1, BINS + 1)], dtype=float)
        return counts / counts.sum() if counts.sum() > 0 else counts

    p, q = shares(p_samples), shares(q_samples)
    keep = p > 0
    q_floor = np.where(keep, np.maximum(q, EPS), q)
    return float(np.sum(p[keep] * np.log(p[keep] / q_floor[keep])))


def summary(per_point):
    return {
        "p95": float(np.percentile(per_point, 95)),
        "p99": float(np.percentile(per_point, 99)),
        "mean": float(np.mean(per_point)),
    }


def main():
    rng = np.random.default_rng(0)
    forget = np.array([4, 17, 9, 25, 0], dtype=np.int64)
    retain = np.setdiff1d(np.arange(N_TRAIN), forget)
    base = OUT / "margins/cifar10"
    (OUT / "forget_sets/cifar10").mkdir(parents=True, exist_ok=True)
    np.save(OUT / f"forget_sets/cifar10/forget_set_{FORGET_ID}.npy", forget)

    center_train = rng.normal(3.0, 2.0, N_TRAIN)
    center_val = rng.normal(1.0, 2.0, N_VAL)

    def save(directory, model, values):
        directory = directory / "resnet9"
        directory.mkdir(parents=True, exist_ok=True)
        # Rounded to 1/4 so that ties, and values on the top edge, occur as in real margins.
        np.save(directory / f"id_{model}_epoch_23.npy", (np.round(values * 4) / 4).astype(np.float32))

    originals = {"retain": [], "forget": [], "val": []}
    for m in range(ORIGINALS):
        train = center_train + rng.normal(0, 1.0, N_TRAIN) + 1.5  # memorised: higher margins
        val = center_val + rng.normal(0, 1.0, N_VAL)
        save(base / "pretrain/retain", m, train)  # every training point, forget set included
        save(base / f"pretrain/forget_{FORGET_ID}", m, train[forget])
        save(base / "pretrain/val", m, val)
    oracles = {"retain": [], "forget": [], "val": []}
    for m in range(ORACLES):
        train = center_train + rng.normal(0, 1.0, N_TRAIN)
        train[forget] -= 3.0  # never seen
        val = center_val + rng.normal(0, 1.0, N_VAL)
        for split, values in [("retain", train[retain]), ("forget", train[forget]), ("val", val)]:
            save(base / f"oracle/forget_{FORGET_ID}/{split}", m, values)

    def load(source, split, models):
        rows = []
        for m in models:
            if source == "pretrain":
                path = base / ("pretrain/" + (f"forget_{FORGET_ID}" if split == "forget" else split))
            else:
                path = base / f"oracle/forget_{FORGET_ID}/{split}"
            values = np.load(path / f"resnet9/id_{m}_epoch_23.npy").astype(np.float64)
            if source == "pretrain" and split == "retain":
                values = values[retain]
            rows.append(values)
        return np.stack(rows)

    expected = {}
    for rule, kl in [("spec", kl_spec), ("benchmark", kl_benchmark)]:
        for name, (source, models) in {
            "pretrain": ("pretrain", range(ORIGINALS)),
            "floor": ("oracle", range(ORIGINALS, ORACLES)),
        }.items():
            for split in ["forget", "retain", "val"]:
                u, o = load(source, split, models), load("oracle", split, range(ORIGINALS))
                per_point = [kl(u[:, j], o[:, j]) for j in range(u.shape[1])]
                expected[f"{rule}/{name}/{split}"] = summary(per_point)
    (OUT / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    print(f"wrote the tree and {len(expected)} expected summaries to {OUT}")


if __name__ == "__main__":
    main()
