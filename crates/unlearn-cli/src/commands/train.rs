//! `unlearn train`: a zoo of models and their logits.

use crate::common::{BackendArgs, DataArgs, ShardArgs, progress_bar};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use unlearn_data::{ForgetSet, SubsetMasks};
use unlearn_models::{MlpConfig, ModelConfig};
use unlearn_train::manifest::InputRef;
use unlearn_train::{Recipe, ZooKind, ZooSpec, train_zoo};

/// The built-in architectures' names, as clap's possible values.
fn built_in_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(ModelConfig::names())
}

/// Train N models from one recipe: on the full training set (originals), on the retain set of a
/// forget set (oracles), or on the subsets of a mask file (datamodels). Re-running the same
/// command resumes an interrupted zoo; finished models are not retrained.
#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Named recipe: a built-in architecture with its optimiser and schedule.
    #[arg(long, default_value = "mlp", value_parser = built_in_names())]
    pub recipe: String,
    /// A recipe as a JSON file (the fields of `unlearn_train::Recipe`, as the `recipe` objects of
    /// assets/bench/*.json); overrides --recipe.
    #[arg(long)]
    pub recipe_file: Option<PathBuf>,
    /// Architecture, overriding the recipe's: a built-in's name (its default configuration) or
    /// `onnx:PATH`, a classifier exported to ONNX (docs/onnx.md).
    #[arg(long)]
    pub model: Option<String>,
    /// Hidden widths of the MLP, e.g. `64,64`.
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Epochs, overriding the recipe's.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size, overriding the recipe's.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// How the smaller last batch of an epoch weighs its examples, overriding the recipe's:
    /// `mean` (over its own examples, PyTorch's default) or `weighted` (every example alike).
    #[arg(long, value_parser = ["mean", "weighted"])]
    pub last_batch: Option<String>,
    /// Peak learning rate, overriding the recipe's.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Number of models.
    #[arg(long, default_value_t = 1)]
    pub models: usize,
    /// Model i is seeded with first-seed + i (use disjoint ranges for independent zoos).
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Train on the retain set S \ F of this forget set (index file: .npy or one per line).
    #[arg(long, conflicts_with = "subsets")]
    pub forget_set: Option<PathBuf>,
    /// Train model i on row i of this subset-mask file (from `unlearn masks`).
    #[arg(long)]
    pub subsets: Option<PathBuf>,
    /// Models trained together in one set of tensor operations (1 = one at a time).
    #[arg(long, default_value_t = 32)]
    pub stack: usize,
    /// Stacks trained at the same time, one per thread (default: one per core).
    #[arg(long, default_value_t = unlearn_train::zoo::default_workers())]
    pub workers: usize,
    /// Output directory of the zoo.
    #[arg(long, default_value = "runs/train")]
    pub out: PathBuf,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let (prepared, info) = args.data.load()?;
    let recipe = recipe(&args)?;
    let n_train = prepared.train.len();
    let kind = if let Some(path) = &args.forget_set {
        let forget = ForgetSet::load(path, n_train)?;
        ZooKind::Retain {
            forget,
            source: InputRef::of_file(path)?,
        }
    } else if let Some(path) = &args.subsets {
        let masks = SubsetMasks::load_npy(path)?;
        ZooKind::Subsets {
            masks,
            source: InputRef::of_file(path)?,
        }
    } else {
        ZooKind::Full
    };
    if args.stack == 0 {
        bail!("--stack must be ≥ 1");
    }
    let arch = ModelConfig::from_spec(&recipe.model)?;
    let spec = ZooSpec {
        recipe,
        kind,
        models: args.models,
        first_seed: args.first_seed,
        stack: args.stack,
        workers: args.workers,
        shard: args.shard.shard,
    };
    let device = args.backend.backend.device()?;
    let started = Instant::now();
    let bar = progress_bar(args.models as u64, "train");
    if let Some(shard) = args.shard.shard {
        bar.println(format!(
            "shard {shard}: models {:?} of {}",
            shard.range(args.models),
            args.models
        ));
    }
    let zoo = train_zoo(&arch, &spec, &prepared, info, &args.out, &device, &bar)?;
    bar.finish();
    if zoo.models == 0 {
        // More shards than models (a job array sized generously): an empty shard still counts.
        println!(
            "shard {} holds no models ({} models over {} shards); nothing to train → {}",
            args.shard.shard.map_or("?".into(), |s| s.to_string()),
            args.models,
            args.shard.shard.map_or(1, |s| s.count),
            zoo.dir.display()
        );
        return Ok(());
    }
    let accuracies: Vec<f64> = (0..zoo.models)
        .map(|i| validation_accuracy(&zoo, i))
        .collect();
    let mean = accuracies.iter().sum::<f64>() / accuracies.len() as f64;
    let min = accuracies.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = accuracies.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let what = match zoo.manifest.shard {
        Some(s) => format!(
            "shard {} of the zoo: models {}..{}, ",
            s.shard(),
            s.first,
            s.first + s.len
        ),
        None => String::new(),
    };
    println!(
        "{what}{} models ({}, {}) on {} training points in {:.1} s; validation accuracy mean {:.2} % (min {:.2} %, max {:.2} %)",
        zoo.models,
        spec.recipe.model.kind(),
        zoo.manifest.kind,
        spec_points(&zoo),
        started.elapsed().as_secs_f64(),
        100.0 * mean,
        100.0 * min,
        100.0 * max
    );
    println!(
        "logits: {} (models × points × classes = {} × {} × {}, f32)",
        zoo.dir.join("logits.npy").display(),
        zoo.models,
        zoo.points,
        zoo.classes
    );
    Ok(())
}

fn spec_points(zoo: &unlearn_train::Zoo) -> usize {
    zoo.manifest.dataset.n_train
}

/// Share of validation points model `i` classifies correctly.
fn validation_accuracy(zoo: &unlearn_train::Zoo, i: usize) -> f64 {
    let n_train = zoo.manifest.dataset.n_train;
    let logits = zoo.model_logits(i);
    let c = zoo.classes;
    let correct = (n_train..zoo.points)
        .filter(|&p| {
            let row = &logits[p * c..(p + 1) * c];
            let best = (0..c)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap_or(0);
            best as u32 == zoo.labels[p]
        })
        .count();
    correct as f64 / (zoo.points - n_train).max(1) as f64
}

/// The recipe from --recipe / --recipe-file with the flag overrides applied.
fn recipe(args: &TrainArgs) -> Result<Recipe> {
    let mut recipe = match &args.recipe_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading recipe {}", path.display()))?;
            serde_json::from_str::<Recipe>(&text)
                .with_context(|| format!("{}: not a valid recipe", path.display()))?
        }
        None => Recipe::named(&args.recipe)?,
    };
    let mut model =
        ModelConfig::from_spec(&recipe.model).with_context(|| match &args.recipe_file {
            Some(path) => format!("{}: not a valid recipe", path.display()),
            None => format!("recipe '{}'", args.recipe),
        })?;
    if let Some(name) = &args.model {
        model = ModelConfig::parse(name).context("--model")?;
    }
    if let Some(hidden) = &args.hidden {
        match &mut model {
            ModelConfig::Mlp(MlpConfig { hidden: h }) => *h = hidden.clone(),
            other => bail!("--hidden applies to the mlp model, not {}", other.name()),
        }
    }
    recipe.model = model.spec();
    if let Some(e) = args.epochs {
        recipe.epochs = e;
    }
    if let Some(b) = args.batch_size {
        recipe.batch_size = b;
    }
    if let Some(last) = &args.last_batch {
        recipe.last_batch = serde_json::from_value(serde_json::Value::String(last.clone()))?;
    }
    if let Some(lr) = args.lr {
        recipe.lr = lr;
    }
    recipe.validate()?;
    Ok(recipe)
}
