//! Accuracy on a split for a set of models, accuracy gaps against oracles and the
//! "tug of war" score ToW (docs/algorithms.md §9). Accuracies are fractions in `[0, 1]`.

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, check_indices};

/// Mean accuracy over models on the points `indices`.
///
/// `predictions` is `models × points` row-major (as returned by [`crate::predictions`]),
/// `labels` has one entry per point. Each model's accuracy on the split is computed, then
/// averaged over models (equal to the pooled accuracy since every model sees the same points).
pub fn split_accuracy(predictions: &[u32], labels: &[u32], indices: &[usize]) -> Result<f64> {
    let per_model = split_accuracy_per_model(predictions, labels, indices)?;
    Ok(per_model.iter().sum::<f64>() / per_model.len() as f64)
}

/// Per-model accuracy on the points `indices` (same layout as [`split_accuracy`]).
pub fn split_accuracy_per_model(
    predictions: &[u32],
    labels: &[u32],
    indices: &[usize],
) -> Result<Vec<f64>> {
    let points = labels.len();
    if points == 0 || predictions.is_empty() {
        return Err(EvalError::Empty("predictions / labels".into()));
    }
    if !predictions.len().is_multiple_of(points) {
        return Err(EvalError::shape(
            "predictions",
            (predictions.len() / points + 1) * points,
            predictions.len(),
        ));
    }
    if indices.is_empty() {
        return Err(EvalError::Empty("accuracy split indices".into()));
    }
    check_indices("accuracy split indices", indices, points)?;
    Ok(predictions
        .chunks_exact(points)
        .map(|row| {
            let correct = indices.iter().filter(|&&i| row[i] == labels[i]).count();
            correct as f64 / indices.len() as f64
        })
        .collect())
}

/// Accuracies (fractions in `[0, 1]`) on the forget, retain and validation splits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitAccuracy {
    /// Accuracy on the forget set.
    pub forget: f64,
    /// Accuracy on the retain set.
    pub retain: f64,
    /// Accuracy on the validation / test set.
    pub validation: f64,
}

impl SplitAccuracy {
    /// Computes the mean-over-models accuracy on each split from `models × points`
    /// predictions.
    pub fn from_predictions(
        predictions: &[u32],
        labels: &[u32],
        forget: &[usize],
        retain: &[usize],
        validation: &[usize],
    ) -> Result<SplitAccuracy> {
        Ok(SplitAccuracy {
            forget: split_accuracy(predictions, labels, forget)?,
            retain: split_accuracy(predictions, labels, retain)?,
            validation: split_accuracy(predictions, labels, validation)?,
        })
    }

    fn check_unit(&self, what: &str) -> Result<()> {
        for v in [self.forget, self.retain, self.validation] {
            if !(0.0..=1.0).contains(&v) {
                return Err(EvalError::arg(
                    what,
                    format!("accuracy {v} is not a fraction in [0, 1]"),
                ));
            }
        }
        Ok(())
    }
}

/// Δ = oracle − method, per split (lower |Δ| is better).
pub fn accuracy_delta(oracle: &SplitAccuracy, method: &SplitAccuracy) -> SplitAccuracy {
    SplitAccuracy {
        forget: oracle.forget - method.forget,
        retain: oracle.retain - method.retain,
        validation: oracle.validation - method.validation,
    }
}

/// ToW = (1 − |ΔAcc_F|)(1 − |ΔAcc_R|)(1 − |ΔAcc_V|) with Δ = oracle − method and accuracies
/// as fractions in `[0, 1]` (errors otherwise, e.g. when percentages are passed). 1 is best.
pub fn tow(oracle: &SplitAccuracy, method: &SplitAccuracy) -> Result<f64> {
    oracle.check_unit("oracle accuracy")?;
    method.check_unit("method accuracy")?;
    let d = accuracy_delta(oracle, method);
    Ok((1.0 - d.forget.abs()) * (1.0 - d.retain.abs()) * (1.0 - d.validation.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn accuracy_mean_over_models() {
        // 2 models × 4 points, labels 0 1 2 3.
        let labels = [0, 1, 2, 3];
        let preds = [0, 1, 0, 0, /* model 2 */ 0, 0, 2, 3];
        // split {0,1,2}: model 1 → 2/3, model 2 → 2/3 → 2/3
        assert!(close(
            split_accuracy(&preds, &labels, &[0, 1, 2]).unwrap(),
            2.0 / 3.0
        ));
        // split {3}: model 1 → 0, model 2 → 1 → 0.5
        assert!(close(split_accuracy(&preds, &labels, &[3]).unwrap(), 0.5));
        assert_eq!(
            split_accuracy_per_model(&preds, &labels, &[1, 3]).unwrap(),
            vec![0.5, 0.5]
        );
        assert!(split_accuracy(&preds, &labels, &[4]).is_err());
        assert!(split_accuracy(&preds[..7], &labels, &[0]).is_err());
    }

    #[test]
    fn delta_and_tow_by_hand() {
        let oracle = SplitAccuracy {
            forget: 0.90,
            retain: 1.00,
            validation: 0.92,
        };
        let method = SplitAccuracy {
            forget: 0.95,
            retain: 0.98,
            validation: 0.90,
        };
        let d = accuracy_delta(&oracle, &method);
        assert!((d.forget - (-0.05)).abs() < 1e-12);
        assert!((d.retain - 0.02).abs() < 1e-12);
        assert!((d.validation - 0.02).abs() < 1e-12);
        // ToW = 0.95 · 0.98 · 0.98 = 0.91238
        assert!((tow(&oracle, &method).unwrap() - 0.912_38).abs() < 1e-12);
        assert!(close(tow(&oracle, &oracle).unwrap(), 1.0));
        let pct = SplitAccuracy {
            forget: 90.0,
            retain: 100.0,
            validation: 92.0,
        };
        assert!(tow(&pct, &method).is_err());
    }
}
