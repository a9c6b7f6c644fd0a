//! Seeded parameter initialisation, one random stream per model of a stack.
//!
//! Values are drawn on the host from ChaCha8 so that a model's initial parameters depend only on
//! its seed: not on the backend, on thread scheduling, or on the other models in its stack.

use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One random stream per model of a stack.
pub struct StackRng {
    rngs: Vec<ChaCha8Rng>,
}

impl StackRng {
    /// Streams for models with the given seeds (the stack size is `seeds.len()`).
    pub fn new(seeds: &[u64]) -> Self {
        Self {
            rngs: seeds
                .iter()
                .map(|&s| ChaCha8Rng::seed_from_u64(s))
                .collect(),
        }
    }

    /// Number of models in the stack.
    pub fn models(&self) -> usize {
        self.rngs.len()
    }

    /// A parameter of shape `[K·shape[0], shape[1..]]` (model-major), uniform in ±`bound`.
    pub fn uniform<const D: usize>(
        &mut self,
        shape: [usize; D],
        bound: f32,
        device: &Device,
    ) -> Param<Tensor<D>> {
        let per_model: usize = shape.iter().product();
        let mut values = Vec::with_capacity(per_model * self.rngs.len());
        for rng in &mut self.rngs {
            values.extend((0..per_model).map(|_| rng.random_range(-bound..=bound)));
        }
        let mut stacked = shape;
        stacked[0] *= self.rngs.len();
        Param::from_tensor(Tensor::from_data(TensorData::new(values, stacked), device))
    }
}

/// A constant parameter of shape `shape` (already including the model axis).
pub fn constant<const D: usize>(
    shape: [usize; D],
    value: f32,
    device: &Device,
) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::full(shape, value, device))
}
