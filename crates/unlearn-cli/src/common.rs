//! Flags and helpers shared by several commands.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use unlearn_data::{Dataset, Prepared};
use unlearn_train::manifest::DatasetInfo;
use unlearn_train::{Backend, Shard};

/// Which data, and how they are split.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Dataset: `digits` (embedded default), `fashion-mnist` (Debian's dataset-fashion-mnist),
    /// a CSV file, a directory of CIFAR-10 binary batches or MNIST IDX files, or
    /// `FEATURES.npy,LABELS.npy`.
    #[arg(long, default_value = "digits")]
    pub dataset: String,
    /// Name of the label column of a CSV dataset.
    #[arg(long, default_value = "label")]
    pub label_column: String,
    /// Share of the dataset held out as the validation split.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Use only the first N points of the dataset (0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
}

impl DataArgs {
    /// Loads, limits, splits and standardises the data.
    pub fn load(&self) -> Result<(Prepared, DatasetInfo)> {
        let mut data: Dataset = if self.dataset.ends_with(".csv") {
            unlearn_data::load_csv(&self.dataset, &self.label_column)?
        } else {
            unlearn_data::resolve_dataset(&self.dataset)?
        };
        if self.limit > 0 && self.limit < data.len() {
            data = data.subset(&(0..self.limit).collect::<Vec<_>>());
        }
        let hash = data.content_hash();
        let prepared = unlearn_data::prepare(&data, self.val_fraction, self.split_seed)
            .with_context(|| format!("splitting dataset '{}'", self.dataset))?;
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

    /// The data a zoo was trained on, reloaded from its manifest and checked against its hash.
    pub fn of_zoo(zoo: &unlearn_train::Zoo) -> Result<Prepared> {
        let d = &zoo.manifest.dataset;
        let args = DataArgs {
            dataset: d.name.clone(),
            label_column: d.label_column.clone(),
            val_fraction: d.val_fraction,
            split_seed: d.split_seed,
            limit: d.limit,
        };
        let (prepared, info) = args
            .load()
            .with_context(|| format!("reloading the data of {}", zoo.dir.display()))?;
        if info.hash != d.hash {
            anyhow::bail!(
                "the dataset '{}' has changed since {} was trained (hash {} now, {} then); retrain the zoo",
                d.name,
                zoo.dir.display(),
                &info.hash[..12],
                &d.hash[..12.min(d.hash.len())]
            );
        }
        Ok(prepared)
    }
}

/// Which backend runs the tensors.
#[derive(Args, Debug, Clone)]
pub struct BackendArgs {
    /// Backend: flex (CPU, fastest, default), ndarray (CPU) or wgpu (GPU; needs a build with
    /// `--features wgpu`).
    #[arg(long, default_value = "flex", value_parser = parse_backend)]
    pub backend: Backend,
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse::<Backend>().map_err(|e| e.to_string())
}

/// `--shard I/N`: compute only one of N shares of the work (see README, "Running on a cluster").
#[derive(Args, Debug, Clone)]
pub struct ShardArgs {
    /// Do only shard I of N (0-based, e.g. $SLURM_ARRAY_TASK_ID/N or $JOB_COMPLETION_INDEX/N),
    /// each shard into its own --out; join them with `unlearn merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// A progress bar with a counter, ETA and a message.
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} {elapsed_precise} ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// Path of an output file, with its parent directory created.
pub fn output_file(path: &PathBuf) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

/// The logits of a zoo as the evaluation library reads them.
pub fn logits_view(zoo: &unlearn_train::Zoo) -> unlearn_eval::LogitsView<'_> {
    unlearn_eval::LogitsView {
        logits: &zoo.logits,
        models: zoo.models,
        points: zoo.points,
        classes: zoo.classes,
    }
}
