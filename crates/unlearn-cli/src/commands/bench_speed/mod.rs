//! `unlearn bench-speed`: zoo throughput stacked vs one at a time on each CPU backend, the small
//! CNN's training and inference samples/s, and where the time goes. Every ratio is against a
//! baseline measured in the same run.

use crate::common::progress_bar;
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use unlearn_data::{digits, prepare};
use unlearn_train::speed::{profile_stack, time_subset_zoo};

mod cnn;
mod resnet;
use unlearn_train::{Backend, Recipe, TrainSet};

/// Measure training throughput: the digits MLP (and logistic) zoo stacked vs one model at a
/// time, a large stacked zoo with its peak memory, and the small CNN's training and inference
/// samples/s with a per-phase and per-operation breakdown, on flex and ndarray.
#[derive(Args, Debug)]
pub struct BenchSpeedArgs {
    /// Backends to compare (comma-separated): flex, ndarray, wgpu (with --features wgpu).
    #[arg(long, value_delimiter = ',', default_value = "flex,ndarray")]
    pub backends: Vec<String>,
    /// Models of the stacked zoos.
    #[arg(long, default_value_t = 100)]
    pub models: usize,
    /// Models trained one at a time for the baseline rate (a rate: fewer models suffice).
    #[arg(long, default_value_t = 20)]
    pub unstacked_models: usize,
    /// Size of the large stacked zoo timed on the first backend, with peak memory (0 = skip).
    #[arg(long, default_value_t = 1000)]
    pub large: usize,
    /// Models per stack of the stacked MLP and logistic zoos run one per core (as `train --stack`).
    #[arg(long, default_value_t = 32)]
    pub stack: usize,
    /// Models per stack of the small CNN's stacked measurement.
    #[arg(long, default_value_t = 8)]
    pub cnn_stack: usize,
    /// Training points (synthetic 3×32×32 images) per CNN model; one epoch is timed.
    #[arg(long, default_value_t = 512)]
    pub cnn_points: usize,
    /// Width of the narrow ResNet-9 timed on the first backend (64 = the published one; 0 = skip).
    #[arg(long, default_value_t = 16)]
    pub resnet_width: usize,
    /// Batch size of the ResNet-9 timing (512 = the published recipe's).
    #[arg(long, default_value_t = 64)]
    pub resnet_batch: usize,
    /// Synthetic 3×32×32 images the ResNet-9 trains on for one timed epoch (at least one batch;
    /// 8 steps by default, so one busy moment of a shared machine moves a round less).
    #[arg(long, default_value_t = 512)]
    pub resnet_points: usize,
    /// Also train the MLP, small CNN and a tiny ResNet-9 for a few steps on every backend and
    /// compare their logits with flex's (the first check on a new GPU); fails on a disagreement.
    #[arg(long)]
    pub agreement: bool,
    /// Epochs of the MLP and logistic zoos.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Times the ResNet-9 comparison is repeated (each round: flex's kernels, unlearn's, PyTorch);
    /// the median ratio is printed after them.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Python of a venv with torch: each round also runs the PyTorch reference on the same
    /// shapes and threads, and the ratio is printed.
    #[arg(long)]
    pub torch_python: Option<PathBuf>,
    /// The PyTorch reference script.
    #[arg(long, default_value = "scripts/torch_reference/speed.py")]
    pub torch_script: PathBuf,
    /// Time only the ResNet-9 (skip the zoos and the small CNN).
    #[arg(long)]
    pub resnet_only: bool,
}

pub fn run(args: BenchSpeedArgs) -> Result<()> {
    if [
        args.models,
        args.unstacked_models,
        args.stack,
        args.cnn_stack,
        args.epochs,
        args.rounds,
    ]
    .contains(&0)
    {
        bail!(
            "--models, --unstacked-models, --stack, --cnn-stack, --epochs and --rounds must be ≥ 1"
        );
    }
    if args.resnet_only && args.resnet_width == 0 {
        bail!("--resnet-only needs a ResNet-9 to time: give --resnet-width ≥ 1");
    }
    if args.cnn_points < 64 {
        bail!("--cnn-points must be ≥ 64 (one batch)");
    }
    if args.resnet_width > 0 && (args.resnet_batch == 0 || args.resnet_points < args.resnet_batch) {
        bail!("--resnet-batch must be ≥ 1 and --resnet-points at least one batch");
    }
    let backends: Vec<Backend> = args
        .backends
        .iter()
        .map(|b| b.parse::<Backend>())
        .collect::<Result<_, _>>()?;
    if args.resnet_only {
        return resnet::time_resnet9(&backends[0], &args);
    }
    let data = prepare(&digits(), 0.2, 0)?;
    let workers = unlearn_train::zoo::default_workers();
    println!(
        "unlearn bench-speed on {workers} cores: digits ({} training points, random halves of {}), {} epochs, batch 64",
        data.train.len(),
        data.train.len() / 2,
        args.epochs
    );

    if args.large > 0 {
        let device = backends[0].device()?;
        let mut recipe = Recipe::named("mlp")?;
        recipe.epochs = args.epochs;
        let stack = args.stack;
        let bar = progress_bar(1, "large zoo");
        let t = time_subset_zoo(&recipe, &data, args.large, stack, workers, &device)?;
        bar.finish_and_clear();
        println!(
            "\n{} MLPs 64-64-10 on {} (stacks of {stack}, {workers} workers, checkpoints and logits written): {:.1} s, {:.0} models/s, peak memory {}",
            args.large,
            backends[0],
            t.seconds,
            t.models_per_second(),
            unlearn_train::speed::peak_rss_mib().map_or("n/a".into(), |m| format!("{m:.0} MiB"))
        );
    }

    println!(
        "\nzoos (training + writing checkpoints and logits); ratio against one at a time on the same backend"
    );
    println!(
        "{:<8} {:<9} {:<34} {:>6} {:>8} {:>9} {:>7}",
        "backend", "model", "mode", "models", "seconds", "models/s", "ratio"
    );
    for backend in &backends {
        let device = backend.device()?;
        for name in ["mlp", "logistic"] {
            let mut recipe = Recipe::named(name)?;
            recipe.epochs = args.epochs;
            let stacked = args.stack.min(args.models.div_ceil(workers));
            let modes = [
                ("one at a time", args.unstacked_models, 1, 1),
                ("stack 1, one per core", args.unstacked_models, 1, workers),
                ("one stack", args.models, args.models, 1),
                ("stacks, one per core", args.models, stacked, workers),
            ];
            let mut baseline = None;
            for (label, models, stack, w) in modes {
                let bar = progress_bar(1, name);
                let t = time_subset_zoo(&recipe, &data, models, stack, w, &device)?;
                bar.finish_and_clear();
                let rate = t.models_per_second();
                let base = *baseline.get_or_insert(rate);
                let mode = if stack > 1 {
                    format!("{label} ({stack}×{w})")
                } else {
                    format!("{label} ({w} thread{})", if w > 1 { "s" } else { "" })
                };
                println!(
                    "{:<8} {:<9} {:<34} {:>6} {:>8.2} {:>9.1} {:>6.1}×",
                    backend.to_string(),
                    name,
                    mode,
                    models,
                    t.seconds,
                    rate,
                    rate / base
                );
            }
        }
        // Where a stacked MLP step's time goes.
        let mut recipe = Recipe::named("mlp")?;
        recipe.epochs = 2;
        let set = TrainSet::new(&data.train, &device);
        let half = data.train.len() / 2;
        for k in [1, args.models] {
            let (t, _) = profile_stack(&recipe, &set, [k, half, 0], &device)?;
            println!(
                "{backend} mlp stack {k}: {:.2} ms/step ({:.0} samples/s): {}",
                1e3 * t.total().as_secs_f64() / t.steps as f64,
                t.samples as f64 / t.total().as_secs_f64(),
                t.shares_text()
            );
        }
    }

    let op_tables = cnn::time_cnn(&backends, &args)?;
    if args.resnet_width > 0 {
        resnet::time_resnet9(&backends[0], &args)?;
    }
    cnn::print_op_tables(&op_tables, args.cnn_stack);
    if args.agreement {
        resnet::agreement(&backends)?;
    }
    Ok(())
}
