//! SalUn as published (§9): a saliency mask from |∇(−CE)| on F, then fine-tuning on F with
//! random wrong labels together with R, with only the masked weights (and the head) changing.

use super::losses::{cross_entropy, gather_labels};
use super::{StackOutput, autodiff, finished};
use crate::MethodError;
use crate::config::{Localize, LocalizeKind, SalunParams};
use crate::context::Context;
use crate::finetune::Batch;
use crate::localize::Masks;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use unlearn_models::{Architecture, StackModel};

/// Separates the relabelling and shuffling streams from the originals' own.
const SALUN_STREAM: u64 = 0x5341_4c55_4e21;

/// Each forget point's new label for one model: uniform among the classes other than its own.
pub fn wrong_labels(
    labels: &[u32],
    forget: &[usize],
    classes: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<u32> {
    let mut relabelled = labels.to_vec();
    for &i in forget {
        let shift = rng.random_range(1..classes as u32);
        relabelled[i] = (labels[i] + shift) % classes as u32;
    }
    relabelled
}

/// Runs SalUn on the originals `indices`.
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    p: &SalunParams,
) -> Result<StackOutput<A::Model>, MethodError> {
    let classes = ctx.classes();
    if classes < 2 {
        return Err(MethodError::Mismatch(
            "SalUn relabels F with wrong labels: the data need at least 2 classes".into(),
        ));
    }
    let ad = autodiff(&ctx.device);
    let k = indices.len();
    let stride = ctx.points();
    let mut model = ctx.load_stack(indices, &ad)?;
    let spec = Localize {
        kind: LocalizeKind::Salun,
        mask_share: p.mask_share,
    };
    let masks = Masks::compute(ctx, &model, indices, &spec, &ad)?;
    let hook = masks.hook();
    // Per model, the labels of every evaluated point (F relabelled), gathered by `k·stride + i`.
    let train_labels = &ctx.data.train.labels;
    let mut table = Vec::with_capacity(k * stride);
    for &i in indices {
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.originals.manifest.seeds[i] ^ SALUN_STREAM);
        let relabelled = wrong_labels(train_labels, &ctx.forget.indices, classes, &mut rng);
        table.extend(relabelled.iter().map(|&l| i64::from(l)));
        table.extend(std::iter::repeat_n(0i64, stride - relabelled.len()));
    }
    let table = Tensor::<1, Int>::from_data(TensorData::new(table, [k * stride]), &ad);
    let everything: Vec<usize> = (0..ctx.n_train()).collect();
    let sets = vec![everything; k];
    // No weight decay: it would move the entries outside the mask (as for DEL).
    let mut optim = crate::finetune::sgd(p.momentum, 0.0);
    let mut engine = crate::finetune::engine(ctx, indices, &ad, SALUN_STREAM ^ 1);
    let mut loss = |m: &A::Model, b: &Batch| {
        cross_entropy(
            m.forward(b.x.clone()),
            gather_labels(&table, b.rows.clone(), k, b.len),
            0.0,
        )
    };
    for _ in 0..p.epochs {
        model = engine.epoch(
            model,
            &mut optim,
            &sets,
            p.batch_size,
            p.lr,
            &mut loss,
            Some(&*hook),
        )?;
    }
    Ok(finished(ctx, &model, k, engine.examples))
}

super::checked_method!(
    /// SalUn (random relabelling under a saliency mask).
    Salun,
    SalunParams,
    "salun"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forget_points_get_a_label_other_than_their_own_and_the_rest_keep_theirs() {
        let labels: Vec<u32> = (0..200).map(|i| i % 3).collect();
        let forget: Vec<usize> = (0..200).step_by(2).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let new = wrong_labels(&labels, &forget, 3, &mut rng);
        let mut seen = [0usize; 3];
        for i in 0..200 {
            if i % 2 == 0 {
                assert_ne!(new[i], labels[i], "point {i} kept its label");
                seen[new[i] as usize] += 1;
            } else {
                assert_eq!(new[i], labels[i]);
            }
        }
        // Both wrong classes are drawn: every class appears as a new label.
        assert!(seen.iter().all(|&c| c > 10), "{seen:?}");
    }
}
