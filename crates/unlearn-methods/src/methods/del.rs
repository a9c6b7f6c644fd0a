//! DEL (§9): localise on F, reset the selected weights to a fresh initialisation, fine-tune
//! only them on R.

use crate::MethodError;
use crate::config::DelParams;
use crate::context::Context;
use crate::finetune::{Batch, engine, sgd};
use crate::localize::{Masks, reset};
use crate::methods::losses::{cross_entropy, gather_labels};
use crate::methods::{StackOutput, autodiff, finished};
use unlearn_models::{Architecture, StackModel};
use unlearn_train::Schedule;

const DEL_STREAM: u64 = 0x0044_454c;

/// DEL: localise on F, reset the selection, fine-tune it on R (cosine to 0.01·lr, no decay).
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    p: &DelParams,
) -> Result<StackOutput<A::Model>, MethodError> {
    let ad = autodiff(&ctx.device);
    let k = indices.len();
    let model = ctx.load_stack(indices, &ad)?;
    let masks = Masks::compute(ctx, &model, indices, &p.localize, &ad)?;
    let mut model = reset(ctx, model, indices, &masks, &ad)?;
    let hook = masks.hook();
    let labels = ctx.train_labels(&ad);
    let retain = vec![ctx.retain(); k];
    let mut optim = sgd(0.9, 0.0);
    let mut engine = engine(ctx, indices, &ad, DEL_STREAM);
    let mut loss = |m: &A::Model, b: &Batch| {
        cross_entropy(
            m.forward(b.x.clone()),
            gather_labels(&labels, b.points.clone(), k, b.len),
            0.0,
        )
    };
    let schedule = Schedule::Cosine {
        final_fraction: 0.01,
    };
    // Cosine per step, as published, so the rate falls smoothly within short fine-tunes too.
    for epoch in 0..p.epochs {
        let lr = |share: f64| schedule.lr(p.lr, epoch as f64 + share, p.epochs);
        model = engine.epoch_scheduled(
            model,
            &mut optim,
            &retain,
            p.batch_size,
            &lr,
            &mut loss,
            Some(&*hook),
        )?;
    }
    // The localisation pass on F counts as one forward+backward of every forget point.
    let examples = engine.examples + ctx.forget.indices.len() as u64;
    Ok(finished(ctx, &model, k, examples))
}

super::checked_method!(
    /// DEL.
    Del,
    DelParams,
    "del"
);
