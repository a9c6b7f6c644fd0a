//! SCRUB (§8): the student (a copy of the original) moves away from the frozen teacher (the
//! original) on F and stays close to it, and correct, on R. Only the student is updated: the
//! teacher's outputs are the original's stored logits, which nothing here can change.

use super::losses::{cross_entropy, distillation_kl, gather_labels, gather_targets};
use super::{StackOutput, autodiff, finished};
use crate::MethodError;
use crate::config::ScrubParams;
use crate::context::Context;
use crate::finetune::Batch;
use crate::finetune::engine;
use crate::localize::Masks;
use burn::tensor::{Tensor, TensorData};
use unlearn_models::{Architecture, StackModel};

const SCRUB_STREAM: u64 = 0x0053_4352_5542;

/// Runs SCRUB on the originals `indices`.
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    p: &ScrubParams,
) -> Result<StackOutput<A::Model>, MethodError> {
    let ad = autodiff(&ctx.device);
    let k = indices.len();
    let (points, classes) = (ctx.points(), ctx.classes());
    let teacher = Tensor::<2>::from_data(
        TensorData::new(ctx.original_logits(indices), [k * points, classes]),
        &ad,
    );
    let mut student = ctx.load_stack(indices, &ad)?;
    let masks = Masks::optional(ctx, &student, indices, p.localize.as_ref(), &ad)?;
    let hook = masks.as_ref().map(|m| m.hook());
    let labels = ctx.train_labels(&ad);
    let forget = vec![ctx.forget.indices.clone(); k];
    let retain = vec![ctx.retain(); k];
    let mut optim = Masks::sgd(&masks, 0.9, 5e-4);
    let mut engine = engine(ctx, indices, &ad, SCRUB_STREAM);
    let t = p.temperature;
    let mut max_step = |m: &A::Model, b: &Batch| {
        let z_t = gather_targets(&teacher, b.rows.clone(), k, b.len);
        distillation_kl(m.forward(b.x.clone()), z_t, t).neg()
    };
    let (ce_w, kl_w) = (p.ce_weight, p.kl_weight);
    let mut min_step = |m: &A::Model, b: &Batch| {
        let z_s = m.forward(b.x.clone());
        let z_t = gather_targets(&teacher, b.rows.clone(), k, b.len);
        let y = gather_labels(&labels, b.points.clone(), k, b.len);
        cross_entropy(z_s.clone(), y, 0.0).mul_scalar(ce_w)
            + distillation_kl(z_s, z_t, t).mul_scalar(kl_w)
    };
    for epoch in 1..=p.epochs {
        let decays = p.decay_epochs.iter().filter(|&&d| epoch > d).count() as i32;
        let lr = p.lr * 0.1f64.powi(decays);
        if epoch <= p.max_steps {
            student = engine.epoch(
                student,
                &mut optim,
                &forget,
                p.batch_size,
                lr,
                &mut max_step,
                hook.as_deref(),
            )?;
        }
        student = engine.epoch(
            student,
            &mut optim,
            &retain,
            p.batch_size,
            lr,
            &mut min_step,
            hook.as_deref(),
        )?;
    }
    Ok(finished(ctx, &student, k, engine.examples))
}

super::checked_method!(
    /// SCRUB.
    Scrub,
    ScrubParams,
    "scrub"
);
