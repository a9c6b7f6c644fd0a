//! Noisy descent (§8): per-example gradients clipped to norm C, averaged, plus Gaussian noise
//! of standard deviation τ, plain SGD on R.
//!
//! burn has no vmap: each example of a batch gets its own backward pass through the stack (one
//! example per model at a time), which yields every model's per-example gradient at once.

use crate::MethodError;
use crate::config::NoisyParams;
use crate::context::Context;
use crate::methods::losses::cross_entropy;
use crate::methods::{StackOutput, autodiff, finished};
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use unlearn_models::{Architecture, StackModel};
use unlearn_train::{OptimizerConfig, optimizer};

const NOISE_STREAM: u64 = 0x004e_4f49_5345;

struct Ids(Vec<(ParamId, Vec<usize>)>);

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if param.is_require_grad() {
            self.0.push((param.id, param.val().dims().to_vec()));
        }
    }
}

fn grad_flat(grads: &GradientsParams, id: ParamId, rank: usize) -> Option<Tensor<1>> {
    match rank {
        1 => grads.get::<1>(id),
        2 => grads.get::<2>(id).map(|t| t.flatten(0, 1)),
        3 => grads.get::<3>(id).map(|t| t.flatten(0, 2)),
        4 => grads.get::<4>(id).map(|t| t.flatten(0, 3)),
        _ => None,
    }
}

fn register(grads: &mut GradientsParams, id: ParamId, shape: &[usize], flat: Tensor<1>) {
    match shape.len() {
        1 => grads.register::<1>(id, flat),
        2 => grads.register::<2>(id, flat.reshape([shape[0], shape[1]])),
        3 => grads.register::<3>(id, flat.reshape([shape[0], shape[1], shape[2]])),
        4 => grads.register::<4>(id, flat.reshape([shape[0], shape[1], shape[2], shape[3]])),
        _ => {}
    }
}

/// Runs noisy descent on the originals `indices`.
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    p: &NoisyParams,
) -> Result<StackOutput<A::Model>, MethodError> {
    let ad = autodiff(&ctx.device);
    let k = indices.len();
    // Per-example gradients come from batches of one: batch norm runs on its running
    // statistics (a one-example batch has no variance to normalise by).
    let mut model = unlearn_models::mode::with_eval_layers(ctx.load_stack(indices, &ad)?);
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    let x = ctx.train_features(&ad);
    let labels = ctx.train_labels(&ad);
    let dim = ctx.input().dim;
    let retain = ctx.retain();
    let mut optim = optimizer::build(&OptimizerConfig::Sgd {
        momentum: 0.0,
        nesterov: false,
        weight_decay: 0.0,
    });
    let seeds: Vec<u64> = indices
        .iter()
        .map(|&i| ctx.originals.manifest.seeds[i] ^ NOISE_STREAM)
        .collect();
    let mut rngs: Vec<ChaCha8Rng> = seeds
        .iter()
        .map(|&s| ChaCha8Rng::seed_from_u64(s))
        .collect();
    let normal = Normal::new(0.0f32, p.noise.max(0.0)).map_err(|e| MethodError::Config {
        method: "noisy-descent".into(),
        what: e.to_string(),
    })?;
    let batch = p.batch_size.clamp(1, retain.len());
    let mut orders = vec![retain.clone(); k];
    let mut examples = 0u64;
    for epoch in 0..p.epochs {
        for (order, rng) in orders.iter_mut().zip(&mut rngs) {
            order.shuffle(rng);
        }
        for (step, start) in (0..retain.len()).step_by(batch).enumerate() {
            let len = batch.min(retain.len() - start);
            let mut sums: Vec<Option<Tensor<2>>> = vec![None; ids.0.len()];
            for e in 0..len {
                let idx: Vec<i64> = orders.iter().map(|o| o[start + e] as i64).collect();
                let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [k]), &ad);
                let xb = x.clone().select(0, idx.clone()).reshape([k, 1, dim]);
                let yb = labels.clone().select(0, idx).reshape([k, 1]);
                let losses = cross_entropy(model.forward(xb), yb, 0.0);
                unlearn_train::trainer::check_finite(&losses, indices, epoch, step)?;
                let grads = GradientsParams::from_grads(losses.sum().backward(), &model);
                // Per-model squared norms of this example's gradient, summed over parameters.
                let per_param: Vec<Option<Tensor<2>>> = ids
                    .0
                    .iter()
                    .map(|(id, shape)| {
                        grad_flat(&grads, *id, shape.len()).map(|g| g.reshape([k as i32, -1]))
                    })
                    .collect();
                let norm2 = per_param
                    .iter()
                    .flatten()
                    .map(|g| (g.clone() * g.clone()).sum_dim(1))
                    .reduce(|a, b| a + b)
                    .expect("the model has parameters");
                let factor = norm2
                    .sqrt()
                    .add_scalar(1e-12)
                    .recip()
                    .mul_scalar(p.clip)
                    .clamp_max(1.0);
                for (sum, g) in sums.iter_mut().zip(per_param) {
                    if let Some(g) = g {
                        let clipped = g * factor.clone();
                        *sum = Some(match sum.take() {
                            Some(s) => s + clipped,
                            None => clipped,
                        });
                    }
                }
            }
            examples += len as u64;
            let mut grads = GradientsParams::new();
            for ((id, shape), sum) in ids.0.iter().zip(sums) {
                let Some(sum) = sum else { continue };
                let width = sum.dims()[1];
                // Noise drawn on the host from each model's own stream: reproducible on any backend.
                let noise: Vec<f32> = rngs
                    .iter_mut()
                    .flat_map(|r| (0..width).map(|_| normal.sample(r)).collect::<Vec<_>>())
                    .collect();
                let noise =
                    Tensor::<2>::from_data(TensorData::new(noise, [k, width]), &sum.device());
                let g = sum.div_scalar(len as f32) + noise;
                register(&mut grads, *id, shape, g.reshape([k * width]));
            }
            model = optim.step(p.lr, model, grads);
        }
    }
    Ok(finished(ctx, &model, k, examples))
}

super::checked_method!(
    /// Noisy descent.
    NoisyDescent,
    NoisyParams,
    "noisy-descent"
);
