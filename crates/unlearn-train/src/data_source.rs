//! Which data a zoo is trained on, loaded and split the way its manifest records, so any later
//! step (a method, an evaluation, the bench) reloads exactly the same points.

use crate::TrainError;
use crate::manifest::DatasetInfo;
use serde::{Deserialize, Serialize};
use unlearn_data::{Dataset, Prepared};

/// A dataset by name (as `unlearn --dataset` takes it) and how it is split.
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
        }
    }

    /// Loads, limits, splits and standardises the data; the info is what manifests record.
    pub fn load(&self) -> Result<(Prepared, DatasetInfo), TrainError> {
        let mut data: Dataset = if self.dataset.ends_with(".csv") {
            unlearn_data::load_csv(&self.dataset, &self.label_column)?
        } else {
            unlearn_data::resolve_dataset(&self.dataset)?
        };
        if self.limit > 0 && self.limit < data.len() {
            data = data.subset(&(0..self.limit).collect::<Vec<_>>());
        }
        let hash = data.content_hash();
        let prepared = unlearn_data::prepare(&data, self.val_fraction, self.split_seed)?;
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
        }
    }

    /// The data a zoo was trained on, reloaded from its manifest and checked against its hash.
    pub fn of_zoo(zoo: &crate::Zoo) -> Result<Prepared, TrainError> {
        let recorded = &zoo.manifest.dataset;
        let (prepared, info) = Self::of_info(recorded).load()?;
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
        }
    }
}
