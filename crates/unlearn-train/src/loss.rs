//! Per-model cross-entropy for a stack.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// Mean cross-entropy of each model over its batch: logits `[K, B, C]`, labels `[K, B]` → `[K]`.
///
/// With `smoothing` ε the target is (1−ε)·onehot + ε/C.
pub fn cross_entropy_per_model(
    logits: Tensor<3>,
    labels: Tensor<2, Int>,
    smoothing: f32,
) -> Tensor<1> {
    let [k, b, _] = logits.dims();
    let log_p = log_softmax(logits, 2);
    let nll = log_p
        .clone()
        .gather(2, labels.reshape([k, b, 1]))
        .neg()
        .reshape([k, b]);
    let mut per_example = nll;
    if smoothing > 0.0 {
        let uniform = log_p.mean_dim(2).neg().reshape([k, b]);
        per_example = per_example.mul_scalar(1.0 - smoothing) + uniform.mul_scalar(smoothing);
    }
    per_example.mean_dim(1).reshape([k])
}
