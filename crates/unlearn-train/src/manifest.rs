//! The JSON manifest that describes a zoo and makes it resumable.

use crate::TrainError;
use crate::integrity::FileRecord;
use crate::recipe::Recipe;
use crate::relocate;
use crate::shard::{Shard, ShardInfo};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Version of the on-disk zoo layout.
pub const FORMAT: u32 = 1;

/// The dataset a zoo was trained on, after the train/validation split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Name or path given by the user.
    pub name: String,
    /// sha256 of the full dataset's features and labels.
    pub hash: String,
    /// Training points (the first `n_train` evaluated points).
    pub n_train: usize,
    /// Validation points (the last `n_val` evaluated points).
    pub n_val: usize,
    /// Features per point.
    pub dim: usize,
    /// Number of classes.
    pub classes: usize,
    /// Image shape, when the features are images.
    pub image_shape: Option<[usize; 3]>,
    /// Share of the dataset held out for validation.
    pub val_fraction: f64,
    /// Seed of the split.
    pub split_seed: u64,
    /// Only the first `limit` points were used (0 = all).
    #[serde(default)]
    pub limit: usize,
    /// Label column of a CSV dataset.
    #[serde(default = "default_label_column")]
    pub label_column: String,
    /// How the data were normalised and split when not by the defaults (absent then, so the
    /// configuration hashes of zoos made before these conventions existed hold).
    #[serde(flatten)]
    pub conventions: DataConventions,
}

/// The user's data conventions as a manifest records them ([`crate::DataSource`]'s fields of
/// the same names), each left out when at its default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataConventions {
    /// Normalisation.
    #[serde(
        default,
        skip_serializing_if = "unlearn_data::Normalise::is_standardise"
    )]
    pub normalise: unlearn_data::Normalise,
    /// Given channel means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_mean: Option<Vec<f32>>,
    /// Given channel standard deviations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_std: Option<Vec<f32>>,
    /// The validation data (`test` or a dataset spec), when not a random split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<String>,
    /// sha256 of the validation data's features and labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_hash: Option<String>,
    /// The file of validation indices, when not a random split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_indices: Option<InputRef>,
}

fn default_label_column() -> String {
    "label".into()
}

/// A file a zoo depends on, identified by content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputRef {
    /// Path as given.
    pub path: String,
    /// sha256 of its content.
    pub sha256: String,
}

impl InputRef {
    /// The file at `path`, by its path and content hash.
    pub fn of_file(path: &Path) -> Result<Self, TrainError> {
        Ok(Self {
            path: path.display().to_string(),
            sha256: unlearn_data::sha256_file(path)?,
        })
    }
}

/// Everything that determines a zoo's models; its hash names the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version ([`FORMAT`]).
    pub format: u32,
    /// Version of unlearn that wrote it.
    pub version: String,
    /// `full`, `retain` or `subsets`.
    pub kind: String,
    /// Training recipe.
    pub recipe: Recipe,
    /// Dataset and split.
    pub dataset: DatasetInfo,
    /// Forget set (retain zoos: the oracles of that forget set).
    pub forget_set: Option<InputRef>,
    /// Subset masks (subset zoos).
    pub masks: Option<InputRef>,
    /// Seed of model `i`.
    pub seeds: Vec<u64>,
    /// Points each model passes forward and backward in training (the cost unit of §3).
    pub examples_per_model: u64,
    /// Hash of the fields above.
    pub config_hash: String,
    /// True once every model and the assembled logits are written.
    pub complete: bool,
    /// For zoos made by an unlearning method: the method, its settings and its cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlearning: Option<serde_json::Value>,
    /// Every artifact of the finished zoo (`labels.npy`, `logits.npy`, `models/*.bpk`,
    /// `logits/*.npy`) with its sha256 and size, written with `complete`; `unlearn verify`
    /// checks them. Not part of the configuration hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, FileRecord>,
    /// For the output of `--shard I/N`: which models of the whole zoo it holds (its `seeds` are
    /// theirs; the configuration hash is the whole zoo's, so every shard and the merged zoo share
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// Where each input path recorded relative to the run directory pointed when the manifest
    /// was written (absolute), the fallback for a run directory moved without its inputs
    /// ([`crate::relocate`]). Not part of the configuration hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locations: BTreeMap<String, String>,
    /// For zoos made by `unlearn import`: the checkpoint files (path and sha256, model `i` from
    /// the `i`-th) and how their keys were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported: Option<serde_json::Value>,
}

impl Manifest {
    /// Hash of everything that determines the models (not `complete`, not `version`, and no
    /// path: inputs count by their content hashes, so a moved run keeps its hash).
    pub fn compute_hash(&self) -> String {
        let mut dataset = self.dataset.clone();
        dataset.name = relocate::dataset_identity(&dataset.name).to_string();
        let conventions = &mut dataset.conventions;
        if let Some(validation) = &mut conventions.validation {
            *validation = relocate::dataset_identity(validation).to_string();
        }
        if let Some(indices) = &mut conventions.val_indices {
            indices.path.clear();
        }
        let unlearning = self.unlearning.as_ref().map(relocate::without_paths);
        let mut key = serde_json::json!({
            "format": self.format, "kind": self.kind, "recipe": self.recipe, "dataset": dataset,
            "forget_set": self.forget_set.as_ref().map(|f| &f.sha256),
            "masks": self.masks.as_ref().map(|m| &m.sha256), "seeds": self.seeds, "unlearning": unlearning,
        });
        // Added after the first format: absent, it leaves the hashes of earlier zoos unchanged.
        if let Some(imported) = &self.imported {
            key["imported"] = relocate::without_paths(imported);
        }
        hex::encode(Sha256::digest(key.to_string().as_bytes()))[..16].to_string()
    }

    /// Reads `dir/manifest.json`, its input paths resolved against `dir`.
    pub fn load(dir: &Path) -> Result<Self, TrainError> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::Zoo {
            path: path.clone(),
            what: format!("cannot read the zoo manifest ({e}); is this a directory written by `unlearn train`?"),
        })?;
        let mut manifest: Manifest = serde_json::from_str(&text).map_err(|e| TrainError::Zoo {
            path,
            what: format!("corrupt manifest: {e}"),
        })?;
        manifest.resolve_in(dir);
        Ok(manifest)
    }

    /// Writes `dir/manifest.json` atomically, its input paths relative to `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        let disk = self.stored_in(dir);
        let text = serde_json::to_string_pretty(&disk).expect("manifest serialises");
        let path = dir.join("manifest.json");
        unlearn_data::atomic_write_bytes(&path, text.as_bytes()).map_err(TrainError::from)
    }

    /// Narrows a whole zoo's manifest (hash already computed) to the models of `shard`.
    pub fn restrict_to(&mut self, shard: Shard) {
        let info = shard.info(self.seeds.len());
        self.seeds = self.seeds[info.first..info.first + info.len].to_vec();
        self.shard = Some(info);
    }

    /// Index in the whole zoo of this manifest's model `i` (differs from `i` in a shard).
    pub fn global_index(&self, i: usize) -> usize {
        self.shard.map_or(0, |s| s.first) + i
    }

    /// Evaluated points per model: train then validation.
    pub fn points(&self) -> usize {
        self.dataset.n_train + self.dataset.n_val
    }
}

/// Input paths relative to the manifest's directory on disk ([`crate::relocate`]).
impl Manifest {
    /// The manifest as `dir/manifest.json` holds it: every input path relative to `dir`.
    pub(crate) fn stored_in(&self, dir: &Path) -> Manifest {
        let mut disk = self.clone();
        let mut locations = BTreeMap::new();
        relocate::store(&mut disk.dataset.name, dir, &mut locations);
        let conventions = &mut disk.dataset.conventions;
        // `test` names the dataset's own test part, never a path.
        if let Some(validation) = conventions
            .validation
            .as_mut()
            .filter(|v| v.trim() != "test")
        {
            relocate::store(validation, dir, &mut locations);
        }
        for input in [
            &mut disk.forget_set,
            &mut disk.masks,
            &mut conventions.val_indices,
        ]
        .into_iter()
        .flatten()
        {
            relocate::store(&mut input.path, dir, &mut locations);
        }
        for record in [&mut disk.unlearning, &mut disk.imported]
            .into_iter()
            .flatten()
        {
            relocate::each_path(record, &mut |s| relocate::store(s, dir, &mut locations));
        }
        disk.locations = locations;
        disk
    }

    /// Resolves the paths of a manifest read from `dir` (the inverse of [`Self::stored_in`]).
    pub(crate) fn resolve_in(&mut self, dir: &Path) {
        let locations = std::mem::take(&mut self.locations);
        relocate::resolve(&mut self.dataset.name, dir, &locations);
        let conventions = &mut self.dataset.conventions;
        if let Some(validation) = conventions
            .validation
            .as_mut()
            .filter(|v| v.trim() != "test")
        {
            relocate::resolve(validation, dir, &locations);
        }
        for input in [
            &mut self.forget_set,
            &mut self.masks,
            &mut conventions.val_indices,
        ]
        .into_iter()
        .flatten()
        {
            relocate::resolve(&mut input.path, dir, &locations);
        }
        for record in [&mut self.unlearning, &mut self.imported]
            .into_iter()
            .flatten()
        {
            relocate::each_path(record, &mut |s| relocate::resolve(s, dir, &locations));
        }
        self.locations = locations;
    }
}
