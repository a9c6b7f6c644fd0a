//! Flags and helpers shared by several commands.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use unlearn_data::{Normalise, Prepared};
use unlearn_train::manifest::DatasetInfo;
use unlearn_train::{Backend, DataSource, Progress, Shard};

/// Which data, and how they are split.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Dataset: `digits` (embedded default), `fashion-mnist` (Debian's dataset-fashion-mnist),
    /// `synthetic-cifar10[:N]` (seeded CIFAR-shaped images, no download), a CSV file, a directory of CIFAR-10 binary batches or MNIST IDX files, or
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
    /// Normalisation: `standardise` (per feature on the training part), `none` (values as
    /// stored) or `channel` (per image channel; --channel-mean/--channel-std, or computed on the
    /// training part). Use the one the model was trained with.
    #[arg(long, default_value = "standardise", value_parser = ["standardise", "none", "channel"])]
    pub normalise: String,
    /// Per-channel means for `--normalise channel`, e.g. `0.4914,0.4822,0.4465`.
    #[arg(long, value_delimiter = ',', requires = "channel_std")]
    pub channel_mean: Option<Vec<f32>>,
    /// Per-channel standard deviations for `--normalise channel`.
    #[arg(long, value_delimiter = ',', requires = "channel_mean")]
    pub channel_std: Option<Vec<f32>>,
    /// Validation data of their own instead of a random split: `test` (the dataset's official
    /// test part: fashion-mnist, CIFAR-10 or IDX directories) or a dataset (as --dataset). Every
    /// point of --dataset then trains, in its order.
    #[arg(long, conflicts_with = "val_indices")]
    pub validation: Option<String>,
    /// A file of validation indices (`.npy` or one per line) instead of a random split; the
    /// other points train, in their order.
    #[arg(long)]
    pub val_indices: Option<String>,
}

impl DataArgs {
    /// The library's description of these data.
    pub fn source(&self) -> DataSource {
        DataSource {
            dataset: self.dataset.clone(),
            label_column: self.label_column.clone(),
            val_fraction: self.val_fraction,
            split_seed: self.split_seed,
            limit: self.limit,
            normalise: match self.normalise.as_str() {
                "none" => Normalise::None,
                "channel" => Normalise::Channel,
                _ => Normalise::Standardise,
            },
            channel_mean: self.channel_mean.clone(),
            channel_std: self.channel_std.clone(),
            validation: self.validation.clone(),
            val_indices: self.val_indices.clone(),
        }
    }

    /// Loads, limits, splits and standardises the data.
    pub fn load(&self) -> Result<(Prepared, DatasetInfo)> {
        self.source()
            .load()
            .with_context(|| format!("loading dataset '{}'", self.dataset))
    }

    /// The data a zoo was trained on, reloaded from its manifest and checked against its hash.
    pub fn of_zoo(zoo: &unlearn_train::Zoo) -> Result<Prepared> {
        DataSource::of_zoo(zoo)
            .with_context(|| format!("reloading the data of {}", zoo.dir.display()))
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

/// `--shard I/N`: compute only one of N shares of the work (docs/cluster.md).
#[derive(Args, Debug, Clone)]
pub struct ShardArgs {
    /// Do only shard I of N (0-based, e.g. $SLURM_ARRAY_TASK_ID/N or $JOB_COMPLETION_INDEX/N),
    /// each shard into its own --out; join them with `unlearn merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// An indicatif progress bar as the libraries' [`Progress`]: warnings and notes go above it.
pub struct Bar(pub ProgressBar);

impl std::ops::Deref for Bar {
    type Target = ProgressBar;
    fn deref(&self) -> &ProgressBar {
        &self.0
    }
}

impl Progress for Bar {
    fn set_length(&self, total: u64) {
        self.0.set_length(total);
    }
    fn set_position(&self, done: u64) {
        self.0.set_position(done);
    }
    fn inc(&self, units: u64) {
        self.0.inc(units);
    }
    fn message(&self, text: String) {
        self.0.set_message(text);
    }
    fn warn(&self, text: String) {
        self.0.suspend(|| eprintln!("warning: {text}"));
    }
    fn note(&self, text: String) {
        self.0.suspend(|| println!("{text}"));
    }
    fn phase(&self, name: &str, total: u64) {
        self.0.reset();
        self.0.set_prefix(name.to_string());
        self.0.set_message(String::new());
        self.0.set_length(total);
    }
}

/// A progress bar with a counter, ETA and a message.
pub fn progress_bar(len: u64, what: &str) -> Bar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} {elapsed_precise} ETA {eta} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    Bar(bar)
}

/// Path of an output file, with its parent directory created.
pub fn output_file(path: &std::path::Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

pub use unlearn_bench::logits_view;

/// Prints a registry's entries (name and summary, then the default hyper-parameters as JSON,
/// indented) and a closing hint on how to override them: `forget --list`, `attribute --list`.
pub fn print_registry<'a>(
    entries: impl Iterator<Item = (&'a str, &'a str, &'a serde_json::Value)>,
    hint: &str,
) -> Result<()> {
    let entries: Vec<_> = entries.collect();
    let width = entries.iter().map(|e| e.0.len()).max().unwrap_or(0) + 1;
    for (name, summary, defaults) in entries {
        println!("{name:<width$} {summary}");
        println!("{:<width$} {}", "", serde_json::to_string(defaults)?);
    }
    println!("\n{hint}");
    Ok(())
}
