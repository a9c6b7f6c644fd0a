//! Every built-in method's hyper-parameters and their defaults, scaled to small data.

use crate::MethodError;
use serde::{Deserialize, Serialize};

/// Oracle Matching and Datamodel Matching (§4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchParams {
    /// Passes over the fine-tuning set T.
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Learning rate factor per epoch.
    pub lr_decay: f64,
    /// Batch size.
    pub batch_size: usize,
    /// Forget set repetitions in T (fractional part: that share of F once more).
    pub forget_multiplier: f64,
    /// Retain points in T, as a multiple of |F| (sampled without replacement).
    pub retain_multiplier: f64,
    /// Scale s of the attribution term (DMM only).
    pub scale: f64,
    /// OM only: average the targets of this many oracles.
    pub oracles_per_target: usize,
}

/// Gradient descent / ascent baselines (§8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DescentParams {
    /// Epochs.
    pub epochs: usize,
    /// SGD learning rate.
    pub lr: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    #[serde(serialize_with = "unlearn_models::as_written::f32")]
    pub weight_decay: f32,
    /// Batch size.
    pub batch_size: usize,
    /// GD+GA: epochs (from the first) that start with an ascent pass over F.
    pub ascent_epochs: usize,
    /// Restrict updates to a DEL or SalUn mask (§9).
    pub localize: Option<Localize>,
}

/// SCRUB (§8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScrubParams {
    /// Epochs.
    pub epochs: usize,
    /// Epochs (from the first) that start with a max-step over F.
    pub max_steps: usize,
    /// SGD learning rate.
    pub lr: f64,
    /// Epochs after which the learning rate is multiplied by 0.1.
    pub decay_epochs: Vec<usize>,
    /// Distillation temperature.
    #[serde(serialize_with = "unlearn_models::as_written::f32")]
    pub temperature: f32,
    /// Weight of cross-entropy in the min-step.
    #[serde(serialize_with = "unlearn_models::as_written::f32")]
    pub ce_weight: f32,
    /// Weight of the distillation term in the min-step.
    #[serde(serialize_with = "unlearn_models::as_written::f32")]
    pub kl_weight: f32,
    /// Batch size.
    pub batch_size: usize,
    /// Restrict updates to a DEL or SalUn mask (§9).
    pub localize: Option<Localize>,
}

/// Noisy descent: per-example clipping and Gaussian noise (§8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoisyParams {
    /// Epochs over R.
    pub epochs: usize,
    /// SGD learning rate.
    pub lr: f64,
    /// Per-example gradient norm bound C.
    #[serde(serialize_with = "unlearn_models::as_written::f32")]
    pub clip: f32,
    /// Standard deviation τ of the noise added to the averaged gradient.
    #[serde(serialize_with = "unlearn_models::as_written::f32")]
    pub noise: f32,
    /// Batch size.
    pub batch_size: usize,
}

/// DEL (§9): localise on F, reset the selected weights, fine-tune them on R.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelParams {
    /// Localisation.
    pub localize: Localize,
    /// Fine-tuning epochs on R.
    pub epochs: usize,
    /// SGD learning rate (cosine to 0.01·lr).
    pub lr: f64,
    /// Batch size.
    pub batch_size: usize,
}

/// Which parameters a localised method may change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localize {
    /// `del` (|θ ⊙ ∇(−CE)| with channel scores) or `salun` (|∇|).
    pub kind: LocalizeKind,
    /// Share ρ of parameter entries selected.
    pub mask_share: f64,
}

/// Localisation score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalizeKind {
    /// DEL: |θ ⊙ ∇_θ(−CE)| on F, channel granularity.
    Del,
    /// SalUn: |∇_θ(−CE)| on F, per entry.
    Salun,
}

fn descent(epochs: usize, lr: f64) -> DescentParams {
    DescentParams {
        epochs,
        lr,
        momentum: 0.9,
        weight_decay: 5e-4,
        batch_size: 64,
        ascent_epochs: 1,
        localize: None,
    }
}

fn matching(epochs: usize, lr: f64, fm: f64, rm: f64) -> MatchParams {
    MatchParams {
        epochs,
        lr,
        lr_decay: 0.95,
        batch_size: 32,
        forget_multiplier: fm,
        retain_multiplier: rm,
        scale: 1.0,
        oracles_per_target: 1,
    }
}

/// The built-in defaults, scaled to small data (digits): see [`crate::MethodRegistry::builtin`].
pub mod defaults {
    use super::*;

    /// Oracle Matching: 10 epochs at 1e−3, F once, 5·|F| retain points.
    pub fn om() -> MatchParams {
        matching(10, 1e-3, 1.0, 5.0)
    }

    /// Datamodel Matching. Published: rm 20, 4–10 epochs on CIFAR-10; at digits scale rm 5 and
    /// 5 epochs keep the cost under 10 % of retraining for forget sets up to 50 points.
    pub fn dmm() -> MatchParams {
        matching(5, 1e-3, 5.0, 5.0)
    }

    /// GD and GD+GA: 2 epochs at 0.01.
    pub fn gd() -> DescentParams {
        descent(2, 0.01)
    }

    /// GA: 3 epochs at 1e−3.
    pub fn ga() -> DescentParams {
        descent(3, 1e-3)
    }

    /// SCRUB.
    pub fn scrub() -> ScrubParams {
        ScrubParams {
            epochs: 3,
            max_steps: 1,
            lr: 5e-3,
            decay_epochs: vec![2],
            temperature: 4.0,
            ce_weight: 0.99,
            kl_weight: 0.1,
            batch_size: 64,
            localize: None,
        }
    }

    /// Noisy descent.
    pub fn noisy() -> NoisyParams {
        NoisyParams {
            epochs: 2,
            lr: 0.01,
            clip: 1.0,
            noise: 0.01,
            batch_size: 64,
        }
    }

    /// DEL: ρ = 0.3, 3 epochs at 0.01.
    pub fn del() -> DelParams {
        DelParams {
            localize: Localize {
                kind: LocalizeKind::Del,
                mask_share: 0.3,
            },
            epochs: 3,
            lr: 0.01,
            batch_size: 64,
        }
    }
}

/// DM-Direct's one parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectParams {
    /// Scale s of the attribution term.
    pub scale: f64,
}

/// The hyper-parameters of a method that has none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// Refuses a learning rate, batch size or epoch count that cannot train.
pub(crate) fn check_training(
    method: &str,
    lr: f64,
    batch_size: usize,
    epochs: usize,
) -> Result<(), MethodError> {
    let bad = |what: &str| {
        Err(MethodError::Config {
            method: method.into(),
            what: what.into(),
        })
    };
    if !(lr.is_finite() && lr > 0.0) {
        return bad("lr must be a positive number");
    }
    if batch_size == 0 {
        return bad("batch_size must be ≥ 1");
    }
    if epochs == 0 {
        return bad("epochs must be ≥ 1");
    }
    Ok(())
}
