//! `unlearn bench`: the whole comparison in one command (see `unlearn_bench`), with the
//! built-in architectures and methods, and progress bars.

use crate::common::{BackendArgs, progress_bar};
use anyhow::{Context as _, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;
use unlearn_bench::{Bench, BenchConfig};
use unlearn_methods::MethodRegistry;
use unlearn_models::ModelConfig;

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
    /// Only the config's `sequences` of deletion requests (chained, scored after each request),
    /// not its forget sets: writes sequence.md, sequence.csv and a plot per sequence.
    #[arg(long)]
    pub sequences_only: bool,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Run directory.
    #[arg(long, default_value = "runs/bench")]
    pub out: PathBuf,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let started = Instant::now();
    let mut config = BenchConfig::load(args.config.as_deref(), &args.sets)
        .context("bench config (--config, --set)")?;
    if args.quick {
        config = config.quick();
    }
    let (data, info) = config
        .data
        .load()
        .with_context(|| format!("loading dataset '{}'", config.data.dataset))?;
    let mut recipe = config.recipe.resolve()?;
    let arch = ModelConfig::from_spec(&recipe.model)?;
    // As resolved (an ONNX file's hash filled in), so the zoos' hashes follow the file.
    recipe.model = arch.spec();
    let registry = MethodRegistry::builtin();
    let mut bench = Bench::new(
        &arch,
        &registry,
        &data,
        info,
        args.backend.backend.device()?,
    );
    bench.recipe = recipe;
    bench.settings = config.settings.clone();
    bench.forget_sets = config.draw_forget_sets(&data.train)?;
    bench.methods = config.methods.clone();
    bench.out = args.out.clone();
    bench.check().context("bench config (--config, --set)")?;
    println!(
        "bench: {} models per zoo, {} subset models, {} forget sets, {} methods → {}",
        config.settings.models,
        config.settings.subset_models,
        config.forget_sets.len(),
        config.methods.len(),
        args.out.display()
    );
    let bar = progress_bar(0, "bench");
    if !config.sequences.is_empty() {
        let rows = bench.run_sequences(&config.sequences, &bar)?;
        let files = unlearn_bench::sequence::write_sequence_report(&args.out, &rows)?;
        bar.suspend(|| -> Result<()> {
            println!(
                "\n{}",
                std::fs::read_to_string(args.out.join("sequence.md"))?
            );
            println!("wrote {}", files.join(", "));
            Ok(())
        })?;
    } else if args.sequences_only {
        bail!("--sequences-only: the config has no `sequences` (see docs/algorithms.md §14)");
    }
    if args.sequences_only {
        return Ok(());
    }
    let outcome = bench.run(&bar)?;
    bar.finish_and_clear();
    println!("\n{}", std::fs::read_to_string(args.out.join("report.md"))?);
    println!(
        "wrote {} in {:.1} s total",
        outcome.files.join(", "),
        started.elapsed().as_secs_f64()
    );
    if outcome.failures > 0 {
        bail!(
            "{} run(s) failed; the report holds every other result and each failure's cause ({})",
            outcome.failures,
            args.out.join("report.md").display()
        );
    }
    Ok(())
}
