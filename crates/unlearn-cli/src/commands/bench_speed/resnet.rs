//! `bench-speed`'s ResNet-9 timing (at any width and batch: the published one is width 64,
//! batch 512) against flex's own kernels and PyTorch, and the backend agreement check.

use super::BenchSpeedArgs;
use crate::common::progress_bar;
use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use std::path::Path;
use std::process::Command;
use unlearn_models::Model;
use unlearn_models::cpu_kernels::peak::matmul_gflops;
use unlearn_models::cpu_kernels::use_own_kernels;
use unlearn_train::Backend;
use unlearn_train::agreement::{TOLERANCE, probe, standard_cases};
use unlearn_train::speed::{inference_rate, nominal_peak_gflops, synthetic_images};
use unlearn_train::speed_resnet::{
    best_rate, median_ratio, resnet9_op_timings, resnet9_train_rate,
};

/// Training samples/s of one ResNet-9 (after a warm-up epoch), its step phases and the model.
fn train_rate(args: &BenchSpeedArgs, device: &Device) -> Result<(f64, String, Model)> {
    let (width, batch, points) = (args.resnet_width, args.resnet_batch, args.resnet_points);
    let (rate, times, model) = resnet9_train_rate(width, batch, points, device)?;
    Ok((rate, times.shares_text(), model))
}

/// ResNet-9 training samples/s, `--rounds` times: on flex with flex's own kernels and with
/// unlearn's (§13 "CPU kernels"), and PyTorch on the same shapes when `--torch-python` is given,
/// interleaved so a busy moment of a shared machine hits all three; then its layers one by one.
pub fn time_resnet9(backend: &Backend, args: &BenchSpeedArgs) -> Result<()> {
    let device = backend.device()?;
    let (width, batch, points) = (args.resnet_width, args.resnet_batch, args.resnet_points);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let compare = *backend == Backend::Flex;
    println!(
        "\nResNet-9 width {width} on {backend} (f32, batch {batch}, one epoch of {points} synthetic 3×32×32 images after a warm-up epoch, {threads} threads), training samples/s"
    );
    let torch =
        |py: &std::path::Path| torch_rate(py, &args.torch_script, [width, batch, points, threads]);
    let mut header = format!("{:<6}", "round");
    if compare {
        header += &format!(
            " {:>13} {:>15} {:>13}",
            "flex kernels", "unlearn kernels", "unlearn/flex"
        );
    } else {
        header += &format!(" {:>15}", backend.to_string());
    }
    if args.torch_python.is_some() {
        header += &format!(" {:>9} {:>14}", "PyTorch", "unlearn/torch");
    }
    println!("{header}");
    let mut last = None;
    // Rates per round: flex kernels, unlearn kernels, PyTorch.
    let mut rates: [Vec<f64>; 3] = Default::default();
    for round in 1..=args.rounds {
        let bar = progress_bar(1, "resnet9");
        let flex = if compare {
            use_own_kernels(false);
            let rate = train_rate(args, &device);
            use_own_kernels(true);
            Some(rate?.0)
        } else {
            None
        };
        let (ours, shares, model) = train_rate(args, &device)?;
        let reference = args.torch_python.as_deref().map(torch).transpose()?;
        bar.finish_and_clear();
        let mut line = format!("{round:<6}");
        rates[1].push(ours);
        if let Some(flex) = flex {
            line += &format!(" {flex:>13.0} {ours:>15.0} {:>12.2}×", ours / flex);
            rates[0].push(flex);
        } else {
            line += &format!(" {ours:>15.0}");
        }
        if let Some(torch) = reference {
            line += &format!(" {torch:>9.0} {:>13.2}×", ours / torch);
            rates[2].push(torch);
        }
        println!("{line}");
        last = Some((shares, model));
    }
    // The median of the rounds' ratios (a busy moment of a shared machine moves one round), and
    // the ratio of the best rounds (others' load only ever slows a run down).
    if args.rounds > 1 {
        for (name, best_rounds) in [("median", false), ("best", true)] {
            // Rates on the best row only; ratios on both.
            let rate = |k: usize| match best_rounds {
                true => format!("{:.0}", best_rate(&rates[k])),
                false => String::new(),
            };
            let ratio = |k: usize| match best_rounds {
                true => format!("{:.2}×", best_rate(&rates[1]) / best_rate(&rates[k])),
                false => format!("{:.2}×", median_ratio(&rates[1], &rates[k])),
            };
            let mut line = format!("{name:<6}");
            line += &match compare {
                true => format!(" {:>13} {:>15} {:>13}", rate(0), rate(1), ratio(0)),
                false => format!(" {:>15}", ""),
            };
            if !rates[2].is_empty() {
                line += &format!(" {:>9} {:>14}", rate(2), ratio(2));
            }
            println!("{line}");
        }
    }
    if let Some((shares, model)) = last {
        let images = synthetic_images(points, [3, 32, 32], 10, 0);
        let x = unlearn_train::inference::features(&images, &device);
        println!(
            "step phases: {shares}; inference {:.0} samples/s",
            inference_rate(&model, &x, 1, 2)
        );
    }
    layer_table(&device, args, compare)
}

/// The layers one by one, ms per batch (best of 3), with flex's kernels beside unlearn's on flex,
/// and the convolutions' GFLOP/s against the machine's peak.
fn layer_table(device: &Device, args: &BenchSpeedArgs, compare: bool) -> Result<()> {
    let batch = args.resnet_batch;
    let ours = resnet9_op_timings(device, args.resnet_width, batch, 3);
    let theirs = compare.then(|| {
        use_own_kernels(false);
        let t = resnet9_op_timings(device, args.resnet_width, batch, 3);
        use_own_kernels(true);
        t
    });
    println!("its layers one by one, ms per batch of {batch} (best of 3)");
    let mut header = format!("  {:<52}", "operation");
    if theirs.is_some() {
        header += &format!(" {:>8} {:>8} {:>8}", "flex", "unlearn", "speed-up");
    } else {
        header += &format!(" {:>8}", "ms");
    }
    println!("{header} {:>8}", "GFLOP/s");
    for (i, op) in ours.iter().enumerate() {
        let mut line = format!("  {:<52}", op.name);
        if let Some(theirs) = &theirs {
            let t = theirs[i].ms;
            line += &format!(" {t:>8.2} {:>8.2} {:>7.1}×", op.ms, t / op.ms.max(1e-9));
        } else {
            line += &format!(" {:>8.2}", op.ms);
        }
        if op.flops > 0.0 {
            line += &format!(" {:>8.1}", op.flops / op.ms.max(1e-9) / 1e6);
        }
        println!("{line}");
    }
    let (flops, ms): (f64, f64) = ours
        .iter()
        .filter(|o| o.flops > 0.0)
        .fold((0.0, 0.0), |(f, t), o| (f + o.flops, t + o.ms));
    let conv_rate = flops / ms.max(1e-9) / 1e6;
    let mut line = format!(
        "convolutions, forward + backward: {conv_rate:.1} GFLOP/s; the machine's peak: matrix kernel on a 1024² product {:.1} GFLOP/s",
        matmul_gflops(1024, 3)
    );
    if let Some((nominal, how)) = nominal_peak_gflops() {
        line += &format!(", nominal {nominal:.0} GFLOP/s ({how})");
    }
    println!("{line}");
    Ok(())
}

/// PyTorch's samples/s from the reference script (`scripts/torch_reference/speed.py`), one timed
/// epoch of the same shapes with the same threads.
fn torch_rate(
    python: &Path,
    script: &Path,
    [width, batch, points, threads]: [usize; 4],
) -> Result<f64> {
    if !script.is_file() {
        bail!(
            "the PyTorch reference script {} is not there; run from the repository root or pass --torch-script",
            script.display()
        );
    }
    let output = Command::new(python)
        .arg(script)
        .args(["--width", &width.to_string(), "--batch", &batch.to_string()])
        .args([
            "--points",
            &points.to_string(),
            "--threads",
            &threads.to_string(),
        ])
        .args(["--epochs", "1"])
        .output()
        .with_context(|| {
            format!(
                "could not run {}; pass the python of a venv with torch",
                python.display()
            )
        })?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        bail!(
            "the PyTorch reference failed ({}): {}",
            output.status,
            err.lines().last().unwrap_or("no message")
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("samples/s "))
        .filter_map(|v| v.trim().parse::<f64>().ok())
        .next_back()
        .context("the PyTorch reference printed no `samples/s` line")
}

/// Every backend but flex against flex on the standard cases; an error on any disagreement.
pub fn agreement(backends: &[Backend]) -> Result<()> {
    let reference = Device::flex();
    println!(
        "\nagreement with flex (same seeds, same points; tolerance {TOLERANCE:.0e} absolute and relative)"
    );
    println!(
        "{:<8} {:<18} {:>12} {:>12}  verdict",
        "backend", "model", "max |Δlogit|", "max |logit|"
    );
    let mut failed = Vec::new();
    for backend in backends.iter().filter(|b| **b != Backend::Flex) {
        let device = backend.device()?;
        if let Err(why) = probe(&device) {
            bail!("{backend}: the device does not compute ({why}); check its driver");
        }
        for case in standard_cases(&device, &reference)? {
            let verdict = if case.agrees() { "agrees" } else { "DIFFERS" };
            println!(
                "{:<8} {:<18} {:>12.2e} {:>12.3}  {verdict}",
                backend.to_string(),
                case.case,
                case.max_abs_diff,
                case.max_abs_logit
            );
            if !case.agrees() {
                failed.push(format!("{backend} {}", case.case));
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "backends disagree with flex on {}; report it with this output",
            failed.join(", ")
        );
    }
    Ok(())
}
