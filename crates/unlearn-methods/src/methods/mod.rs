//! The methods. Each runs on a stack of originals at once and returns their unlearned logits.

pub mod descent;
pub mod direct;
pub mod losses;
pub mod matching;
pub mod retrain;
pub mod scrub;

use crate::MethodError;
use crate::config::MethodConfig;
use crate::context::Context;
use burn::tensor::Device;
use unlearn_models::Model;

/// What a method returns for a stack of originals.
pub struct StackOutput {
    /// Unlearned logits, `K × P × C`.
    pub logits: Vec<f32>,
    /// The unlearned models as one stack, when the method makes networks.
    pub model: Option<Model>,
    /// Examples passed forward and backward per model (§3's numerator).
    pub examples: u64,
}

/// Runs `config` on the originals `indices` (one stack).
pub fn run_stack(
    config: &MethodConfig,
    ctx: &Context<'_>,
    indices: &[usize],
) -> Result<StackOutput, MethodError> {
    match config {
        MethodConfig::DoNothing => Ok(StackOutput {
            logits: ctx.original_logits(indices),
            model: None,
            examples: 0,
        }),
        MethodConfig::Retrain => retrain::run(ctx, indices),
        MethodConfig::DmDirect { scale } => direct::run(ctx, indices, *scale),
        MethodConfig::Om(p) => matching::run(ctx, indices, p, matching::Target::Oracle),
        MethodConfig::Dmm(p) => matching::run(ctx, indices, p, matching::Target::Datamodel),
        MethodConfig::Gd(p) => descent::run(ctx, indices, p, descent::Variant::Gd),
        MethodConfig::Ga(p) => descent::run(ctx, indices, p, descent::Variant::Ga),
        MethodConfig::GdGa(p) => descent::run(ctx, indices, p, descent::Variant::GdGa),
        MethodConfig::Scrub(p) => scrub::run(ctx, indices, p),
        MethodConfig::NoisyDescent(p) => crate::noisy::run(ctx, indices, p),
        MethodConfig::Del(p) => crate::localize::run_del(ctx, indices, p),
    }
}

/// Logits `K × P × C` of a trained stack (on an autodiff device) on every evaluated point.
pub fn final_logits(ctx: &Context<'_>, model: &Model, models: usize) -> (Vec<f32>, Model) {
    use burn::module::Module;
    let valid = model.valid();
    let x = ctx.eval_features(&ctx.device);
    (
        unlearn_train::inference::stack_logits(&valid, &x, models),
        valid,
    )
}

/// The autodiff version of the context's device.
pub fn autodiff(device: &Device) -> Device {
    device.clone().autodiff()
}
