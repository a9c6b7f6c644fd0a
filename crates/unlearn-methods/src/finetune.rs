//! The fine-tuning engine every gradient-based method shares: a stack of models, each with its
//! own ordered set of training points, advanced one epoch at a time under a per-model loss.

use crate::MethodError;
use crate::context::Context;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use unlearn_models::{Architecture, StackModel, draws};
use unlearn_train::{OptimizerConfig, optimizer};

/// One batch as the loss sees it: features `[K, b, d]`, and the flat indices of the points
/// (`[K·b]`, into the training set) together with the same indices offset by `k·offset` for
/// gathering per-model targets.
pub struct Batch {
    /// Features, `[K, b, d]`.
    pub x: Tensor<3>,
    /// Point indices, model-major, `[K·b]`.
    pub points: Tensor<1, Int>,
    /// `k·stride + point` for model `k`, `[K·b]` (see [`Engine::stride`]).
    pub rows: Tensor<1, Int>,
    /// Points per model in this batch.
    pub len: usize,
}

/// Computes the per-model losses `[K]` of a batch.
pub type LossFn<'a, M> = dyn FnMut(&M, &Batch) -> Tensor<1> + 'a;
/// Rewrites gradients before the optimiser sees them (e.g. masks them).
pub type GradHook<'a> = dyn Fn(GradientsParams) -> GradientsParams + 'a;

/// State shared across the epochs of one method run.
pub struct Engine {
    /// Training features `[n, d]` on the autodiff device.
    pub x: Tensor<2>,
    /// Row stride of per-model target tables (the number of evaluated points).
    pub stride: usize,
    /// Models in the stack.
    pub models: usize,
    /// Global index of each model, for messages.
    pub model_index: Vec<usize>,
    /// One shuffling stream per model.
    pub rngs: Vec<ChaCha8Rng>,
    /// Examples passed forward and backward so far, per model (the cost unit of §3).
    pub examples: u64,
    /// Epochs run so far (for messages).
    pub epoch: usize,
    /// Seeds of the stack's models and the fine-tune's stream, for the random draws of forward
    /// passes (dropout): step seeds from [`unlearn_models::draws::step_seed`].
    pub draw_seeds: (Vec<u64>, u64),
}

impl Engine {
    /// One pass over each model's `points` (shuffled with its own stream) with `loss`, a step of
    /// `optim` at learning rate `lr` per batch. Every model must have equally many points.
    #[allow(clippy::too_many_arguments)]
    pub fn epoch<M: StackModel>(
        &mut self,
        model: M,
        optim: &mut ModuleOptimizer,
        points: &[Vec<usize>],
        batch: usize,
        lr: f64,
        loss: &mut LossFn<'_, M>,
        hook: Option<&GradHook<'_>>,
    ) -> Result<M, MethodError> {
        self.epoch_scheduled(model, optim, points, batch, &|_| lr, loss, hook)
    }

    /// [`Engine::epoch`] with a learning rate per step: `lr(f)` for the share `f` ∈ [0, 1) of
    /// the epoch done before the step.
    #[allow(clippy::too_many_arguments)]
    pub fn epoch_scheduled<M: StackModel>(
        &mut self,
        mut model: M,
        optim: &mut ModuleOptimizer,
        points: &[Vec<usize>],
        batch: usize,
        lr: &dyn Fn(f64) -> f64,
        loss: &mut LossFn<'_, M>,
        hook: Option<&GradHook<'_>>,
    ) -> Result<M, MethodError> {
        let per_model = points[0].len();
        if points.iter().any(|p| p.len() != per_model) || points.len() != self.models {
            return Err(MethodError::Mismatch(
                "every model of a stack needs equally many fine-tuning points".into(),
            ));
        }
        self.epoch += 1;
        if per_model == 0 {
            return Ok(model);
        }
        let mut orders = points.to_vec();
        for (order, rng) in orders.iter_mut().zip(&mut self.rngs) {
            order.shuffle(rng);
        }
        let device = self.x.device();
        let dim = self.x.dims()[1];
        let batch = batch.clamp(1, per_model);
        let k = self.models;
        for (step, start) in (0..per_model).step_by(batch).enumerate() {
            let len = batch.min(per_model - start);
            let flat: Vec<i64> = orders
                .iter()
                .flat_map(|o| o[start..start + len].iter().map(|&i| i as i64))
                .collect();
            let rows: Vec<i64> = flat
                .iter()
                .enumerate()
                .map(|(j, &i)| (j / len * self.stride) as i64 + i)
                .collect();
            let points = Tensor::<1, Int>::from_data(TensorData::new(flat, [k * len]), &device);
            let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [k * len]), &device);
            let x = self
                .x
                .clone()
                .select(0, points.clone())
                .reshape([k, len, dim]);
            let inputs = Batch {
                x,
                points,
                rows,
                len,
            };
            let losses = if model.draws_randomness() {
                let (seeds, stream) = &self.draw_seeds;
                let seed = draws::step_seed(seeds, *stream, self.epoch, step);
                draws::with_seeded_draws(&device, seed, || loss(&model, &inputs))
            } else {
                loss(&model, &inputs)
            };
            // The engine's epoch counter already counts from 1.
            unlearn_train::trainer::check_finite(&losses, &self.model_index, self.epoch - 1, step)?;
            let mut grads = GradientsParams::from_grads(losses.sum().backward(), &model);
            if let Some(hook) = hook {
                grads = hook(grads);
            }
            model = optim.step(lr(start as f64 / per_model as f64), model, grads);
            self.examples += len as u64;
        }
        Ok(model)
    }
}

/// SGD with momentum and weight decay as the baselines use it (PyTorch's conventions: no
/// dampening, decay added to the gradient); part of the stable fine-tuning API.
pub fn sgd(momentum: f64, weight_decay: f32) -> burn::optim::ModuleOptimizer {
    optimizer::build(&OptimizerConfig::Sgd {
        momentum,
        nesterov: false,
        weight_decay,
    })
}

/// A fresh engine over the stack of originals `indices`, with one shuffling stream per model
/// (model `i`'s seed xor `stream`): what a method of one's own fine-tunes with.
pub fn engine<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    ad: &burn::tensor::Device,
    stream: u64,
) -> Engine {
    Engine {
        x: ctx.train_features(ad),
        stride: ctx.points(),
        models: indices.len(),
        model_index: indices.to_vec(),
        rngs: indices
            .iter()
            .map(|&i| ChaCha8Rng::seed_from_u64(ctx.originals.manifest.seeds[i] ^ stream))
            .collect(),
        examples: 0,
        epoch: 0,
        draw_seeds: (
            indices
                .iter()
                .map(|&i| ctx.originals.manifest.seeds[i])
                .collect(),
            stream,
        ),
    }
}
