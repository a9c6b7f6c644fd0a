//! Doing nothing: the originals unchanged (cost 0), the bar every method must clear.

use crate::MethodError;
use crate::config::NoParams;
use crate::context::Context;
use crate::method::{StackOutput, UnlearnMethod};
use crate::methods::params_json;
use unlearn_models::Architecture;

/// The original models unchanged (cost 0).
#[derive(Debug, Clone)]
pub struct DoNothing;

impl<A: Architecture> UnlearnMethod<A> for DoNothing {
    fn name(&self) -> &str {
        "do-nothing"
    }
    fn params(&self) -> serde_json::Value {
        params_json(&NoParams {})
    }
    fn makes_models(&self) -> bool {
        false
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        Ok(StackOutput {
            logits: ctx.original_logits(indices),
            model: None,
            examples: 0,
            member_examples: None,
        })
    }
}
