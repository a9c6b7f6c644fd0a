//! Per-model losses on a batch of a stack (`[K, b, C]` logits → `[K]`).

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};

pub use unlearn_train::loss::cross_entropy_per_model as cross_entropy;

/// Gathers per-model rows of a `[K·P, C]` target table: `[K·b]` row indices → `[K, b, C]`.
pub fn gather_targets(
    table: &Tensor<2>,
    rows: Tensor<1, Int>,
    models: usize,
    len: usize,
) -> Tensor<3> {
    let classes = table.dims()[1];
    table
        .clone()
        .select(0, rows)
        .reshape([models, len, classes])
}

/// Labels of the batch's points: `[K·b]` → `[K, b]`.
pub fn gather_labels(
    labels: &Tensor<1, Int>,
    points: Tensor<1, Int>,
    models: usize,
    len: usize,
) -> Tensor<2, Int> {
    labels.clone().select(0, points).reshape([models, len])
}

/// Mean over batch × classes of (target − logits)², per model (§4's matching loss).
pub fn squared_error(logits: Tensor<3>, targets: Tensor<3>) -> Tensor<1> {
    let [k, _, _] = logits.dims();
    let diff = targets - logits;
    (diff.clone() * diff)
        .reshape([k as i32, -1])
        .mean_dim(1)
        .reshape([k])
}

/// T²·KL(softmax(teacher/T) ‖ softmax(student/T)), mean over the batch, per model (SCRUB).
pub fn distillation_kl(student: Tensor<3>, teacher: Tensor<3>, temperature: f32) -> Tensor<1> {
    let [k, _, _] = student.dims();
    let t = temperature;
    let p_teacher = softmax(teacher.clone().div_scalar(t), 2);
    let log_teacher = log_softmax(teacher.div_scalar(t), 2);
    let log_student = log_softmax(student.div_scalar(t), 2);
    let kl = (p_teacher * (log_teacher - log_student)).sum_dim(2);
    kl.reshape([k as i32, -1])
        .mean_dim(1)
        .reshape([k])
        .mul_scalar(t * t)
}
