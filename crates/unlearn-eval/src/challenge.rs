//! The score of the NeurIPS 2023 machine unlearning challenge (docs/algorithms.md §10), from
//! the competition's public evaluation code (unlearning-challenge; Triantafillou et al., "Are we
//! making progress in unlearning?", 2024): per forget example, a privacy degree ε from
//! threshold attacks that tell unlearned from retrained models by the example's loss; ε binned
//! into a score; the mean over F, times the retain and test accuracy ratios.

use crate::accuracy::SplitAccuracy;
use crate::error::{EvalError, Result};
use crate::margins::margins;

/// δ of the (ε, δ) privacy degree.
pub const CHALLENGE_DELTA: f64 = 0.01;
/// Width of an ε bin.
pub const CHALLENGE_BIN_WIDTH: f64 = 0.5;
/// Number of bin edges (0, 0.5, …, 6.0); ε ≥ 6 (or ∞) lands in the last bin.
pub const CHALLENGE_BINS: usize = 13;

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
    /// ε of each forget example, in the order of the forget set.
    pub epsilons: Vec<f64>,
}

/// The privacy degree of one example from its outputs under unlearned and retrained models:
/// every threshold t over both samples is an attack ("unlearned" when output > t), with
/// FPR = share of retrained outputs above t and FNR = share of unlearned outputs at or below;
/// ε = max over attacks of max(ln(1−δ−FPR) − ln FNR, ln(1−δ−FNR) − ln FPR), where an attack
/// with FPR = FNR = 0 gives ∞ and one with only one of them 0 is discarded, as in the
/// competition's code.
pub fn challenge_epsilon(unlearned: &[f64], retrained: &[f64], delta: f64) -> f64 {
    let (n_u, n_r) = (unlearned.len() as f64, retrained.len() as f64);
    let mut thresholds: Vec<f64> = unlearned.iter().chain(retrained).copied().collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    let mut best = 0.0f64;
    for t in thresholds {
        let fpr = retrained.iter().filter(|&&v| v > t).count() as f64 / n_r;
        let fnr = unlearned.iter().filter(|&&v| v <= t).count() as f64 / n_u;
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
    let f = forget.len();
    let column =
        |v: &[f64], models: usize, j: usize| (0..models).map(|m| v[m * f + j]).collect::<Vec<_>>();
    let epsilons: Vec<f64> = (0..f)
        .map(|j| {
            challenge_epsilon(
                &column(&u, unlearned.1, j),
                &column(&r, oracles.1, j),
                CHALLENGE_DELTA,
            )
        })
        .collect();
    let forget_quality = epsilons
        .iter()
        .map(|&e| challenge_bin_score(e))
        .sum::<f64>()
        / f as f64;
    let retain_ratio = accuracy.retain / oracle_accuracy.retain;
    let test_ratio = accuracy.validation / oracle_accuracy.validation;
    Ok(ChallengeScore {
        forget_quality,
        retain_ratio,
        test_ratio,
        score: forget_quality * retain_ratio * test_ratio,
        epsilons,
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
