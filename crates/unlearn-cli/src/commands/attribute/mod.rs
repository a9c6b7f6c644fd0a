//! `unlearn attribute`: datamodels from a zoo of subset models, and their LDS.

use crate::common::{ShardArgs, progress_bar};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;
use unlearn_attribution::{
    DiffOfMeans, Estimator, LassoParams, Lds, Masks, Outputs, RidgeParams, lds_from_predictions,
    split_models,
};
use unlearn_data::{ForgetSet, SubsetMasks};
use unlearn_train::Zoo;

/// Estimate datamodels β[i, x, c] (the change of logit c on point x when training point i is
/// included) from a zoo of subset models (`unlearn train --subsets`), and report their LDS on
/// held-out subset models. `unlearn attribute lds` compares every estimator.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AttributeArgs {
    #[command(subcommand)]
    pub command: Option<AttributeCommand>,
    /// Estimator: datamodels-mean, datamodels-ridge, datamodels-lasso, or trak (from the zoo's
    /// checkpoints; --zoo may then hold originals, see --trak-calibration).
    #[arg(long, default_value = "datamodels-ridge")]
    pub method: String,
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
    /// Output directory (beta.npy or forget_rows.npy, attribution.json).
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
}

/// Options of `attribute lds`.
#[derive(Args, Debug, Clone)]
pub struct LdsArgs {
    #[command(flatten)]
    pub common: AttributeCommon,
    #[command(flatten)]
    pub trak: TrakArgs,
}

/// Names of the estimators.
pub const ESTIMATORS: [&str; 3] = ["datamodels-mean", "datamodels-ridge", "datamodels-lasso"];

pub fn estimator(name: &str, seed: u64, held_out: f64) -> Result<Box<dyn Estimator>> {
    Ok(match name {
        "datamodels-mean" => Box::new(DiffOfMeans),
        "datamodels-ridge" => Box::new(
            RidgeParams::default()
                .seed(seed)
                .held_out_fraction(held_out)
                .check()?,
        ),
        "datamodels-lasso" => {
            let params = LassoParams {
                seed,
                held_out_fraction: held_out,
                ..LassoParams::default()
            };
            Box::new(params.check()?)
        }
        "trak" => bail!(
            "TRAK is not a datamodel estimator (it needs the zoo's checkpoints); run `unlearn attribute --method trak`"
        ),
        other => bail!(
            "unknown attribution method '{other}'; choose one of {}, trak",
            ESTIMATORS.join(", ")
        ),
    })
}

/// A subset zoo and its masks, checked against each other.
pub struct SubsetZoo {
    /// The zoo of subset models.
    pub zoo: Zoo,
    /// Its masks.
    pub masks: SubsetMasks,
}

pub fn load(common: &AttributeCommon) -> Result<SubsetZoo> {
    let Some(dir) = &common.zoo else {
        bail!("--zoo DIR (a zoo of subset models) is required")
    };
    let zoo = Zoo::load(dir).context("loading --zoo")?;
    let Some(masks_ref) = &zoo.manifest.masks else {
        bail!(
            "{} is not a subset zoo; train one with `unlearn train --subsets MASKS`",
            dir.display()
        );
    };
    let path = Path::new(&masks_ref.path);
    let sha = unlearn_data::sha256_file(path)
        .with_context(|| format!("the zoo's mask file {} is needed", path.display()))?;
    if sha != masks_ref.sha256 {
        bail!(
            "{} has changed since {} was trained; retrain the zoo or restore the file",
            path.display(),
            dir.display()
        );
    }
    let masks = SubsetMasks::load_npy(path)?;
    if masks.n != zoo.manifest.dataset.n_train || masks.rows < zoo.models {
        bail!(
            "{}: masks of {} × {} do not fit the zoo ({} models, {} training points)",
            path.display(),
            masks.rows,
            masks.n,
            zoo.models,
            zoo.manifest.dataset.n_train
        );
    }
    Ok(SubsetZoo { zoo, masks })
}

/// The zoo's logits of the evaluated points `points` only (`models × points.len() × classes`).
fn logits_of_points(zoo: &Zoo, points: &Range<usize>) -> Vec<f32> {
    let (per, c) = (zoo.points * zoo.classes, zoo.classes);
    (0..zoo.models)
        .flat_map(|m| &zoo.logits[m * per + points.start * c..m * per + points.end * c])
        .copied()
        .collect()
}

/// Fits the targets of the evaluated points `points` on the non-held-out models; returns β, its
/// LDS on the held-out ones (true-class logits of `points`) and the fit's seconds.
pub fn fit_and_score(
    sz: &SubsetZoo,
    name: &str,
    common: &AttributeCommon,
    points: Range<usize>,
) -> Result<(unlearn_attribution::Datamodel, Lds, f64)> {
    let (zoo, n) = (&sz.zoo, sz.masks.n);
    let targets = points.len() * zoo.classes;
    let masks = Masks::new(&sz.masks.data[..zoo.models * n], zoo.models, n)?;
    let logits = logits_of_points(zoo, &points);
    let outputs = Outputs::new(&logits, zoo.models, targets)?;
    let split = split_models(zoo.models, common.held_out, common.seed)?;
    let fit_masks = masks.select_models(&split.fit)?;
    let fit_outputs = outputs.select_models(&split.fit)?;
    let started = Instant::now();
    let model = estimator(name, common.seed, common.held_out)?.fit(
        &Masks::new(&fit_masks, split.fit.len(), n)?,
        &Outputs::new(&fit_outputs, split.fit.len(), targets)?,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    // LDS on each point's true-class logit, over the held-out models.
    let held_masks = masks.select_models(&split.held_out)?;
    let h = split.held_out.len();
    let predicted = model.predict(&Masks::new(&held_masks, h, n)?)?;
    let true_class = |all: &[f32]| -> Vec<f32> {
        (0..h)
            .flat_map(|m| {
                points
                    .clone()
                    .enumerate()
                    .map(move |(k, p)| all[m * targets + k * zoo.classes + zoo.labels[p] as usize])
            })
            .collect()
    };
    let pred = true_class(&predicted);
    let actual = true_class(&outputs.select_models(&split.held_out)?);
    let lds = lds_from_predictions(
        &Outputs::new(&pred, h, points.len())?,
        &Outputs::new(&actual, h, points.len())?,
    )?;
    Ok((model, lds, seconds))
}

pub fn run(args: AttributeArgs) -> Result<()> {
    if let Some(AttributeCommand::Lds(lds)) = &args.command {
        return run_lds(&lds.common, &lds.trak);
    }
    if args.method == "trak" {
        if args.shard.shard.is_some() {
            bail!(
                "--shard does not apply to trak: every point's score needs the gradients of all training points; shard the training of its zoo instead"
            );
        }
        return run_trak(&args);
    }
    let sz = load(&args.common)?;
    let (zoo, n) = (&sz.zoo, sz.masks.n);
    let shard = args.shard.shard;
    if shard.is_some() && !matches!(args.method.as_str(), "datamodels-mean" | "datamodels-lasso") {
        bail!(
            "--shard splits the evaluated points, which only datamodels-mean and datamodels-lasso fit independently ({} shares work across points); run it unsharded, or shard the training of its zoo instead",
            args.method
        );
    }
    let points = shard.map_or(0..zoo.points, |s| s.range(zoo.points));
    let mut info = serde_json::json!({
        "estimator": args.method, "zoo": zoo.dir.display().to_string(), "zoo_config_hash": zoo.manifest.config_hash,
        "models": zoo.models, "held_out": args.common.held_out, "seed": args.common.seed,
        "subset_examples_per_model": zoo.manifest.examples_per_model, "points": zoo.points, "classes": zoo.classes,
    });
    if let Some(s) = shard {
        info["shard"] = serde_json::to_value(s.info(zoo.points))?;
    }
    if let Some(path) = &args.forget_set {
        info["forget_set"] = serde_json::json!({ "path": path.display().to_string(), "sha256": unlearn_data::sha256_file(path)? });
    }
    let _lock = record::open(&args.out)?;
    if let Some(done) = finished(&args.out, &info) {
        println!(
            "{}: already computed with these inputs ({done}); nothing to do",
            args.out.display()
        );
        return Ok(());
    }
    record::unmark(&args.out)?;
    let (p0, len, c) = (points.start, points.len(), zoo.classes);
    if let Some(path) = &args.forget_set {
        let forget = ForgetSet::load(path, n)?;
        let masks = Masks::new(&sz.masks.data[..zoo.models * n], zoo.models, n)?;
        let logits = logits_of_points(zoo, &points);
        let outputs = Outputs::new(&logits, zoo.models, len * c)?;
        let started = Instant::now();
        let rows = estimator(&args.method, args.common.seed, args.common.held_out)?.fit_rows_sum(
            &masks,
            &outputs,
            &forget.indices,
        )?;
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
        let (model, lds, seconds) = fit_and_score(&sz, &args.method, &args.common, points.clone())?;
        // Merging shards averages their LDS over the points where it is defined.
        info["lds_points"] = (lds.per_target.len() - lds.undefined).into();
        let lds = lds.mean;
        bar.finish_and_clear();
        unlearn_data::write_npy_f32(args.out.join("beta.npy"), &[n, len, c], model.beta())?;
        unlearn_data::write_npy_f32(args.out.join("intercept.npy"), &[len, c], model.intercept())?;
        info["lds"] = lds.into();
        info["fit_seconds"] = seconds.into();
        println!(
            "{}: β of {n} × {len} × {c} (evaluated points {p0}..{}) in {seconds:.2} s; LDS {lds:.4} on held-out subset models → {}",
            args.method,
            points.end,
            args.out.display()
        );
    }
    record::write(
        &args.out,
        &mut info,
        record::outputs(args.forget_set.is_some()),
    )
}

/// When `out` already holds the result of a run with the inputs `info`, a description of it.
fn finished(out: &Path, info: &serde_json::Value) -> Option<String> {
    let text = std::fs::read_to_string(out.join(record::RECORD)).ok()?;
    let found: serde_json::Value = serde_json::from_str(&text).ok()?;
    let file = record::outputs(info.get("forget_set").is_some())[0];
    (record::inputs(&found) == *info && out.join(file).is_file()).then(|| {
        match found.get("lds").and_then(|v| v.as_f64()) {
            Some(lds) => format!("LDS {lds:.4}"),
            None => file.to_string(),
        }
    })
}

fn run_lds(common: &AttributeCommon, trak: &TrakArgs) -> Result<()> {
    let sz = load(common)?;
    println!(
        "LDS on {} held-out of {} subset models (Spearman over models of each point's true-class logit, mean over points)",
        ((sz.zoo.models as f64) * common.held_out).round(),
        sz.zoo.models
    );
    println!("{:<18} {:>8} {:>10}", "estimator", "LDS", "fit (s)");
    for name in ESTIMATORS {
        let (_, lds, seconds) = fit_and_score(&sz, name, common, 0..sz.zoo.points)?;
        let lds = lds.mean;
        println!("{name:<18} {lds:>8.4} {seconds:>10.2}");
    }
    if trak.trak_models == 0 {
        println!(
            "{:<18} {:>8} {:>10}",
            "trak", "n/a", "skipped (--trak-models 0)"
        );
        return Ok(());
    }
    let outcome = trak_scores(&sz.zoo, Some(&sz), common, trak, None)?;
    let lds = outcome.lds.unwrap_or(f64::NAN);
    println!("{:<18} {lds:>8.4} {:>10.2}", "trak", outcome.seconds);
    println!("{}", outcome.summary());
    Ok(())
}

pub mod record;
mod trak;

use trak::run_trak;
pub use trak::{TrakArgs, trak_scores};
