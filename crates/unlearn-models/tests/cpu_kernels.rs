//! unlearn's CPU kernels against burn's own operations on the same values: outputs and every
//! gradient of a loss through them, on flex with autodiff.

use burn::nn::BatchNormConfig;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv2d as burn_conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Tensor};
use unlearn_models::burn;
use unlearn_models::cpu_kernels::{batch_norm, conv2d, max_pool_relu, runs_own_kernels};

fn device() -> Device {
    Device::flex().autodiff()
}

fn random<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<D> {
    let device = Device::flex();
    device.seed(seed);
    let t = Tensor::<D>::random(shape, Distribution::Uniform(-1.0, 1.0), &device);
    Tensor::from_data(t.into_data(), &self::device()).require_grad()
}

fn assert_close<const D: usize>(ours: Tensor<D>, theirs: Tensor<D>, what: &str) {
    assert_eq!(ours.dims(), theirs.dims(), "{what}: shapes");
    let (a, b) = (
        ours.into_data().try_to_vec::<f32>().unwrap(),
        theirs.into_data().try_to_vec::<f32>().unwrap(),
    );
    let scale = b.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        worst <= 1e-4 * scale,
        "{what}: max |Δ| {worst} (scale {scale})"
    );
}

#[test]
#[allow(deprecated)] // ndarray stands for every backend that keeps its own kernels
fn the_kernels_run_on_flex_only() {
    assert!(runs_own_kernels(&Device::flex()));
    assert!(runs_own_kernels(&device()));
    assert!(!runs_own_kernels(&Device::ndarray()));
}

#[test]
fn grouped_convolutions_match_burn_forward_and_backward() {
    // (batch, groups, c_in, c_out, side, kernel, stride, padding)
    let cases = [
        (4, 1, 3, 8, 9, 3, 1, 1),
        (3, 4, 2, 3, 8, 3, 1, 1),
        (2, 2, 3, 4, 11, 5, 2, 2),
        (5, 1, 4, 4, 6, 3, 1, 0),
        (2, 3, 2, 2, 2, 3, 1, 1),
    ];
    for (i, &(n, g, ci, co, side, k, s, p)) in cases.iter().enumerate() {
        let seed = 10 * i as u64;
        let x = random([n, g * ci, side, side], seed);
        let w = random([g * co, ci, k, k], seed + 1);
        let b = random([g * co], seed + 2);
        let target = random([1], seed + 3);
        let ours = conv2d(x.clone(), w.clone(), Some(b.clone()), s, p, g);
        let options = ConvOptions::new([s, s], [p, p], [1, 1], g);
        let theirs = burn_conv2d(x.clone(), w.clone(), Some(b.clone()), options);
        assert_close(ours.clone(), theirs.clone(), "conv output");
        // A loss that weights every output differently, so no gradient is a plain sum.
        let weights = random(ours.dims(), seed + 4).detach();
        let loss = |y: Tensor<4>| (y * weights.clone()).sum() + target.clone();
        let grads_ours = loss(ours).backward();
        let grads_theirs = loss(theirs).backward();
        for (name, param) in [("x", &x), ("weight", &w)] {
            let param: &Tensor<4> = param;
            assert_close(
                param.grad(&grads_ours).unwrap(),
                param.grad(&grads_theirs).unwrap(),
                &format!("case {i}: gradient of {name}"),
            );
        }
        assert_close(
            b.grad(&grads_ours).unwrap(),
            b.grad(&grads_theirs).unwrap(),
            "bias gradient",
        );
    }
}

#[test]
fn batch_norm_matches_burn_and_moves_the_running_statistics_alike() {
    let device = device();
    let ours_norm = BatchNormConfig::new(6).init(&device);
    let theirs_norm = BatchNormConfig::new(6).init(&device);
    let x = random([5, 6, 4, 3], 7);
    let weights = random([5, 6, 4, 3], 8).detach();
    let ours = batch_norm(&ours_norm, x.clone());
    let theirs = theirs_norm.forward(x.clone());
    assert_close(ours.clone(), theirs.clone(), "batch norm output");
    let g_ours = (ours * weights.clone()).sum().backward();
    let g_theirs = (theirs * weights).sum().backward();
    assert_close(
        x.grad(&g_ours).unwrap(),
        x.grad(&g_theirs).unwrap(),
        "batch norm dx",
    );
    assert_close(
        ours_norm.gamma.val().grad(&g_ours).unwrap(),
        theirs_norm.gamma.val().grad(&g_theirs).unwrap(),
        "dγ",
    );
    assert_close(
        ours_norm.beta.val().grad(&g_ours).unwrap(),
        theirs_norm.beta.val().grad(&g_theirs).unwrap(),
        "dβ",
    );
    assert_close(
        ours_norm.running_mean.value(),
        theirs_norm.running_mean.value(),
        "running mean",
    );
    assert_close(
        ours_norm.running_var.value(),
        theirs_norm.running_var.value(),
        "running variance",
    );
}

#[test]
fn max_pool_relu_matches_burn() {
    for (kernel, relu_after, side) in [
        ([2, 2], true, 6),
        ([2, 2], false, 7),
        ([3, 3], true, 6),
        ([4, 5], false, 5),
    ] {
        let x = random([3, 4, side, side], kernel[0] as u64);
        let ours = max_pool_relu(x.clone(), kernel, relu_after);
        let pooled = max_pool2d(x.clone(), MaxPoolOptions::new(kernel));
        let theirs = if relu_after { relu(pooled) } else { pooled };
        assert_close(ours.clone(), theirs.clone(), "pool output");
        let weights = random(ours.dims(), 99).detach();
        let g_ours = (ours * weights.clone()).sum().backward();
        let g_theirs = (theirs * weights).sum().backward();
        assert_close(
            x.grad(&g_ours).unwrap(),
            x.grad(&g_theirs).unwrap(),
            "pool dx",
        );
    }
}
