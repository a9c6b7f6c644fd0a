//! Train/validation division and feature standardisation.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// Indices of a train/validation division, each list sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Indices used for training.
    pub train: Vec<usize>,
    /// Indices held out for validation.
    pub val: Vec<usize>,
}

/// Divides `0..n` at random into `round(val_fraction · n)` validation indices
/// and the rest for training. The same `(n, val_fraction, seed)` always gives
/// the same division. `val_fraction` must lie in `[0, 1)` and leave at least
/// one training point.
pub fn train_val_split(n: usize, val_fraction: f64, seed: u64) -> Result<Split> {
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(DataError::invalid(format!(
            "validation fraction {val_fraction} is outside [0, 1)"
        )));
    }
    let n_val = (val_fraction * n as f64).round() as usize;
    if n_val >= n {
        return Err(DataError::invalid(format!(
            "validation fraction {val_fraction} of {n} points leaves no training data"
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut val = order[..n_val].to_vec();
    let mut train = order[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    Ok(Split { train, val })
}

/// Per-feature mean and standard deviation, fitted on training data and then
/// applied unchanged to any other part so no statistics leak from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature.
    pub mean: Vec<f32>,
    /// Population standard deviation of each feature; 1 where it is 0, so
    /// constant features become 0 instead of NaN.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits the statistics of `train` (population standard deviation, in f64).
    pub fn fit(train: &Dataset) -> Result<Self> {
        if train.is_empty() {
            return Err(DataError::invalid(format!(
                "cannot fit a standardiser on the empty data set '{}'",
                train.name
            )));
        }
        let n = train.len() as f64;
        let mut mean = vec![0f64; train.dim];
        for i in 0..train.len() {
            for (m, &x) in mean.iter_mut().zip(train.row(i)) {
                *m += f64::from(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        // Two passes: the one-pass formula loses precision on large offsets.
        let mut var = vec![0f64; train.dim];
        for i in 0..train.len() {
            for ((v, &m), &x) in var.iter_mut().zip(&mean).zip(train.row(i)) {
                let d = f64::from(x) - m;
                *v += d * d;
            }
        }
        let std = var
            .iter()
            .map(|v| {
                let s = (v / n).sqrt();
                if s > 1e-12 { s as f32 } else { 1.0 }
            })
            .collect();
        Ok(Standardizer {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        })
    }

    /// The statistics that leave `dim` features as they are (mean 0, std 1).
    pub fn identity(dim: usize) -> Self {
        Standardizer {
            mean: vec![0.0; dim],
            std: vec![1.0; dim],
        }
    }

    /// Replaces every feature `x` by `(x − mean) / std`.
    pub fn apply(&self, data: &mut Dataset) -> Result<()> {
        if data.dim != self.mean.len() {
            return Err(DataError::invalid(format!(
                "standardiser fitted on {} features cannot be applied to '{}' with {}",
                self.mean.len(),
                data.name,
                data.dim
            )));
        }
        if self.mean.is_empty() {
            return Ok(());
        }
        for row in data.features.chunks_exact_mut(self.mean.len()) {
            self.apply_row(row);
        }
        Ok(())
    }

    /// Standardises one row in place (its length must equal the fitted dimension).
    pub fn apply_row(&self, row: &mut [f32]) {
        for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = (*x - m) / s;
        }
    }
}

/// A data set divided into train and validation parts, both standardised with
/// the training part's statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Standardised training rows.
    pub train: Dataset,
    /// Standardised validation rows.
    pub val: Dataset,
    /// Row of the original data set behind each training row.
    pub train_index: Vec<usize>,
    /// Row of the original data set behind each validation row.
    pub val_index: Vec<usize>,
    /// The statistics used, for standardising later inputs the same way.
    pub standardizer: Standardizer,
}

impl Prepared {
    /// Features of every evaluated point, training rows first, then validation (the order of
    /// every zoo's logits).
    pub fn all_features(&self) -> Vec<f32> {
        let mut all = self.train.features.clone();
        all.extend_from_slice(&self.val.features);
        all
    }

    /// Labels of every evaluated point, in the order of [`Prepared::all_features`].
    pub fn all_labels(&self) -> Vec<u32> {
        let mut all = self.train.labels.clone();
        all.extend_from_slice(&self.val.labels);
        all
    }
}

/// Splits `dataset` with [`train_val_split`] and standardises both parts with
/// a [`Standardizer`] fitted on the training part only.
pub fn prepare(dataset: &Dataset, val_fraction: f64, seed: u64) -> Result<Prepared> {
    let split = train_val_split(dataset.len(), val_fraction, seed)?;
    let mut train = dataset.subset(&split.train);
    let mut val = dataset.subset(&split.val);
    let standardizer = Standardizer::fit(&train)?;
    standardizer.apply(&mut train)?;
    standardizer.apply(&mut val)?;
    Ok(Prepared {
        train,
        val,
        train_index: split.train,
        val_index: split.val,
        standardizer,
    })
}
