//! The GPU code path: a few MLP training steps on wgpu give the same logits as on flex.
//!
//! Built only with `--features wgpu` (`.ci/run` does so after installing Mesa's software Vulkan
//! driver). Without a usable adapter the test prints why and is skipped; with
//! `UNLEARN_REQUIRE_WGPU=1` (set by `.ci/run` once the driver is installed) it fails instead.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::{Device, Tensor};
use common::*;
use unlearn_train::inference::{features, stack_logits};
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

#[test]
fn mlp_steps_on_wgpu_match_flex() {
    let device = match wgpu_device() {
        Ok(device) => device,
        Err(why) => {
            let message = format!(
                "no usable wgpu adapter ({why}); install a Vulkan driver (Debian: mesa-vulkan-drivers)"
            );
            if std::env::var("UNLEARN_REQUIRE_WGPU").is_ok_and(|v| v == "1") {
                panic!("{message}");
            }
            eprintln!("SKIPPED mlp_steps_on_wgpu_match_flex: {message}");
            return;
        }
    };
    let data = digits_split();
    let mut recipe = Recipe::named("mlp").unwrap();
    recipe.epochs = 2;
    // Two models in one stack: the batched matmuls run on the GPU as in a real zoo.
    let members: Vec<Member> = (0..2)
        .map(|seed| Member {
            index: seed as usize,
            seed,
            indices: (0..256).collect(),
        })
        .collect();
    let run = |device: &Device| {
        let set = TrainSet::new(&data.train, device);
        let model =
            train_stack(&arch(&recipe), &recipe, &set, &members, device, &mut |_| {}).unwrap();
        stack_logits(&model, &features(&data.val, device), members.len())
    };
    let on_gpu = run(&device);
    let on_cpu = run(&Device::flex());
    assert_eq!(on_gpu.len(), on_cpu.len());
    let worst = on_gpu
        .iter()
        .zip(&on_cpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = on_cpu.iter().map(|v| v.abs()).fold(0.0f32, f32::max);
    println!("wgpu vs flex after 2 epochs: max |Δlogit| {worst:.2e} (logits up to {scale:.1})");
    // Different summation orders drift over 2 epochs of SGD (3.6e-7 measured on lavapipe); 1e-3
    // leaves room for other drivers and is far below what a wrong kernel gives (O(1)).
    assert!(worst < 1e-3, "wgpu and flex disagree by {worst}");
    assert!(
        scale > 1.0,
        "the models did not train (max |logit| {scale})"
    );
}
