//! `unlearn forget`: run an unlearning method on every original of a zoo.

use crate::common::{BackendArgs, DataArgs, ShardArgs, print_registry, progress_bar};
use anyhow::{Context as _, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use unlearn_bench::datamodels::{attribution_rows, beta_rows};
use unlearn_bench::neighbourhood::FittedTerm;
use unlearn_methods::{Context, MethodError, MethodRegistry, parse_sets, unlearn_zoo};
use unlearn_models::ModelConfig;
use unlearn_train::Zoo;
use unlearn_train::integrity::ATTRIBUTION_FILE;
use unlearn_train::manifest::InputRef;

/// Make the models of a zoo forget a set of training points with one method, and write the
/// unlearned zoo (logits and checkpoints) in `unlearn train`'s layout, ready for `unlearn eval`.
#[derive(Args, Debug)]
pub struct ForgetArgs {
    /// Print every method with its hyper-parameters and defaults, then exit.
    #[arg(long)]
    pub list: bool,
    /// Method (see --list).
    #[arg(long, required_unless_present = "list")]
    pub method: Option<String>,
    /// Zoo of original models (`unlearn train`).
    #[arg(long, required_unless_present = "list")]
    pub originals: Option<PathBuf>,
    /// The points to forget (index file into the training split).
    #[arg(long, required_unless_present = "list")]
    pub forget_set: Option<PathBuf>,
    /// Oracles whose outputs are Oracle Matching's targets; must not be the evaluation oracles.
    #[arg(long)]
    pub oracles: Option<PathBuf>,
    /// Attribution directory from `unlearn attribute` (DM-Direct, DMM).
    #[arg(long)]
    pub attribution: Option<PathBuf>,
    /// Neighbourhood term from `unlearn attribute neighbourhood`, added to --attribution.
    #[arg(long, requires = "attribution")]
    pub neighbourhood: Option<PathBuf>,
    /// Hyper-parameters as a JSON object, e.g. {"epochs": 5, "lr": 0.001}.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// One hyper-parameter, key=value (repeatable; applied after --config).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Originals unlearned together in one stack.
    #[arg(long, default_value_t = 32)]
    pub stack: usize,
    #[command(flatten)]
    pub backend: BackendArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Output directory of the unlearned zoo.
    #[arg(long, default_value = "runs/forget")]
    pub out: PathBuf,
}

/// Prints every method and its defaults.
fn list() -> Result<()> {
    let registry = MethodRegistry::<ModelConfig>::builtin();
    print_registry(
        registry
            .entries()
            .map(|e| (e.name.as_str(), e.summary.as_str(), &e.defaults)),
        "override with --set key=value or --config FILE (a JSON object); localize a gradient method with --set 'localize={\"kind\":\"del\",\"mask_share\":0.3}'",
    )
}

/// The overrides of --config and --set.
pub fn method_overrides(
    config: Option<&Path>,
    sets: &[String],
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut overrides = serde_json::Map::new();
    if let Some(path) = config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not valid JSON", path.display()))?;
        match value {
            serde_json::Value::Object(map) => overrides.extend(map),
            _ => bail!(
                "{}: expected a JSON object of hyper-parameters",
                path.display()
            ),
        }
    }
    overrides.extend(parse_sets(sets).context("--set")?);
    Ok(overrides)
}

pub fn run(args: ForgetArgs) -> Result<()> {
    if args.list {
        return list();
    }
    let (Some(name), Some(originals_dir), Some(forget_path)) =
        (&args.method, &args.originals, &args.forget_set)
    else {
        bail!("--method, --originals and --forget-set are required (or --list)");
    };
    let registry = MethodRegistry::<ModelConfig>::builtin();
    let overrides = method_overrides(args.config.as_deref(), &args.sets)?;
    let method = registry.build(name, &overrides)?;
    let originals = Zoo::load(originals_dir).context("loading --originals")?;
    match originals.manifest.kind.as_str() {
        "retain" => bail!(
            "--originals {} is an oracle zoo (trained without {}); pass the zoo of originals trained on the full training set",
            originals_dir.display(),
            originals
                .manifest
                .forget_set
                .as_ref()
                .map_or("a forget set", |f| f.path.as_str())
        ),
        "subsets" => bail!(
            "--originals {} is a zoo of subset models (for datamodels); pass the zoo of originals trained on the full training set",
            originals_dir.display()
        ),
        _ => {}
    }
    let arch = ModelConfig::from_spec(&originals.manifest.recipe.model)?;
    let data = DataArgs::of_zoo(&originals)?;
    let (forget, chain) =
        super::history::chained_request(&originals, forget_path, data.train.len())?;
    // OM's targets must be retrained without this very forget set: oracles of another set
    // would run silently and pull F towards the wrong outputs.
    let target_oracles = match &args.oracles {
        Some(dir) => {
            let oracles = Zoo::load(dir).context("loading --oracles")?;
            if oracles.manifest.kind != "retain" {
                bail!(
                    "--oracles {} is not a zoo of retrained models (it is a '{}' zoo{}); pass oracles trained with `unlearn train --forget-set` or imported as oracles",
                    dir.display(),
                    oracles.manifest.kind,
                    if oracles.manifest.unlearning.is_some() {
                        " made by an unlearning method"
                    } else {
                        ""
                    }
                );
            }
            super::eval::same_data(&originals, &oracles)?;
            match &chain {
                Some(c) => super::history::oracles_exclude(&oracles, &forget, &c.steps)?,
                None => super::eval::oracles_match(&oracles, forget_path)?,
            }
            Some(oracles)
        }
        None => None,
    };
    let (points, classes) = (originals.points, originals.classes);
    let mut beta = match (&args.attribution, &chain) {
        (Some(dir), None) => Some(attribution_rows(
            dir,
            &forget,
            forget_path,
            points,
            classes,
        )?),
        // A chain's union has no cached rows: from the full β of the chain's originals.
        (Some(dir), Some(_)) => Some(beta_rows(dir, &forget, points, classes)?),
        (None, _) => None,
    };
    if let (Some(dir), Some(rows)) = (&args.neighbourhood, beta.as_mut()) {
        FittedTerm::load(dir, &data)
            .context("loading --neighbourhood")?
            .adjust(rows, &forget.indices)?;
    }
    let ctx = Context {
        arch: &arch,
        originals: &originals,
        data: &data,
        forget: &forget,
        target_oracles: target_oracles.as_ref(),
        beta_forget: beta.as_deref(),
        root: chain.as_ref().map(|c| &c.root),
        device: args.backend.backend.device()?,
    };
    let forget_ref = InputRef::of_file(forget_path)?;
    // The attribution counts by its record's content (its path is relocatable, not hashed).
    let record_of = |dir: &Option<PathBuf>| -> Result<Option<serde_json::Value>> {
        Ok(match dir {
            Some(dir) => Some(serde_json::json!({
                "path": dir.display().to_string(),
                "sha256": unlearn_data::sha256_file(dir.join(ATTRIBUTION_FILE))?,
            })),
            None => None,
        })
    };
    let mut inputs = serde_json::json!({
        "oracles": target_oracles.as_ref().map(|z| z.manifest.config_hash.clone()),
        "attribution": record_of(&args.attribution)?,
    });
    if args.neighbourhood.is_some() {
        inputs["neighbourhood"] = serde_json::json!(record_of(&args.neighbourhood)?);
    }
    if let Some(c) = &chain {
        let request = forget.len() - c.forgotten.len();
        inputs["chain"] = serde_json::to_value(c.record(&forget, request))?;
    }
    if let (Some(dir), true) = (&args.attribution, method.inputs().attribution)
        && let Some(warning) = super::history::coupling_warning(dir, forget_path, &originals)
    {
        eprintln!("{warning}");
    }
    let bar = progress_bar(originals.models as u64, name);
    let summary = unlearn_zoo(
        method.as_ref(),
        &ctx,
        &forget_ref,
        inputs,
        &args.out,
        args.stack,
        args.shard.shard,
        &bar,
    )
    .map_err(|e| match e {
        // The library names what is missing; here it has a flag.
        MethodError::MissingInput { method, what } => {
            let flag = if what.starts_with("target oracles") {
                "--oracles DIR"
            } else {
                "--attribution DIR"
            };
            anyhow::anyhow!("method '{method}' needs {what}: pass {flag}")
        }
        other => other.into(),
    })?;
    bar.finish();
    println!(
        "{name}: {} unlearned models in {:.1} s; cost {:.4} of retraining ({} examples forward+backward per model) → {}",
        summary.models,
        summary.seconds,
        summary.cost,
        summary.examples_per_model,
        args.out.display()
    );
    Ok(())
}
