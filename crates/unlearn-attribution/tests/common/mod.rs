#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// A synthetic linear datamodel problem: `y = b + X β* + ε`.
pub struct Synth {
    pub models: usize,
    pub points: usize,
    pub targets: usize,
    pub masks: Vec<u8>,
    pub outputs: Vec<f32>,
    /// Row-major points × targets.
    pub beta: Vec<f64>,
    pub intercept: Vec<f64>,
    pub noise: f64,
}

/// Draws masks with inclusion probability `alpha`, a β* with a share `density` of non-zeros
/// (each ±U(0.5, 1.5)), intercepts U(−2, 2), and Gaussian noise of sd `noise`.
pub fn synth(
    models: usize,
    points: usize,
    targets: usize,
    density: f64,
    noise: f64,
    seed: u64,
) -> Synth {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut beta = vec![0.0f64; points * targets];
    for v in beta.iter_mut() {
        if rng.random::<f64>() < density {
            let mag = rng.random_range(0.5..1.5);
            *v = if rng.random::<bool>() { mag } else { -mag };
        }
    }
    let intercept: Vec<f64> = (0..targets).map(|_| rng.random_range(-2.0..2.0)).collect();
    let synth = Synth {
        models: 0,
        points,
        targets,
        masks: Vec::new(),
        outputs: Vec::new(),
        beta,
        intercept,
        noise,
    };
    extend(synth, models, 0.5, &mut rng)
}

/// Draws `models` more models of the same ground truth (new masks, new noise).
pub fn more_models(s: &Synth, models: usize, seed: u64) -> Synth {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let fresh = Synth {
        models: 0,
        points: s.points,
        targets: s.targets,
        masks: Vec::new(),
        outputs: Vec::new(),
        beta: s.beta.clone(),
        intercept: s.intercept.clone(),
        noise: s.noise,
    };
    extend(fresh, models, 0.5, &mut rng)
}

fn extend(mut s: Synth, models: usize, alpha: f64, rng: &mut ChaCha8Rng) -> Synth {
    let normal = Normal::new(0.0, 1.0).unwrap();
    for _ in 0..models {
        let row: Vec<u8> = (0..s.points)
            .map(|_| (rng.random::<f64>() < alpha) as u8)
            .collect();
        let mut y = s.intercept.clone();
        for (i, &x) in row.iter().enumerate() {
            if x == 1 {
                for (yt, b) in y
                    .iter_mut()
                    .zip(&s.beta[i * s.targets..(i + 1) * s.targets])
                {
                    *yt += b;
                }
            }
        }
        for yt in y.iter_mut() {
            *yt += s.noise * normal.sample(rng);
        }
        s.masks.extend_from_slice(&row);
        s.outputs.extend(y.iter().map(|&v| v as f32));
        s.models += 1;
    }
    s
}

pub fn max_abs_err(est: &[f32], truth: &[f64]) -> f64 {
    est.iter()
        .zip(truth)
        .map(|(&a, &b)| (a as f64 - b).abs())
        .fold(0.0, f64::max)
}

pub fn rel_l2_err(est: &[f32], truth: &[f64]) -> f64 {
    let num: f64 = est
        .iter()
        .zip(truth)
        .map(|(&a, &b)| (a as f64 - b).powi(2))
        .sum();
    let den: f64 = truth.iter().map(|b| b * b).sum();
    (num / den).sqrt()
}

pub fn assert_close_rel(a: &[f32], b: &[f32], rel: f64) {
    assert_eq!(a.len(), b.len());
    let scale = b
        .iter()
        .map(|v| v.abs() as f64)
        .fold(0.0, f64::max)
        .max(1e-12);
    for (k, (x, y)) in a.iter().zip(b).enumerate() {
        let d = (*x as f64 - *y as f64).abs();
        assert!(
            d <= rel * scale,
            "entry {k}: {x} vs {y} (diff {d}, allowed {})",
            rel * scale
        );
    }
}
