//! Gradient baselines (§8): GD (cross-entropy on R), GA (ascent on F), GD+GA (both per epoch),
//! optionally restricted to a localisation mask (§9).

use super::losses::{cross_entropy, gather_labels};
use super::{StackOutput, autodiff, finished};
use crate::MethodError;
use crate::config::{Checked, DescentParams};
use crate::context::Context;
use crate::finetune::{Batch, engine};
use crate::localize::Masks;
use crate::method::UnlearnMethod;
use crate::methods::params_json;
use unlearn_models::{Architecture, StackModel};

const DESCENT_STREAM: u64 = 0x0044_4553_4345_4e54;

/// Which baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Fine-tune on R.
    Gd,
    /// Ascend the loss on F.
    Ga,
    /// Ascent on F then descent on R, per epoch.
    GdGa,
}

/// Runs GD, GA or GD+GA on the originals `indices`.
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    p: &DescentParams,
    variant: Variant,
) -> Result<StackOutput<A::Model>, MethodError> {
    let ad = autodiff(&ctx.device);
    let k = indices.len();
    let mut model = ctx.load_stack(indices, &ad)?;
    let masks = Masks::optional(ctx, &model, indices, p.localize.as_ref(), &ad)?;
    let hook = masks.as_ref().map(|m| m.hook());
    let labels = ctx.train_labels(&ad);
    let forget = vec![ctx.forget.indices.clone(); k];
    let retain = vec![ctx.retain(); k];
    let mut optim = Masks::sgd(&masks, p.momentum, p.weight_decay);
    let mut engine = engine(ctx, indices, &ad, DESCENT_STREAM);
    let mut descend = |m: &A::Model, b: &Batch| {
        cross_entropy(
            m.forward(b.x.clone()),
            gather_labels(&labels, b.points.clone(), k, b.len),
            0.0,
        )
    };
    let mut ascend = |m: &A::Model, b: &Batch| {
        cross_entropy(
            m.forward(b.x.clone()),
            gather_labels(&labels, b.points.clone(), k, b.len),
            0.0,
        )
        .neg()
    };
    for epoch in 1..=p.epochs {
        let ascent = match variant {
            Variant::Ga => true,
            Variant::GdGa => epoch <= p.ascent_epochs,
            Variant::Gd => false,
        };
        if ascent {
            model = engine.epoch(
                model,
                &mut optim,
                &forget,
                p.batch_size,
                p.lr,
                &mut ascend,
                hook.as_deref(),
            )?;
        }
        if variant != Variant::Ga {
            model = engine.epoch(
                model,
                &mut optim,
                &retain,
                p.batch_size,
                p.lr,
                &mut descend,
                hook.as_deref(),
            )?;
        }
    }
    Ok(finished(ctx, &model, k, engine.examples))
}

/// GD, GA or GD+GA.
#[derive(Debug, Clone)]
pub struct Descent {
    variant: Variant,
    params: Checked<DescentParams>,
}

impl Descent {
    /// The `variant` with checked parameters.
    pub fn new(variant: Variant, params: Checked<DescentParams>) -> Self {
        Self { variant, params }
    }
}

impl<A: Architecture> UnlearnMethod<A> for Descent {
    fn name(&self) -> &str {
        match self.variant {
            Variant::Gd => "gd",
            Variant::Ga => "ga",
            Variant::GdGa => "gd-ga",
        }
    }
    fn params(&self) -> serde_json::Value {
        params_json(&*self.params)
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        run(ctx, indices, &self.params, self.variant)
    }
}
