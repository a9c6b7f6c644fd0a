//! Model output functions (TRAK's "model output"): which scalar of a model's logits is
//! differentiated for each example.
//!
//! - [`Margin`]: `f = z_y − logsumexp_{c≠y} z_c` (docs/algorithms.md §1). It is the output function
//!   of the train side of TRAK: cross-entropy is `log(1 + e^{−f})`, so `∂ℓ/∂f = −(1 − p_y)`, the
//!   weight `Q` of [`LossOutput::out_to_loss`].
//! - [`ClassLogit`]: `f = z_c` for the target's class `c`, the per-class output DMM needs for β's
//!   class axis.
//!
//! Each row of a gradient batch is a [`Target`]: a point, its label and the class whose output is
//! wanted.

use burn::tensor::{Int, Tensor, TensorData};

/// One row of a gradient batch: a point, its true label and (for per-class outputs) a class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Row of the point in the feature matrix it comes from.
    pub point: usize,
    /// True label of the point.
    pub label: u32,
    /// Class of the output (ignored by [`Margin`]).
    pub class: u32,
}

impl Target {
    /// One margin target per point: `labels.len()` targets, target `j` = point `j`.
    pub fn margins(labels: &[u32]) -> Vec<Target> {
        labels
            .iter()
            .enumerate()
            .map(|(point, &label)| Target {
                point,
                label,
                class: label,
            })
            .collect()
    }

    /// One target per (point, class), point-major: target `point · classes + class`, the layout
    /// of β's last two axes.
    pub fn class_logits(labels: &[u32], classes: usize) -> Vec<Target> {
        labels
            .iter()
            .enumerate()
            .flat_map(|(point, &label)| {
                (0..classes as u32).map(move |class| Target {
                    point,
                    label,
                    class,
                })
            })
            .collect()
    }
}

/// A scalar output of the logits per example, differentiable.
pub trait ModelOutput: Send + Sync {
    /// Short name (for reports).
    fn name(&self) -> &'static str;

    /// Outputs `[B]` of logits `[B, C]`, row `b` for `targets[b]`.
    fn outputs(&self, logits: Tensor<2>, targets: &[Target]) -> Tensor<1>;

    /// The same output computed on the host from one row of logits (for checks and tests).
    fn output_host(&self, logits: &[f32], target: &Target) -> f32;
}

/// An output function that the training loss is a function of, with the derivative TRAK needs.
pub trait LossOutput: ModelOutput {
    /// `Q = −∂ℓ/∂f` at one example (logits of that example, its label).
    fn out_to_loss(&self, logits: &[f32], label: u32) -> f32;
}

/// The margin `z_y − logsumexp_{c≠y} z_c`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Margin;

/// The logit of the target's class.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClassLogit;

fn index_column(
    values: impl Iterator<Item = u32>,
    rows: usize,
    device: &burn::tensor::Device,
) -> Tensor<2, Int> {
    let v: Vec<i64> = values.map(|c| c as i64).collect();
    Tensor::from_data(TensorData::new(v, [rows, 1]), device)
}

impl ModelOutput for Margin {
    fn name(&self) -> &'static str {
        "margin"
    }

    fn outputs(&self, logits: Tensor<2>, targets: &[Target]) -> Tensor<1> {
        let [b, c] = logits.dims();
        let device = logits.device();
        let label = index_column(targets.iter().map(|t| t.label), b, &device);
        let z_y = logits.clone().gather(1, label);
        let mut mask = vec![0.0f32; b * c];
        for (r, t) in targets.iter().enumerate() {
            mask[r * c + t.label as usize] = 1.0;
        }
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [b, c]), &device);
        // The true class pushed to −1e30 drops out of the sum (exp underflows to exactly 0).
        let others = logits - mask.mul_scalar(1e30);
        // A detached shift keeps logsumexp stable without changing its gradient.
        let shift = others.clone().max_dim(1).detach();
        let lse = (others - shift.clone()).exp().sum_dim(1).log() + shift;
        (z_y - lse).reshape([b])
    }

    fn output_host(&self, logits: &[f32], target: &Target) -> f32 {
        margin(logits, target.label)
    }
}

impl LossOutput for Margin {
    fn out_to_loss(&self, logits: &[f32], label: u32) -> f32 {
        one_minus_p(logits, label)
    }
}

impl ModelOutput for ClassLogit {
    fn name(&self) -> &'static str {
        "class-logit"
    }

    fn outputs(&self, logits: Tensor<2>, targets: &[Target]) -> Tensor<1> {
        let [b, _] = logits.dims();
        let class = index_column(targets.iter().map(|t| t.class), b, &logits.device());
        logits.gather(1, class).reshape([b])
    }

    fn output_host(&self, logits: &[f32], target: &Target) -> f32 {
        logits[target.class as usize]
    }
}

/// The margin of one row of logits, computed stably in f64.
pub fn margin(logits: &[f32], label: u32) -> f32 {
    let y = label as usize;
    let max = logits
        .iter()
        .enumerate()
        .filter(|&(c, _)| c != y)
        .map(|(_, &z)| z as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = logits
        .iter()
        .enumerate()
        .filter(|&(c, _)| c != y)
        .map(|(_, &z)| (z as f64 - max).exp())
        .sum();
    (logits[y] as f64 - max - sum.ln()) as f32
}

/// `1 − softmax_y(z)`, computed as the mass of the other classes (no cancellation when p_y ≈ 1).
pub fn one_minus_p(logits: &[f32], label: u32) -> f32 {
    let y = label as usize;
    let max = logits
        .iter()
        .map(|&z| z as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let (mut others, mut total) = (0.0f64, 0.0f64);
    for (c, &z) in logits.iter().enumerate() {
        let e = (z as f64 - max).exp();
        total += e;
        if c != y {
            others += e;
        }
    }
    (others / total) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_margin_and_q() {
        let z = [2.0f32, 0.0, -1.0];
        let m = margin(&z, 0);
        let want = 2.0 - ((0.0f64).exp() + (-1.0f64).exp()).ln();
        assert!((m as f64 - want).abs() < 1e-6);
        let q = one_minus_p(&z, 0);
        let p0 = 2.0f64.exp() / (2.0f64.exp() + 1.0 + (-1.0f64).exp());
        assert!((q as f64 - (1.0 - p0)).abs() < 1e-6);
        assert_eq!(
            Target::class_logits(&[1, 0], 3)[4],
            Target {
                point: 1,
                label: 0,
                class: 1
            }
        );
    }
}
