//! Validated views of the inputs (subset masks and model outputs) and the model split helper.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{AttributionError, Result};

/// An `models × points` matrix of subset masks, row-major: row `m` has a 1 for each train point
/// that model `m` was trained on and a 0 elsewhere. Every value is checked to be 0 or 1.
#[derive(Debug, Clone, Copy)]
pub struct Masks<'a> {
    data: &'a [u8],
    models: usize,
    points: usize,
}

impl<'a> Masks<'a> {
    /// Wraps a row-major `models × points` buffer, checking its length and that it holds only 0/1.
    pub fn new(data: &'a [u8], models: usize, points: usize) -> Result<Self> {
        if models.checked_mul(points) != Some(data.len()) {
            return Err(AttributionError::BufferLength {
                what: "masks",
                len: data.len(),
                rows: models,
                cols: points,
            });
        }
        if let Some(k) = data.iter().position(|&v| v > 1) {
            return Err(AttributionError::InvalidMaskValue {
                model: k / points,
                point: k % points,
                value: data[k],
            });
        }
        Ok(Self {
            data,
            models,
            points,
        })
    }

    /// Number of models (rows).
    pub fn models(&self) -> usize {
        self.models
    }

    /// Number of train points (columns).
    pub fn points(&self) -> usize {
        self.points
    }

    /// The whole row-major buffer.
    pub fn as_slice(&self) -> &'a [u8] {
        self.data
    }

    /// Mask row of model `m` (panics if `m` is out of range, like slice indexing).
    pub fn row(&self, m: usize) -> &'a [u8] {
        &self.data[m * self.points..(m + 1) * self.points]
    }

    /// Copies the rows `models` (in that order) into a new row-major buffer, e.g. to split a zoo
    /// into a fitting and an evaluation part.
    pub fn select_models(&self, models: &[usize]) -> Result<Vec<u8>> {
        check_indices(models, self.models)?;
        let mut out = Vec::with_capacity(models.len() * self.points);
        for &m in models {
            out.extend_from_slice(self.row(m));
        }
        Ok(out)
    }

    /// Number of models that include each point.
    pub(crate) fn inclusion_counts(&self, models: Option<&[usize]>) -> Vec<usize> {
        let mut counts = vec![0usize; self.points];
        let mut add = |row: &[u8]| {
            for (c, &v) in counts.iter_mut().zip(row) {
                *c += v as usize;
            }
        };
        match models {
            Some(ms) => ms.iter().for_each(|&m| add(self.row(m))),
            None => (0..self.models).for_each(|m| add(self.row(m))),
        }
        counts
    }

    /// Errors if some point is in every model's subset or in none.
    pub(crate) fn check_not_degenerate(&self) -> Result<Vec<usize>> {
        let counts = self.inclusion_counts(None);
        if let Some((point, &count)) = counts
            .iter()
            .enumerate()
            .find(|&(_, &c)| c == 0 || c == self.models)
        {
            return Err(AttributionError::DegeneratePoint {
                point,
                count,
                models: self.models,
            });
        }
        Ok(counts)
    }
}

/// An `models × targets` matrix of model outputs, row-major (row `m`: every output of model `m`;
/// for logits, targets are flattened point-major, `t = point · C + class`). Every value is checked
/// to be finite.
#[derive(Debug, Clone, Copy)]
pub struct Outputs<'a> {
    data: &'a [f32],
    models: usize,
    targets: usize,
}

impl<'a> Outputs<'a> {
    /// Wraps a row-major `models × targets` buffer, checking its length and finiteness.
    pub fn new(data: &'a [f32], models: usize, targets: usize) -> Result<Self> {
        if models.checked_mul(targets) != Some(data.len()) {
            return Err(AttributionError::BufferLength {
                what: "outputs",
                len: data.len(),
                rows: models,
                cols: targets,
            });
        }
        if let Some(k) = data.iter().position(|v| !v.is_finite()) {
            return Err(AttributionError::NonFiniteOutput {
                model: k / targets,
                target: k % targets,
            });
        }
        Ok(Self {
            data,
            models,
            targets,
        })
    }

    /// Number of models (rows).
    pub fn models(&self) -> usize {
        self.models
    }

    /// Number of targets (columns).
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// The whole row-major buffer.
    pub fn as_slice(&self) -> &'a [f32] {
        self.data
    }

    /// Output row of model `m` (panics if `m` is out of range, like slice indexing).
    pub fn row(&self, m: usize) -> &'a [f32] {
        &self.data[m * self.targets..(m + 1) * self.targets]
    }

    /// Copies the rows `models` (in that order) into a new row-major buffer.
    pub fn select_models(&self, models: &[usize]) -> Result<Vec<f32>> {
        check_indices(models, self.models)?;
        let mut out = Vec::with_capacity(models.len() * self.targets);
        for &m in models {
            out.extend_from_slice(self.row(m));
        }
        Ok(out)
    }
}

/// Checks that masks and outputs describe the same models.
pub(crate) fn check_pair(masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<()> {
    if masks.models() != outputs.models() {
        return Err(AttributionError::DimensionMismatch {
            what: "model count of masks vs outputs",
            left: masks.models(),
            right: outputs.models(),
        });
    }
    Ok(())
}

fn check_indices(idx: &[usize], len: usize) -> Result<()> {
    if let Some(&index) = idx.iter().find(|&&i| i >= len) {
        return Err(AttributionError::ModelOutOfRange { index, models: len });
    }
    Ok(())
}

/// Checks a set of train-point rows: in range and without duplicates.
pub(crate) fn check_rows(rows: &[usize], points: usize) -> Result<()> {
    let mut seen = vec![false; points];
    for &row in rows {
        if row >= points {
            return Err(AttributionError::RowOutOfRange { row, points });
        }
        if std::mem::replace(&mut seen[row], true) {
            return Err(AttributionError::DuplicateRow { row });
        }
    }
    Ok(())
}

/// A deterministic split of model indices into a fitting set and a held-out set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSplit {
    /// Models to fit on, ascending.
    pub fit: Vec<usize>,
    /// Held-out models, ascending.
    pub held_out: Vec<usize>,
}

/// Splits `0..models` into a fit and a held-out set. The held-out set has
/// `round(models · held_out_fraction)` models, chosen by a ChaCha8 shuffle seeded with `seed`.
/// Errors if either part would be empty or the fraction is not in (0, 1).
pub fn split_models(models: usize, held_out_fraction: f64, seed: u64) -> Result<ModelSplit> {
    check_fraction(held_out_fraction)?;
    let h = (models as f64 * held_out_fraction).round() as usize;
    if h == 0 {
        return Err(AttributionError::EmptyHeldOut {
            models,
            fraction: held_out_fraction,
        });
    }
    if h >= models {
        return Err(AttributionError::EmptyFitSet {
            models,
            fraction: held_out_fraction,
        });
    }
    let mut idx: Vec<usize> = (0..models).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    idx.shuffle(&mut rng);
    let mut held_out = idx[..h].to_vec();
    let mut fit = idx[h..].to_vec();
    held_out.sort_unstable();
    fit.sort_unstable();
    Ok(ModelSplit { fit, held_out })
}

pub(crate) fn check_fraction(f: f64) -> Result<()> {
    if !(f > 0.0 && f < 1.0) {
        return Err(AttributionError::InvalidParam {
            name: "held_out_fraction",
            reason: format!("must be in (0, 1), got {f}"),
        });
    }
    Ok(())
}
