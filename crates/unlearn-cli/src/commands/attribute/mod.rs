//! `unlearn attribute`: datamodels from a zoo of subset models, and their LDS.

use crate::common::{ShardArgs, print_registry, progress_bar};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Instant;
use unlearn_attribution::{EstimatorRegistry, Outputs};
use unlearn_bench::beta_store::BetaFormat;
use unlearn_bench::datamodels::{self, FitOptions};
use unlearn_bench::record;
use unlearn_data::ForgetSet;

/// Estimate datamodels β[i, x, c] (the change of logit c on point x when training point i is
/// included) from a zoo of subset models (`unlearn train --subsets`), and report their LDS on
/// held-out subset models. `unlearn attribute lds` compares every estimator.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AttributeArgs {
    #[command(subcommand)]
    pub command: Option<AttributeCommand>,
    /// Estimator: a registered datamodel estimator (see --list: datamodels-mean, -ridge, -lasso,
    /// -relaxed-lasso), or trak (from the zoo's checkpoints; --zoo may then hold originals, see
    /// --trak-calibration).
    #[arg(long, default_value = "datamodels-ridge")]
    pub method: String,
    /// Print every datamodel estimator with its hyper-parameters and defaults, then exit.
    #[arg(long)]
    pub list: bool,
    /// One hyper-parameter of the estimator, key=value (repeatable), e.g. `lambdas=[10]`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    #[command(flatten)]
    pub common: AttributeCommon,
    #[command(flatten)]
    pub trak: TrakArgs,
    /// Compute only Σ_{i∈F} β for this forget set (what DMM and DM-Direct need).
    #[arg(long)]
    pub forget_set: Option<PathBuf>,
    /// With --shard I/N, only the targets of the evaluated points of shard I (datamodels-mean
    /// and -lasso, which fit every point on its own); join the shards with `unlearn merge`.
    #[command(flatten)]
    pub shard: ShardArgs,
    /// How β is stored: dense (beta.npy), sparse (each target's non-zeros, beta_*.npy, a
    /// scipy CSR matrix; docs/algorithms.md §6), or auto: sparse for the lassos.
    #[arg(long, default_value = "auto", value_parser = ["auto", "dense", "sparse"])]
    pub beta_format: String,
    /// Output directory (beta.npy or the sparse beta_*.npy, or forget_rows.npy; attribution.json).
    #[arg(long, default_value = "runs/attribution")]
    pub out: PathBuf,
}

/// Options shared with `attribute lds`.
#[derive(Args, Debug, Clone)]
pub struct AttributeCommon {
    /// Zoo of subset models (`unlearn train --subsets MASKS`).
    #[arg(long)]
    pub zoo: Option<PathBuf>,
    /// Share of the subset models held out for LDS and the choice of λ.
    #[arg(long, default_value_t = 0.1)]
    pub held_out: f64,
    /// Seed of the held-out split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Subcommands of `unlearn attribute`.
#[derive(Subcommand, Debug)]
pub enum AttributeCommand {
    /// Print the LDS of every estimator side by side (TRAK included).
    Lds(LdsArgs),
    /// Fit the neighbourhood term (the joint effect of removing a point with its nearest
    /// neighbours) on grouped subset models, for `unlearn forget --neighbourhood`.
    Neighbourhood(NeighbourhoodArgs),
}

/// Options of `attribute lds`.
#[derive(Args, Debug, Clone)]
pub struct LdsArgs {
    #[command(flatten)]
    pub common: AttributeCommon,
    #[command(flatten)]
    pub trak: TrakArgs,
}

pub use unlearn_bench::datamodels::SubsetZoo;

impl AttributeCommon {
    /// The library's fit options.
    pub fn options(&self) -> FitOptions {
        FitOptions {
            held_out: self.held_out,
            seed: self.seed,
        }
    }
}

/// The subset zoo of `--zoo`, with its masks.
pub fn load(common: &AttributeCommon) -> Result<SubsetZoo> {
    let Some(dir) = &common.zoo else {
        bail!("--zoo DIR (a zoo of subset models) is required")
    };
    SubsetZoo::load(dir).context("loading --zoo")
}

pub fn run(args: AttributeArgs) -> Result<()> {
    match &args.command {
        Some(AttributeCommand::Lds(lds)) => return run_lds(&lds.common, &lds.trak),
        Some(AttributeCommand::Neighbourhood(term)) => return run_neighbourhood(term),
        None => {}
    }
    let registry = EstimatorRegistry::builtin();
    if args.list {
        return print_registry(
            registry
                .entries()
                .map(|e| (e.name.as_str(), e.summary.as_str(), &e.defaults)),
            "override with --set key=value; the held-out split (--held-out, --seed) is the same for every estimator; or --method trak",
        );
    }
    if args.method == "trak" {
        if args.shard.shard.is_some() {
            bail!(
                "--shard does not apply to trak: every point's score needs the gradients of all training points; shard the training of its zoo instead"
            );
        }
        return run_trak(&args);
    }
    let overrides = unlearn_data::parse_overrides(&args.sets)
        .map_err(|what| anyhow::anyhow!("--set: {what}"))?;
    let estimator = registry.build(&args.method, &overrides, args.common.options())?;
    let sz = load(&args.common)?;
    let (zoo, n) = (&sz.zoo, sz.masks.n);
    let shard = args.shard.shard;
    if shard.is_some() && !estimator.independent_targets() {
        bail!(
            "--shard splits the evaluated points, which only estimators fitting each target on its own can (datamodels-mean and the lassos; {} shares work across points); run it unsharded, or shard the training of its zoo instead",
            args.method
        );
    }
    let points = shard.map_or(0..zoo.points, |s| s.range(zoo.points));
    let mut info = serde_json::json!({
        "estimator": args.method, "zoo": zoo.dir.display().to_string(), "zoo_config_hash": zoo.manifest.config_hash,
        "models": zoo.models, "held_out": args.common.held_out, "seed": args.common.seed,
        "subset_examples_per_model": zoo.manifest.examples_per_model, "points": zoo.points, "classes": zoo.classes,
    });
    // Absent when empty, so directories fitted before overrides existed stay finished.
    if !overrides.is_empty() {
        info["params"] = overrides.clone().into();
    }
    if let Some(s) = shard {
        info["shard"] = serde_json::to_value(s.info(zoo.points))?;
    }
    if let Some(path) = &args.forget_set {
        info["forget_set"] = serde_json::json!({ "path": path.display().to_string(), "sha256": unlearn_data::sha256_file(path)? });
    }
    let format: BetaFormat = serde_json::from_value(args.beta_format.clone().into())?;
    let sparse = format.sparse_for(estimator.as_ref());
    // Absent for dense, so directories written before sparse storage stay finished.
    if sparse && args.forget_set.is_none() {
        info["beta_format"] = "sparse".into();
    }
    let _lock = record::open(&args.out)?;
    let files = match &args.forget_set {
        Some(_) => record::outputs(true),
        None => BetaFormat::outputs(sparse),
    };
    if let Some(found) = record::finished(&args.out, &info, files[0]) {
        let done = found.get("lds").and_then(|v| v.as_f64());
        println!(
            "{}: already computed with these inputs ({}); nothing to do",
            args.out.display(),
            done.map_or(files[0].to_string(), |lds| format!("LDS {lds:.4}"))
        );
        return Ok(());
    }
    record::unmark(&args.out)?;
    let (p0, len, c) = (points.start, points.len(), zoo.classes);
    if let Some(path) = &args.forget_set {
        let forget = ForgetSet::load(path, n)?;
        let masks = sz.model_masks()?;
        let logits = sz.logits_of_points(&points);
        let outputs = Outputs::new(&logits, zoo.models, len * c)?;
        let started = Instant::now();
        let rows = estimator.fit_rows_sum(&masks, &outputs, &forget.indices)?;
        let seconds = started.elapsed().as_secs_f64();
        unlearn_data::write_npy_f32(args.out.join("forget_rows.npy"), &[len, c], &rows)?;
        info["fit_seconds"] = seconds.into();
        println!(
            "{}: Σ_F β over {} forget points for evaluated points {p0}..{} in {seconds:.2} s → {}",
            args.method,
            forget.len(),
            points.end,
            args.out.join("forget_rows.npy").display()
        );
    } else {
        let bar = progress_bar(1, "fit");
        bar.set_message(args.method.clone());
        let (model, lds, seconds) = datamodels::fit_and_score(
            &sz,
            estimator.as_ref(),
            args.common.options(),
            points.clone(),
            sparse,
        )?;
        // Merging shards averages their LDS over the points where it is defined.
        info["lds_points"] = (lds.per_target.len() - lds.undefined).into();
        let lds = lds.mean;
        bar.finish_and_clear();
        model.write(&args.out, [n, len, c])?;
        info["lds"] = lds.into();
        info["fit_seconds"] = seconds.into();
        println!(
            "{}: β of {n} × {len} × {c}{} (evaluated points {p0}..{}) in {seconds:.2} s; LDS {lds:.4} on held-out subset models → {}",
            args.method,
            if sparse { ", stored sparse" } else { "" },
            points.end,
            args.out.display()
        );
    }
    record::write(&args.out, &mut info, files)?;
    Ok(())
}

mod lds;
mod neighbourhood;
mod trak;

use lds::run_lds;
use neighbourhood::{NeighbourhoodArgs, run_neighbourhood};
use trak::run_trak;
pub use trak::{TrakArgs, trak_scores};
