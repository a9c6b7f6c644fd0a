//! The registry of the built-in methods: each is registered with its default parameters and
//! made from them once they pass their check ([`CheckParams`]).

use crate::MethodError;
use crate::config::{CheckParams, Checked, DirectParams, NoParams, defaults};
use crate::methods::del::Del;
use crate::methods::descent::{Descent, Variant};
use crate::methods::direct::DmDirect;
use crate::methods::do_nothing::DoNothing;
use crate::methods::matching::{Matching, Target};
use crate::methods::noisy::NoisyDescent;
use crate::methods::retrain::Retrain;
use crate::methods::salun::Salun;
use crate::methods::scrub::Scrub;
use crate::registry::MethodRegistry;
use unlearn_models::Architecture;

/// `params` checked, an error naming `method` if a value is out of range.
fn checked<P: CheckParams>(method: &str, params: P) -> Result<Checked<P>, MethodError> {
    params.check().map_err(|source| MethodError::OutOfRange {
        method: method.to_string(),
        source,
    })
}

impl<A: Architecture> MethodRegistry<A> {
    /// The built-in methods, in the order reports list them.
    pub fn builtin() -> Self {
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
        r.register(
            "om",
            "Oracle Matching: fine-tune to oracles' logits (needs oracles)",
            defaults::om(),
            |p| Ok(Matching::new(Target::Oracle, checked("om", p)?)),
        );
        r.register(
            "dm-direct",
            "DM-Direct: z − s·Σβ, no training (needs attribution)",
            DirectParams { scale: 1.0 },
            |p| Ok(DmDirect::new(checked("dm-direct", p)?)),
        );
        r.register(
            "dmm",
            "Datamodel Matching: fine-tune to z − s·Σβ (needs attribution)",
            defaults::dmm(),
            |p| Ok(Matching::new(Target::Datamodel, checked("dmm", p)?)),
        );
        r.register(
            "gd",
            "fine-tune with cross-entropy on R",
            defaults::gd(),
            |p| Ok(Descent::new(Variant::Gd, checked("gd", p)?)),
        );
        r.register("ga", "gradient ascent on F", defaults::ga(), |p| {
            Ok(Descent::new(Variant::Ga, checked("ga", p)?))
        });
        r.register(
            "gd-ga",
            "ascent on F, then descent on R, per epoch",
            defaults::gd(),
            |p| Ok(Descent::new(Variant::GdGa, checked("gd-ga", p)?)),
        );
        r.register(
            "scrub",
            "SCRUB: student–teacher max/min steps",
            defaults::scrub(),
            |p| Ok(Scrub::new(checked("scrub", p)?)),
        );
        r.register(
            "noisy-descent",
            "per-example clipping and Gaussian noise on R",
            defaults::noisy(),
            |p| Ok(NoisyDescent::new(checked("noisy-descent", p)?)),
        );
        r.register(
            "del",
            "DEL: localise on F, reset, fine-tune on R",
            defaults::del(),
            |p| Ok(Del::new(checked("del", p)?)),
        );
        r.register(
            "salun",
            "SalUn: F relabelled at random, with R, under a saliency mask",
            defaults::salun(),
            |p| Ok(Salun::new(checked("salun", p)?)),
        );
        r
    }
}
