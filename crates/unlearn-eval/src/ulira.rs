//! U-LiRA-style likelihood-ratio test (docs/algorithms.md §10, second bullet), and the
//! Mann–Whitney AUC it reports.
//!
//! Protocol, per forget point `x`:
//! 1. split the unlearned models and the oracle models each into two halves by index parity
//!    (even-indexed models form half A, odd-indexed half B);
//! 2. on half A, fit Gaussians to the margins of `x`: `N(μ_u, σ_u²)` under the unlearned models
//!    and `N(μ_o, σ_o²)` under the oracles (sample mean; unbiased variance, or 0 for a single
//!    model, then floored at [`ULIRA_VAR_FLOOR`]);
//! 3. score every half-B margin `m` (unlearned and oracle) by the log-likelihood ratio
//!    `Λ(m) = ln N(m; μ_u, σ_u²) − ln N(m; μ_o, σ_o²)` — large means "looks unlearned";
//! 4. repeat with the halves swapped (fit on B, score A), so each model is scored exactly once,
//!    always by Gaussians fitted on *other* models.
//!
//! The scores of all (forget point, unlearned model) pairs are the positives, those of all
//! (forget point, oracle model) pairs the negatives; the reported AUC is the Mann–Whitney
//! statistic over these pooled scores (ties count ½). 0.5 means the attacker cannot tell
//! unlearned models from retrained ones (perfect unlearning); 1 means it always can. Scoring
//! held-out models keeps the estimate honest: scoring the models the Gaussians were fitted on
//! would push the AUC above 0.5 even for identical distributions. The attack accuracy at the
//! natural threshold `Λ > 0` (balanced over the two classes) is reported too.
//!
//! Margins are clipped to `[−100, 100]` as in KLoM, so infinite margins stay usable. Needs at
//! least 2 unlearned and 2 oracle models (one per half); many more are needed for a stable
//! estimate.

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, check_indices, models_of};

/// Floor on the fitted Gaussian variances (margin units squared).
pub const ULIRA_VAR_FLOOR: f64 = 1e-4;

/// Result of [`ulira`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UliraResult {
    /// Mann–Whitney AUC of the log-likelihood-ratio scores (0.5 = indistinguishable).
    pub auc: f64,
    /// Balanced accuracy of the rule `Λ > 0` ("unlearned").
    pub accuracy: f64,
    /// Number of positive (unlearned) scores.
    pub n_unlearned: usize,
    /// Number of negative (oracle) scores.
    pub n_oracle: usize,
}

/// Area under the ROC curve of `positives` vs `negatives` by the Mann–Whitney U statistic with
/// mid-ranks for ties: the probability that a random positive scores above a random negative,
/// counting ties as ½. Errors on empty input or NaN.
pub fn auc(positives: &[f64], negatives: &[f64]) -> Result<f64> {
    if positives.is_empty() || negatives.is_empty() {
        return Err(EvalError::Empty("AUC needs positives and negatives".into()));
    }
    if positives.iter().chain(negatives.iter()).any(|v| v.is_nan()) {
        return Err(EvalError::NonFinite("AUC scores (NaN)".into()));
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&v| (v, true))
        .chain(negatives.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of (1-based, mid-) ranks of the positives.
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let mid_rank = (i + j) as f64 / 2.0 + 1.0;
        let pos_in_group = all[i..=j].iter().filter(|e| e.1).count();
        rank_sum += mid_rank * pos_in_group as f64;
        i = j + 1;
    }
    let (np, nn) = (positives.len() as f64, negatives.len() as f64);
    Ok((rank_sum - np * (np + 1.0) / 2.0) / (np * nn))
}

#[derive(Clone, Copy)]
struct Gauss {
    mean: f64,
    var: f64,
}

impl Gauss {
    fn fit(values: &[f64]) -> Gauss {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Gauss {
            mean,
            var: var.max(ULIRA_VAR_FLOOR),
        }
    }

    /// Log-density without the common `−½ ln 2π` term (cancels in the ratio).
    fn log_pdf(&self, x: f64) -> f64 {
        let d = x - self.mean;
        -0.5 * self.var.ln() - 0.5 * d * d / self.var
    }
}

/// U-LiRA-style AUC and accuracy (protocol in the module docs).
///
/// `unlearned` is `N_u × points`, `oracle` is `N_o × points` (row-major, model-major margins);
/// `forget` lists the forget points' indices into `points`.
pub fn ulira(
    unlearned: &[f32],
    oracle: &[f32],
    points: usize,
    forget: &[usize],
) -> Result<UliraResult> {
    let n_u = models_of("unlearned margins", unlearned, points)?;
    let n_o = models_of("oracle margins", oracle, points)?;
    if n_u < 2 || n_o < 2 {
        return Err(EvalError::dim(
            "models",
            format!("U-LiRA needs ≥ 2 unlearned and ≥ 2 oracle models, got {n_u} and {n_o}"),
        ));
    }
    if forget.is_empty() {
        return Err(EvalError::Empty("forget split for U-LiRA".into()));
    }
    check_indices("forget indices", forget, points)?;
    if unlearned.iter().chain(oracle.iter()).any(|v| v.is_nan()) {
        return Err(EvalError::NonFinite(
            "margins passed to U-LiRA (NaN)".into(),
        ));
    }
    let clip = |v: f32| f64::from(v.clamp(-100.0, 100.0));
    let mut pos = Vec::with_capacity(forget.len() * n_u);
    let mut neg = Vec::with_capacity(forget.len() * n_o);
    for &j in forget {
        let u: Vec<f64> = (0..n_u).map(|m| clip(unlearned[m * points + j])).collect();
        let o: Vec<f64> = (0..n_o).map(|m| clip(oracle[m * points + j])).collect();
        for fit_half in 0..2usize {
            let half = |v: &[f64], parity: usize| -> Vec<f64> {
                v.iter()
                    .enumerate()
                    .filter(|(m, _)| m % 2 == parity)
                    .map(|(_, &x)| x)
                    .collect()
            };
            let gu = Gauss::fit(&half(&u, fit_half));
            let go = Gauss::fit(&half(&o, fit_half));
            let llr = |x: f64| gu.log_pdf(x) - go.log_pdf(x);
            pos.extend(half(&u, 1 - fit_half).into_iter().map(llr));
            neg.extend(half(&o, 1 - fit_half).into_iter().map(llr));
        }
    }
    let auc = auc(&pos, &neg)?;
    let tpr = pos.iter().filter(|&&s| s > 0.0).count() as f64 / pos.len() as f64;
    let tnr = neg.iter().filter(|&&s| s <= 0.0).count() as f64 / neg.len() as f64;
    Ok(UliraResult {
        auc,
        accuracy: 0.5 * (tpr + tnr),
        n_unlearned: pos.len(),
        n_oracle: neg.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn auc_by_hand_with_ties() {
        assert_eq!(auc(&[3.0, 4.0], &[1.0, 2.0]).unwrap(), 1.0);
        assert_eq!(auc(&[1.0, 2.0], &[3.0, 4.0]).unwrap(), 0.0);
        // pos {1, 3}, neg {2, 3}: pairs (1,2)=0 (1,3)=0 (3,2)=1 (3,3)=½ → 1.5/4 = 0.375
        assert_eq!(auc(&[1.0, 3.0], &[2.0, 3.0]).unwrap(), 0.375);
        // All tied → 0.5.
        assert_eq!(auc(&[5.0; 3], &[5.0; 7]).unwrap(), 0.5);
        assert!(auc(&[], &[1.0]).is_err());
        assert!(auc(&[f64::NAN], &[1.0]).is_err());
    }

    /// Box–Muller standard normal.
    fn normal(rng: &mut ChaCha8Rng) -> f32 {
        let u1: f64 = rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = rng.random();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
    }

    /// `models × points` margins with point j ~ N(mu_j + shift, sd²).
    fn sample(rng: &mut ChaCha8Rng, models: usize, points: usize, shift: f32, sd: f32) -> Vec<f32> {
        let mut v = Vec::with_capacity(models * points);
        for _ in 0..models {
            for j in 0..points {
                v.push(j as f32 * 0.5 - 3.0 + shift + sd * normal(rng));
            }
        }
        v
    }

    #[test]
    fn identical_gaussians_give_half() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let points = 100;
        let u = sample(&mut rng, 16, points, 0.0, 1.0);
        let o = sample(&mut rng, 16, points, 0.0, 1.0);
        let forget: Vec<usize> = (0..points).collect();
        let r = ulira(&u, &o, points, &forget).unwrap();
        assert!((r.auc - 0.5).abs() < 0.05, "{r:?}");
        assert!((r.accuracy - 0.5).abs() < 0.05, "{r:?}");
        assert_eq!(r.n_unlearned, 16 * points);
    }

    #[test]
    fn separated_gaussians_give_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let points = 20;
        let u = sample(&mut rng, 10, points, 8.0, 1.0);
        let o = sample(&mut rng, 12, points, 0.0, 1.0);
        let forget: Vec<usize> = (0..points).step_by(2).collect();
        let r = ulira(&u, &o, points, &forget).unwrap();
        assert!(r.auc > 0.99, "{r:?}");
        assert!(r.accuracy > 0.97, "{r:?}");
        assert_eq!((r.n_unlearned, r.n_oracle), (100, 120));
        // Constant, equal margins on both sides: all scores tie → exactly 0.5.
        let c = vec![2.0f32; 4 * 3];
        let r = ulira(&c, &c, 3, &[0, 1, 2]).unwrap();
        assert_eq!(r.auc, 0.5);
        assert!(ulira(&c[..3], &c, 3, &[0]).is_err());
    }
}
