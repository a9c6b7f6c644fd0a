//! Spearman rank correlation and the linear datamodeling score (LDS).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Masks, Outputs, check_pair};
use crate::datamodel::Datamodel;
use crate::error::{AttributionError, Result};

/// Ranks `1..=n` of `x`, ties given the average of the ranks they span.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && x[idx[j]] == x[idx[i]] {
            j += 1;
        }
        // positions i..j (0-based) hold ranks i+1..=j; their average is (i + 1 + j) / 2.
        let r = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

/// Pearson correlation; NaN if either side is constant or the lengths are below 2.
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len();
    if n < 2 || b.len() != n {
        return f64::NAN;
    }
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (dx, dy) = (x - ma, y - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return f64::NAN;
    }
    sab / (saa * sbb).sqrt()
}

/// Spearman rank correlation of `a` and `b` (Pearson correlation of their average ranks).
///
/// Returns NaN when it is undefined: fewer than two values, or one side constant. Errors if the
/// lengths differ.
pub fn spearman(a: &[f64], b: &[f64]) -> Result<f64> {
    if a.len() != b.len() {
        return Err(AttributionError::DimensionMismatch {
            what: "spearman input lengths",
            left: a.len(),
            right: b.len(),
        });
    }
    Ok(pearson(&average_ranks(a), &average_ranks(b)))
}

/// The linear datamodeling score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lds {
    /// Mean over the targets whose Spearman correlation is defined.
    pub mean: f64,
    /// Spearman correlation per target, over models (NaN where undefined: constant predicted or
    /// actual output).
    pub per_target: Vec<f64>,
    /// Number of targets with an undefined correlation, left out of the mean.
    pub undefined: usize,
}

/// LDS of predicted vs actual outputs, both row-major `models × targets`: per target, the
/// Spearman correlation over models; then the mean over targets.
///
/// Which targets to score is the caller's choice: pass one column per evaluated point (e.g. the
/// margin or the true-class logit) for the per-point LDS of the spec, or all logit columns
/// (points × classes) for the mean over every (point, class) output.
pub fn lds_from_predictions(predicted: &Outputs<'_>, actual: &Outputs<'_>) -> Result<Lds> {
    if predicted.models() != actual.models() {
        return Err(AttributionError::DimensionMismatch {
            what: "model count of predictions vs outputs",
            left: predicted.models(),
            right: actual.models(),
        });
    }
    if predicted.targets() != actual.targets() {
        return Err(AttributionError::DimensionMismatch {
            what: "target count of predictions vs outputs",
            left: predicted.targets(),
            right: actual.targets(),
        });
    }
    let h = actual.models();
    if h == 0 {
        return Err(AttributionError::TooFewModels {
            what: "LDS (held-out set is empty)",
            needed: 2,
            got: 0,
        });
    }
    if h < 2 {
        return Err(AttributionError::TooFewModels {
            what: "LDS",
            needed: 2,
            got: h,
        });
    }
    let t = actual.targets();
    let per_target: Vec<f64> = (0..t)
        .into_par_iter()
        .map(|tt| {
            let p: Vec<f64> = (0..h).map(|m| predicted.row(m)[tt] as f64).collect();
            let a: Vec<f64> = (0..h).map(|m| actual.row(m)[tt] as f64).collect();
            pearson(&average_ranks(&p), &average_ranks(&a))
        })
        .collect();
    let defined: Vec<f64> = per_target
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let mean = if defined.is_empty() {
        f64::NAN
    } else {
        defined.iter().sum::<f64>() / defined.len() as f64
    };
    Ok(Lds {
        mean,
        undefined: t - defined.len(),
        per_target,
    })
}

/// LDS of a datamodel on held-out models (which must not have been used to fit it):
/// predictions `intercept + Σ_{i ∈ S_m} β[i, ·]` against the actual `outputs`.
pub fn lds(model: &Datamodel, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<Lds> {
    check_pair(masks, outputs)?;
    if outputs.targets() != model.targets() {
        return Err(AttributionError::DimensionMismatch {
            what: "targets of outputs vs datamodel",
            left: outputs.targets(),
            right: model.targets(),
        });
    }
    if masks.models() == 0 {
        return Err(AttributionError::TooFewModels {
            what: "LDS (held-out set is empty)",
            needed: 2,
            got: 0,
        });
    }
    let pred = model.predict(masks)?;
    let pred = Outputs::new(&pred, masks.models(), model.targets())?;
    lds_from_predictions(&pred, outputs)
}
