//! ResNet-9's layers timed one by one (`unlearn bench-speed`): where a training step of the
//! network goes, layer by layer, to compare with the step measured whole.

use crate::profile::StepTimes;
use crate::speed::{OpTiming, activation_time, conv_flops, conv_times, profile_stack};
use crate::{Recipe, TrainError, TrainSet};
use burn::nn::BatchNormConfig;
use burn::tensor::Device;
use burn::tensor::activation::relu;
use unlearn_data::synthetic_images;
use unlearn_models::ResNet9Config;
use unlearn_models::cpu_kernels::{batch_norm, max_pool_relu};
use unlearn_models::{Model, ModelConfig};

/// One ResNet-9 of `width` (head scale 0.125) trained with batch `batch` on `points` synthetic
/// 3×32×32 images for a warm-up epoch and a timed one, as the PyTorch reference times it: the
/// timed epoch's samples/s, its phase times and the trained model.
pub fn resnet9_train_rate(
    width: usize,
    batch: usize,
    points: usize,
    device: &Device,
) -> Result<(f64, StepTimes, Model), TrainError> {
    let mut recipe = Recipe::named("resnet9")?;
    recipe.model = ModelConfig::ResNet9(ResNet9Config {
        width,
        scale: 0.125,
    })
    .spec();
    recipe.epochs = 2;
    recipe.batch_size = batch;
    let images = synthetic_images(points, [3, 32, 32], 10, 0);
    let set = TrainSet::new(&images, device);
    let warm_up = points.div_ceil(batch.max(1));
    let (t, model) = profile_stack(&recipe, &set, [1, points, warm_up], device)?;
    Ok((t.samples as f64 / t.total().as_secs_f64(), t, model))
}

/// One convolution block of ResNet-9 (§13): conv 3×3, batch norm, ReLU, optional 2×2 pool.
struct Block {
    name: &'static str,
    c_in: usize,
    c_out: usize,
    size: usize,
    pool: bool,
    /// How often the block's shape occurs in the network (the residual pairs: 2).
    times: usize,
}

/// Forward + backward of every ResNet-9 block of width `width` for a batch of `batch` 32×32
/// images, one model: convolution forward and backward, batch norm, ReLU and max-pool, each
/// multiplied by how often it occurs. Their sum approximates one training step.
pub fn resnet9_op_timings(
    device: &Device,
    width: usize,
    batch: usize,
    repeats: usize,
) -> Vec<OpTiming> {
    let (w1, w2, w4, w8) = (width, 2 * width, 4 * width, 8 * width);
    let blocks = [
        Block {
            name: "prep",
            c_in: 3,
            c_out: w1,
            size: 32,
            pool: false,
            times: 1,
        },
        Block {
            name: "layer1",
            c_in: w1,
            c_out: w2,
            size: 32,
            pool: true,
            times: 1,
        },
        Block {
            name: "res1 (×2)",
            c_in: w2,
            c_out: w2,
            size: 16,
            pool: false,
            times: 2,
        },
        Block {
            name: "layer2",
            c_in: w2,
            c_out: w4,
            size: 16,
            pool: true,
            times: 1,
        },
        Block {
            name: "layer3",
            c_in: w4,
            c_out: w8,
            size: 8,
            pool: true,
            times: 1,
        },
        Block {
            name: "res3 (×2)",
            c_in: w8,
            c_out: w8,
            size: 4,
            pool: false,
            times: 2,
        },
    ];
    let ad = device.clone().autodiff();
    let mut out = Vec::new();
    for b in blocks {
        let n = b.times as f64;
        let label = format!(
            "{} conv {}→{} on {s}×{s}",
            b.name,
            b.c_in,
            b.c_out,
            s = b.size
        );
        let (forward, backward) =
            conv_times(device, 1, batch, [b.c_in, b.c_out, b.size, b.size], repeats);
        out.push(OpTiming {
            name: format!("{label}, forward"),
            ms: n * forward.as_secs_f64() * 1e3,
            flops: n * conv_flops(1, batch, [b.c_in, b.c_out, b.size, b.size]),
        });
        out.push(OpTiming {
            name: format!("{label}, backward"),
            ms: n * backward.as_secs_f64() * 1e3,
            flops: 2.0 * n * conv_flops(1, batch, [b.c_in, b.c_out, b.size, b.size]),
        });
        let shape = [batch, b.c_out, b.size, b.size];
        let norm = BatchNormConfig::new(b.c_out).init(&ad);
        let bn = activation_time(device, shape, repeats, |y| batch_norm(&norm, y));
        out.push(OpTiming {
            name: format!("{} batch norm, forward + backward", b.name),
            ms: n * bn.as_secs_f64() * 1e3,
            flops: 0.0,
        });
        let act = if b.pool {
            activation_time(device, shape, repeats, |y| max_pool_relu(y, [2, 2], true))
        } else {
            activation_time(device, shape, repeats, relu)
        };
        out.push(OpTiming {
            name: format!(
                "{} {}, forward + backward",
                b.name,
                if b.pool { "max-pool + relu" } else { "relu" }
            ),
            ms: n * act.as_secs_f64() * 1e3,
            flops: 0.0,
        });
    }
    out
}

/// The median over the rounds of `ours[i] / baseline[i]` (rounds interleaved, so a busy moment
/// of a shared machine moves one round's ratio, not the median).
pub fn median_ratio(ours: &[f64], baseline: &[f64]) -> f64 {
    let mut ratios: Vec<f64> = ours.iter().zip(baseline).map(|(a, b)| a / b).collect();
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    (ratios[(n - 1) / 2] + ratios[n / 2]) / 2.0
}

/// The best (largest) rate of the rounds: others' load on the machine only ever slows a round.
pub fn best_rate(rates: &[f64]) -> f64 {
    rates.iter().copied().fold(f64::MIN, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_summaries_by_hand() {
        // Ratios 2, 4, 3: median 3; four rounds 1, 2, 3, 4: the mean of the middle two.
        assert_eq!(median_ratio(&[2.0, 4.0, 9.0], &[1.0, 1.0, 3.0]), 3.0);
        assert_eq!(median_ratio(&[4.0, 1.0, 3.0, 2.0], &[1.0; 4]), 2.5);
        assert_eq!(best_rate(&[510.0, 640.0, 600.0]), 640.0);
    }
}
