//! Evaluation-mode layers on a training device. On an autodiff device burn's batch norm (and
//! dropout) run in training mode unless their training flag is off; a pass that needs gradients
//! but must see the model as it predicts (scoring parameters on the forget set, per-example
//! gradients of one-example batches) turns the flags off with [`with_eval_layers`]. Parameters
//! and their ids are untouched, so gradients still land on the model's own parameters.

use burn::module::{Flag, Module, ModuleMapper, Param};

struct EvalFlags;

impl ModuleMapper for EvalFlags {
    fn map_flag(&mut self, flag: Param<Flag>) -> Param<Flag> {
        flag.with_value(false)
    }
}

/// `module` with every layer's training flag off: batch norm uses its running statistics (and
/// leaves them unchanged), dropout is the identity.
pub fn with_eval_layers<M: Module>(module: M) -> M {
    module.map(&mut EvalFlags)
}
