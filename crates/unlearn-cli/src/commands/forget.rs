//! `unlearn forget`: run an unlearning method on every original of a zoo.

use crate::commands::attribute::record;
use crate::common::{BackendArgs, DataArgs, ShardArgs, progress_bar};
use anyhow::{Context as _, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use unlearn_data::ForgetSet;
use unlearn_methods::{Context, METHOD_NAMES, MethodConfig, unlearn_zoo};
use unlearn_train::Zoo;
use unlearn_train::integrity::Finding;
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
    for name in METHOD_NAMES {
        let config = MethodConfig::default_for(name)?;
        println!("{name:<14} {}", serde_json::to_string(&config.params())?);
    }
    println!(
        "\noverride with --set key=value or --config FILE (a JSON object); localize a gradient method with --set 'localize={{\"kind\":\"del\",\"mask_share\":0.3}}'"
    );
    Ok(())
}

/// The method's configuration from its defaults, --config and --set.
pub fn method_config(name: &str, config: Option<&Path>, sets: &[String]) -> Result<MethodConfig> {
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
    overrides.extend(MethodConfig::parse_sets(sets)?);
    Ok(MethodConfig::with_overrides(name, &overrides)?)
}

/// Σ_{i∈F} β over every evaluated point, from an attribution directory.
/// Uses `forget_rows.npy` when it was computed for this very forget set, else sums rows of `beta.npy`.
pub fn attribution_rows(
    dir: &Path,
    forget: &ForgetSet,
    forget_path: &Path,
    points: usize,
    classes: usize,
) -> Result<Vec<f32>> {
    let rows_file = dir.join("forget_rows.npy");
    if rows_file.is_file() {
        let info: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("attribution.json"))
                .with_context(|| format!("{}: attribution.json missing", dir.display()))?,
        )?;
        let sha = unlearn_data::sha256_file(forget_path)?;
        if info["forget_set"]["sha256"].as_str() == Some(sha.as_str()) {
            check_recorded(dir)?;
            let (shape, rows) = unlearn_data::read_npy_f32(&rows_file)?;
            if shape != [points, classes] {
                bail!(
                    "{}: shape {shape:?}, expected [{points}, {classes}]",
                    rows_file.display()
                );
            }
            return Ok(rows);
        }
        if !dir.join("beta.npy").is_file() {
            bail!(
                "{} holds Σβ for a different forget set; run `unlearn attribute --forget-set {}` or without --forget-set for all rows",
                dir.display(),
                forget_path.display()
            );
        }
    }
    let full = dir.join("beta.npy");
    check_recorded(dir)?;
    let (shape, beta) = unlearn_data::read_npy_f32(&full)
        .with_context(|| format!("{}: run `unlearn attribute` first", dir.display()))?;
    if shape.len() != 3 || shape[1] != points || shape[2] != classes {
        bail!(
            "{}: shape {shape:?}, expected [train points, {points}, {classes}]",
            full.display()
        );
    }
    if let Some(&bad) = forget.indices.iter().find(|&&i| i >= shape[0]) {
        bail!(
            "{}: forget index {bad} is beyond its {} rows",
            full.display(),
            shape[0]
        );
    }
    Ok(sum_rows(&beta, &forget.indices, points * classes))
}

/// `dir` must hold a finished attribution: attribution.json present (it is written last) and
/// the outputs it records unchanged since (the same re-hash as `unlearn verify`).
fn check_recorded(dir: &Path) -> Result<()> {
    if !dir.join(record::RECORD).is_file() {
        bail!(
            "{}: no finished attribution here (attribution.json missing); run `unlearn attribute --out {}` to the end",
            dir.display(),
            dir.display()
        );
    }
    let check = unlearn_train::integrity::verify_attribution(dir)?;
    let changed = check.findings.iter().find(|f| {
        matches!(
            f,
            Finding::Missing { .. }
                | Finding::Resized { .. }
                | Finding::Altered { .. }
                | Finding::Unreadable { .. }
        )
    });
    if let Some(finding) = changed {
        bail!(
            "{}: {finding}: differs from what attribution.json records (an interrupted or foreign write); run `unlearn attribute` again",
            dir.display()
        );
    }
    Ok(())
}

/// Σ_{i∈rows} β[i, ·] of a row-major `n × per` matrix.
pub fn sum_rows(beta: &[f32], rows: &[usize], per: usize) -> Vec<f32> {
    let mut sum = vec![0.0f32; per];
    for &i in rows {
        for (s, &b) in sum.iter_mut().zip(&beta[i * per..(i + 1) * per]) {
            *s += b;
        }
    }
    sum
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
    let config = method_config(name, args.config.as_deref(), &args.sets)?;
    let originals = Zoo::load(originals_dir).context("loading --originals")?;
    let data = DataArgs::of_zoo(&originals)?;
    let forget = ForgetSet::load(forget_path, data.train.len())?;
    let target_oracles = match &args.oracles {
        Some(dir) => Some(Zoo::load(dir).context("loading --oracles")?),
        None => None,
    };
    let beta = match &args.attribution {
        Some(dir) => Some(attribution_rows(
            dir,
            &forget,
            forget_path,
            originals.points,
            originals.classes,
        )?),
        None => None,
    };
    let ctx = Context {
        originals: &originals,
        data: &data,
        forget: &forget,
        target_oracles: target_oracles.as_ref(),
        beta_forget: beta.as_deref(),
        device: args.backend.backend.device()?,
    };
    let forget_ref = InputRef {
        path: forget_path.display().to_string(),
        sha256: unlearn_data::sha256_file(forget_path)?,
    };
    let inputs = serde_json::json!({
        "oracles": target_oracles.as_ref().map(|z| z.manifest.config_hash.clone()),
        "attribution": args.attribution.as_ref().map(|d| d.display().to_string()),
    });
    let bar = progress_bar(originals.models as u64, name);
    let summary = unlearn_zoo(
        &config,
        &ctx,
        &forget_ref,
        inputs,
        &args.out,
        args.stack,
        args.shard.shard,
        &bar,
    )?;
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
