//! Synthetic image data sets: CIFAR-shaped work for timing and for runs where the real images
//! cannot travel (a GPU machine without network), with enough class structure to be learnt, so
//! accuracy and unlearning scores mean something.

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The spec prefix: `synthetic-cifar10` (50 000 images) or `synthetic-cifar10:N`.
pub const SYNTHETIC_CIFAR10: &str = "synthetic-cifar10";

/// Images in CIFAR-10's training part.
const CIFAR10_TRAIN: usize = 50_000;

/// Seed of the synthetic CIFAR-10 stand-in (fixed: the name must always mean the same data).
const CIFAR10_SEED: u64 = 10;

/// `n` images of `shape` over `classes` classes, from `seed` alone. Each class has a smooth
/// prototype (a few random low-frequency waves per channel); an image is its class's prototype
/// at a random contrast plus white noise of the same size, so classes overlap and a model must
/// learn (and can memorise) them. Labels cycle through the classes in a seeded order.
pub fn synthetic_images(n: usize, shape: [usize; 3], classes: usize, seed: u64) -> Dataset {
    let [channels, height, width] = shape;
    let dim = channels * height * width;
    let classes = classes.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let prototypes: Vec<Vec<f32>> = (0..classes).map(|_| prototype(&mut rng, shape)).collect();
    let mut features = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let label = rng.random_range(0..classes);
        let contrast: f32 = rng.random_range(0.5..1.5);
        features.extend(prototypes[label].iter().map(|&p| {
            let noise: f32 = StandardNormal.sample(&mut rng);
            contrast * p + noise
        }));
        labels.push(label as u32);
    }
    Dataset::new("synthetic", features, labels, dim, classes, Some(shape))
        .expect("shapes agree by construction")
}

/// A class prototype: per channel, the sum of three plane waves of random direction and phase.
fn prototype(rng: &mut ChaCha8Rng, [channels, height, width]: [usize; 3]) -> Vec<f32> {
    let mut image = vec![0f32; channels * height * width];
    for c in 0..channels {
        for _ in 0..3 {
            let (fy, fx): (f32, f32) = (rng.random_range(-3.0..3.0), rng.random_range(-3.0..3.0));
            let phase: f32 = rng.random_range(0.0..std::f32::consts::TAU);
            for y in 0..height {
                for x in 0..width {
                    let (v, u) = (y as f32 / height as f32, x as f32 / width as f32);
                    let wave = (std::f32::consts::TAU * (fy * v + fx * u) + phase).sin();
                    image[(c * height + y) * width + x] += wave;
                }
            }
        }
    }
    image
}

/// The data set `spec` names when it is `synthetic-cifar10` or `synthetic-cifar10:N`; `None` for
/// any other spec.
pub(crate) fn resolve_synthetic(spec: &str) -> Option<Result<Dataset>> {
    let rest = spec.strip_prefix(SYNTHETIC_CIFAR10)?;
    let n = match rest.strip_prefix(':') {
        None if rest.is_empty() => CIFAR10_TRAIN,
        None => return None,
        Some(count) => match count.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Some(Err(DataError::UnknownSpec {
                    spec: spec.to_string(),
                    accepted: format!(
                        "after '{SYNTHETIC_CIFAR10}:' give a positive number of images, e.g. {SYNTHETIC_CIFAR10}:5000"
                    ),
                }));
            }
        },
    };
    let mut data = synthetic_images(n, [3, 32, 32], 10, CIFAR10_SEED);
    data.name = spec.to_string();
    Some(Ok(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_images_and_another_seed_others() {
        let a = synthetic_images(20, [3, 4, 4], 5, 7);
        let b = synthetic_images(20, [3, 4, 4], 5, 7);
        let c = synthetic_images(20, [3, 4, 4], 5, 8);
        assert_eq!(a.content_hash(), b.content_hash());
        assert_ne!(a.content_hash(), c.content_hash());
        assert_eq!((a.len(), a.dim, a.classes), (20, 48, 5));
        assert!(a.labels.iter().all(|&l| l < 5));
    }

    /// A nearest-prototype rule on the class means must beat chance by far: the classes are
    /// learnable, not noise.
    #[test]
    fn classes_are_separable_by_their_means() {
        let data = synthetic_images(2000, [3, 8, 8], 10, 0);
        let (n, d) = (data.len(), data.dim);
        let (train, test) = (0..n / 2, n / 2..n);
        let mut means = vec![vec![0f32; d]; 10];
        let mut counts = [0usize; 10];
        for i in train {
            let l = data.labels[i] as usize;
            counts[l] += 1;
            for (m, x) in means[l].iter_mut().zip(data.row(i)) {
                *m += x;
            }
        }
        for (m, &c) in means.iter_mut().zip(&counts) {
            m.iter_mut().for_each(|v| *v /= c.max(1) as f32);
        }
        let correct = test
            .clone()
            .filter(|&i| {
                let dist = |m: &Vec<f32>| -> f32 {
                    m.iter()
                        .zip(data.row(i))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum()
                };
                let best = (0..10)
                    .min_by(|&a, &b| dist(&means[a]).total_cmp(&dist(&means[b])))
                    .unwrap();
                best == data.labels[i] as usize
            })
            .count();
        let accuracy = correct as f64 / test.len() as f64;
        assert!(accuracy > 0.5, "nearest-mean accuracy {accuracy}");
    }

    #[test]
    fn specs_name_the_count_or_are_refused() {
        let data = resolve_synthetic("synthetic-cifar10:12").unwrap().unwrap();
        assert_eq!(
            (data.len(), data.dim, data.image_shape),
            (12, 3072, Some([3, 32, 32]))
        );
        assert_eq!(data.name, "synthetic-cifar10:12");
        for bad in ["synthetic-cifar10:0", "synthetic-cifar10:x"] {
            let err = resolve_synthetic(bad).unwrap().unwrap_err().to_string();
            assert!(
                err.contains(bad) && err.contains("positive number"),
                "{err}"
            );
        }
        assert!(resolve_synthetic("synthetic-cifar100").is_none());
        assert!(resolve_synthetic("digits").is_none());
    }
}
