//! `unlearn import` and `unlearn export`: PyTorch / safetensors checkpoints in and out.

use crate::common::{BackendArgs, DataArgs, progress_bar};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use unlearn_data::ForgetSet;
use unlearn_models::{ArchSpec, ModelConfig};
use unlearn_train::Zoo;
use unlearn_train::import::{ImportSpec, checkpoint_files, export_zoo, import_zoo};
use unlearn_train::manifest::InputRef;
use unlearn_train::torch_checkpoint::ImportOptions;
use unlearn_train::{Recipe, ZooKind};

/// Turn a directory of PyTorch (.pt, .pth, .bin) or safetensors state dicts into a zoo: burnpack
/// checkpoints and logits on the dataset, ready for `forget`, `attribute` and `eval`. Files are
/// taken in natural order (id_2 before id_10); the keys expected for each architecture are in
/// docs/checkpoints.md. Re-running resumes.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Directory of checkpoints, or one checkpoint file (for `--model onnx:…` also the `.onnx`
    /// file itself: the weights it was exported with).
    #[arg(long)]
    pub checkpoints: PathBuf,
    /// Architecture: a built-in's name (its published defaults; an unknown name lists them),
    /// `onnx:PATH` (the state dicts' keys are the graph's initializer names, docs/onnx.md), or a
    /// JSON spec such as '{"kind":"resnet9","width":16,"scale":0.125}'.
    #[arg(long)]
    pub model: String,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// The checkpoints are oracles: trained without this forget set (index file).
    #[arg(long)]
    pub forget_set: Option<PathBuf>,
    /// Epochs the checkpoints were trained for (one retraining is the cost unit of methods run
    /// on the zoo); default: the named recipe's.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Key of the state dict inside a pickled checkpoint that holds more (e.g. state_dict).
    #[arg(long)]
    pub top_level_key: Option<String>,
    /// Rename the file's keys before matching: REGEX=REPLACEMENT, e.g. '^module\.=' for a
    /// DataParallel checkpoint (repeatable, applied in order).
    #[arg(long = "key-map")]
    pub key_map: Vec<String>,
    /// Output directory of the zoo.
    #[arg(long, default_value = "runs/import")]
    pub out: PathBuf,
}

/// Write every model of a zoo as a safetensors file that the torch module of its architecture
/// (docs/checkpoints.md) loads with `load_state_dict(strict=True)`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Zoo to export (from `train`, `forget` or `import`).
    #[arg(long)]
    pub zoo: PathBuf,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Output directory: NNNNN.safetensors per model.
    #[arg(long, default_value = "runs/export")]
    pub out: PathBuf,
}

/// The architecture a name or a JSON spec gives.
fn architecture(text: &str) -> Result<ModelConfig> {
    if text.trim_start().starts_with('{') {
        let spec: ArchSpec =
            serde_json::from_str(text).with_context(|| format!("--model {text}: not JSON"))?;
        return Ok(ModelConfig::from_spec(&spec)?);
    }
    ModelConfig::parse(text).context("--model (or a JSON spec)")
}

pub fn run_import(args: ImportArgs) -> Result<()> {
    let config = architecture(&args.model)?;
    let key_map = args
        .key_map
        .iter()
        .map(|m| {
            m.split_once('=')
                .map(|(from, to)| (from.to_string(), to.to_string()))
                .with_context(|| format!("--key-map {m}: expected REGEX=REPLACEMENT"))
        })
        .collect::<Result<Vec<_>>>()?;
    let files = if args.checkpoints.is_dir() {
        checkpoint_files(&args.checkpoints)?
    } else if args.checkpoints.is_file() {
        vec![args.checkpoints.clone()]
    } else {
        bail!(
            "--checkpoints {}: no such file or directory",
            args.checkpoints.display()
        );
    };
    let (prepared, info) = args.data.load()?;
    let kind = match &args.forget_set {
        Some(path) => ZooKind::Retain {
            forget: ForgetSet::load(path, prepared.train.len())?,
            source: InputRef::of_file(path)?,
        },
        None => ZooKind::Full,
    };
    let mut recipe =
        Recipe::named(config.name()).unwrap_or_else(|_| Recipe::for_model(config.spec()));
    recipe.model = config.spec();
    if let Some(epochs) = args.epochs {
        recipe.epochs = epochs;
    }
    let options = ImportOptions {
        top_level_key: args.top_level_key.clone(),
        key_map,
    };
    unlearn_train::torch_checkpoint::check_key_map(&options)
        .map_err(|why| anyhow::anyhow!("--key-map: {why}"))?;
    let spec = ImportSpec {
        config,
        recipe,
        kind,
        files,
        options,
    };
    let device = args.backend.backend.device()?;
    let bar = progress_bar(spec.files.len() as u64, "import");
    let zoo = import_zoo(&spec, &prepared, info, &args.out, &device, &bar)?;
    bar.finish_and_clear();
    let n_train = zoo.manifest.dataset.n_train;
    let accuracy = |range: std::ops::Range<usize>| -> f64 {
        let c = zoo.classes;
        let total: usize = (0..zoo.models)
            .map(|i| {
                let logits = zoo.model_logits(i);
                range
                    .clone()
                    .filter(|&p| {
                        let row = &logits[p * c..(p + 1) * c];
                        let best = (0..c)
                            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                            .unwrap_or(0);
                        best as u32 == zoo.labels[p]
                    })
                    .count()
            })
            .sum();
        total as f64 / (zoo.models * range.len()).max(1) as f64
    };
    println!(
        "{} {} checkpoints imported ({}); mean accuracy train {:.2} %, validation {:.2} % → {}",
        zoo.models,
        spec.config.name(),
        zoo.manifest.kind,
        100.0 * accuracy(0..n_train),
        100.0 * accuracy(n_train..zoo.points),
        zoo.dir.display()
    );
    Ok(())
}

pub fn run_export(args: ExportArgs) -> Result<()> {
    let zoo = Zoo::load(&args.zoo).context("loading --zoo")?;
    let config = ModelConfig::from_spec(&zoo.manifest.recipe.model)?;
    let device = args.backend.backend.device()?;
    let bar = progress_bar(zoo.models as u64, "export");
    let files = export_zoo(&zoo, &config, &args.out, &device, &bar)?;
    bar.finish_and_clear();
    println!(
        "{} {} models as safetensors (torch layout, strict-loadable; docs/checkpoints.md) → {}",
        files.len(),
        config.name(),
        args.out.display()
    );
    Ok(())
}
