//! The GPU code path: a few training steps of the MLP, the small CNN (grouped convolutions,
//! max-pool) and a narrow ResNet-9 (batch norm, residual blocks) on wgpu give the same logits as
//! on flex.
//!
//! Built only with `--features wgpu` (`.ci/run` does so after installing Mesa's software Vulkan
//! driver). Without a usable adapter the test prints why and is skipped; with
//! `UNLEARN_REQUIRE_WGPU=1` (set by `.ci/run` once the driver is installed) it fails instead.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::{Device, Tensor};
use common::*;
use unlearn_data::Dataset;
use unlearn_models::ModelConfig;
use unlearn_train::inference::{features, stack_logits};
use unlearn_train::speed::synthetic_images;
use unlearn_train::{Backend, Member, Recipe, TrainSet, train_stack};

/// Whether a wgpu adapter answers: wgpu panics on first use when none can be found.
fn wgpu_device() -> Result<Device, String> {
    let attempt = std::panic::catch_unwind(|| {
        let device = Backend::Wgpu.device().expect("built with the wgpu feature");
        let probe = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device);
        let sum = probe.sum().into_scalar::<f32>();
        (device, sum)
    });
    match attempt {
        Ok((device, sum)) if (sum - 6.0).abs() < 1e-6 => Ok(device),
        Ok((_, sum)) => Err(format!("the adapter computed 1 + 2 + 3 = {sum}")),
        Err(panic) => Err(panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "wgpu panicked".into())),
    }
}

/// The wgpu device, or `None` (test skipped, with the reason) where no adapter answers; with
/// `UNLEARN_REQUIRE_WGPU=1` a missing adapter fails the test instead.
fn device_or_skip(test: &str) -> Option<Device> {
    match wgpu_device() {
        Ok(device) => Some(device),
        Err(why) => {
            let message = format!(
                "no usable wgpu adapter ({why}); install a Vulkan driver (Debian: mesa-vulkan-drivers)"
            );
            if std::env::var("UNLEARN_REQUIRE_WGPU").is_ok_and(|v| v == "1") {
                panic!("{message}");
            }
            eprintln!("SKIPPED {test}: {message}");
            None
        }
    }
}

/// Trains two models of `recipe` in one stack on the first `points` training points on `device`
/// and on flex, and returns the largest logit difference on `eval` and the largest logit.
fn wgpu_vs_flex(
    device: &Device,
    recipe: &Recipe,
    train: &Dataset,
    eval: &Dataset,
    points: usize,
) -> (f32, f32) {
    // Two models in one stack: batched matmuls and grouped convolutions run as in a real zoo.
    let members: Vec<Member> = (0..2)
        .map(|seed| Member {
            index: seed as usize,
            seed,
            indices: (0..points).collect(),
        })
        .collect();
    let run = |device: &Device| {
        let set = TrainSet::new(train, device);
        let model =
            train_stack(&arch(recipe), recipe, &set, &members, device, &mut |_| {}).unwrap();
        stack_logits(&model, &features(eval, device), members.len())
    };
    let (on_gpu, on_cpu) = (run(device), run(&Device::flex()));
    assert_eq!(on_gpu.len(), on_cpu.len());
    let worst = on_gpu
        .iter()
        .zip(&on_cpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = on_cpu.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    (worst, scale)
}

#[test]
fn mlp_steps_on_wgpu_match_flex() {
    let Some(device) = device_or_skip("mlp_steps_on_wgpu_match_flex") else {
        return;
    };
    let data = digits_split();
    let mut recipe = Recipe::named("mlp").unwrap();
    recipe.epochs = 2;
    let (worst, scale) = wgpu_vs_flex(&device, &recipe, &data.train, &data.val, 256);
    println!(
        "mlp: wgpu vs flex after 2 epochs: max |Δlogit| {worst:.2e} (logits up to {scale:.1})"
    );
    // Different summation orders drift over 2 epochs of SGD (3.6e-7 measured on lavapipe); 1e-3
    // leaves room for other drivers and is far below what a wrong kernel gives (O(1)).
    assert!(worst < 1e-3, "wgpu and flex disagree by {worst}");
    assert!(
        scale > 1.0,
        "the models did not train (max |logit| {scale})"
    );
}

#[test]
fn cnn_and_resnet9_steps_on_wgpu_match_flex() {
    let Some(device) = device_or_skip("cnn_and_resnet9_steps_on_wgpu_match_flex") else {
        return;
    };
    // Tiny images keep lavapipe (a CPU) fast: 3×8×8 is the smallest ResNet-9's three pools take.
    let train = synthetic_images(64, [3, 8, 8], 4, 1);
    let eval = synthetic_images(32, [3, 8, 8], 4, 2);
    for (name, model) in [
        (
            "cnn",
            ModelConfig::Cnn {
                channels: vec![4, 8],
            },
        ),
        (
            "resnet9",
            ModelConfig::ResNet9 {
                width: 2,
                scale: 0.125,
            },
        ),
    ] {
        let mut recipe = Recipe::named(name).unwrap();
        recipe.model = model.spec();
        recipe.epochs = 1;
        recipe.batch_size = 16;
        let (worst, scale) = wgpu_vs_flex(&device, &recipe, &train, &eval, 64);
        println!(
            "{name}: wgpu vs flex after 4 steps: max |Δlogit| {worst:.2e} (logits up to {scale:.2})"
        );
        assert!(scale > 0.0, "{name}: all logits zero");
        // Convolutions and batch norm sum in other orders than flex: 1e-3 as for the MLP.
        assert!(worst < 1e-3, "{name}: wgpu and flex disagree by {worst}");
        // ResNet-9's logits are small (×0.125, width 2): also bound the difference relatively.
        assert!(
            worst < 1e-3 * scale,
            "{name}: wgpu and flex disagree by {worst} of {scale}"
        );
    }
}
