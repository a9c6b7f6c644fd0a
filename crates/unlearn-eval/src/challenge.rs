//! The score of the NeurIPS 2023 machine unlearning challenge (docs/algorithms.md §10), from
//! the competition's public evaluation code (unlearning-challenge; Triantafillou et al., "Are we
//! making progress in unlearning?", 2024): per forget example, a privacy degree ε from attacks
//! that tell unlearned from retrained models by the example's loss — every single threshold
//! ("unlearned" above it) and a cross-validated logistic regression, which learns either
//! direction and so catches a model that still remembers the example; ε binned into a score;
//! the mean over F, times the retain and test accuracy ratios.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::accuracy::SplitAccuracy;
use crate::error::{EvalError, Result};
use crate::margins::margins;
use crate::mia::Logistic1d;

/// δ of the (ε, δ) privacy degree.
pub const CHALLENGE_DELTA: f64 = 0.01;
/// Width of an ε bin.
pub const CHALLENGE_BIN_WIDTH: f64 = 0.5;
/// Number of bin edges (0, 0.5, …, 6.0); ε ≥ 6 (or ∞) lands in the last bin.
pub const CHALLENGE_BINS: usize = 13;
/// Cross-validation splits of the logistic-regression attack (the competition's `n_splits`).
pub const CHALLENGE_SPLITS: usize = 3;
/// Share of the samples each split holds out for testing (scikit-learn's default 0.1).
pub const CHALLENGE_TEST_FRACTION: f64 = 0.1;
/// Seed of the splits (the competition's `random_state=0`; the draw itself is this crate's).
pub const CHALLENGE_SEED: u64 = 0;
/// Inverse regularisation of the logistic-regression attack (scikit-learn's default C).
pub const CHALLENGE_C: f64 = 1.0;

/// The challenge's score and its parts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChallengeScore {
    /// Forgetting quality F: the mean over F of 2 / 2^bin(ε) (1 best, 2/2¹³ worst).
    pub forget_quality: f64,
    /// Mean retain accuracy of the unlearned models over that of the oracles.
    pub retain_ratio: f64,
    /// The same on the validation (test) split.
    pub test_ratio: f64,
    /// F × retain ratio × test ratio.
    pub score: f64,
    /// ε of each forget example (max over every attack), in the order of the forget set.
    pub epsilons: Vec<f64>,
    /// ε of the threshold attacks alone, per forget example.
    pub threshold_epsilons: Vec<f64>,
    /// ε of the logistic-regression attack alone, per forget example.
    pub logistic_epsilons: Vec<f64>,
    /// The cross-validation splits that attack used (the same for every example).
    pub splits: AttackSplits,
    /// unlearn's two-sided variant: the same score with every threshold attack's complement
    /// ("unlearned" at or below t) added to the attacks, so that a model whose loss stays
    /// *lower* than retraining's (one that remembers) is caught as surely as one whose loss
    /// rose too far (docs/algorithms.md §10).
    pub two_sided_score: f64,
    /// Its forgetting quality.
    pub two_sided_quality: f64,
    /// Its ε per forget example.
    pub two_sided_epsilons: Vec<f64>,
}

/// An attack's error rates: FPR = share of retrained samples called "unlearned", FNR = share
/// of unlearned samples called "retrained".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackRates {
    /// False-positive rate.
    pub fpr: f64,
    /// False-negative rate.
    pub fnr: f64,
}

/// Stratified shuffle splits of the samples `[retrained…, unlearned…]` (retrained first, as
/// the competition stacks them): each split holds out `max(2, ⌈fraction · n⌉)` samples, shared
/// between the two sides in proportion to their sizes (largest remainder, at least one of each
/// and one of each left to train on), drawn by shuffling each side's indices with one seeded
/// ChaCha8 stream. Written next to a bench report so that an independent reference can score
/// with the very same splits.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AttackSplits {
    /// Retrained samples (indices `0..retrained`).
    pub retrained: usize,
    /// Unlearned samples (indices `retrained..retrained + unlearned`).
    pub unlearned: usize,
    /// The test indices of each split, sorted; the rest of the samples train.
    pub test: Vec<Vec<usize>>,
}

impl AttackSplits {
    /// The challenge's splits for these sample sizes ([`CHALLENGE_SPLITS`],
    /// [`CHALLENGE_TEST_FRACTION`], [`CHALLENGE_SEED`]).
    pub fn for_challenge(retrained: usize, unlearned: usize) -> Result<Self> {
        Self::stratified(
            retrained,
            unlearned,
            CHALLENGE_SPLITS,
            CHALLENGE_TEST_FRACTION,
            CHALLENGE_SEED,
        )
    }

    /// `splits` stratified shuffle splits holding out about `fraction` of the samples (see the
    /// type's docs). Each side needs at least 2 samples.
    pub fn stratified(
        retrained: usize,
        unlearned: usize,
        splits: usize,
        fraction: f64,
        seed: u64,
    ) -> Result<Self> {
        if retrained < 2 || unlearned < 2 {
            return Err(EvalError::dim(
                "models",
                format!(
                    "the logistic-regression attack needs ≥ 2 models per side, got {retrained} retrained and {unlearned} unlearned"
                ),
            ));
        }
        if splits == 0 || !(fraction > 0.0 && fraction < 1.0) {
            return Err(EvalError::arg(
                "attack splits",
                format!(
                    "{splits} splits of test fraction {fraction}: need ≥ 1 split and a fraction in (0, 1)"
                ),
            ));
        }
        let n = retrained + unlearned;
        let n_test = ((fraction * n as f64).ceil() as usize).clamp(2, n - 2);
        // The proportional share rounded half up (two sides: the largest remainder, ties to
        // the retrained side), then at least one of each side held out and one left in; the
        // range is never empty since each side has ≥ 2 samples and 2 ≤ n_test ≤ n − 2.
        let share = n_test as f64 * retrained as f64 / n as f64;
        let lowest = 1.max((n_test + 1).saturating_sub(unlearned));
        let highest = (retrained - 1).min(n_test - 1);
        let test_r = ((share + 0.5).floor() as usize).clamp(lowest, highest);
        let test_u = n_test - test_r;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let test = (0..splits)
            .map(|_| {
                let mut r: Vec<usize> = (0..retrained).collect();
                let mut u: Vec<usize> = (retrained..n).collect();
                r.shuffle(&mut rng);
                u.shuffle(&mut rng);
                let mut t: Vec<usize> = r[..test_r].iter().chain(&u[..test_u]).copied().collect();
                t.sort_unstable();
                t
            })
            .collect();
        Ok(AttackSplits {
            retrained,
            unlearned,
            test,
        })
    }
}

impl AttackSplits {
    /// Checks splits that came from elsewhere (a file): indices in range and distinct, and each
    /// split holding out, and leaving to train on, at least one sample of each side.
    pub fn check(&self) -> Result<()> {
        let n = self.retrained + self.unlearned;
        for (k, test) in self.test.iter().enumerate() {
            let mut seen = vec![false; n];
            for &i in test {
                if i >= n || std::mem::replace(&mut seen[i], true) {
                    return Err(EvalError::arg(
                        "attack splits",
                        format!("split {k}: index {i} is out of range for {n} samples or repeated"),
                    ));
                }
            }
            let held_r = test.iter().filter(|&&i| i < self.retrained).count();
            let held_u = test.len() - held_r;
            if held_r == 0 || held_u == 0 || held_r == self.retrained || held_u == self.unlearned {
                return Err(EvalError::arg(
                    "attack splits",
                    format!(
                        "split {k} holds out {held_r} of {} retrained and {held_u} of {} unlearned samples; each side needs at least one held out and one to train on",
                        self.retrained, self.unlearned
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The rates of every threshold attack, as the competition's `best_threshold_attack`: each
/// sample value t (of both sides) says "unlearned" for outputs > t.
pub fn threshold_attacks(unlearned: &[f64], retrained: &[f64]) -> Vec<AttackRates> {
    let (n_u, n_r) = (unlearned.len() as f64, retrained.len() as f64);
    let mut thresholds: Vec<f64> = unlearned.iter().chain(retrained).copied().collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    thresholds
        .into_iter()
        .map(|t| AttackRates {
            fpr: retrained.iter().filter(|&&v| v > t).count() as f64 / n_r,
            fnr: unlearned.iter().filter(|&&v| v <= t).count() as f64 / n_u,
        })
        .collect()
}

/// The complement of every attack in `attacks` (what it calls "unlearned" becomes
/// "retrained"): FPR and FNR become 1 − FPR and 1 − FNR.
pub fn complements(attacks: &[AttackRates]) -> Vec<AttackRates> {
    attacks
        .iter()
        .map(|a| AttackRates {
            fpr: 1.0 - a.fpr,
            fnr: 1.0 - a.fnr,
        })
        .collect()
}

/// The competition's `logistic_regression_attack`: on each split, scikit-learn's default
/// logistic regression ([`Logistic1d::fit_unweighted`], C = [`CHALLENGE_C`]) fitted on the
/// training samples' outputs (unlearned = 1) and scored on the held-out ones; FPR and FNR are
/// the means over the splits.
pub fn logistic_attack(
    unlearned: &[f64],
    retrained: &[f64],
    splits: &AttackSplits,
) -> Result<AttackRates> {
    if splits.retrained != retrained.len() || splits.unlearned != unlearned.len() {
        return Err(EvalError::dim(
            "attack splits",
            format!(
                "made for {} retrained and {} unlearned samples, given {} and {}",
                splits.retrained,
                splits.unlearned,
                retrained.len(),
                unlearned.len()
            ),
        ));
    }
    splits.check()?;
    let x: Vec<f64> = retrained.iter().chain(unlearned).copied().collect();
    let y: Vec<bool> = (0..x.len()).map(|i| i >= splits.retrained).collect();
    let (mut fpr, mut fnr) = (0.0, 0.0);
    for test in &splits.test {
        let mut held_out = vec![false; x.len()];
        for &i in test {
            held_out[i] = true;
        }
        let (train_x, train_y): (Vec<f64>, Vec<bool>) = (0..x.len())
            .filter(|&i| !held_out[i])
            .map(|i| (x[i], y[i]))
            .unzip();
        let model = Logistic1d::fit_unweighted(&train_x, &train_y, CHALLENGE_C)?;
        let (mut fp, mut neg, mut fn_, mut pos) = (0usize, 0usize, 0usize, 0usize);
        for &i in test {
            let said_unlearned = model.predict(x[i]);
            if y[i] {
                pos += 1;
                fn_ += usize::from(!said_unlearned);
            } else {
                neg += 1;
                fp += usize::from(said_unlearned);
            }
        }
        fpr += fp as f64 / neg as f64;
        fnr += fn_ as f64 / pos as f64;
    }
    let k = splits.test.len() as f64;
    Ok(AttackRates {
        fpr: fpr / k,
        fnr: fnr / k,
    })
}

/// The privacy degree of a set of attacks, as the competition's `compute_epsilon_s`:
/// ε = max over attacks of max(ln(1−δ−FPR) − ln FNR, ln(1−δ−FNR) − ln FPR), 0 at least; an
/// attack with FPR = FNR = 0 gives ∞, one with only one of them 0 is discarded, and one whose
/// two terms are both undefined (1−δ−rate < 0) gives ∞.
pub fn epsilon_of(attacks: &[AttackRates], delta: f64) -> f64 {
    let mut best = 0.0f64;
    for &AttackRates { fpr, fnr } in attacks {
        let epsilon = match (fpr == 0.0, fnr == 0.0) {
            (true, true) => f64::INFINITY,
            (true, false) | (false, true) => continue,
            (false, false) => {
                let e1 = ln_or_nan(1.0 - delta - fpr) - fnr.ln();
                let e2 = ln_or_nan(1.0 - delta - fnr) - fpr.ln();
                match (e1.is_nan(), e2.is_nan()) {
                    (true, true) => f64::INFINITY,
                    (true, false) => e2,
                    (false, true) => e1,
                    (false, false) => e1.max(e2),
                }
            }
        };
        best = best.max(epsilon);
    }
    best
}

/// The privacy degree of one example from the threshold attacks alone (see [`epsilon_of`]).
pub fn challenge_epsilon(unlearned: &[f64], retrained: &[f64], delta: f64) -> f64 {
    epsilon_of(&threshold_attacks(unlearned, retrained), delta)
}

/// ln x, NaN for x < 0 (numpy's convention, which the competition's code relies on).
fn ln_or_nan(x: f64) -> f64 {
    if x < 0.0 { f64::NAN } else { x.ln() }
}

/// 2 / 2^n with n the bin of ε: n = 1 for ε < 0.5, 2 for ε < 1, …, 13 for ε ≥ 6 or ∞.
pub fn challenge_bin_score(epsilon: f64) -> f64 {
    // ε is ≥ 0 by construction; NaN or ∞ (a perfect attack) land in the last bin.
    let bin = if epsilon.is_finite() {
        let below = (epsilon.max(0.0) / CHALLENGE_BIN_WIDTH).floor();
        (below.min(CHALLENGE_BINS as f64) as usize + 1).min(CHALLENGE_BINS)
    } else {
        CHALLENGE_BINS
    };
    2.0 / 2f64.powi(bin as i32)
}

/// Per-example cross-entropy of the true label, `models × forget` (model-major), from the §1
/// margin m = log(p_y / (1 − p_y)): −log p_y = log(1 + e^(−m)), in its stable form.
fn losses(
    logits: &[f32],
    models: usize,
    points: usize,
    classes: usize,
    labels: &[u32],
    forget: &[usize],
) -> Result<Vec<f64>> {
    let m = margins(logits, models, points, classes, labels)?;
    let softplus = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
    Ok((0..models)
        .flat_map(|k| forget.iter().map(move |&j| (k, j)))
        .map(|(k, j)| softplus(-f64::from(m[k * points + j])))
        .collect())
}

/// The challenge's score of unlearned models against oracles (logits `models × points ×
/// classes`), given both sides' mean split accuracies.
#[allow(clippy::too_many_arguments)]
pub fn challenge_score(
    unlearned: (&[f32], usize),
    oracles: (&[f32], usize),
    points: usize,
    classes: usize,
    labels: &[u32],
    forget: &[usize],
    accuracy: &SplitAccuracy,
    oracle_accuracy: &SplitAccuracy,
) -> Result<ChallengeScore> {
    if forget.is_empty() {
        return Err(EvalError::Empty(
            "forget split for the challenge score".into(),
        ));
    }
    if unlearned.1 == 0 || oracles.1 == 0 {
        return Err(EvalError::Empty("models for the challenge score".into()));
    }
    let u = losses(unlearned.0, unlearned.1, points, classes, labels, forget)?;
    let r = losses(oracles.0, oracles.1, points, classes, labels, forget)?;
    let splits = AttackSplits::for_challenge(oracles.1, unlearned.1)?;
    let f = forget.len();
    let column =
        |v: &[f64], models: usize, j: usize| (0..models).map(|m| v[m * f + j]).collect::<Vec<_>>();
    let mut threshold_epsilons = Vec::with_capacity(f);
    let mut logistic_epsilons = Vec::with_capacity(f);
    let mut epsilons = Vec::with_capacity(f);
    let mut two_sided_epsilons = Vec::with_capacity(f);
    for j in 0..f {
        let (uj, rj) = (column(&u, unlearned.1, j), column(&r, oracles.1, j));
        let mut attacks = threshold_attacks(&uj, &rj);
        let reversed = complements(&attacks);
        let threshold = epsilon_of(&attacks, CHALLENGE_DELTA);
        let logistic = logistic_attack(&uj, &rj, &splits)?;
        attacks.push(logistic);
        threshold_epsilons.push(threshold);
        logistic_epsilons.push(epsilon_of(&[logistic], CHALLENGE_DELTA));
        let competition = epsilon_of(&attacks, CHALLENGE_DELTA);
        epsilons.push(competition);
        two_sided_epsilons.push(competition.max(epsilon_of(&reversed, CHALLENGE_DELTA)));
    }
    let quality = |eps: &[f64]| eps.iter().map(|&e| challenge_bin_score(e)).sum::<f64>() / f as f64;
    let forget_quality = quality(&epsilons);
    let two_sided_quality = quality(&two_sided_epsilons);
    let retain_ratio = accuracy.retain / oracle_accuracy.retain;
    let test_ratio = accuracy.validation / oracle_accuracy.validation;
    Ok(ChallengeScore {
        forget_quality,
        retain_ratio,
        test_ratio,
        score: forget_quality * retain_ratio * test_ratio,
        epsilons,
        threshold_epsilons,
        logistic_epsilons,
        splits,
        two_sided_score: two_sided_quality * retain_ratio * test_ratio,
        two_sided_quality,
        two_sided_epsilons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_of_hand_computed_samples() {
        // Identical samples: every threshold has FPR + FNR = 1 (t = 1: 1/2, 1/2; t = 2: 0, 1,
        // discarded). At t = 1: ln(0.49) − ln(0.5) < 0 → ε = 0 (the floor).
        assert_eq!(challenge_epsilon(&[1.0, 2.0], &[1.0, 2.0], 0.01), 0.0);
        // Perfectly separated: at t = 1, FPR = 0 and FNR = 0 → ∞.
        assert_eq!(
            challenge_epsilon(&[2.0, 3.0], &[0.0, 1.0], 0.01),
            f64::INFINITY
        );
        // Unlearned [1, 3, 4, 5], retrained [0, 2, 2, 6]. Thresholds (distinct): 0 1 2 3 4 5 6.
        // t = 2: FPR = 1/4 (6), FNR = 1/4 (1) → ln(0.74) − ln(0.25) = 1.0852 (both terms).
        // t = 0: FPR 3/4, FNR 0 → discarded; t = 1: FPR 3/4, FNR 1/4 → ln(0.24) − ln(0.25) and
        // ln(0.74) − ln(0.75), both < 0; t = 3: FPR 1/4, FNR 2/4 → ln(0.74) − ln(0.5) = 0.392
        // and ln(0.49) − ln(0.25) = 0.673; t = 4, 5 lower; t = 6 discarded. Max: 1.0852.
        let e = challenge_epsilon(&[1.0, 3.0, 4.0, 5.0], &[0.0, 2.0, 2.0, 6.0], 0.01);
        assert!((e - (0.74f64.ln() - 0.25f64.ln())).abs() < 1e-12, "{e}");
    }

    #[test]
    fn logistic_fit_matches_scikit_learn() {
        // scikit-learn 1.9.1, LogisticRegression(C=…, tol=1e-12, max_iter=10000).fit(x, y):
        // intercept and coefficient printed to full precision.
        let x = [0.1, 0.4, 0.35, 0.8, 1.2, 0.9, 1.5, 2.0];
        let y = [false, false, false, true, false, true, true, true];
        for (c, b0, b1) in [
            (1.0, -0.8443439026792355, 0.9380286836513424),
            (0.1, -0.13319141564384002, 0.14699593143275444),
        ] {
            let m = Logistic1d::fit_unweighted(&x, &y, c).unwrap();
            assert!(
                (m.score(0.0) - b0).abs() < 1e-8,
                "C {c}: b0 {}",
                m.score(0.0)
            );
            assert!((m.score(1.0) - m.score(0.0) - b1).abs() < 1e-8, "C {c}");
        }
        // Separable samples stay finite under the penalty (unlearned = low loss here).
        let x = [0.01, 0.02, 0.03, 0.04, 2.0, 2.5, 3.0, 3.5];
        let y = [true, true, true, true, false, false, false, false];
        let m = Logistic1d::fit_unweighted(&x, &y, 1.0).unwrap();
        assert!((m.score(0.0) - 1.8138936830210617).abs() < 1e-8);
        assert!((m.score(1.0) - m.score(0.0) + 1.38069067991034).abs() < 1e-8);
        assert!(Logistic1d::fit_unweighted(&x, &y, 0.0).is_err());
    }

    #[test]
    fn splits_are_stratified_seeded_and_disjoint_from_training() {
        // 30 + 30 samples: ⌈0.1 · 60⌉ = 6 held out, 3 per side.
        let s = AttackSplits::for_challenge(30, 30).unwrap();
        assert_eq!(s.test.len(), CHALLENGE_SPLITS);
        for t in &s.test {
            assert_eq!(t.len(), 6);
            assert_eq!(t.iter().filter(|&&i| i < 30).count(), 3);
            assert!(t.windows(2).all(|w| w[0] < w[1]) && t[5] < 60);
        }
        assert_ne!(s.test[0], s.test[1], "each split draws anew");
        assert_eq!(s, AttackSplits::for_challenge(30, 30).unwrap(), "seeded");
        // 10 retrained + 30 unlearned: 4 held out, 1 : 3 in proportion.
        let t = &AttackSplits::for_challenge(10, 30).unwrap().test[0];
        assert_eq!((t.len(), t.iter().filter(|&&i| i < 10).count()), (4, 1));
        // 2 + 2: at least two held out, one per side, one per side left to train on.
        let t = &AttackSplits::for_challenge(2, 2).unwrap().test[0];
        assert_eq!((t.len(), t.iter().filter(|&&i| i < 2).count()), (2, 1));
        assert!(AttackSplits::for_challenge(1, 5).is_err());
        // Splits read from elsewhere are checked before use.
        let mut bad = AttackSplits::for_challenge(30, 30).unwrap();
        bad.test[0] = vec![0, 1, 2];
        assert!(bad.check().is_err(), "no unlearned sample held out");
        bad.test[0] = vec![0, 0, 40];
        assert!(bad.check().is_err(), "a repeated index");
        bad.test[0] = vec![0, 60];
        assert!(bad.check().is_err(), "out of range");
    }

    #[test]
    fn a_model_that_remembers_is_caught_by_the_regression_not_the_thresholds() {
        // 100 models per side. Unlearned models that still remember the example: losses spread
        // evenly over [0.2, 1.2]; retrained ones over [1.0, 2.0] (golden-ratio sequences).
        let spread = |lo: f64, step: f64| -> Vec<f64> {
            (0..100).map(|i| lo + (i as f64 * step).fract()).collect()
        };
        let unlearned = spread(0.2, 0.618_033_988_7);
        let retrained = spread(1.0, 0.414_213_562_4);
        // A threshold says "unlearned" above it, the wrong direction here: every attack has
        // FPR + FNR ≥ 1, so ε stays at its floor, as for a perfect unlearner.
        assert_eq!(
            challenge_epsilon(&unlearned, &retrained, CHALLENGE_DELTA),
            0.0
        );
        // The regression learns the reversed direction: on held-out models it errs only in
        // the overlap [1.0, 1.2], and ε is far above the floor.
        let splits = AttackSplits::for_challenge(100, 100).unwrap();
        let rates = logistic_attack(&unlearned, &retrained, &splits).unwrap();
        assert!(rates.fpr < 0.25 && rates.fnr < 0.25, "{rates:?}");
        assert!(epsilon_of(&[rates], CHALLENGE_DELTA) > 1.0, "{rates:?}");
        // Perfectly separated: the regression makes no error at all (ε = ∞).
        let low: Vec<f64> = unlearned.iter().map(|v| v - 0.2).collect();
        let high: Vec<f64> = retrained.iter().map(|v| v + 0.5).collect();
        let rates = logistic_attack(&low, &high, &splits).unwrap();
        assert_eq!((rates.fpr, rates.fnr), (0.0, 0.0));
        // Identical samples: whatever rule the training part suggests fails on held-out data.
        let rates = logistic_attack(&retrained, &retrained, &splits).unwrap();
        assert!(epsilon_of(&[rates], CHALLENGE_DELTA) < 0.5, "{rates:?}");
        assert!(logistic_attack(&unlearned[..99], &retrained, &splits).is_err());
    }

    #[test]
    fn epsilon_of_rates_by_hand() {
        let r = |fpr, fnr| AttackRates { fpr, fnr };
        // FPR 0.1, FNR 0.2: max(ln 0.89 − ln 0.2, ln 0.79 − ln 0.1).
        let want = (0.79f64.ln() - 0.1f64.ln()).max(0.89f64.ln() - 0.2f64.ln());
        assert!((epsilon_of(&[r(0.1, 0.2)], 0.01) - want).abs() < 1e-12);
        // One rate 0: discarded; both 0: ∞; both terms undefined (FPR, FNR > 0.99): ∞.
        assert_eq!(epsilon_of(&[r(0.0, 0.5)], 0.01), 0.0);
        assert_eq!(epsilon_of(&[r(0.0, 0.0)], 0.01), f64::INFINITY);
        assert_eq!(epsilon_of(&[r(0.995, 0.995)], 0.01), f64::INFINITY);
        assert_eq!(epsilon_of(&[], 0.01), 0.0);
    }

    #[test]
    fn bins_halve_the_score_every_half_unit_of_epsilon() {
        assert_eq!(challenge_bin_score(0.0), 1.0);
        assert_eq!(challenge_bin_score(0.49), 1.0);
        assert_eq!(challenge_bin_score(0.5), 0.5);
        assert_eq!(challenge_bin_score(1.0852), 0.25);
        assert_eq!(challenge_bin_score(5.99), 2.0 / 4096.0);
        assert_eq!(challenge_bin_score(6.0), 2.0 / 8192.0);
        assert_eq!(challenge_bin_score(f64::INFINITY), 2.0 / 8192.0);
        assert_eq!(challenge_bin_score(1e300), 2.0 / 8192.0);
    }

    #[test]
    fn the_output_is_the_true_label_cross_entropy() {
        // Logits [2, 0, 1], label 0: −log softmax = log(e² + 1 + e) − 2; label 2 at [0, 0, 5]:
        // log(2 + e⁵) − 5.
        let logits = [2.0f32, 0.0, 1.0, 0.0, 0.0, 5.0];
        let got = losses(&logits, 1, 2, 3, &[0, 2], &[0, 1]).unwrap();
        let want = [
            (2f64.exp() + 1.0 + 1f64.exp()).ln() - 2.0,
            (2.0 + 5f64.exp()).ln() - 5.0,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn score_multiplies_quality_by_the_accuracy_ratios() {
        // One forget point (0) with label 0 among 2 points, 2 classes, 2 models each side; the
        // losses are identical on both sides → ε = 0 → F = 1.
        let logits = [2.0f32, 0.0, 0.0, 1.0, 3.0, 0.0, 1.0, 0.0];
        let acc = SplitAccuracy {
            forget: 1.0,
            retain: 0.9,
            validation: 0.8,
        };
        let oracle = SplitAccuracy {
            forget: 1.0,
            retain: 1.0,
            validation: 1.0,
        };
        let s = challenge_score(
            (&logits, 2),
            (&logits, 2),
            2,
            2,
            &[0, 1],
            &[0],
            &acc,
            &oracle,
        )
        .unwrap();
        assert_eq!(s.forget_quality, 1.0);
        assert!((s.score - 0.72).abs() < 1e-12);
        assert!(
            challenge_score(
                (&logits, 2),
                (&logits, 2),
                2,
                2,
                &[0, 1],
                &[],
                &acc,
                &oracle
            )
            .is_err()
        );
    }
}
