//! The methods. Each runs on a stack of originals at once and returns their unlearned logits.

pub mod del;
pub mod descent;
pub mod direct;
pub mod do_nothing;
pub mod losses;
pub mod matching;
pub mod noisy;
pub mod retrain;
pub mod salun;
pub mod scrub;

use crate::context::Context;
use burn::tensor::Device;
use unlearn_models::Architecture;

pub use crate::method::StackOutput;

/// Logits `K × P × C` of a trained stack (on an autodiff device) on every evaluated point.
pub fn final_logits<A: Architecture>(
    ctx: &Context<'_, A>,
    model: &A::Model,
    models: usize,
) -> (Vec<f32>, A::Model) {
    use burn::module::Module;
    let valid = model.valid();
    let x = ctx.eval_features(&ctx.device);
    (
        unlearn_train::inference::stack_logits(&valid, &x, models),
        valid,
    )
}

/// What a fine-tuning method returns: the trained stack of `models` (in inference mode), its
/// logits on every evaluated point, and the `examples` it cost per model.
pub fn finished<A: Architecture>(
    ctx: &Context<'_, A>,
    model: &A::Model,
    models: usize,
    examples: u64,
) -> StackOutput<A::Model> {
    let (logits, valid) = final_logits(ctx, model, models);
    StackOutput {
        logits,
        model: Some(valid),
        examples,
        member_examples: None,
    }
}

/// A method's parameters as the JSON its `params` reports.
pub(crate) fn params_json<T: serde::Serialize>(params: &T) -> serde_json::Value {
    serde_json::to_value(params).expect("hyper-parameters serialise")
}

/// The autodiff version of the context's device.
pub fn autodiff(device: &Device) -> Device {
    device.clone().autodiff()
}
