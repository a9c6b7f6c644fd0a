//! `bench-speed`'s ResNet-9 timing (at any width and batch: the published one is width 64,
//! batch 512) and the backend agreement check.

use super::BenchSpeedArgs;
use crate::common::progress_bar;
use anyhow::{Result, bail};
use burn::tensor::Device;
use unlearn_models::ModelConfig;
use unlearn_train::agreement::{TOLERANCE, probe, standard_cases};
use unlearn_train::speed::{inference_rate, profile_stack, synthetic_images};
use unlearn_train::speed_resnet::resnet9_op_timings;
use unlearn_train::{Backend, Recipe, TrainSet};

/// Training and inference samples/s of one ResNet-9 over one epoch of synthetic images, then its
/// layers one by one.
pub fn time_resnet9(backend: &Backend, args: &BenchSpeedArgs) -> Result<()> {
    let device = backend.device()?;
    let (batch, points) = (args.resnet_batch, args.resnet_points);
    let mut recipe = Recipe::named("resnet9")?;
    recipe.model = ModelConfig::ResNet9 {
        width: args.resnet_width,
        scale: 0.125,
    }
    .spec();
    recipe.epochs = 1;
    recipe.batch_size = batch;
    let images = synthetic_images(points, [3, 32, 32], 10, 0);
    let set = TrainSet::new(&images, &device);
    let x = unlearn_train::inference::features(&images, &device);
    let bar = progress_bar(1, "resnet9");
    let (t, model) = profile_stack(&recipe, &set, 1, points, &device)?;
    let infer = inference_rate(&model, &x, 1, 2);
    bar.finish_and_clear();
    println!(
        "\nResNet-9 width {} on {backend} (f32, batch {batch}, {points} synthetic 3×32×32 images): training {:.0} samples/s ({}), inference {infer:.0} samples/s",
        args.resnet_width,
        t.samples as f64 / t.total().as_secs_f64(),
        t.shares_text()
    );
    let step_ms = 1e3 * t.total().as_secs_f64() / t.steps.max(1) as f64;
    let layers = resnet9_op_timings(&device, args.resnet_width, batch, 3);
    let sum: f64 = layers.iter().map(|o| o.ms).sum();
    println!(
        "its layers one by one, ms per batch of {batch} (best of 3; sum {sum:.0} ms vs a measured step of {step_ms:.0} ms)"
    );
    for op in &layers {
        println!(
            "  {:<52} {:>8.2}  {:>4.0} %",
            op.name,
            op.ms,
            100.0 * op.ms / sum.max(1e-9)
        );
    }
    Ok(())
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
