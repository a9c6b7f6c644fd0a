//! Localised unlearning (§9): score parameters on the forget set (DEL: |θ ⊙ ∇(−CE)| with channel
//! scores; SalUn: |∇(−CE)|), keep the top share ρ of each model's entries as its mask, then
//! (DEL) reset the masked weights to a fresh initialisation and fine-tune only them on R.

use crate::MethodError;
use crate::config::{Localize, LocalizeKind};
use crate::context::Context;
use crate::finetune::sgd;
use crate::methods::losses::{cross_entropy, gather_labels};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use std::collections::HashMap;
use unlearn_models::{Architecture, StackModel};

/// Fresh initialisations for resets use seeds far from the originals'.
const RESET_SEED_OFFSET: u64 = 2_000_000;

/// Every float parameter in visiting order: id, shape and values.
struct Params {
    entries: Vec<(ParamId, Vec<usize>, Vec<f32>)>,
}

impl ModuleVisitor for Params {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param
            .val()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        self.entries
            .push((param.id, param.val().dims().to_vec(), values));
    }
}

fn params_of<M: Module>(model: &M) -> Vec<(ParamId, Vec<usize>, Vec<f32>)> {
    let mut p = Params {
        entries: Vec::new(),
    };
    model.visit(&mut p);
    p.entries
}

/// Per-parameter 0/1 masks of a stack, in visiting order (`None`: never touched, e.g. running
/// statistics), and the gradient masks (the head fully trainable).
pub struct Masks {
    /// Selection masks (flattened like the parameter), for resets.
    pub selected: Vec<Option<Vec<f32>>>,
    /// Gradient masks by parameter id, `(shape, values)`.
    gradient: HashMap<ParamId, (Vec<usize>, Vec<f32>)>,
    device: Device,
}

/// The score of one model's chunk of a parameter; `per_model_shape` excludes the model axis.
fn chunk_scores(
    kind: LocalizeKind,
    theta: &[f32],
    grad: &[f32],
    per_model_shape: &[usize],
    linear_layout: bool,
) -> Vec<f32> {
    let raw: Vec<f32> = match kind {
        LocalizeKind::Del => theta.iter().zip(grad).map(|(t, g)| (t * g).abs()).collect(),
        LocalizeKind::Salun => grad.iter().map(|g| g.abs()).collect(),
    };
    if kind == LocalizeKind::Salun || per_model_shape.iter().filter(|&&d| d > 1).count() < 2 {
        return raw;
    }
    // Channel granularity: view as [out_channels, rest]; linear weights are stored [in, out].
    let (outs, rest) = if linear_layout {
        (
            per_model_shape[per_model_shape.len() - 1],
            raw.len() / per_model_shape[per_model_shape.len() - 1],
        )
    } else {
        (per_model_shape[0], raw.len() / per_model_shape[0])
    };
    let index = |o: usize, r: usize| {
        if linear_layout {
            r * outs + o
        } else {
            o * rest + r
        }
    };
    let h = (outs / 10).max(1).min(rest);
    let mut scores = vec![0.0; raw.len()];
    for o in 0..outs {
        let mut row: Vec<f32> = (0..rest).map(|r| raw[index(o, r)]).collect();
        row.sort_unstable_by(|a, b| b.total_cmp(a));
        let channel = row[..h].iter().sum::<f32>() / h as f32;
        for r in 0..rest {
            scores[index(o, r)] = channel;
        }
    }
    scores
}

impl Masks {
    /// Scores the stack on F and selects each model's top `spec.mask_share` of entries.
    pub fn compute<A: Architecture>(
        ctx: &Context<'_, A>,
        model: &A::Model,
        indices: &[usize],
        spec: &Localize,
        ad: &Device,
    ) -> Result<Self, MethodError> {
        spec.check_share()
            .map_err(|source| MethodError::OutOfRange {
                method: "localize".into(),
                source,
            })?;
        let k = indices.len();
        let f = ctx.forget.indices.len();
        let labels = ctx.train_labels(ad);
        let points: Vec<i64> = (0..k)
            .flat_map(|_| ctx.forget.indices.iter().map(|&i| i as i64))
            .collect();
        let points =
            Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(points, [k * f]), ad);
        let x = ctx
            .train_features(ad)
            .select(0, points.clone())
            .reshape([k, f, ctx.input().dim]);
        let y = gather_labels(&labels, points, k, f);
        // Scored as the model predicts (docs/algorithms.md §9): batch norm on its running
        // statistics, which F's batch would otherwise also overwrite.
        let scoring = unlearn_models::mode::with_eval_layers(model.clone());
        let loss = cross_entropy(scoring.forward(x), y, 0.0).neg().sum();
        let grads = GradientsParams::from_grads(loss.backward(), &scoring);
        let head: Vec<ParamId> = model.head_param_ids();
        let entries = params_of(model);
        // Per model: every entry's score, to find that model's global threshold.
        let mut scores: Vec<Vec<Option<Vec<f32>>>> = vec![Vec::new(); k];
        for (id, shape, theta) in &entries {
            // DEL leaves the head out of the selection (never reset, always trained): a head
            // column is one class's whole readout, and scored by its largest entry it outranks
            // every hidden channel, so resetting it would erase classes rather than F's trace
            // (docs/algorithms.md §9).
            let grad = if spec.kind == LocalizeKind::Del && head.contains(id) {
                None
            } else {
                grad_values(&grads, *id, shape.len())
            };
            for (m, per) in scores.iter_mut().enumerate() {
                per.push(grad.as_ref().map(|g| {
                    let chunk = theta.len() / k;
                    let per_model_shape = per_model_shape(shape, k);
                    let linear = shape.len() == 3;
                    chunk_scores(
                        spec.kind,
                        &theta[m * chunk..(m + 1) * chunk],
                        &g[m * chunk..(m + 1) * chunk],
                        &per_model_shape,
                        linear,
                    )
                }));
            }
        }
        let thresholds: Vec<f32> = scores
            .iter()
            .map(|per| {
                let mut all: Vec<f32> = per.iter().flatten().flatten().copied().collect();
                all.sort_unstable_by(|a, b| b.total_cmp(a));
                let keep = ((spec.mask_share * all.len() as f64).round() as usize)
                    .clamp(1, all.len().max(1));
                all.get(keep - 1).copied().unwrap_or(f32::INFINITY)
            })
            .collect();
        let mut selected = Vec::new();
        let mut gradient = HashMap::new();
        for (p, (id, shape, theta)) in entries.iter().enumerate() {
            if scores[0][p].is_none() {
                selected.push(None);
                continue;
            }
            let chunk = theta.len() / k;
            let mut mask = vec![0.0f32; theta.len()];
            for m in 0..k {
                let s = scores[m][p].as_ref().expect("scored");
                for (j, &v) in s.iter().enumerate() {
                    // Ties at the threshold are kept; a zero score never is.
                    if v >= thresholds[m] && v > 0.0 {
                        mask[m * chunk + j] = 1.0;
                    }
                }
            }
            let grad_mask = if head.contains(id) {
                vec![1.0; theta.len()]
            } else {
                mask.clone()
            };
            gradient.insert(*id, (shape.clone(), grad_mask));
            selected.push(Some(mask));
        }
        Ok(Masks {
            selected,
            gradient,
            device: ad.clone(),
        })
    }

    /// Masks when a method is localised (`spec` is `Some`), else `None`.
    pub fn optional<A: Architecture>(
        ctx: &Context<'_, A>,
        model: &A::Model,
        indices: &[usize],
        spec: Option<&Localize>,
        ad: &Device,
    ) -> Result<Option<Self>, MethodError> {
        spec.map(|s| Self::compute(ctx, model, indices, s, ad))
            .transpose()
    }

    /// SGD for a localised or plain run: under a mask, weight decay would still move the frozen
    /// entries (it is added after the gradient hook), so localised runs train without it, as
    /// DEL does.
    pub fn sgd(
        masks: &Option<Self>,
        momentum: f64,
        weight_decay: f32,
    ) -> burn::optim::ModuleOptimizer {
        sgd(momentum, if masks.is_some() { 0.0 } else { weight_decay })
    }

    /// Share of selected entries (over the parameters that were scored).
    pub fn share(&self) -> f64 {
        let (ones, total) = self
            .selected
            .iter()
            .flatten()
            .fold((0.0, 0usize), |(o, t), m| {
                (o + m.iter().sum::<f32>() as f64, t + m.len())
            });
        ones / total.max(1) as f64
    }

    /// A gradient hook that zeroes every gradient entry outside the mask (head excepted).
    pub fn hook(&self) -> Box<dyn Fn(GradientsParams) -> GradientsParams + '_> {
        Box::new(move |mut grads: GradientsParams| {
            for (id, (shape, mask)) in &self.gradient {
                apply_mask(&mut grads, *id, shape, mask, &self.device);
            }
            grads
        })
    }
}

fn per_model_shape(shape: &[usize], k: usize) -> Vec<usize> {
    let mut s = shape.to_vec();
    if s.len() == 3 && s[0] == k {
        s.remove(0);
    } else {
        s[0] /= k;
    }
    s
}

fn grad_values(grads: &GradientsParams, id: ParamId, rank: usize) -> Option<Vec<f32>> {
    let data = match rank {
        1 => grads.get::<1>(id).map(|t| t.into_data()),
        2 => grads.get::<2>(id).map(|t| t.into_data()),
        3 => grads.get::<3>(id).map(|t| t.into_data()),
        4 => grads.get::<4>(id).map(|t| t.into_data()),
        _ => None,
    }?;
    data.try_into_vec::<f32>().ok()
}

fn apply_mask(
    grads: &mut GradientsParams,
    id: ParamId,
    shape: &[usize],
    mask: &[f32],
    device: &Device,
) {
    macro_rules! masked {
        ($d:literal) => {{
            if let Some(g) = grads.remove::<$d>(id) {
                let dims: [usize; $d] = shape.try_into().expect("rank");
                let m = Tensor::<$d>::from_data(TensorData::new(mask.to_vec(), dims), &g.device());
                grads.register::<$d>(id, g * m);
            }
        }};
    }
    let _ = device;
    match shape.len() {
        1 => masked!(1),
        2 => masked!(2),
        3 => masked!(3),
        4 => masked!(4),
        _ => {}
    }
}

/// Replaces the masked entries of `model` with those of `fresh` (same architecture and stack).
struct Reset<'a> {
    fresh: Vec<Vec<f32>>,
    masks: &'a [Option<Vec<f32>>],
    position: usize,
}

impl ModuleMapper for Reset<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let p = self.position;
        self.position += 1;
        let Some(mask) = &self.masks[p] else {
            return param;
        };
        let fresh = &self.fresh[p];
        let require_grad = param.is_require_grad();
        param
            .map(|t| {
                let dims = t.dims();
                let device = t.device();
                let m = Tensor::<D>::from_data(TensorData::new(mask.clone(), dims), &device);
                let f = Tensor::<D>::from_data(TensorData::new(fresh.clone(), dims), &device);
                (t * (m.clone().neg().add_scalar(1.0)) + f * m).detach()
            })
            .set_require_grad(require_grad)
    }
}

/// θ ← θ ⊙ (1 − mask) + θ_init ⊙ mask, θ_init a fresh initialisation of each model.
pub fn reset<A: Architecture>(
    ctx: &Context<'_, A>,
    model: A::Model,
    indices: &[usize],
    masks: &Masks,
    ad: &Device,
) -> Result<A::Model, MethodError> {
    let seeds: Vec<u64> = indices
        .iter()
        .map(|&i| ctx.originals.manifest.seeds[i] + RESET_SEED_OFFSET)
        .collect();
    let fresh = ctx
        .arch
        .init(&ctx.input(), &seeds, ad)
        .map_err(unlearn_train::TrainError::from)?;
    let fresh = params_of(&fresh).into_iter().map(|(_, _, v)| v).collect();
    Ok(model.map(&mut Reset {
        fresh,
        masks: &masks.selected,
        position: 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_scores_use_the_mean_of_the_top_entries() {
        // A conv-like [out=2, rest=3] chunk; h = max(1, ⌊0.1·2⌋) = 1: each row gets its max.
        let theta = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let grad = [0.1, -0.5, 0.2, 0.3, 0.0, -0.05];
        let s = chunk_scores(LocalizeKind::Del, &theta, &grad, &[2, 3], false);
        assert_eq!(s, vec![0.5, 0.5, 0.5, 0.3, 0.3, 0.3]);
        // SalUn keeps per-entry |∇|.
        let s = chunk_scores(LocalizeKind::Salun, &theta, &grad, &[2, 3], false);
        assert_eq!(s, vec![0.1, 0.5, 0.2, 0.3, 0.0, 0.05]);
        // Linear layout [in=3, out=2]: channels are columns.
        let s = chunk_scores(LocalizeKind::Del, &theta, &grad, &[3, 2], true);
        assert_eq!(s, vec![0.2, 0.5, 0.2, 0.5, 0.2, 0.5]);
    }
}
