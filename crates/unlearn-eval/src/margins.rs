//! Per-(model, example) scalars computed from logits: margins (docs/algorithms.md §1), true-class
//! confidences and predicted classes.
//!
//! Every function takes logits as one row-major buffer of shape `models × points × classes`
//! and one label per point (shared by all models), and returns a row-major `models × points`
//! buffer (model-major: the value of model `m` on point `j` is at `m * points + j`).

use crate::error::{EvalError, Result};

fn check(
    logits: &[f32],
    models: usize,
    points: usize,
    classes: usize,
    labels: &[u32],
) -> Result<()> {
    if classes < 2 {
        return Err(EvalError::dim(
            "classes",
            format!("need at least 2, got {classes}"),
        ));
    }
    let expected = models
        .checked_mul(points)
        .and_then(|v| v.checked_mul(classes))
        .ok_or_else(|| EvalError::dim("logits", "models × points × classes overflows"))?;
    if logits.len() != expected {
        return Err(EvalError::shape("logits", expected, logits.len()));
    }
    if labels.len() != points {
        return Err(EvalError::shape("labels", points, labels.len()));
    }
    if let Some(&bad) = labels.iter().find(|&&y| y as usize >= classes) {
        return Err(EvalError::Index {
            what: "labels".to_string(),
            index: bad as usize,
            len: classes,
        });
    }
    Ok(())
}

/// Stable `logsumexp` of `row` over all entries except `skip` (pass `usize::MAX` to keep
/// all), returned as `(max, ln Σ exp(z − max))` so that callers can subtract `max` from
/// another logit before adding the (small) log-sum: this keeps full f32 precision for large
/// magnitudes (±1e4), and with a single remaining entry the log-sum is exactly 0.
fn logsumexp_except(row: &[f32], skip: usize) -> (f32, f32) {
    let mut max = f32::NEG_INFINITY;
    for (c, &z) in row.iter().enumerate() {
        if c != skip && z > max {
            max = z;
        }
    }
    if max.is_infinite() {
        // All remaining logits are −∞ (or one is +∞): the max alone is the answer.
        return (max, 0.0);
    }
    let mut sum = 0.0f32;
    for (c, &z) in row.iter().enumerate() {
        if c != skip {
            sum += (z - max).exp();
        }
    }
    (max, sum.ln())
}

/// Margins `m = z_y − logsumexp_{c≠y} z_c` (docs/algorithms.md §1), in f32 with a numerically
/// stable logsumexp.
///
/// `logits` is `models × points × classes` row-major, `labels` has one entry per point.
/// Returns `models × points` row-major. With two classes the margin is exactly
/// `z_y − z_other`. Needs `classes ≥ 2`.
pub fn margins(
    logits: &[f32],
    models: usize,
    points: usize,
    classes: usize,
    labels: &[u32],
) -> Result<Vec<f32>> {
    check(logits, models, points, classes, labels)?;
    Ok(logits
        .chunks_exact(classes)
        .enumerate()
        .map(|(row_idx, row)| {
            let y = labels[row_idx % points] as usize;
            let (max, ln_sum) = logsumexp_except(row, y);
            (row[y] - max) - ln_sum
        })
        .collect())
}

/// True-class confidences `p_y = softmax(z)_y`, computed stably as
/// `exp(z_y − max z) / Σ_c exp(z_c − max z)`.
///
/// Same layout as [`margins`]; returns `models × points` row-major values in `[0, 1]`.
pub fn confidences(
    logits: &[f32],
    models: usize,
    points: usize,
    classes: usize,
    labels: &[u32],
) -> Result<Vec<f32>> {
    check(logits, models, points, classes, labels)?;
    Ok(logits
        .chunks_exact(classes)
        .enumerate()
        .map(|(row_idx, row)| {
            let y = labels[row_idx % points] as usize;
            let (max, ln_sum) = logsumexp_except(row, usize::MAX);
            ((row[y] - max) - ln_sum).exp()
        })
        .collect())
}

/// Predicted classes (argmax of the logits; ties go to the lowest class index, NaN logits
/// are never selected unless the whole row is NaN, in which case class 0 is returned).
///
/// `logits` is `models × points × classes` row-major; returns `models × points` row-major.
pub fn predictions(
    logits: &[f32],
    models: usize,
    points: usize,
    classes: usize,
) -> Result<Vec<u32>> {
    if classes == 0 {
        return Err(EvalError::dim("classes", "must be positive"));
    }
    let expected = models
        .checked_mul(points)
        .and_then(|v| v.checked_mul(classes))
        .ok_or_else(|| EvalError::dim("logits", "models × points × classes overflows"))?;
    if logits.len() != expected {
        return Err(EvalError::shape("logits", expected, logits.len()));
    }
    Ok(logits
        .chunks_exact(classes)
        .map(|row| {
            let mut best = 0usize;
            let mut best_v = f32::NAN;
            for (c, &z) in row.iter().enumerate() {
                if !z.is_nan() && (best_v.is_nan() || z > best_v) {
                    best = c;
                    best_v = z;
                }
            }
            best as u32
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn three_class_margin_by_hand() {
        // logits (1, 2, 3), label 0: m = 1 − ln(e² + e³) = 1 − (3 + ln(1 + e⁻¹))
        //   ln(1 + e⁻¹) = ln(1.3678794) = 0.3132617 → m = −2.3132617
        // label 2: m = 3 − ln(e + e²) = 3 − (2 + 0.3132617) = 0.6867383
        let logits = [1.0, 2.0, 3.0, 1.0, 2.0, 3.0];
        let m = margins(&logits, 1, 2, 3, &[0, 2]).unwrap();
        assert!(close(m[0], -2.313_261_7, 1e-5), "{}", m[0]);
        assert!(close(m[1], 0.686_738_3, 1e-5), "{}", m[1]);
        // margin = log(p / (1 − p)); check against the confidence route.
        let p = confidences(&logits, 1, 2, 3, &[0, 2]).unwrap();
        for j in 0..2 {
            let lo = (p[j] / (1.0 - p[j])).ln();
            assert!(close(lo, m[j], 1e-4), "{lo} vs {}", m[j]);
        }
        // p_2 = e³ / (e + e² + e³) = 1 / (1 + e⁻¹ + e⁻²) = 0.6652410
        assert!(close(p[1], 0.665_241, 1e-6));
    }

    #[test]
    fn two_class_margin_is_difference() {
        // 2 models × 2 points × 2 classes.
        let logits = [0.5, -1.25, 3.0, 7.5, -2.0, 2.0, 10.0, 10.0];
        let labels = [0, 1];
        let m = margins(&logits, 2, 2, 2, &labels).unwrap();
        assert_eq!(m, vec![1.75, 4.5, -4.0, 0.0]);
    }

    #[test]
    fn large_magnitude_logits_are_stable() {
        // Naive exp would overflow: z = (1e4, −1e4, 9999).
        // label 0: m = 1e4 − logsumexp(−1e4, 9999) = 1e4 − 9999 = 1 (the −1e4 term is 0 in f32).
        // label 1: m = −1e4 − logsumexp(1e4, 9999) = −1e4 − (1e4 + ln(1 + e⁻¹)) = −20000.313
        let logits = [1e4, -1e4, 9999.0, 1e4, -1e4, 9999.0];
        let m = margins(&logits, 1, 2, 3, &[0, 1]).unwrap();
        assert!(close(m[0], 1.0, 1e-3), "{}", m[0]);
        assert!(close(m[1], -20_000.313, 2e-2), "{}", m[1]);
        assert!(m.iter().all(|v| v.is_finite()));
        let p = confidences(&logits, 1, 2, 3, &[0, 1]).unwrap();
        // p_0 = 1 / (1 + e⁻¹) = 0.7310586
        assert!(close(p[0], 0.731_058_6, 1e-5), "{}", p[0]);
        assert_eq!(p[1], 0.0);
    }

    #[test]
    fn predictions_argmax_with_ties() {
        let logits = [0.0, 2.0, 2.0, 5.0, -1.0, 4.0];
        assert_eq!(predictions(&logits, 1, 2, 3).unwrap(), vec![1, 0]);
        let nan = [f32::NAN, 1.0, 0.0];
        assert_eq!(predictions(&nan, 1, 1, 3).unwrap(), vec![1]);
    }

    #[test]
    fn shape_errors() {
        assert!(margins(&[0.0; 5], 1, 2, 3, &[0, 1]).is_err());
        assert!(margins(&[0.0; 6], 1, 2, 3, &[0]).is_err());
        assert!(margins(&[0.0; 6], 1, 2, 3, &[0, 3]).is_err());
        assert!(margins(&[0.0; 2], 1, 2, 1, &[0, 0]).is_err());
    }
}
