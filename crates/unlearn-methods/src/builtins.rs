//! The built-in methods as [`UnlearnMethod`]s, and the registry that lists them. Each is a
//! validated value (`check` on its parameters) whose `run` calls the method's own module.

use crate::MethodError;
use crate::config::{
    DelParams, DescentParams, DirectParams, MatchParams, NoParams, NoisyParams, SalunParams,
    ScrubParams, check_training, defaults,
};
use crate::context::Context;
use crate::method::{Inputs, StackOutput, UnlearnMethod};
use crate::methods::{descent, direct, matching, retrain, salun, scrub};
use crate::registry::MethodRegistry;
use unlearn_models::Architecture;

/// The original models unchanged (cost 0).
#[derive(Debug, Clone)]
pub struct DoNothing;

/// Retraining from scratch on R with the originals' recipe (cost 1).
#[derive(Debug, Clone)]
pub struct Retrain;

/// DM-Direct: the predicted outputs z − s·Σβ, no training.
#[derive(Debug, Clone)]
pub struct DmDirect(pub DirectParams);

/// Oracle Matching (target: oracles' logits) or Datamodel Matching (target: z − s·Σβ).
#[derive(Debug, Clone)]
pub struct Matching {
    /// What the fine-tune matches.
    pub target: matching::Target,
    /// Hyper-parameters.
    pub params: MatchParams,
}

/// GD, GA or GD+GA.
#[derive(Debug, Clone)]
pub struct Descent {
    /// Which of the three.
    pub variant: descent::Variant,
    /// Hyper-parameters.
    pub params: DescentParams,
}

/// SCRUB.
#[derive(Debug, Clone)]
pub struct Scrub(pub ScrubParams);

/// Noisy descent.
#[derive(Debug, Clone)]
pub struct NoisyDescent(pub NoisyParams);

/// DEL.
#[derive(Debug, Clone)]
pub struct Del(pub DelParams);

/// SalUn (random relabelling under a saliency mask).
#[derive(Debug, Clone)]
pub struct Salun(pub SalunParams);

fn json<T: serde::Serialize>(p: &T) -> serde_json::Value {
    serde_json::to_value(p).expect("hyper-parameters serialise")
}

impl<A: Architecture> UnlearnMethod<A> for DoNothing {
    fn name(&self) -> &str {
        "do-nothing"
    }
    fn params(&self) -> serde_json::Value {
        json(&NoParams {})
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

impl<A: Architecture> UnlearnMethod<A> for Retrain {
    fn name(&self) -> &str {
        "retrain"
    }
    fn params(&self) -> serde_json::Value {
        json(&NoParams {})
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        retrain::run(ctx, indices)
    }
}

impl<A: Architecture> UnlearnMethod<A> for DmDirect {
    fn name(&self) -> &str {
        "dm-direct"
    }
    fn params(&self) -> serde_json::Value {
        json(&self.0)
    }
    fn inputs(&self) -> Inputs {
        Inputs::ATTRIBUTION
    }
    fn makes_models(&self) -> bool {
        false
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        direct::run(ctx, indices, self.0.scale)
    }
}

impl<A: Architecture> UnlearnMethod<A> for Matching {
    fn name(&self) -> &str {
        match self.target {
            matching::Target::Oracle => "om",
            matching::Target::Datamodel => "dmm",
        }
    }
    fn params(&self) -> serde_json::Value {
        json(&self.params)
    }
    fn inputs(&self) -> Inputs {
        match self.target {
            matching::Target::Oracle => Inputs::ORACLES,
            matching::Target::Datamodel => Inputs::ATTRIBUTION,
        }
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        matching::run(ctx, indices, &self.params, self.target)
    }
}

impl<A: Architecture> UnlearnMethod<A> for Descent {
    fn name(&self) -> &str {
        match self.variant {
            descent::Variant::Gd => "gd",
            descent::Variant::Ga => "ga",
            descent::Variant::GdGa => "gd-ga",
        }
    }
    fn params(&self) -> serde_json::Value {
        json(&self.params)
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        descent::run(ctx, indices, &self.params, self.variant)
    }
}

impl<A: Architecture> UnlearnMethod<A> for Scrub {
    fn name(&self) -> &str {
        "scrub"
    }
    fn params(&self) -> serde_json::Value {
        json(&self.0)
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        scrub::run(ctx, indices, &self.0)
    }
}

impl<A: Architecture> UnlearnMethod<A> for NoisyDescent {
    fn name(&self) -> &str {
        "noisy-descent"
    }
    fn params(&self) -> serde_json::Value {
        json(&self.0)
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        crate::noisy::run(ctx, indices, &self.0)
    }
}

impl<A: Architecture> UnlearnMethod<A> for Del {
    fn name(&self) -> &str {
        "del"
    }
    fn params(&self) -> serde_json::Value {
        json(&self.0)
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        crate::localize::run_del(ctx, indices, &self.0)
    }
}

impl<A: Architecture> UnlearnMethod<A> for Salun {
    fn name(&self) -> &str {
        "salun"
    }
    fn params(&self) -> serde_json::Value {
        json(&self.0)
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        salun::run(ctx, indices, &self.0)
    }
}

fn check_share(method: &str, share: f64) -> Result<(), MethodError> {
    if !(share > 0.0 && share <= 1.0) {
        return Err(MethodError::Config {
            method: method.into(),
            what: format!("mask_share must be in (0, 1], got {share}"),
        });
    }
    Ok(())
}

impl<A: Architecture> MethodRegistry<A> {
    /// The built-in methods, in the order reports list them.
    pub fn builtin() -> Self {
        use descent::Variant;
        use matching::Target;
        let mut r = Self::empty();
        r.register(
            "do-nothing",
            "the originals unchanged (cost 0)",
            NoParams {},
            |_| Ok(DoNothing),
        );
        r.register(
            "retrain",
            "retrain from scratch on R (cost 1): the oracle itself",
            NoParams {},
            |_| Ok(Retrain),
        );
        let matcher = |target: Target, name: &'static str| {
            move |p: MatchParams| {
                check_training(name, p.lr, p.batch_size, p.epochs)?;
                if p.oracles_per_target == 0 {
                    return Err(MethodError::Config {
                        method: name.into(),
                        what: "oracles_per_target must be ≥ 1".into(),
                    });
                }
                for (field, value) in [
                    ("tolerance", p.tolerance),
                    ("loss_share", p.loss_share),
                    ("near_share", p.near_share),
                ] {
                    if !(0.0..=1.0).contains(&value) {
                        return Err(MethodError::Config {
                            method: name.into(),
                            what: format!("{field} must be a share in [0, 1], got {value}"),
                        });
                    }
                }
                if !(p.max_cost.is_finite() && p.max_cost >= 0.0) {
                    return Err(MethodError::Config {
                        method: name.into(),
                        what: format!(
                            "max_cost must be ≥ 0 (a share of one retraining), got {}",
                            p.max_cost
                        ),
                    });
                }
                if !(p.pull.is_finite() && p.pull >= 0.0) {
                    return Err(MethodError::Config {
                        method: name.into(),
                        what: format!("pull must be ≥ 0, got {}", p.pull),
                    });
                }
                Ok(Matching { target, params: p })
            }
        };
        r.register(
            "om",
            "Oracle Matching: fine-tune to oracles' logits (needs oracles)",
            defaults::om(),
            matcher(Target::Oracle, "om"),
        );
        r.register(
            "dm-direct",
            "DM-Direct: z − s·Σβ, no training (needs attribution)",
            DirectParams { scale: 1.0 },
            |p: DirectParams| {
                if !p.scale.is_finite() {
                    return Err(MethodError::Config {
                        method: "dm-direct".into(),
                        what: "scale must be a finite number".into(),
                    });
                }
                Ok(DmDirect(p))
            },
        );
        r.register(
            "dmm",
            "Datamodel Matching: fine-tune to z − s·Σβ (needs attribution)",
            defaults::dmm(),
            matcher(Target::Datamodel, "dmm"),
        );
        let descender = |variant: Variant, name: &'static str| {
            move |p: DescentParams| {
                check_training(name, p.lr, p.batch_size, p.epochs)?;
                if let Some(l) = &p.localize {
                    check_share(name, l.mask_share)?;
                }
                Ok(Descent { variant, params: p })
            }
        };
        r.register(
            "gd",
            "fine-tune with cross-entropy on R",
            defaults::gd(),
            descender(Variant::Gd, "gd"),
        );
        r.register(
            "ga",
            "gradient ascent on F",
            defaults::ga(),
            descender(Variant::Ga, "ga"),
        );
        r.register(
            "gd-ga",
            "ascent on F, then descent on R, per epoch",
            defaults::gd(),
            descender(Variant::GdGa, "gd-ga"),
        );
        r.register(
            "scrub",
            "SCRUB: student–teacher max/min steps",
            defaults::scrub(),
            |p: ScrubParams| {
                check_training("scrub", p.lr, p.batch_size, p.epochs)?;
                if let Some(l) = &p.localize {
                    check_share("scrub", l.mask_share)?;
                }
                Ok(Scrub(p))
            },
        );
        r.register(
            "noisy-descent",
            "per-example clipping and Gaussian noise on R",
            defaults::noisy(),
            |p: NoisyParams| {
                check_training("noisy-descent", p.lr, p.batch_size, p.epochs)?;
                Ok(NoisyDescent(p))
            },
        );
        r.register(
            "del",
            "DEL: localise on F, reset, fine-tune on R",
            defaults::del(),
            |p: DelParams| {
                check_training("del", p.lr, p.batch_size, p.epochs)?;
                check_share("del", p.localize.mask_share)?;
                Ok(Del(p))
            },
        );
        r.register(
            "salun",
            "SalUn: F relabelled at random, with R, under a saliency mask",
            defaults::salun(),
            |p: SalunParams| {
                check_training("salun", p.lr, p.batch_size, p.epochs)?;
                check_share("salun", p.mask_share)?;
                Ok(Salun(p))
            },
        );
        r
    }
}
