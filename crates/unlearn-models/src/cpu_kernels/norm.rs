//! Batch normalisation in training mode, forward and backward, in one pass over the data each
//! (docs/algorithms.md §13): flex computes it from a dozen tensor operations with transposed
//! copies, an order of magnitude slower on the feature maps of a small ResNet.
//!
//! Data are `[batch, channels, plane]` (`plane` = height·width). Statistics are summed per
//! channel in f64, in a fixed order, so results do not depend on the thread count.

use super::zeros;
use rayon::prelude::*;

/// What the forward pass keeps for the backward one and returns to the running statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct NormStats {
    /// Per channel mean of the batch.
    pub mean: Vec<f32>,
    /// Per channel biased variance of the batch.
    pub variance: Vec<f32>,
}

/// `Σ f(a_i, b_i)` over one plane, in eight f32 lanes so the loop vectorises; each lane sums
/// an eighth of one plane (128 terms on 32×32 maps), the planes are then added in f64. `N` sums
/// at once (`f` returns one term of each), so one pass over the data serves them all.
fn lanes<const N: usize>(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> [f32; N]) -> [f64; N] {
    let mut acc = [[0.0f32; 8]; N];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            let terms = f(x[k], y[k]);
            for (lane, term) in acc.iter_mut().zip(terms) {
                lane[k] += term;
            }
        }
    }
    let mut tail = [0.0f32; N];
    for (x, y) in ra.iter().zip(rb) {
        for (t, term) in tail.iter_mut().zip(f(*x, *y)) {
            *t += term;
        }
    }
    std::array::from_fn(|i| acc[i].iter().map(|&v| v as f64).sum::<f64>() + tail[i] as f64)
}

/// Per channel, the sums over the batch's planes of `plane(a_plane, b_plane, channel)`, in f64
/// and in a fixed order: `[channels]` of `N` sums.
fn per_channel<const N: usize>(
    a: &[f32],
    b: &[f32],
    [batch, channels, plane]: [usize; 3],
    f: impl Fn(&[f32], &[f32], usize) -> [f64; N] + Sync,
) -> Vec<[f64; N]> {
    (0..channels)
        .into_par_iter()
        .map(|c| {
            (0..batch).fold([0.0f64; N], |mut sums, n| {
                let start = (n * channels + c) * plane;
                let terms = f(&a[start..start + plane], &b[start..start + plane], c);
                sums.iter_mut().zip(terms).for_each(|(s, t)| *s += t);
                sums
            })
        })
        .collect()
}

/// `(x − mean)/√(var + ε)·γ + β` with the batch's own statistics.
pub fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    shape: [usize; 3],
    epsilon: f64,
) -> (Vec<f32>, NormStats) {
    let [batch, channels, plane] = shape;
    let count = (batch * plane).max(1) as f64;
    let mean: Vec<f64> = per_channel(x, x, shape, |p, _, _| lanes(p, p, |v, _| [v]))
        .into_iter()
        .map(|[s]| s / count)
        .collect();
    let variance: Vec<f64> = per_channel(x, x, shape, |p, _, c| {
        let m = mean[c] as f32;
        lanes(p, p, |v, _| [(v - m) * (v - m)])
    })
    .into_iter()
    .map(|[s]| s / count)
    .collect();
    let scale: Vec<f32> = (0..channels)
        .map(|c| (gamma[c] as f64 / (variance[c] + epsilon).sqrt()) as f32)
        .collect();
    let shift: Vec<f32> = (0..channels)
        .map(|c| beta[c] - (mean[c] as f32) * scale[c])
        .collect();
    let mut out = zeros(x.len());
    if plane > 0 {
        out.par_chunks_mut(plane)
            .zip(x.par_chunks(plane))
            .enumerate()
            .for_each(|(k, (y, x))| {
                let c = k % channels;
                let (a, b) = (scale[c], shift[c]);
                y.iter_mut().zip(x).for_each(|(y, x)| *y = x * a + b);
            });
    }
    let stats = NormStats {
        mean: mean.iter().map(|&m| m as f32).collect(),
        variance: variance.iter().map(|&v| v as f32).collect(),
    };
    (out, stats)
}

/// Gradients of `forward` from the output gradient: `(dx, dγ, dβ)`.
pub fn backward(
    x: &[f32],
    gamma: &[f32],
    stats: &NormStats,
    grad: &[f32],
    shape: [usize; 3],
    epsilon: f64,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let [batch, channels, plane] = shape;
    let count = (batch * plane).max(1) as f64;
    let inv_std: Vec<f64> = stats
        .variance
        .iter()
        .map(|&v| 1.0 / (v as f64 + epsilon).sqrt())
        .collect();
    let mean: Vec<f64> = stats.mean.iter().map(|&m| m as f64).collect();
    // Σ g, and Σ g·x̂ = Σ g·(x − mean)·inv_std (centred before summing so no cancellation), in
    // one pass.
    let (grad_sum, grad_normalized): (Vec<f64>, Vec<f64>) =
        per_channel(grad, x, shape, |g, x, c| {
            let m = mean[c] as f32;
            lanes(g, x, |g, x| [g, g * (x - m)])
        })
        .into_iter()
        .zip(&inv_std)
        .map(|([sum, centred], i)| (sum, centred * i))
        .unzip();
    // dx = γ·inv_std·(g − Σg/M − x̂·Σ(g·x̂)/M), written as dx = a·g + b·x + d per channel.
    let coefficients: Vec<[f32; 3]> = (0..channels)
        .map(|c| {
            let a = gamma[c] as f64 * inv_std[c];
            let slope = grad_normalized[c] * inv_std[c] / count;
            let b = -a * slope;
            let d = -a * grad_sum[c] / count + a * slope * mean[c];
            [a as f32, b as f32, d as f32]
        })
        .collect();
    let mut dx = zeros(x.len());
    if plane > 0 {
        dx.par_chunks_mut(plane)
            .zip(x.par_chunks(plane).zip(grad.par_chunks(plane)))
            .enumerate()
            .for_each(|(k, (dx, (x, g)))| {
                let [a, b, d] = coefficients[k % channels];
                for ((dx, x), g) in dx.iter_mut().zip(x).zip(g) {
                    *dx = a * g + b * x + d;
                }
            });
    }
    let to_f32 = |v: Vec<f64>| v.into_iter().map(|s| s as f32).collect::<Vec<_>>();
    (dx, to_f32(grad_normalized), to_f32(grad_sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 997) as f32 / 300.0 - 1.5
            })
            .collect()
    }

    /// The output of the definition, per element, in f64.
    fn reference(
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        [n, c, p]: [usize; 3],
        eps: f64,
    ) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for ch in 0..c {
            let idx: Vec<usize> = (0..n)
                .flat_map(|b| (0..p).map(move |i| (b * c + ch) * p + i))
                .collect();
            let m = idx.iter().map(|&i| x[i] as f64).sum::<f64>() / idx.len() as f64;
            let v = idx.iter().map(|&i| (x[i] as f64 - m).powi(2)).sum::<f64>() / idx.len() as f64;
            for &i in &idx {
                out[i] = (x[i] as f64 - m) / (v + eps).sqrt() * gamma[ch] as f64 + beta[ch] as f64;
            }
        }
        out
    }

    #[test]
    fn forward_normalises_each_channel() {
        let shape = [3, 4, 5];
        let (x, g, b) = (values(60, 1), values(4, 2), values(4, 3));
        let (y, stats) = forward(&x, &g, &b, shape, 1e-5);
        for (a, r) in y.iter().zip(reference(&x, &g, &b, shape, 1e-5)) {
            assert!((*a as f64 - r).abs() < 1e-4);
        }
        assert_eq!(stats.mean.len(), 4);
    }

    /// Every gradient against central differences of ⟨forward(x, γ, β), g⟩ in f64.
    #[test]
    fn backward_matches_finite_differences() {
        let shape = [3, 2, 4];
        let eps = 1e-3;
        let (x, gamma, beta, g) = (values(24, 1), values(2, 5), values(2, 9), values(24, 4));
        let (_, stats) = forward(&x, &gamma, &beta, shape, eps);
        let (dx, dgamma, dbeta) = backward(&x, &gamma, &stats, &g, shape, eps);
        let loss = |x: &[f32], gamma: &[f32], beta: &[f32]| -> f64 {
            reference(x, gamma, beta, shape, eps)
                .iter()
                .zip(&g)
                .map(|(y, g)| y * *g as f64)
                .sum()
        };
        let h = 1e-2f32;
        let check = |analytic: f32, plus: f64, minus: f64| {
            let numeric = (plus - minus) / (2.0 * h as f64);
            assert!(
                (analytic as f64 - numeric).abs() < 2e-3 * (1.0 + numeric.abs()),
                "{analytic} vs {numeric}"
            );
        };
        for i in 0..x.len() {
            let (mut p, mut m) = (x.clone(), x.clone());
            p[i] += h;
            m[i] -= h;
            check(dx[i], loss(&p, &gamma, &beta), loss(&m, &gamma, &beta));
        }
        for c in 0..2 {
            let (mut p, mut m) = (gamma.clone(), gamma.clone());
            p[c] += h;
            m[c] -= h;
            check(dgamma[c], loss(&x, &p, &beta), loss(&x, &m, &beta));
            let (mut p, mut m) = (beta.clone(), beta.clone());
            p[c] += h;
            m[c] -= h;
            check(dbeta[c], loss(&x, &gamma, &p), loss(&x, &gamma, &m));
        }
    }
}
