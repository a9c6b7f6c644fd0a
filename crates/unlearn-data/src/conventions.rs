//! The user's data conventions: how features are normalised and which points validate, so a
//! model trained elsewhere (in PyTorch, on its own preprocessing and split) is seen here exactly
//! as it was trained.

use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::split::{Prepared, Standardizer, train_val_split};

/// How features are normalised before any model sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalise {
    /// Per feature, mean 0 and standard deviation 1 on the training part.
    #[default]
    Standardise,
    /// The values as stored.
    None,
    /// Per image channel: `(x − mean_c) / std_c`, the statistics given (e.g. CIFAR-10's
    /// published ones) or computed on the training part.
    Channel,
}

impl Normalise {
    /// True for the default (left out of manifests, so older configuration hashes hold).
    pub fn is_standardise(&self) -> bool {
        *self == Normalise::Standardise
    }

    /// The name used in configs and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Normalise::Standardise => "standardise",
            Normalise::None => "none",
            Normalise::Channel => "channel",
        }
    }
}

/// Per-channel statistics given by the user.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelStats {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel.
    pub std: Vec<f32>,
}

/// Which points validate.
#[derive(Debug, Clone, Copy)]
pub enum Validation<'a> {
    /// `round(fraction · n)` points drawn with `seed` (the training part keeps ascending order).
    Random {
        /// Share held out.
        fraction: f64,
        /// Seed of the draw.
        seed: u64,
    },
    /// A separate dataset (a test set): every point of the main one trains, in its order.
    Separate(&'a Dataset),
    /// These rows of the dataset (distinct, in range); the others train, in their order.
    Indices(&'a [usize]),
}

/// Divides `dataset` as `validation` says and normalises both parts with statistics of the
/// training part (or `given` ones, for [`Normalise::Channel`]).
pub fn prepare_with(
    dataset: &Dataset,
    validation: Validation<'_>,
    normalise: Normalise,
    given: Option<&ChannelStats>,
) -> Result<Prepared> {
    let (mut train, mut val, train_index, val_index) = match validation {
        Validation::Random { fraction, seed } => {
            let split = train_val_split(dataset.len(), fraction, seed)?;
            let train = dataset.subset(&split.train);
            let val = dataset.subset(&split.val);
            (train, val, split.train, split.val)
        }
        Validation::Separate(other) => {
            check_compatible(dataset, other)?;
            let mut val = other.clone();
            // Both parts must count the same classes, so logits have one width.
            val.classes = dataset.classes.max(other.classes);
            let mut train = dataset.clone();
            train.classes = val.classes;
            let (n, m) = (train.len(), val.len());
            (train, val, (0..n).collect(), (0..m).collect())
        }
        Validation::Indices(rows) => {
            let mut is_val = vec![false; dataset.len()];
            for &i in rows {
                let slot = is_val.get_mut(i).ok_or_else(|| {
                    DataError::invalid(format!(
                        "validation index {i} is out of range for {} points",
                        dataset.len()
                    ))
                })?;
                if *slot {
                    return Err(DataError::invalid(format!(
                        "validation index {i} is listed twice"
                    )));
                }
                *slot = true;
            }
            let train_index: Vec<usize> = (0..dataset.len()).filter(|&i| !is_val[i]).collect();
            let val_index: Vec<usize> = (0..dataset.len()).filter(|&i| is_val[i]).collect();
            if train_index.is_empty() {
                return Err(DataError::invalid(
                    "the validation indices leave no training point",
                ));
            }
            let train = dataset.subset(&train_index);
            let val = dataset.subset(&val_index);
            (train, val, train_index, val_index)
        }
    };
    let standardizer = match (normalise, given) {
        (Normalise::Standardise, None) => Standardizer::fit(&train)?,
        (Normalise::None, None) => Standardizer::identity(train.dim),
        (Normalise::Channel, given) => channel_standardizer(&train, given)?,
        (other, Some(_)) => {
            return Err(DataError::invalid(format!(
                "channel statistics were given but the normalisation is '{}'; use 'channel' with them",
                other.as_str()
            )));
        }
    };
    standardizer.apply(&mut train)?;
    standardizer.apply(&mut val)?;
    Ok(Prepared {
        train,
        val,
        train_index,
        val_index,
        standardizer,
    })
}

fn check_compatible(train: &Dataset, val: &Dataset) -> Result<()> {
    if train.dim != val.dim || train.image_shape != val.image_shape {
        return Err(DataError::invalid(format!(
            "the validation data '{}' have {} features per row (image {:?}) but the training data '{}' have {} (image {:?}); give data of the same shape",
            val.name, val.dim, val.image_shape, train.name, train.dim, train.image_shape
        )));
    }
    if val.is_empty() {
        return Err(DataError::invalid(format!(
            "the validation data '{}' are empty",
            val.name
        )));
    }
    Ok(())
}

/// Per-channel statistics (given, or computed on `train` in f64, population std) spread over
/// each channel's features.
fn channel_standardizer(train: &Dataset, given: Option<&ChannelStats>) -> Result<Standardizer> {
    let [channels, h, w] = train.image_shape.ok_or_else(|| {
        DataError::invalid(format!(
            "per-channel normalisation needs image data, but '{}' is flat; use 'standardise' or 'none'",
            train.name
        ))
    })?;
    let plane = h * w;
    let (mean, std) = match given {
        Some(stats) => {
            if stats.mean.len() != channels || stats.std.len() != channels {
                return Err(DataError::invalid(format!(
                    "{} channel means and {} standard deviations given for images of {channels} channels",
                    stats.mean.len(),
                    stats.std.len()
                )));
            }
            if let Some(s) = stats.std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
                return Err(DataError::invalid(format!(
                    "channel standard deviation {s} is not a positive number"
                )));
            }
            if let Some(m) = stats.mean.iter().find(|m| !m.is_finite()) {
                return Err(DataError::invalid(format!(
                    "channel mean {m} is not a finite number"
                )));
            }
            (stats.mean.clone(), stats.std.clone())
        }
        None => {
            if train.is_empty() {
                return Err(DataError::invalid("no training points to normalise on"));
            }
            let count = (train.len() * plane) as f64;
            let mut mean = vec![0f64; channels];
            let mut sq = vec![0f64; channels];
            for row in train.features.chunks_exact(train.dim) {
                for (c, values) in row.chunks_exact(plane).enumerate() {
                    mean[c] += values.iter().map(|&x| f64::from(x)).sum::<f64>();
                }
            }
            mean.iter_mut().for_each(|m| *m /= count);
            for row in train.features.chunks_exact(train.dim) {
                for (c, values) in row.chunks_exact(plane).enumerate() {
                    sq[c] += values
                        .iter()
                        .map(|&x| (f64::from(x) - mean[c]).powi(2))
                        .sum::<f64>();
                }
            }
            let std = sq
                .iter()
                .map(|v| {
                    let s = (v / count).sqrt();
                    if s > 1e-12 { s as f32 } else { 1.0 }
                })
                .collect();
            (mean.into_iter().map(|m| m as f32).collect(), std)
        }
    };
    Ok(Standardizer {
        mean: mean
            .iter()
            .flat_map(|&m| std::iter::repeat_n(m, plane))
            .collect(),
        std: std
            .iter()
            .flat_map(|&s| std::iter::repeat_n(s, plane))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn images() -> Dataset {
        // 3 images of 2 channels of 2 pixels: channel 0 holds 0..6 step 1, channel 1 ten times that.
        let features = vec![
            0.0, 1.0, 0.0, 10.0, //
            2.0, 3.0, 20.0, 30.0, //
            4.0, 5.0, 40.0, 50.0,
        ];
        Dataset::new("img", features, vec![0, 1, 0], 4, 2, Some([2, 1, 2])).unwrap()
    }

    #[test]
    fn channel_statistics_pool_every_pixel_of_a_channel() {
        let p = prepare_with(
            &images(),
            Validation::Indices(&[1]),
            Normalise::Channel,
            None,
        )
        .unwrap();
        // Training images 0 and 2, in order; channel 0 values 0, 1, 4, 5: mean 2.5,
        // variance (6.25 + 2.25 + 2.25 + 6.25) / 4 = 4.25.
        assert_eq!(p.train_index, vec![0, 2]);
        assert_eq!(p.val_index, vec![1]);
        let s = 4.25f32.sqrt();
        assert!((p.train.features[0] - (0.0 - 2.5) / s).abs() < 1e-6);
        assert!((p.val.features[0] - (2.0 - 2.5) / s).abs() < 1e-6);
        // Channel 1: 0, 10, 40, 50: mean 25.
        assert!((p.standardizer.mean[2] - 25.0).abs() < 1e-6);
    }

    #[test]
    fn given_statistics_none_and_separate_validation() {
        let data = images();
        let stats = ChannelStats {
            mean: vec![1.0, 10.0],
            std: vec![2.0, 5.0],
        };
        let other = data.subset(&[2]);
        let p = prepare_with(
            &data,
            Validation::Separate(&other),
            Normalise::Channel,
            Some(&stats),
        )
        .unwrap();
        assert_eq!(p.train.len(), 3);
        assert_eq!(p.train.features[..4], [-0.5, 0.0, -2.0, 0.0]);
        assert_eq!(p.val.features, vec![1.5, 2.0, 6.0, 8.0]);
        let raw = prepare_with(&data, Validation::Separate(&other), Normalise::None, None).unwrap();
        assert_eq!(raw.train.features, data.features);
        // Errors: statistics of the wrong length, on flat data, given with another rule.
        let short = ChannelStats {
            mean: vec![0.0],
            std: vec![1.0],
        };
        let one = Validation::Indices(&[0]);
        assert!(prepare_with(&data, one, Normalise::Channel, Some(&short)).is_err());
        assert!(prepare_with(&data, one, Normalise::None, Some(&stats)).is_err());
        let flat = Dataset::new("flat", vec![1.0, 2.0, 3.0, 4.0], vec![0, 1], 2, 2, None).unwrap();
        let err = prepare_with(&flat, Validation::Indices(&[0]), Normalise::Channel, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("flat"), "{err}");
        assert!(prepare_with(&data, Validation::Indices(&[0, 0]), Normalise::None, None).is_err());
        assert!(prepare_with(&data, Validation::Indices(&[3]), Normalise::None, None).is_err());
    }
}
