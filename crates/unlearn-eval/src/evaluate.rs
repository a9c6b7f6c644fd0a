//! One unlearning result scored against oracles: every metric of the evaluation table at once.

use crate::accuracy::{SplitAccuracy, tow};
use crate::challenge::{ChallengeScore, challenge_score};
use crate::error::{EvalError, Result};
use crate::klom::{Direction, KlomVariant, klom, klom_with};
use crate::margins::{confidences, margins, predictions};
use crate::mia::mia_efficacy;
use crate::report::EvalTable;
use crate::summary::{SplitSummary, Splits, summarize_splits};
use crate::ulira::ulira;
use serde::{Deserialize, Serialize};

/// Logits of a set of models on the evaluated points: `models × points × classes`, row-major.
#[derive(Debug, Clone, Copy)]
pub struct LogitsView<'a> {
    /// The values.
    pub logits: &'a [f32],
    /// Number of models.
    pub models: usize,
    /// Evaluated points (train first, then validation).
    pub points: usize,
    /// Classes.
    pub classes: usize,
}

/// The evaluated points and how they split.
#[derive(Debug, Clone)]
pub struct EvalPoints<'a> {
    /// True labels of every evaluated point.
    pub labels: &'a [u32],
    /// The first `n_train` points are the training set; the rest are validation.
    pub n_train: usize,
    /// Forget set, as indices into the training points (sorted, distinct).
    pub forget: &'a [usize],
}

/// Everything measured for one method.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Evaluation {
    /// Per-point KLoM (unlearned vs oracles), all evaluated points.
    pub klom: Vec<f32>,
    /// KLoM summaries per split.
    pub summary: SplitSummary,
    /// KLoM summaries per split under the public benchmark's histogram rules
    /// ([`KlomVariant::Benchmark`]), to set beside published numbers.
    pub benchmark_summary: SplitSummary,
    /// Per-point KLoM of the retrain noise floor, when floor oracles were given.
    pub floor: Option<Vec<f32>>,
    /// Noise-floor summaries per split.
    pub floor_summary: Option<SplitSummary>,
    /// Accuracies of the method's models.
    pub accuracy: SplitAccuracy,
    /// Accuracies of the oracles.
    pub oracle_accuracy: SplitAccuracy,
    /// ToW (§9), 1 best.
    pub tow: f64,
    /// MIA efficacy (§10).
    pub mia_efficacy: f64,
    /// U-LiRA attack AUC on the forget set (0.5 = indistinguishable from retraining).
    pub ulira_auc: f64,
    /// The NeurIPS 2023 unlearning challenge's score (1 best).
    pub challenge: ChallengeScore,
    /// The table.
    pub table: EvalTable,
}

impl EvalPoints<'_> {
    /// Retain and validation index lists.
    pub fn splits(&self) -> (Vec<usize>, Vec<usize>) {
        let retain = (0..self.n_train)
            .filter(|i| self.forget.binary_search(i).is_err())
            .collect();
        let validation = (self.n_train..self.labels.len()).collect();
        (retain, validation)
    }
}

fn check(view: &LogitsView<'_>, reference: &LogitsView<'_>, name: &str) -> Result<()> {
    if view.points != reference.points || view.classes != reference.classes {
        return Err(EvalError::Dimension {
            what: name.to_string(),
            detail: format!(
                "{} points × {} classes, but the unlearned models have {} × {}; were they made from the same dataset and split?",
                view.points, view.classes, reference.points, reference.classes
            ),
        });
    }
    if view.models < 2 {
        return Err(EvalError::Dimension {
            what: name.to_string(),
            detail: format!("{} model(s); KLoM needs at least 2", view.models),
        });
    }
    Ok(())
}

/// Scores `unlearned` against `oracles` (and the floor oracles against `oracles`).
pub fn evaluate(
    unlearned: LogitsView<'_>,
    oracles: LogitsView<'_>,
    floor_oracles: Option<LogitsView<'_>>,
    points: &EvalPoints<'_>,
    direction: Direction,
) -> Result<Evaluation> {
    check(&unlearned, &unlearned, "unlearned models")?;
    check(&oracles, &unlearned, "oracles")?;
    if let Some(f) = &floor_oracles {
        check(f, &unlearned, "floor oracles")?;
    }
    if points.labels.len() != unlearned.points {
        return Err(EvalError::Shape {
            what: "labels".into(),
            expected: unlearned.points,
            got: points.labels.len(),
        });
    }
    if let Some(&bad) = points.forget.iter().find(|&&i| i >= points.n_train) {
        return Err(EvalError::Index {
            index: bad,
            what: "forget set (training points)".into(),
            len: points.n_train,
        });
    }
    let (retain, validation) = points.splits();
    let splits = Splits {
        forget: points.forget,
        retain: &retain,
        validation: &validation,
    };
    let margin =
        |v: &LogitsView<'_>| margins(v.logits, v.models, v.points, v.classes, points.labels);
    let u = margin(&unlearned)?;
    let o = margin(&oracles)?;
    let per_point = klom(&u, &o, unlearned.points, direction)?;
    let summary = summarize_splits(&per_point, splits)?;
    let benchmark = klom_with(&u, &o, unlearned.points, direction, KlomVariant::Benchmark)?;
    let benchmark_summary = summarize_splits(&benchmark, splits)?;
    let (floor, floor_summary) = match &floor_oracles {
        Some(f) => {
            let values = klom(&margin(f)?, &o, unlearned.points, direction)?;
            let s = summarize_splits(&values, splits)?;
            (Some(values), Some(s))
        }
        None => (None, None),
    };
    let acc = |v: &LogitsView<'_>| -> Result<SplitAccuracy> {
        let p = predictions(v.logits, v.models, v.points, v.classes)?;
        SplitAccuracy::from_predictions(&p, points.labels, points.forget, &retain, &validation)
    };
    let accuracy = acc(&unlearned)?;
    let oracle_accuracy = acc(&oracles)?;
    let conf = confidences(
        unlearned.logits,
        unlearned.models,
        unlearned.points,
        unlearned.classes,
        points.labels,
    )?;
    let mia = mia_efficacy(&conf, unlearned.points, &retain, &validation, points.forget)?.efficacy;
    let ulira_auc = ulira(&u, &o, unlearned.points, points.forget)?.auc;
    let challenge = challenge_score(
        (unlearned.logits, unlearned.models),
        (oracles.logits, oracles.models),
        unlearned.points,
        unlearned.classes,
        points.labels,
        points.forget,
        &accuracy,
        &oracle_accuracy,
    )?;
    let table = EvalTable::new(
        &summary,
        &accuracy,
        &oracle_accuracy,
        Some(mia),
        floor_summary.as_ref(),
    );
    Ok(Evaluation {
        tow: tow(&oracle_accuracy, &accuracy)?,
        klom: per_point,
        summary,
        benchmark_summary,
        floor,
        floor_summary,
        accuracy,
        oracle_accuracy,
        mia_efficacy: mia,
        ulira_auc,
        challenge,
        table,
    })
}
