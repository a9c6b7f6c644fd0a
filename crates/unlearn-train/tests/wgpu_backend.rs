//! The GPU code path: a few training steps of the MLP, the small CNN (grouped convolutions,
//! max-pool), a narrow ResNet-9 (batch norm, residual blocks) and an ONNX ResNet (the
//! interpreter) on wgpu give the same logits as on flex ([`unlearn_train::agreement`], which `unlearn bench-speed --agreement` runs too).
//!
//! Built only with `--features wgpu` (`.ci/run` does so after installing Mesa's software Vulkan
//! driver). Without a usable adapter the test prints why and is skipped; with
//! `UNLEARN_REQUIRE_WGPU=1` (set by `.ci/run` once the driver is installed) it fails instead.
#![cfg(feature = "wgpu")]

use burn::tensor::Device;
use unlearn_train::Backend;
use unlearn_train::agreement::{TOLERANCE, probe, standard_cases};

/// The wgpu device, or `None` (test skipped, with the reason) where no adapter answers; with
/// `UNLEARN_REQUIRE_WGPU=1` a missing adapter fails the test instead.
fn device_or_skip(test: &str) -> Option<Device> {
    let device = Backend::Wgpu.device().expect("built with the wgpu feature");
    match probe(&device) {
        Ok(()) => Some(device),
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

#[test]
fn mlp_cnn_and_resnet9_steps_on_wgpu_match_flex() {
    let Some(device) = device_or_skip("mlp_cnn_and_resnet9_steps_on_wgpu_match_flex") else {
        return;
    };
    let cases = standard_cases(&device, &Device::flex()).unwrap();
    assert_eq!(cases.len(), 3);
    for case in &cases {
        println!(
            "{}: wgpu vs flex max |Δlogit| {:.2e} (logits up to {:.2})",
            case.case, case.max_abs_diff, case.max_abs_logit
        );
        // ResNet-9's logits are small (×0.125, width 2), hence the relative bound as well.
        assert!(case.max_abs_logit > 0.0, "{}: all logits zero", case.case);
        assert!(
            case.agrees(),
            "{}: wgpu and flex disagree by {} (logits up to {}; tolerance {TOLERANCE} absolute and relative)",
            case.case,
            case.max_abs_diff,
            case.max_abs_logit
        );
    }
    // The MLP must have trained for the comparison to mean anything.
    assert!(cases[0].max_abs_logit > 1.0, "the MLP did not train");
}

#[test]
fn an_onnx_resnet_steps_on_wgpu_as_on_flex() {
    let Some(device) = device_or_skip("an_onnx_resnet_steps_on_wgpu_as_on_flex") else {
        return;
    };
    // The torchvision-style ResNet fixture (batch norm, projected shortcut, padded max pool,
    // adaptive average pool) run by the ONNX interpreter: burn's own kernels on wgpu, unlearn's
    // CPU kernels on flex.
    let graph =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx/resnet.onnx");
    let config = unlearn_models::OnnxConfig::open(&graph).unwrap();
    let mut recipe =
        unlearn_train::Recipe::for_model(unlearn_models::ModelConfig::Onnx(config).spec());
    recipe.epochs = 1;
    recipe.batch_size = 16;
    let train = unlearn_data::synthetic_images(64, [1, 8, 8], 3, 1);
    let eval = unlearn_data::synthetic_images(32, [1, 8, 8], 3, 2);
    let case = unlearn_train::agreement::compare(
        "onnx resnet, 4 steps",
        &recipe,
        &train,
        &eval,
        64,
        &device,
        &Device::flex(),
    )
    .unwrap();
    println!(
        "{}: wgpu vs flex max |Δlogit| {:.2e} (logits up to {:.2})",
        case.case, case.max_abs_diff, case.max_abs_logit
    );
    assert!(case.max_abs_logit > 0.0, "all logits zero");
    assert!(
        case.agrees(),
        "wgpu and flex disagree by {}",
        case.max_abs_diff
    );
}
