//! Retrain: the oracle itself, trained from scratch on R with the originals' recipe (cost 1).

use super::StackOutput;
use crate::MethodError;
use crate::config::NoParams;
use crate::context::Context;
use crate::method::UnlearnMethod;
use crate::methods::params_json;
use unlearn_models::Architecture;
use unlearn_train::inference::stack_logits;
use unlearn_train::{Member, TrainSet, train_stack};

/// Retrained models get seeds far from the originals' so they are independent draws.
pub const RETRAIN_SEED_OFFSET: u64 = 1_000_000;

/// Retrains one model per original in `indices`.
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
) -> Result<StackOutput<A::Model>, MethodError> {
    let retain = ctx.retain();
    let members: Vec<Member> = indices
        .iter()
        .map(|&i| Member {
            index: i,
            seed: ctx.originals.manifest.seeds[i] + RETRAIN_SEED_OFFSET,
            indices: retain.clone(),
        })
        .collect();
    let set = TrainSet::new(&ctx.data.train, &ctx.device);
    let recipe = &ctx.originals.manifest.recipe;
    let model = train_stack(ctx.arch, recipe, &set, &members, &ctx.device, &mut |_| {})?;
    let logits = stack_logits(&model, &ctx.eval_features(&ctx.device), indices.len());
    Ok(StackOutput {
        logits,
        model: Some(model),
        examples: (recipe.epochs * retain.len()) as u64,
        member_examples: None,
    })
}

/// Retraining from scratch on R with the originals' recipe (cost 1).
#[derive(Debug, Clone)]
pub struct Retrain;

impl<A: Architecture> UnlearnMethod<A> for Retrain {
    fn name(&self) -> &str {
        "retrain"
    }
    fn params(&self) -> serde_json::Value {
        params_json(&NoParams {})
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        run(ctx, indices)
    }
}
