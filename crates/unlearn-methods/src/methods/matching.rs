//! Oracle Matching and Datamodel Matching (§4): fine-tune the original to match target outputs
//! on F (repeated) ∪ a sample of R, with Adam and a per-epoch learning-rate decay.

use super::losses::{gather_targets, squared_error};
use super::{StackOutput, autodiff, finished};
use crate::MethodError;
use crate::config::{Checked, MatchParams};
use crate::context::Context;
use crate::method::{Inputs, UnlearnMethod};
use crate::methods::direct::predicted_logits;
use crate::methods::params_json;
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use unlearn_models::{Architecture, StackModel};
use unlearn_train::{OptimizerConfig, optimizer};

/// Separates the fine-tuning set's randomness from the originals' own streams.
const MATCH_STREAM: u64 = 0x4d41_5443_4821;

/// Where the targets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Logits of held-out oracles (OM).
    Oracle,
    /// The original's logits minus the attribution of F (DMM).
    Datamodel,
}

/// T = F × fm (fractional part: a seeded share of F once more) ∪ rm·|F| retain points, of
/// which the share `near_share` are the retain points nearest F (`near`, nearest first) and the
/// rest a seeded sample of the others.
pub fn fine_tuning_set(
    forget: &[usize],
    retain: &[usize],
    near: &[usize],
    fm: f64,
    rm: f64,
    near_share: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let mut set = Vec::new();
    for _ in 0..fm.floor() as usize {
        set.extend_from_slice(forget);
    }
    let extra = ((fm - fm.floor()) * forget.len() as f64).round() as usize;
    set.extend(
        forget
            .choose_multiple(rng, extra.min(forget.len()))
            .copied(),
    );
    let retain_count = ((rm * forget.len() as f64).round() as usize).min(retain.len());
    let near_count = ((near_share * retain_count as f64).round() as usize).min(near.len());
    let chosen = &near[..near_count];
    set.extend_from_slice(chosen);
    let others: Vec<usize> = retain
        .iter()
        .copied()
        .filter(|i| !chosen.contains(i))
        .collect();
    set.extend(
        others
            .choose_multiple(rng, retain_count - near_count)
            .copied(),
    );
    set
}

/// Retain points ordered by their distance (Euclidean, input features) to the nearest forget
/// point, nearest first; ties by index. Only the first `limit` are returned.
pub fn nearest_retain(
    features: &[f32],
    dim: usize,
    forget: &[usize],
    retain: &[usize],
    limit: usize,
) -> Vec<usize> {
    let row = |i: usize| &features[i * dim..(i + 1) * dim];
    let mut scored: Vec<(f64, usize)> = retain
        .iter()
        .map(|&r| {
            let d = forget
                .iter()
                .map(|&f| unlearn_data::squared_distance(row(r), row(f)))
                .fold(f64::INFINITY, f64::min);
            (d, r)
        })
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(limit).map(|(_, r)| r).collect()
}

/// Per model, the progress of the matching loss toward its targets.
#[derive(Debug, Clone)]
pub struct Progress {
    first: f64,
    best: f64,
    stale: usize,
}

impl Progress {
    /// Starts from the loss before the first epoch.
    pub fn new(first: f64) -> Self {
        Self {
            first,
            best: first,
            stale: 0,
        }
    }

    /// Records an epoch's loss; true once matched: the loss is at most `loss_share` of the
    /// first, or `patience` epochs in a row have not lowered the best loss by the share
    /// `tolerance`.
    pub fn update(&mut self, loss: f64, p: &MatchParams) -> bool {
        if loss < self.best * (1.0 - p.tolerance) {
            self.best = loss;
            self.stale = 0;
        } else {
            self.stale += 1;
        }
        (p.loss_share > 0.0 && loss <= p.loss_share * self.first) || self.stale >= p.patience.max(1)
    }
}

/// The matching loss of every model of a stack, in eval mode, on a fixed check set: F and a
/// seeded sample of R as large as T's retain share.
struct MatchCheck {
    x: Tensor<3>,
    targets: Tensor<3>,
    /// Points per model.
    len: usize,
}

impl MatchCheck {
    /// `targets`: the stack's target table, `K·P × C` (model-major).
    fn new<A: Architecture>(
        ctx: &Context<'_, A>,
        targets: &[f32],
        k: usize,
        retain: &[usize],
        retain_count: usize,
    ) -> Self {
        let (points, classes) = (ctx.points(), ctx.classes());
        let mut rng = ChaCha8Rng::seed_from_u64(MATCH_STREAM ^ 2);
        let mut check = ctx.forget.indices.clone();
        check.extend(retain.choose_multiple(&mut rng, retain_count.min(retain.len())));
        let len = check.len();
        let rows: Vec<f32> = (0..k)
            .flat_map(|m| {
                check.iter().flat_map(move |&i| {
                    targets[(m * points + i) * classes..(m * points + i + 1) * classes]
                        .iter()
                        .copied()
                })
            })
            .collect();
        let train = &ctx.data.train;
        let x: Vec<f32> = (0..k)
            .flat_map(|_| check.iter().flat_map(|&i| train.row(i).iter().copied()))
            .collect();
        Self {
            x: Tensor::from_data(TensorData::new(x, [k, len, train.dim]), &ctx.device),
            targets: Tensor::from_data(TensorData::new(rows, [k, len, classes]), &ctx.device),
            len,
        }
    }

    fn losses<M: StackModel>(&self, model: &M) -> Vec<f64> {
        squared_error(model.valid().forward(self.x.clone()), self.targets.clone())
            .into_data()
            .iter::<f32>()
            .map(f64::from)
            .collect()
    }
}

/// The logits each original of `indices` is matched to (`K × P × C`): its paired oracle (the
/// mean of `oracles_per_target` of them) for OM, the datamodels' prediction for DMM.
fn target_logits<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    p: &MatchParams,
    target: Target,
    name: &str,
) -> Result<Vec<f32>, MethodError> {
    let (points, classes) = (ctx.points(), ctx.classes());
    Ok(match target {
        Target::Oracle => {
            let oracles = ctx
                .target_oracles
                .ok_or_else(|| MethodError::MissingInput {
                    method: name.into(),
                    what: "target oracles (models retrained without F, disjoint from the evaluation oracles)"
                        .into(),
                })?;
            let per = p.oracles_per_target.max(1);
            indices
                .iter()
                .flat_map(|&i| {
                    let mut mean = vec![0.0f32; points * classes];
                    // Oracle i is the one paired with original i (same seed, when the target zoo
                    // was trained so); a mean takes the next k − 1 as well.
                    for j in 0..per {
                        for (m, &v) in mean
                            .iter_mut()
                            .zip(oracles.model_logits((i + j) % oracles.models))
                        {
                            *m += v / per as f32;
                        }
                    }
                    mean
                })
                .collect()
        }
        Target::Datamodel => {
            let beta = ctx.beta_forget.ok_or_else(|| MethodError::MissingInput {
                method: name.into(),
                what: "attribution rows Σ_{i∈F} β (from datamodels or TRAK)".into(),
            })?;
            predicted_logits(&ctx.prediction_base(indices), beta, p.scale)
        }
    })
}

/// Runs OM or DMM on the originals `indices`.
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    p: &MatchParams,
    target: Target,
) -> Result<StackOutput<A::Model>, MethodError> {
    let name = if target == Target::Oracle {
        "om"
    } else {
        "dmm"
    };
    let (points, classes) = (ctx.points(), ctx.classes());
    let targets = target_logits(ctx, indices, p, target, name)?;
    let ad = autodiff(&ctx.device);
    let k = indices.len();
    let retain = ctx.retain();
    let retain_count = (p.retain_multiplier * ctx.forget.len() as f64).round() as usize;
    let check = MatchCheck::new(ctx, &targets, k, &retain, retain_count);
    let table = Tensor::<2>::from_data(TensorData::new(targets, [k * points, classes]), &ad);
    let seeds: Vec<u64> = indices
        .iter()
        .map(|&i| ctx.originals.manifest.seeds[i])
        .collect();
    let near_limit = (p.near_share * p.retain_multiplier * ctx.forget.len() as f64).ceil() as usize;
    let near = if near_limit > 0 {
        let train = &ctx.data.train;
        nearest_retain(
            &train.features,
            train.dim,
            &ctx.forget.indices,
            &retain,
            near_limit,
        )
    } else {
        Vec::new()
    };
    let mut set_rngs: Vec<ChaCha8Rng> = seeds
        .iter()
        .map(|&s| ChaCha8Rng::seed_from_u64(s ^ MATCH_STREAM))
        .collect();
    let draw = |rngs: &mut [ChaCha8Rng]| -> Vec<Vec<usize>> {
        rngs.iter_mut()
            .map(|rng| {
                fine_tuning_set(
                    &ctx.forget.indices,
                    &retain,
                    &near,
                    p.forget_multiplier,
                    p.retain_multiplier,
                    p.near_share,
                    rng,
                )
            })
            .collect()
    };
    let mut sets = draw(&mut set_rngs);
    let mut model = ctx.load_stack(indices, &ad)?;
    let mut optim = optimizer::build(&OptimizerConfig::adam_default());
    let mut engine = crate::finetune::engine(ctx, indices, &ad, MATCH_STREAM ^ 1);
    let mut loss = |m: &A::Model, b: &crate::finetune::Batch| {
        let t = gather_targets(&table, b.rows.clone(), k, b.len);
        squared_error(m.forward(b.x.clone()), t)
    };
    let anchor = (p.pull > 0.0).then(|| crate::pull::Anchor::of(&model));
    let steps = sets[0]
        .len()
        .div_ceil(p.batch_size.clamp(1, sets[0].len().max(1)));
    // The criterion watches the matching loss on a fixed check set (forward only, eval mode):
    // unlike the epoch's loss it does not wander with the retain sample.
    let mut progress: Vec<Progress> = check
        .losses(&model)
        .into_iter()
        .map(Progress::new)
        .collect();
    let mut checks = 1u64;
    // A check passes its points forward only: about a third of a forward+backward each.
    let spent = |engine_examples: u64, checks: u64| {
        engine_examples + (checks * check.len as u64).div_ceil(3)
    };
    // A model that has matched is kept as it was then, with what it had cost, while the rest of
    // its stack goes on: each model stops as it would alone, whatever its stack.
    let mut matched: Vec<Option<(A::Model, u64)>> = (0..k).map(|_| None).collect();
    for epoch in 0..p.epochs {
        if p.resample && epoch > 0 {
            sets = draw(&mut set_rngs);
        }
        let lr = p.lr * p.lr_decay.powi(epoch as i32);
        model = engine.epoch(model, &mut optim, &sets, p.batch_size, lr, &mut loss, None)?;
        if let Some(anchor) = &anchor {
            let keep = (1.0 - (lr * p.pull).min(1.0)).powi(steps as i32);
            model = anchor.pull(model, 1.0 - keep);
        }
        checks += 1;
        for (j, (pr, loss)) in progress.iter_mut().zip(check.losses(&model)).enumerate() {
            if matched[j].is_none() && pr.update(loss, p) {
                let model_j = unlearn_models::stacking::extract(&model, j, k);
                matched[j] = Some((model_j, spent(engine.examples, checks)));
            }
        }
        let budget = p.max_cost * ctx.retrain_examples() as f64;
        if matched.iter().all(Option::is_some)
            || (p.max_cost > 0.0 && engine.examples as f64 >= budget)
        {
            break;
        }
    }
    let total = spent(engine.examples, checks);
    if matched.iter().all(Option::is_none) {
        return Ok(finished(ctx, &model, k, total));
    }
    let member_examples = matched
        .iter()
        .map(|m| m.as_ref().map_or(total, |(_, examples)| *examples))
        .collect();
    let members: Vec<A::Model> = matched
        .into_iter()
        .enumerate()
        .map(|(j, m)| match m {
            Some((model_j, _)) => model_j,
            None => unlearn_models::stacking::extract(&model, j, k),
        })
        .collect();
    let kept = unlearn_models::stacking::concat(model.valid(), &members);
    let mut output = finished(ctx, &kept, k, total);
    output.member_examples = Some(member_examples);
    Ok(output)
}

/// Oracle Matching (target: oracles' logits) or Datamodel Matching (target: z − s·Σβ).
#[derive(Debug, Clone)]
pub struct Matching {
    target: Target,
    params: Checked<MatchParams>,
}

impl Matching {
    /// Matching of `target` with checked parameters.
    pub fn new(target: Target, params: Checked<MatchParams>) -> Self {
        Self { target, params }
    }
}

impl<A: Architecture> UnlearnMethod<A> for Matching {
    fn name(&self) -> &str {
        match self.target {
            Target::Oracle => "om",
            Target::Datamodel => "dmm",
        }
    }
    fn params(&self) -> serde_json::Value {
        params_json(&*self.params)
    }
    fn inputs(&self) -> Inputs {
        match self.target {
            Target::Oracle => Inputs::ORACLES,
            Target::Datamodel => Inputs::ATTRIBUTION,
        }
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        run(ctx, indices, &self.params, self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_has_matched_when_its_loss_is_small_or_has_stalled_for_patience_epochs() {
        let p = MatchParams {
            tolerance: 0.02,
            loss_share: 0.05,
            patience: 2,
            ..crate::config::defaults::dmm()
        };
        let mut m = Progress::new(1.0);
        assert!(!m.update(0.5, &p)); // improving
        assert!(!m.update(0.6, &p)); // worse: stale 1
        assert!(!m.update(0.45, &p)); // a new best by > 2 %: stale 0
        assert!(!m.update(0.445, &p)); // 1.1 % better: stale 1
        assert!(m.update(0.442, &p)); // still within 2 % of 0.45: stale 2 = patience
        // Small enough outright.
        assert!(Progress::new(1.0).update(0.04, &p));
        // loss_share 0 never stops on size alone.
        let p0 = MatchParams {
            loss_share: 0.0,
            ..p
        };
        assert!(!Progress::new(1.0).update(0.0, &p0));
    }

    #[test]
    fn fine_tuning_set_has_the_published_composition() {
        let forget = [1, 5, 9, 13];
        let retain: Vec<usize> = (20..100).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let set = fine_tuning_set(&forget, &retain, &[], 2.5, 5.0, 0.0, &mut rng);
        // 2 full copies of F, half of F once more, 5·|F| = 20 distinct retain points.
        assert_eq!(set.len(), 8 + 2 + 20);
        let f_count = set.iter().filter(|i| forget.contains(i)).count();
        assert_eq!(f_count, 10);
        let mut r: Vec<usize> = set.iter().copied().filter(|i| *i >= 20).collect();
        r.sort_unstable();
        r.dedup();
        assert_eq!(r.len(), 20, "retain points are sampled without replacement");
    }

    #[test]
    fn a_share_of_the_retain_points_are_the_nearest_to_the_forget_set() {
        // Points on a line at x = i; F = {10, 30}; retain = the rest of 0..40.
        let features: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let forget = [10, 30];
        let retain: Vec<usize> = (0..40).filter(|i| !forget.contains(i)).collect();
        let near = nearest_retain(&features, 1, &forget, &retain, 6);
        // Distance 1: 9, 11, 29, 31; distance 2: 8, 12 (ties by index).
        assert_eq!(near, vec![9, 11, 29, 31, 8, 12]);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // rm 4 → 8 retain points, half of them (4) the nearest.
        let set = fine_tuning_set(&forget, &retain, &near, 1.0, 4.0, 0.5, &mut rng);
        assert_eq!(set.len(), 2 + 8);
        assert_eq!(&set[2..6], &[9, 11, 29, 31]);
        let mut rest: Vec<usize> = set[6..].to_vec();
        rest.sort_unstable();
        rest.dedup();
        assert_eq!(rest.len(), 4);
        assert!(rest.iter().all(|i| ![9, 11, 29, 31, 10, 30].contains(i)));
    }
}
