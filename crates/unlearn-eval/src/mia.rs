//! Membership-inference efficacy (docs/algorithms.md §10, first bullet).
//!
//! Protocol (per model, then averaged over models):
//! 1. take that model's true-class confidences `p_y` on the retain points (members, label 1)
//!    and on the validation points (non-members, label 0);
//! 2. fit a one-feature logistic regression `P(member | p) = σ(b0 + b1·(p − μ)/s)` on them
//!    (μ, s: mean and standard deviation of the training confidences), with class-balanced
//!    weights (each class carries total weight ½, so a large retain set does not bias the
//!    intercept — equivalent to balancing by subsampling, without randomness), a small ridge
//!    `λ = 1e−4` on the slope (keeps the fit finite on separable data), solved by Newton's method
//!    with backtracking (deterministic);
//! 3. a forget point is predicted a member iff its score `b0 + b1·(p − μ)/s > 0` (as
//!    scikit-learn's `predict`; a tie counts as non-member);
//! 4. efficacy = share of forget points predicted non-member.
//!
//! Higher efficacy means the forget points look more like never-seen data. The attack is
//! trained on each model's own outputs, so each unlearned model is judged by an attacker
//! calibrated to it.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, check_indices, models_of};

/// Ridge penalty on the standardised slope.
pub const MIA_RIDGE: f64 = 1e-4;

/// A fitted one-feature logistic regression (feature standardised internally).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Logistic1d {
    /// Mean of the training feature.
    pub mean: f64,
    /// Standard deviation of the training feature (1 if it was constant).
    pub scale: f64,
    /// Intercept on the standardised scale.
    pub intercept: f64,
    /// Slope on the standardised scale.
    pub slope: f64,
}

fn sigmoid(s: f64) -> f64 {
    if s >= 0.0 {
        1.0 / (1.0 + (-s).exp())
    } else {
        let e = s.exp();
        e / (1.0 + e)
    }
}

/// `ln(1 + e^s)`, stable for large |s|.
fn softplus(s: f64) -> f64 {
    s.max(0.0) + (-s.abs()).exp().ln_1p()
}

impl Logistic1d {
    /// Fits `P(y = 1 | x)` by penalised, class-balanced maximum likelihood (see the module
    /// docs). Needs at least one example of each class and finite features.
    pub fn fit(x: &[f64], y: &[bool], ridge: f64) -> Result<Logistic1d> {
        Self::fit_with(x, y, ridge, true)
    }

    /// Fits scikit-learn's default `LogisticRegression()` on one raw feature: minimises
    /// `C · Σ log-loss + ½ b1²` (every example weight 1, the intercept unpenalised, no
    /// standardisation), i.e. the same minimiser as `Σ log-loss + ½ b1² / C`. Newton's method
    /// reaches the exact optimum that scikit-learn's L-BFGS approaches to its tolerance.
    pub fn fit_unweighted(x: &[f64], y: &[bool], c: f64) -> Result<Logistic1d> {
        if !(c > 0.0 && c.is_finite()) {
            return Err(EvalError::arg(
                "logistic regression C",
                format!("{c} must be a positive finite number"),
            ));
        }
        Self::fit_with(x, y, 1.0 / c, false)
    }

    /// `balanced`: standardise the feature, weight each class ½ in total (objective a weighted
    /// mean); otherwise raw feature, weight 1 per example (objective a sum).
    fn fit_with(x: &[f64], y: &[bool], ridge: f64, balanced: bool) -> Result<Logistic1d> {
        if x.len() != y.len() {
            return Err(EvalError::shape("logistic labels", x.len(), y.len()));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(EvalError::NonFinite("logistic regression feature".into()));
        }
        let n_pos = y.iter().filter(|&&b| b).count();
        let n_neg = y.len() - n_pos;
        if n_pos == 0 || n_neg == 0 {
            return Err(EvalError::Empty(
                "logistic regression needs both classes".into(),
            ));
        }
        let n = x.len() as f64;
        let (mean, scale) = if balanced {
            let mean = x.iter().sum::<f64>() / n;
            let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            (mean, if var > 0.0 { var.sqrt() } else { 1.0 })
        } else {
            (0.0, 1.0)
        };
        let z: Vec<f64> = x.iter().map(|v| (v - mean) / scale).collect();
        let (w_pos, w_neg) = if balanced {
            (0.5 / n_pos as f64, 0.5 / n_neg as f64)
        } else {
            (1.0, 1.0)
        };
        let w: Vec<f64> = y.iter().map(|&b| if b { w_pos } else { w_neg }).collect();
        let (intercept, slope) = newton(&z, y, &w, ridge);
        Ok(Logistic1d {
            mean,
            scale,
            intercept,
            slope,
        })
    }

    /// Linear score `b0 + b1·(x − μ)/s` (log-odds of class 1).
    pub fn score(&self, x: f64) -> f64 {
        self.intercept + self.slope * (x - self.mean) / self.scale
    }

    /// Probability of class 1.
    pub fn probability(&self, x: f64) -> f64 {
        sigmoid(self.score(x))
    }

    /// Predicted class: `true` (member) iff the score is strictly positive.
    pub fn predict(&self, x: f64) -> bool {
        self.score(x) > 0.0
    }
}

/// Minimises `Σ w_i · log-loss_i + ½ ridge · b1²` over `(b0, b1)` for the score `b0 + b1·z` by
/// Newton's method with backtracking (deterministic; the 2×2 system is solved exactly).
fn newton(z: &[f64], y: &[bool], w: &[f64], ridge: f64) -> (f64, f64) {
    let objective = |b0: f64, b1: f64| -> f64 {
        let mut l = 0.0;
        for i in 0..z.len() {
            let s = b0 + b1 * z[i];
            l += w[i] * (softplus(s) - if y[i] { s } else { 0.0 });
        }
        l + 0.5 * ridge * b1 * b1
    };

    let (mut b0, mut b1) = (0.0f64, 0.0f64);
    let mut obj = objective(b0, b1);
    for _ in 0..200 {
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..z.len() {
            let p = sigmoid(b0 + b1 * z[i]);
            let r = w[i] * (p - if y[i] { 1.0 } else { 0.0 });
            let h = w[i] * p * (1.0 - p);
            g0 += r;
            g1 += r * z[i];
            h00 += h;
            h01 += h * z[i];
            h11 += h * z[i] * z[i];
        }
        g1 += ridge * b1;
        h11 += ridge;
        // Tiny diagonal jitter keeps the 2×2 system solvable when all σ saturate.
        let (h00, h11) = (h00 + 1e-12, h11 + 1e-12);
        let det = h00 * h11 - h01 * h01;
        let (d0, d1) = if det > 0.0 && det.is_finite() {
            ((h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det)
        } else {
            (g0, g1)
        };
        let mut t = 1.0;
        let mut improved = false;
        for _ in 0..60 {
            let (c0, c1) = (b0 - t * d0, b1 - t * d1);
            let c_obj = objective(c0, c1);
            if c_obj <= obj {
                improved = c_obj < obj;
                b0 = c0;
                b1 = c1;
                obj = c_obj;
                break;
            }
            t *= 0.5;
        }
        if !improved || (t * d0).abs().max((t * d1).abs()) < 1e-12 {
            break;
        }
    }
    (b0, b1)
}

/// Result of [`mia_efficacy`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MiaResult {
    /// Efficacy per model: share of forget points predicted non-member.
    pub per_model: Vec<f64>,
    /// Mean efficacy over models (the reported number).
    pub efficacy: f64,
    /// Mean over models of the attack's balanced accuracy on its own training data
    /// (retain vs validation): how separable members and non-members are at all (0.5 = not).
    pub attack_balanced_accuracy: f64,
}

/// MIA efficacy of a set of models (protocol in the module docs).
///
/// `confidences` is `models × points` row-major (as returned by [`crate::confidences`]);
/// `retain`, `validation` and `forget` index its points and must be non-empty.
pub fn mia_efficacy(
    confidences: &[f32],
    points: usize,
    retain: &[usize],
    validation: &[usize],
    forget: &[usize],
) -> Result<MiaResult> {
    let models = models_of("confidences", confidences, points)?;
    for (name, idx) in [
        ("retain", retain),
        ("validation", validation),
        ("forget", forget),
    ] {
        if idx.is_empty() {
            return Err(EvalError::Empty(format!("{name} split for MIA")));
        }
        check_indices(&format!("{name} indices"), idx, points)?;
    }
    let y: Vec<bool> = retain
        .iter()
        .map(|_| true)
        .chain(validation.iter().map(|_| false))
        .collect();
    let results: Vec<(f64, f64)> = (0..models)
        .into_par_iter()
        .map(|m| -> Result<(f64, f64)> {
            let row = &confidences[m * points..(m + 1) * points];
            let x: Vec<f64> = retain
                .iter()
                .chain(validation.iter())
                .map(|&i| f64::from(row[i]))
                .collect();
            let fit = Logistic1d::fit(&x, &y, MIA_RIDGE)?;
            let non_members = forget
                .iter()
                .filter(|&&i| !fit.predict(f64::from(row[i])))
                .count();
            let tpr = retain
                .iter()
                .filter(|&&i| fit.predict(f64::from(row[i])))
                .count() as f64
                / retain.len() as f64;
            let tnr = validation
                .iter()
                .filter(|&&i| !fit.predict(f64::from(row[i])))
                .count() as f64
                / validation.len() as f64;
            Ok((non_members as f64 / forget.len() as f64, 0.5 * (tpr + tnr)))
        })
        .collect::<Result<_>>()?;
    let per_model: Vec<f64> = results.iter().map(|r| r.0).collect();
    let efficacy = per_model.iter().sum::<f64>() / models as f64;
    let attack_balanced_accuracy = results.iter().map(|r| r.1).sum::<f64>() / models as f64;
    Ok(MiaResult {
        per_model,
        efficacy,
        attack_balanced_accuracy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_fit_balanced_symmetric_case() {
        // Symmetric data around 0.5 with equal class weights: the optimum has intercept 0
        // (by symmetry) and a positive slope; the decision boundary is at x = 0.5.
        let x = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9, 0.45, 0.55];
        let y = [false, false, false, true, true, true, true, false];
        let f = Logistic1d::fit(&x, &y, MIA_RIDGE).unwrap();
        assert!(f.intercept.abs() < 1e-8, "{f:?}");
        assert!(f.slope > 0.0);
        assert!(f.predict(0.51) && !f.predict(0.49));
        // Gradient is zero at the optimum: check the intercept equation Σ w (σ − y) = 0.
        let g0: f64 = x
            .iter()
            .zip(y.iter())
            .map(|(&xi, &yi)| (f.probability(xi) - if yi { 1.0 } else { 0.0 }) * (0.5 / 4.0))
            .sum();
        assert!(g0.abs() < 1e-9, "{g0}");
    }

    #[test]
    fn constant_feature_gives_tie_non_member() {
        let f = Logistic1d::fit(&[0.5, 0.5, 0.5], &[true, false, false], MIA_RIDGE).unwrap();
        // Balanced weights → intercept 0 → score 0 → non-member.
        assert!(f.intercept.abs() < 1e-9);
        assert!(!f.predict(0.5));
    }

    fn toy(forget_conf: f32) -> Vec<f32> {
        // 2 models × 12 points: 0..6 retain (conf ≈ 0.99), 6..10 validation (≈ 0.55),
        // 10..12 forget.
        let mut row = vec![0.99, 0.98, 0.995, 0.97, 0.985, 0.99, 0.5, 0.6, 0.55, 0.45];
        row.extend([forget_conf, forget_conf]);
        let mut all = row.clone();
        all.extend(row.iter().map(|v| v * 0.999));
        all
    }

    #[test]
    fn efficacy_on_separable_toy() {
        let retain: Vec<usize> = (0..6).collect();
        let val: Vec<usize> = (6..10).collect();
        let forget = [10, 11];
        let member_like = mia_efficacy(&toy(0.99), 12, &retain, &val, &forget).unwrap();
        assert_eq!(member_like.efficacy, 0.0);
        assert_eq!(member_like.per_model.len(), 2);
        assert_eq!(member_like.attack_balanced_accuracy, 1.0);
        let non_member_like = mia_efficacy(&toy(0.52), 12, &retain, &val, &forget).unwrap();
        assert_eq!(non_member_like.efficacy, 1.0);
        assert!(mia_efficacy(&toy(0.5), 12, &retain, &[], &forget).is_err());
        assert!(mia_efficacy(&toy(0.5), 12, &retain, &val, &[12]).is_err());
    }
}
