//! Which data a zoo is trained on, loaded and split the way its manifest records, so any later
//! step (a method, an evaluation, the bench) reloads exactly the same points.

use crate::TrainError;
use crate::manifest::{DatasetInfo, InputRef};
use serde::{Deserialize, Serialize};
use unlearn_data::{ChannelStats, Dataset, Normalise, Prepared, Validation};

/// A dataset by name (as `unlearn --dataset` takes it), how it is split and how it is
/// normalised. The defaults (a random split, per-feature standardisation) suit data made for
/// unlearn; the other conventions reproduce a model trained elsewhere on its own preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// `digits` (embedded), `fashion-mnist`, `synthetic-cifar10[:N]`, a CSV file, a directory of CIFAR-10 binary batches
    /// or MNIST IDX files, or `FEATURES.npy,LABELS.npy`.
    pub dataset: String,
    /// Label column of a CSV dataset.
    #[serde(default = "default_label_column")]
    pub label_column: String,
    /// Share held out as the validation split.
    pub val_fraction: f64,
    /// Seed of the train/validation split.
    pub split_seed: u64,
    /// Use only the first `limit` points (0 = all).
    #[serde(default)]
    pub limit: usize,
    /// Normalisation: `standardise` (per feature on the training part, the default), `none`
    /// (values as stored) or `channel` (per image channel).
    #[serde(default, skip_serializing_if = "Normalise::is_standardise")]
    pub normalise: Normalise,
    /// `channel`: the mean of each channel (with `channel_std`; computed on the training part
    /// when absent), e.g. CIFAR-10's published statistics for inputs scaled to [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_mean: Option<Vec<f32>>,
    /// `channel`: the standard deviation of each channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_std: Option<Vec<f32>>,
    /// Validation data of their own instead of a random split: `test` (the dataset's official
    /// test part) or a dataset spec. Every point of `dataset` then trains, in its order, so
    /// training index i is the user's example i.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<String>,
    /// A file of the validation points' indices (`.npy` or one per line) instead of a random
    /// split; the other points train, in their order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_indices: Option<String>,
}

fn default_label_column() -> String {
    "label".into()
}

impl Default for DataSource {
    /// The embedded digits, 80 % train / 20 % validation, split seed 0.
    fn default() -> Self {
        Self::named("digits")
    }
}

impl DataSource {
    /// `dataset` with the default split (20 % validation, seed 0, every point).
    pub fn named(dataset: &str) -> Self {
        Self {
            dataset: dataset.to_string(),
            label_column: "label".into(),
            val_fraction: 0.2,
            split_seed: 0,
            limit: 0,
            normalise: Normalise::Standardise,
            channel_mean: None,
            channel_std: None,
            validation: None,
            val_indices: None,
        }
    }

    /// The dataset a spec names (a CSV file read with this source's label column).
    fn load_spec(&self, spec: &str) -> Result<Dataset, TrainError> {
        Ok(if spec.ends_with(".csv") {
            unlearn_data::load_csv(spec, &self.label_column)?
        } else {
            unlearn_data::resolve_dataset(spec)?
        })
    }

    /// The given channel statistics, both or neither.
    fn channel_stats(&self) -> Result<Option<ChannelStats>, TrainError> {
        match (&self.channel_mean, &self.channel_std) {
            (Some(mean), Some(std)) => Ok(Some(ChannelStats {
                mean: mean.clone(),
                std: std.clone(),
            })),
            (None, None) => Ok(None),
            _ => Err(TrainError::Data(unlearn_data::DataError::Invalid(
                "give the channel means and standard deviations together (channel_mean and channel_std), or neither to compute them on the training part".into(),
            ))),
        }
    }

    /// Loads, limits, splits and normalises the data; the info is what manifests record.
    pub fn load(&self) -> Result<(Prepared, DatasetInfo), TrainError> {
        let mut data = self.load_spec(&self.dataset)?;
        if self.limit > 0 && self.limit < data.len() {
            data = data.subset(&(0..self.limit).collect::<Vec<_>>());
        }
        let hash = data.content_hash();
        let stats = self.channel_stats()?;
        let invalid = |what: String| TrainError::Data(unlearn_data::DataError::Invalid(what));
        let (separate, val_rows) = match (&self.validation, &self.val_indices) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "give validation data or validation indices, not both".into(),
                ));
            }
            (Some(spec), None) if spec.trim() == "test" => (
                Some(unlearn_data::resolve_test_partition(&self.dataset)?),
                None,
            ),
            (Some(spec), None) => (Some(self.load_spec(spec)?), None),
            (None, Some(path)) => {
                let rows =
                    unlearn_data::read_index_file(path, data.len(), "validation index file")?;
                (
                    None,
                    Some((rows, InputRef::of_file(std::path::Path::new(path))?)),
                )
            }
            (None, None) => (None, None),
        };
        let validation = match (&separate, &val_rows) {
            (Some(other), _) => Validation::Separate(other),
            (_, Some((rows, _))) => Validation::Indices(rows),
            _ => Validation::Random {
                fraction: self.val_fraction,
                seed: self.split_seed,
            },
        };
        let prepared =
            unlearn_data::prepare_with(&data, validation, self.normalise, stats.as_ref())?;
        let info = DatasetInfo {
            name: self.dataset.clone(),
            hash,
            n_train: prepared.train.len(),
            n_val: prepared.val.len(),
            dim: data.dim,
            classes: data.classes,
            image_shape: data.image_shape,
            val_fraction: self.val_fraction,
            split_seed: self.split_seed,
            limit: self.limit,
            label_column: self.label_column.clone(),
            conventions: crate::manifest::DataConventions {
                normalise: self.normalise,
                channel_mean: self.channel_mean.clone(),
                channel_std: self.channel_std.clone(),
                validation: self.validation.clone(),
                validation_hash: separate.as_ref().map(Dataset::content_hash),
                val_indices: val_rows.map(|(_, file)| file),
            },
        };
        Ok((prepared, info))
    }

    /// The source a manifest's dataset record names.
    pub fn of_info(info: &DatasetInfo) -> Self {
        Self {
            dataset: info.name.clone(),
            label_column: info.label_column.clone(),
            val_fraction: info.val_fraction,
            split_seed: info.split_seed,
            limit: info.limit,
            normalise: info.conventions.normalise,
            channel_mean: info.conventions.channel_mean.clone(),
            channel_std: info.conventions.channel_std.clone(),
            validation: info.conventions.validation.clone(),
            val_indices: info
                .conventions
                .val_indices
                .as_ref()
                .map(|f| f.path.clone()),
        }
    }

    /// The data a zoo was trained on, reloaded from its manifest and checked against its hash.
    pub fn of_zoo(zoo: &crate::Zoo) -> Result<Prepared, TrainError> {
        let recorded = &zoo.manifest.dataset;
        let (prepared, info) = Self::of_info(recorded).load()?;
        let (now, then) = (&info.conventions, &recorded.conventions);
        if now.validation_hash != then.validation_hash {
            return Err(TrainError::Zoo {
                path: zoo.dir.clone(),
                what: format!(
                    "the validation data '{}' have changed since this zoo was trained; retrain the zoo",
                    then.validation.as_deref().unwrap_or("?")
                ),
            });
        }
        if now.val_indices.as_ref().map(|f| &f.sha256)
            != then.val_indices.as_ref().map(|f| &f.sha256)
        {
            return Err(TrainError::Zoo {
                path: zoo.dir.clone(),
                what: "the validation index file has changed since this zoo was trained; retrain the zoo".into(),
            });
        }
        if info.hash != recorded.hash {
            return Err(TrainError::Zoo {
                path: zoo.dir.clone(),
                what: format!(
                    "the dataset '{}' has changed since this zoo was trained (hash {} now, {} then); retrain the zoo",
                    recorded.name,
                    &info.hash[..12],
                    &recorded.hash[..12.min(recorded.hash.len())]
                ),
            });
        }
        Ok(prepared)
    }
}

impl DatasetInfo {
    /// What models of these data are built for.
    pub fn input(&self) -> unlearn_models::InputSpec {
        unlearn_models::InputSpec {
            dim: self.dim,
            image_shape: self.image_shape,
            classes: self.classes,
        }
    }

    /// The record of data the caller split and standardised itself, named `name`; the hash
    /// covers the prepared training and validation rows. A zoo trained on such data can only be
    /// used again with the same `Prepared` in hand (nothing can reload it by name).
    pub fn of_prepared(name: &str, prepared: &Prepared) -> Self {
        let (train, val) = (&prepared.train, &prepared.val);
        let mut all = train.clone();
        all.features.extend_from_slice(&val.features);
        all.labels.extend_from_slice(&val.labels);
        let n = train.len() + val.len();
        DatasetInfo {
            name: name.to_string(),
            hash: all.content_hash(),
            n_train: train.len(),
            n_val: val.len(),
            dim: train.dim,
            classes: train.classes,
            image_shape: train.image_shape,
            val_fraction: if n == 0 {
                0.0
            } else {
                val.len() as f64 / n as f64
            },
            split_seed: 0,
            limit: 0,
            label_column: "label".into(),
            conventions: Default::default(),
        }
    }
}
