//! The open method interface: what an unlearning method is to the runner, the CLI and the bench.
//!
//! A method is a validated value (its hyper-parameters checked) implementing [`UnlearnMethod`]
//! for any architecture. The [`crate::MethodRegistry`] builds one from a name and JSON
//! overrides; the built-ins are its first entries and a user's method is registered beside them.

use crate::MethodError;
use crate::context::Context;
use unlearn_models::Architecture;

/// What a method needs besides the originals and the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Target oracles: models retrained without F, disjoint from the evaluation oracles.
    pub oracles: bool,
    /// Attribution rows Σ_{i∈F} β (from datamodels or TRAK).
    pub attribution: bool,
}

impl Inputs {
    /// Nothing beyond the originals and the data.
    pub const NONE: Inputs = Inputs {
        oracles: false,
        attribution: false,
    };
    /// Target oracles.
    pub const ORACLES: Inputs = Inputs {
        oracles: true,
        attribution: false,
    };
    /// Attribution rows.
    pub const ATTRIBUTION: Inputs = Inputs {
        oracles: false,
        attribution: true,
    };
}

/// What a method returns for a stack of originals.
pub struct StackOutput<M> {
    /// Unlearned logits, `K × P × C` (every train point, then every validation point).
    pub logits: Vec<f32>,
    /// The unlearned models as one stack, when the method makes networks.
    pub model: Option<M>,
    /// Examples passed forward and backward per model: the numerator of the cost
    /// (docs/algorithms.md §3); the most any model of the stack cost when `member_examples` is set.
    pub examples: u64,
    /// Examples of each model when the models of the stack stopped apart (matching keeps each
    /// model as it was when it matched); `None`: every model cost `examples`.
    pub member_examples: Option<Vec<u64>>,
}

impl<M> StackOutput<M> {
    /// Examples passed forward and backward for model `member` of the stack.
    pub fn examples_of(&self, member: usize) -> u64 {
        self.member_examples
            .as_ref()
            .and_then(|e| e.get(member).copied())
            .unwrap_or(self.examples)
    }
}

/// An unlearning method with its hyper-parameters, run on a stack of originals at once.
///
/// Required: [`UnlearnMethod::name`], [`UnlearnMethod::params`] and [`UnlearnMethod::run`];
/// a method that needs target oracles or attribution says so in [`UnlearnMethod::inputs`], and
/// the runner checks them before any work starts.
pub trait UnlearnMethod<A: Architecture>: Send + Sync {
    /// The registry name (`gd`, `dmm`, …).
    fn name(&self) -> &str;

    /// The hyper-parameters as a JSON object: recorded in the unlearned zoo's manifest (and so
    /// its configuration hash) and shown in reports.
    fn params(&self) -> serde_json::Value;

    /// Inputs the method needs.
    fn inputs(&self) -> Inputs {
        Inputs::NONE
    }

    /// False for methods that only compute logits (no network), such as doing nothing; their
    /// zoos then keep the originals' checkpoints.
    fn makes_models(&self) -> bool {
        true
    }

    /// Unlearns the originals `indices` (one stack; `indices.len()` ≤ the architecture's
    /// `max_stack`), returning their logits on every evaluated point.
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError>;
}

/// Refuses a context that lacks an input `method` needs.
pub fn check_inputs<A: Architecture>(
    method: &dyn UnlearnMethod<A>,
    ctx: &Context<'_, A>,
) -> Result<(), MethodError> {
    let needs = method.inputs();
    if needs.oracles && ctx.target_oracles.is_none() {
        return Err(MethodError::MissingInput {
            method: method.name().into(),
            what:
                "target oracles (models retrained without F, disjoint from the evaluation oracles)"
                    .into(),
        });
    }
    if needs.attribution && ctx.beta_forget.is_none() {
        return Err(MethodError::MissingInput {
            method: method.name().into(),
            what: "attribution rows Σ_{i∈F} β (from datamodels or TRAK)".into(),
        });
    }
    Ok(())
}
