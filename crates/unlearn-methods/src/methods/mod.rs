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

/// A built-in method made only from checked parameters, whose `run` is its module's
/// `run(ctx, indices, params)`: the struct, its constructor and its [`crate::UnlearnMethod`]
/// impl.
macro_rules! checked_method {
    ($(#[$doc:meta])* $method:ident, $params:ty, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $method {
            params: $crate::config::Checked<$params>,
        }

        impl $method {
            /// The method with checked parameters.
            pub fn new(params: $crate::config::Checked<$params>) -> Self {
                Self { params }
            }
        }

        impl<A: unlearn_models::Architecture> $crate::method::UnlearnMethod<A> for $method {
            fn name(&self) -> &str {
                $name
            }
            fn params(&self) -> serde_json::Value {
                $crate::methods::params_json(&*self.params)
            }
            fn run(
                &self,
                ctx: &$crate::context::Context<'_, A>,
                indices: &[usize],
            ) -> Result<$crate::method::StackOutput<A::Model>, $crate::MethodError> {
                run(ctx, indices, &self.params)
            }
        }
    };
}
pub(crate) use checked_method;

/// A method's parameters as the JSON its `params` reports.
pub(crate) fn params_json<T: serde::Serialize>(params: &T) -> serde_json::Value {
    serde_json::to_value(params).expect("hyper-parameters serialise")
}

/// The autodiff version of the context's device.
pub fn autodiff(device: &Device) -> Device {
    device.clone().autodiff()
}
