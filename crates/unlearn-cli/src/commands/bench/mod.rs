//! `unlearn bench`: the whole comparison in one command — originals, oracles, datamodels, every
//! method, KLoM — with a report and a KLoM-versus-cost plot. Every artifact lives under the run
//! directory, named by the hash of what determines it, so a re-run reuses what is finished.

mod config;
mod report;

use crate::commands::attribute::{AttributeCommon, SubsetZoo, fit_and_score, record};
use crate::common::{BackendArgs, DataArgs, logits_view, progress_bar};
use anyhow::{Context as _, Result};
use clap::Args;
use config::BenchConfig;
use indicatif::ProgressBar;
use report::{ReportRow, write_report};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;
use unlearn_data::{ForgetSet, Prepared, SubsetMasks};
use unlearn_eval::{Direction, EvalPoints, evaluate};
use unlearn_methods::{Context, MethodConfig, unlearn_zoo};
use unlearn_train::manifest::{DatasetInfo, InputRef};
use unlearn_train::{Recipe, Zoo, ZooKind, ZooSpec, train_zoo};

/// Run the default experiment (or `--config FILE`): train originals and oracles, estimate
/// datamodels, run every method over its grid on every forget set, score them with KLoM, and
/// write report.md, report.csv and klom_vs_cost plots. Re-running resumes.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Experiment config (JSON); the embedded digits experiment by default (assets/bench/).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override a top-level config field, key=value (repeatable), e.g. `--set models=50`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// A reduced run (30 models, 100 subset models, the first forget set, one grid point per method).
    #[arg(long)]
    pub quick: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Run directory.
    #[arg(long, default_value = "runs/bench")]
    pub out: PathBuf,
}

/// First 8 hex digits of the hash of a JSON value: names an artifact by what determines it.
fn key(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))[..8].to_string()
}

struct Bench<'a> {
    config: &'a BenchConfig,
    recipe: Recipe,
    data: Prepared,
    info: DatasetInfo,
    out: PathBuf,
    device: burn::tensor::Device,
}

impl Bench<'_> {
    fn zoo(
        &self,
        name: &str,
        kind: ZooKind,
        models: usize,
        first_seed: u64,
        key_value: serde_json::Value,
    ) -> Result<Zoo> {
        let dir = self
            .out
            .join("zoos")
            .join(format!("{name}-{}", key(&key_value)));
        let spec = ZooSpec {
            recipe: self.recipe.clone(),
            kind,
            models,
            first_seed,
            stack: self.config.stack,
            workers: unlearn_train::zoo::default_workers(),
            shard: None,
        };
        let bar = progress_bar(models as u64, name);
        let zoo = train_zoo(
            &spec,
            &self.data,
            self.info.clone(),
            &dir,
            &self.device,
            &bar,
        )?;
        bar.finish_and_clear();
        Ok(zoo)
    }

    fn common_key(&self) -> serde_json::Value {
        serde_json::json!({ "dataset": self.info, "recipe": self.recipe })
    }
}

pub fn run(args: BenchArgs) -> Result<()> {
    let started = Instant::now();
    let mut config = BenchConfig::load(args.config.as_deref(), &args.sets)?;
    if args.quick {
        config = config.quick();
    }
    let data_args = DataArgs {
        dataset: config.dataset.clone(),
        label_column: config.label_column.clone(),
        val_fraction: config.val_fraction,
        split_seed: config.split_seed,
        limit: config.limit,
    };
    let (data, info) = data_args.load()?;
    let bench = Bench {
        config: &config,
        recipe: config.recipe.resolve()?,
        data,
        info,
        out: args.out.clone(),
        device: args.backend.backend.device()?,
    };
    std::fs::create_dir_all(&bench.out)
        .with_context(|| format!("creating {}", bench.out.display()))?;
    let common = bench.common_key();
    println!(
        "bench: {} models per zoo, {} subset models, {} forget sets, {} methods → {}",
        config.models,
        config.subset_models,
        config.forget_sets.len(),
        config.methods.len(),
        bench.out.display()
    );

    let stage = Instant::now();
    let originals = bench.zoo(
        "originals",
        ZooKind::Full,
        config.models,
        0,
        serde_json::json!({ "common": common, "models": config.models }),
    )?;
    println!(
        "originals: {} models ({:.1} s)",
        originals.models,
        stage.elapsed().as_secs_f64()
    );

    // Datamodels: subset masks, subset models, one full fit of β.
    let stage = Instant::now();
    let n_train = bench.data.train.len();
    let masks_key =
        serde_json::json!({ "n": n_train, "m": config.subset_models, "alpha": config.alpha });
    let masks_path = bench.out.join(format!("masks-{}.npy", key(&masks_key)));
    if !masks_path.is_file() {
        SubsetMasks::random(config.subset_models, n_train, config.alpha, 0)?
            .save_npy(&masks_path)?;
    }
    let masks = SubsetMasks::load_npy(&masks_path)?;
    let source = InputRef {
        path: masks_path.display().to_string(),
        sha256: unlearn_data::sha256_file(&masks_path)?,
    };
    let subsets = bench.zoo(
        "subsets",
        ZooKind::Subsets {
            masks: masks.clone(),
            source,
        },
        config.subset_models,
        100_000,
        serde_json::json!({ "common": common, "masks": key(&masks_key) }),
    )?;
    let subset_examples = subsets.manifest.examples_per_model * subsets.models as u64;
    let subset_seconds = stage.elapsed().as_secs_f64();
    let attribution_dir = bench.out.join(format!("attribution-{}", key(&serde_json::json!({ "zoo": subsets.manifest.config_hash, "estimator": config.attribution }))));
    let (beta, lds, fit_seconds) = attribution(
        &attribution_dir,
        SubsetZoo {
            zoo: subsets,
            masks,
        },
        &config.attribution,
    )?;
    println!(
        "datamodels ({}): LDS {lds:.4}, fit {fit_seconds:.1} s; subset zoo {subset_seconds:.1} s",
        config.attribution
    );

    let mut rows = Vec::new();
    for spec in &config.forget_sets {
        let forget = match &spec.classes {
            Some(classes) => ForgetSet::class_restricted(
                &bench.data.train.labels,
                classes,
                spec.size,
                spec.seed,
            )?,
            None => ForgetSet::random(n_train, spec.size, spec.seed)?,
        };
        let forget_path = bench.out.join("forget").join(format!("{}.txt", spec.name));
        std::fs::create_dir_all(forget_path.parent().expect("has a parent"))?;
        forget.save(&forget_path)?;
        let forget_ref = InputRef {
            path: forget_path.display().to_string(),
            sha256: unlearn_data::sha256_file(&forget_path)?,
        };
        let retain_kind = || ZooKind::Retain {
            forget: forget.clone(),
            source: forget_ref.clone(),
        };
        let oracle_key = |role: &str| serde_json::json!({ "common": common, "models": config.models, "forget": forget_ref.sha256, "role": role });
        let stage = Instant::now();
        let oracles = bench.zoo(
            &format!("oracles-{}", spec.name),
            retain_kind(),
            config.models,
            1000,
            oracle_key("eval"),
        )?;
        let floor = bench.zoo(
            &format!("floor-{}", spec.name),
            retain_kind(),
            config.models,
            2000,
            oracle_key("floor"),
        )?;
        let targets = bench.zoo(
            &format!("targets-{}", spec.name),
            retain_kind(),
            config.models,
            3000,
            oracle_key("targets"),
        )?;
        println!(
            "{}: three oracle zoos ({:.1} s)",
            spec.name,
            stage.elapsed().as_secs_f64()
        );
        let retrain_examples = (bench.recipe.epochs * forget.retain_indices(n_train).len()) as u64;
        let attribution_cost = subset_examples as f64 / retrain_examples as f64;
        let beta_forget = crate::commands::forget::sum_rows(
            &beta,
            &forget.indices,
            originals.points * originals.classes,
        );
        let ctx = Context {
            originals: &originals,
            data: &bench.data,
            forget: &forget,
            target_oracles: Some(&targets),
            beta_forget: Some(&beta_forget),
            device: bench.device.clone(),
        };
        let points = EvalPoints {
            labels: &oracles.labels,
            n_train,
            forget: &forget.indices,
        };
        let score = |zoo: &Zoo| {
            evaluate(
                logits_view(zoo),
                logits_view(&oracles),
                None,
                &points,
                Direction::UnlearnedOracle,
            )
        };
        rows.push(ReportRow::new(
            &spec.name,
            "retrain (floor)",
            "retrain",
            1.0,
            &score(&floor)?,
        ));
        for method in &config.methods {
            for (label, params) in method.points() {
                let mc = MethodConfig::with_overrides(&method.method, &params)?;
                let inputs = serde_json::json!({ "targets": targets.manifest.config_hash, "attribution": attribution_dir.display().to_string() });
                let method_key = serde_json::json!({ "config": mc, "inputs": inputs, "originals": originals.manifest.config_hash });
                let dir = bench.out.join("methods").join(&spec.name).join(format!(
                    "{}-{}",
                    method.method,
                    key(&method_key)
                ));
                let bar = progress_bar(originals.models as u64, &method.method);
                bar.set_message(label.clone());
                let summary = unlearn_zoo(
                    &mc,
                    &ctx,
                    &forget_ref,
                    inputs,
                    &dir,
                    config.stack,
                    None,
                    &bar,
                )
                .with_context(|| format!("{}: {label}", spec.name))?;
                bar.finish_and_clear();
                let zoo = Zoo::load(&dir)?;
                let row = ReportRow::new(
                    &spec.name,
                    &label,
                    &method.method,
                    summary.cost,
                    &score(&zoo)?,
                );
                println!(
                    "{:>12} {:<32} cost {:>7.4}  P95 KLoM forget {:>6.3} retain {:>6.3} val {:>6.3}",
                    spec.name, label, row.cost, row.forget_p95, row.retain_p95, row.val_p95
                );
                rows.push(row);
            }
        }
        rows.push(ReportRow::attribution(
            &spec.name,
            &config.attribution,
            attribution_cost,
        ));
    }
    let files = write_report(&bench.out, &rows, &config, lds)?;
    println!(
        "\n{}",
        std::fs::read_to_string(bench.out.join("report.md"))?
    );
    println!(
        "wrote {} in {:.1} s total",
        files.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// β (`n × P·C`), its LDS and fit seconds: read back from `dir` or fitted and written there.
fn attribution(dir: &Path, sz: SubsetZoo, estimator: &str) -> Result<(Vec<f32>, f64, f64)> {
    let info_path = dir.join(record::RECORD);
    if info_path.is_file() && dir.join("beta.npy").is_file() {
        let mut info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&info_path)?)?;
        if info.get("files").is_none() {
            // Written before outputs were recorded: record them now, so `verify` can check them.
            record::write(dir, &mut info, &["beta.npy"])?;
        }
        let (_, beta) = unlearn_data::read_npy_f32(dir.join("beta.npy"))?;
        return Ok((
            beta,
            info["lds"].as_f64().unwrap_or(f64::NAN),
            info["fit_seconds"].as_f64().unwrap_or(0.0),
        ));
    }
    // A run killed while writing β leaves its temporary file: cleared before fitting again.
    let _lock = record::open(dir)?;
    let bar = ProgressBar::new_spinner();
    bar.set_message(format!("fitting {estimator}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let common = AttributeCommon {
        zoo: None,
        held_out: 0.1,
        seed: 0,
    };
    let (model, lds, seconds) = fit_and_score(&sz, estimator, &common, 0..sz.zoo.points)?;
    let lds = lds.mean;
    bar.finish_and_clear();
    let (n, p, c) = (sz.masks.n, sz.zoo.points, sz.zoo.classes);
    unlearn_data::write_npy_f32(dir.join("beta.npy"), &[n, p, c], model.beta())?;
    let mut info = serde_json::json!({ "estimator": estimator, "lds": lds, "fit_seconds": seconds, "models": sz.zoo.models });
    record::write(dir, &mut info, &["beta.npy"])?;
    Ok((model.beta().to_vec(), lds, seconds))
}
