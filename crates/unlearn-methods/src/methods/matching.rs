//! Oracle Matching and Datamodel Matching (§4): fine-tune the original to match target outputs
//! on F (repeated) ∪ a sample of R, with Adam and a per-epoch learning-rate decay.

use super::losses::{gather_targets, squared_error};
use super::{StackOutput, autodiff, final_logits};
use crate::MethodError;
use crate::config::MatchParams;
use crate::context::Context;
use crate::finetune::Engine;
use crate::methods::direct::predicted_logits;
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use unlearn_models::{Architecture, StackModel};
use unlearn_train::{OptimizerConfig, optimizer};

/// Separates the fine-tuning set's randomness from the originals' own streams.
const MATCH_STREAM: u64 = 0x4d41_5443_4821;

/// Where the targets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Logits of held-out oracles (OM).
    Oracle,
    /// The original's logits minus the attribution of F (DMM).
    Datamodel,
}

/// T = F × fm (fractional part: a seeded share of F once more) ∪ rm·|F| retain points.
pub fn fine_tuning_set(
    forget: &[usize],
    retain: &[usize],
    fm: f64,
    rm: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let mut set = Vec::new();
    for _ in 0..fm.floor() as usize {
        set.extend_from_slice(forget);
    }
    let extra = ((fm - fm.floor()) * forget.len() as f64).round() as usize;
    set.extend(
        forget
            .choose_multiple(rng, extra.min(forget.len()))
            .copied(),
    );
    let retain_count = ((rm * forget.len() as f64).round() as usize).min(retain.len());
    set.extend(retain.choose_multiple(rng, retain_count).copied());
    set
}

/// Runs OM or DMM on the originals `indices`.
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    p: &MatchParams,
    target: Target,
) -> Result<StackOutput<A::Model>, MethodError> {
    let name = if target == Target::Oracle {
        "om"
    } else {
        "dmm"
    };
    let (points, classes) = (ctx.points(), ctx.classes());
    let targets: Vec<f32> = match target {
        Target::Oracle => {
            let oracles = ctx
                .target_oracles
                .ok_or_else(|| MethodError::MissingInput {
                    method: name.into(),
                    what: "target oracles (models retrained without F, disjoint from the evaluation oracles)"
                        .into(),
                })?;
            let per = p.oracles_per_target.max(1);
            indices
                .iter()
                .flat_map(|&i| {
                    let mut mean = vec![0.0f32; points * classes];
                    for j in 0..per {
                        for (m, &v) in mean
                            .iter_mut()
                            .zip(oracles.model_logits((i * per + j) % oracles.models))
                        {
                            *m += v / per as f32;
                        }
                    }
                    mean
                })
                .collect()
        }
        Target::Datamodel => {
            let beta = ctx.beta_forget.ok_or_else(|| MethodError::MissingInput {
                method: name.into(),
                what: "attribution rows Σ_{i∈F} β (from datamodels or TRAK)".into(),
            })?;
            predicted_logits(&ctx.original_logits(indices), beta, p.scale)
        }
    };
    let ad = autodiff(&ctx.device);
    let k = indices.len();
    let table = Tensor::<2>::from_data(TensorData::new(targets, [k * points, classes]), &ad);
    let retain = ctx.retain();
    let seeds: Vec<u64> = indices
        .iter()
        .map(|&i| ctx.originals.manifest.seeds[i])
        .collect();
    let sets: Vec<Vec<usize>> = seeds
        .iter()
        .map(|&s| {
            fine_tuning_set(
                &ctx.forget.indices,
                &retain,
                p.forget_multiplier,
                p.retain_multiplier,
                &mut ChaCha8Rng::seed_from_u64(s ^ MATCH_STREAM),
            )
        })
        .collect();
    let mut model = ctx.load_stack(indices, &ad)?;
    let mut optim = optimizer::build(&OptimizerConfig::adam_default());
    let mut engine = Engine {
        x: ctx.train_features(&ad),
        stride: points,
        models: k,
        model_index: indices.to_vec(),
        rngs: seeds
            .iter()
            .map(|&s| ChaCha8Rng::seed_from_u64(s ^ MATCH_STREAM ^ 1))
            .collect(),
        examples: 0,
        epoch: 0,
    };
    let mut loss = |m: &A::Model, b: &crate::finetune::Batch| {
        let t = gather_targets(&table, b.rows.clone(), k, b.len);
        squared_error(m.forward(b.x.clone()), t)
    };
    for epoch in 0..p.epochs {
        let lr = p.lr * p.lr_decay.powi(epoch as i32);
        model = engine.epoch(model, &mut optim, &sets, p.batch_size, lr, &mut loss, None)?;
    }
    let (logits, valid) = final_logits(ctx, &model, k);
    Ok(StackOutput {
        logits,
        model: Some(valid),
        examples: engine.examples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_tuning_set_has_the_published_composition() {
        let forget = [1, 5, 9, 13];
        let retain: Vec<usize> = (20..100).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let set = fine_tuning_set(&forget, &retain, 2.5, 5.0, &mut rng);
        // 2 full copies of F, half of F once more, 5·|F| = 20 distinct retain points.
        assert_eq!(set.len(), 8 + 2 + 20);
        let f_count = set.iter().filter(|i| forget.contains(i)).count();
        assert_eq!(f_count, 10);
        let mut r: Vec<usize> = set.iter().copied().filter(|i| *i >= 20).collect();
        r.sort_unstable();
        r.dedup();
        assert_eq!(r.len(), 20, "retain points are sampled without replacement");
    }
}
