//! `bench-speed`'s small CNN: training and inference samples/s one and a stack of models to a
//! step, and its layers timed one by one.

use super::BenchSpeedArgs;
use crate::common::progress_bar;
use anyhow::Result;
use unlearn_models::CnnConfig;
use unlearn_models::ModelConfig;
use unlearn_train::speed::{
    OpTiming, cnn_op_timings, inference_rate, op_table_text, profile_stack, synthetic_images,
};
use unlearn_train::{Backend, Recipe, TrainSet};

/// Times the small CNN on every backend, printing the rates; returns each backend's layer
/// timings for `print_op_tables`.
pub fn time_cnn(
    backends: &[Backend],
    args: &BenchSpeedArgs,
) -> Result<Vec<(String, Vec<OpTiming>)>> {
    let images = synthetic_images(args.cnn_points, [3, 32, 32], 10, 0);
    let channels = vec![16, 32];
    let mut recipe = Recipe::named("cnn")?;
    recipe.model = ModelConfig::Cnn(CnnConfig {
        channels: channels.clone(),
    })
    .spec();
    recipe.epochs = 1;
    println!(
        "\nsmall CNN (conv 16-32, 3×32×32 synthetic images, batch 64, one epoch of {} points per model)",
        args.cnn_points
    );
    println!(
        "{:<8} {:>5} {:>15} {:>9} {:>15}  training step",
        "backend", "stack", "train samples/s", "vs stack 1", "infer samples/s"
    );
    let mut op_tables = Vec::new();
    for backend in backends {
        let device = backend.device()?;
        let set = TrainSet::new(&images, &device);
        let x = unlearn_train::inference::features(&images, &device);
        let mut single = None;
        for k in [1, args.cnn_stack] {
            let bar = progress_bar(1, "cnn");
            let (t, model) = profile_stack(&recipe, &set, [k, args.cnn_points, 0], &device)?;
            let infer = inference_rate(&model, &x, k, 2);
            bar.finish_and_clear();
            let rate = t.samples as f64 / t.total().as_secs_f64();
            let base = *single.get_or_insert(rate);
            println!(
                "{:<8} {:>5} {:>15.0} {:>8.2}× {:>15.0}  {}",
                backend.to_string(),
                k,
                rate,
                rate / base,
                infer,
                t.shares_text()
            );
        }
        op_tables.push((
            backend.to_string(),
            cnn_op_timings(&device, args.cnn_stack, 64, [3, 32, 32], &channels, 10, 3),
        ));
    }
    Ok(op_tables)
}

/// The layer timings of every backend side by side.
pub fn print_op_tables(op_tables: &[(String, Vec<OpTiming>)], stack: usize) {
    if !op_tables.is_empty() {
        let title =
            format!("small CNN operations, stack {stack} × batch 64, ms per call (best of 3)");
        println!("\n{}", op_table_text(&title, op_tables));
    }
}
