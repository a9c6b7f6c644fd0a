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
    /// Running statistics numbered so far ([`StackRng::running_id`]).
    running: u64,
}

/// First id of running statistics: far above the positions that saving gives the parameters
/// ([`crate::PositionalIds`]), so the two never meet.
const RUNNING_ID_BASE: u64 = 1 << 48;

impl StackRng {
    /// Streams for models with the given seeds (the stack size is `seeds.len()`).
    pub fn new(seeds: &[u64]) -> Self {
        assert!(!seeds.is_empty(), "a stack needs at least one model");
        Self {
            rngs: seeds
                .iter()
                .map(|&s| ChaCha8Rng::seed_from_u64(s))
                .collect(),
            running: 0,
        }
    }

    /// A fixed id for one layer's running statistics (batch norm's mean or variance), numbered
    /// in the order the layers are built. burn draws such ids at random and a checkpoint records
    /// them; saving renumbers parameters but cannot renumber running states, so they get theirs
    /// here, and two runs of the same model write the same bytes.
    pub fn running_id(&mut self) -> burn::module::ParamId {
        self.running += 1;
        burn::module::ParamId::from(RUNNING_ID_BASE + self.running)
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

/// Redraws the weights and biases of any burn module from `seed` alone, with PyTorch's default
/// bound ±1/√fan_in: 2-D `weight`s are burn `Linear` weights `[in, out]` (fan-in `in`), 3-D and
/// 4-D ones convolutions `[out, in, k…]` (fan-in `in·k…`), a `bias` takes its layer's bound.
/// Other parameters (batch-norm `gamma`/`beta`, running statistics) keep their constant values.
///
/// burn's own initialisers draw from the device's random state, which parallel workers share; this
/// makes a user's module depend on its seed only, as the built-ins do.
pub fn reseed<M: burn::module::Module>(module: M, seed: u64) -> M {
    module.map(&mut Reseed {
        rng: ChaCha8Rng::seed_from_u64(seed),
        path: Vec::new(),
        bound: None,
    })
}

struct Reseed {
    rng: ChaCha8Rng,
    path: Vec<String>,
    bound: Option<f32>,
}

impl burn::module::ModuleMapper for Reseed {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let dims = param.val().dims();
        let bound = match (self.path.last().map(String::as_str), D) {
            (Some("weight"), 2) => Some(1.0 / (dims[0] as f32).sqrt()),
            (Some("weight"), 3..) => {
                Some(1.0 / (dims[1..].iter().product::<usize>() as f32).sqrt())
            }
            (Some("bias"), _) => self.bound,
            _ => None,
        };
        let Some(bound) = bound else {
            return param;
        };
        if self.path.last().map(String::as_str) == Some("weight") {
            self.bound = Some(bound);
        }
        let require_grad = param.is_require_grad();
        let count: usize = dims.iter().product();
        let values: Vec<f32> = (0..count)
            .map(|_| self.rng.random_range(-bound..=bound))
            .collect();
        let rng_free = param.map(|t| Tensor::from_data(TensorData::new(values, dims), &t.device()));
        rng_free.set_require_grad(require_grad)
    }
}
