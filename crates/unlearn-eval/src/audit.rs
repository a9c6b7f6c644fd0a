//! What can be measured of an unlearning run without oracles (a deletion request on a deployed
//! model, where nobody retrains): accuracy on F, R and V before and after, membership-inference
//! efficacy before and after, and how close the achieved outputs on F came to the outputs the
//! attribution predicted (DMM's targets).

use crate::accuracy::SplitAccuracy;
use crate::error::{EvalError, Result};
use crate::evaluate::{EvalPoints, LogitsView};
use crate::margins::{confidences, margins, predictions};
use crate::mia::mia_efficacy;
use serde::{Deserialize, Serialize};

/// Before and after of one deletion request, without oracles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    /// Mean accuracies of the original models.
    pub before: SplitAccuracy,
    /// Mean accuracies of the unlearned models.
    pub after: SplitAccuracy,
    /// MIA efficacy of the originals (share of F a member/non-member classifier calls
    /// non-member; higher means F looks more like unseen data).
    pub mia_before: f64,
    /// MIA efficacy after.
    pub mia_after: f64,
    /// Mean margin on F: original, predicted by the attribution (when given), achieved.
    pub forget_margin: [f64; 3],
    /// Mean margin on the validation split of the originals: what unseen points look like.
    pub validation_margin: f64,
    /// Root-mean-square difference of achieved and predicted logits on F (when predicted).
    pub forget_rms_error: Option<f64>,
    /// The same between the original and predicted logits: how far the prediction asked to go.
    pub forget_rms_asked: Option<f64>,
}

fn mean_at(values: &[f32], models: usize, points: usize, at: &[usize]) -> f64 {
    let sum: f64 = (0..models)
        .flat_map(|m| at.iter().map(move |&j| f64::from(values[m * points + j])))
        .sum();
    sum / (models * at.len()).max(1) as f64
}

fn rms_on(a: &[f32], b: &[f32], points: usize, classes: usize, at: &[usize]) -> f64 {
    let models = a.len() / (points * classes);
    let mut sum = 0.0;
    for m in 0..models {
        for &j in at {
            let row = (m * points + j) * classes;
            for c in 0..classes {
                sum += f64::from(a[row + c] - b[row + c]).powi(2);
            }
        }
    }
    (sum / (models * at.len() * classes).max(1) as f64).sqrt()
}

/// Audits `unlearned` against the `original` models it came from (same model count and
/// order); `predicted` are the logits the attribution predicts for the unlearned models (same
/// layout), if any.
pub fn audit(
    original: LogitsView<'_>,
    unlearned: LogitsView<'_>,
    predicted: Option<&[f32]>,
    points: &EvalPoints<'_>,
) -> Result<Audit> {
    if original.models != unlearned.models
        || original.points != unlearned.points
        || original.classes != unlearned.classes
    {
        return Err(EvalError::dim(
            "unlearned models",
            format!(
                "{} × {} × {} against the originals' {} × {} × {}; audit an unlearned zoo against the zoo it was made from",
                unlearned.models,
                unlearned.points,
                unlearned.classes,
                original.models,
                original.points,
                original.classes
            ),
        ));
    }
    if let Some(p) = predicted
        && p.len() != original.logits.len()
    {
        return Err(EvalError::Shape {
            what: "predicted logits".into(),
            expected: original.logits.len(),
            got: p.len(),
        });
    }
    if points.forget.is_empty() {
        return Err(EvalError::Empty("forget set for the audit".into()));
    }
    let (retain, validation) = points.splits();
    let (n, c) = (original.points, original.classes);
    let acc = |v: &LogitsView<'_>| -> Result<SplitAccuracy> {
        let p = predictions(v.logits, v.models, n, c)?;
        SplitAccuracy::from_predictions(&p, points.labels, points.forget, &retain, &validation)
    };
    let mia = |v: &LogitsView<'_>| -> Result<f64> {
        let conf = confidences(v.logits, v.models, n, c, points.labels)?;
        Ok(mia_efficacy(&conf, n, &retain, &validation, points.forget)?.efficacy)
    };
    let margin = |logits: &[f32]| margins(logits, original.models, n, c, points.labels);
    let m_before = margin(original.logits)?;
    let m_after = margin(unlearned.logits)?;
    let m_predicted = predicted.map(margin).transpose()?;
    let on_forget = |m: &[f32]| mean_at(m, original.models, n, points.forget);
    Ok(Audit {
        before: acc(&original)?,
        after: acc(&unlearned)?,
        mia_before: mia(&original)?,
        mia_after: mia(&unlearned)?,
        forget_margin: [
            on_forget(&m_before),
            m_predicted.as_deref().map_or(f64::NAN, on_forget),
            on_forget(&m_after),
        ],
        validation_margin: mean_at(&m_before, original.models, n, &validation),
        forget_rms_error: predicted.map(|p| rms_on(unlearned.logits, p, n, c, points.forget)),
        forget_rms_asked: predicted.map(|p| rms_on(original.logits, p, n, c, points.forget)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_of_a_hand_made_request() {
        // One model, 4 points (train 0..3, validation 3), 2 classes, labels [0, 0, 1, 1];
        // F = {0}. Original: every point right with margin 2; unlearned: point 0 now wrong
        // (margin −1); predicted: point 0 at margin −2.
        let labels = [0, 0, 1, 1];
        let original = [1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0];
        let unlearned = [-0.5, 0.5, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0];
        let predicted = [-1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0];
        fn view(logits: &[f32]) -> LogitsView<'_> {
            LogitsView {
                logits,
                models: 1,
                points: 4,
                classes: 2,
            }
        }
        let points = EvalPoints {
            labels: &labels,
            n_train: 3,
            forget: &[0],
        };
        let a = audit(view(&original), view(&unlearned), Some(&predicted), &points).unwrap();
        assert_eq!(a.before.forget, 1.0);
        assert_eq!(a.after.forget, 0.0);
        assert_eq!(a.after.retain, 1.0);
        assert_eq!(a.forget_margin, [2.0, -2.0, -1.0]);
        assert_eq!(a.validation_margin, 2.0);
        // Achieved vs predicted on point 0: differences 0.5 and −0.5 → RMS 0.5; asked: 2 and −2.
        assert!((a.forget_rms_error.unwrap() - 0.5).abs() < 1e-12);
        assert!((a.forget_rms_asked.unwrap() - 2.0).abs() < 1e-12);
        let short = [1.0f32; 4];
        assert!(audit(view(&original), view(&unlearned), Some(&short), &points).is_err());
    }
}
