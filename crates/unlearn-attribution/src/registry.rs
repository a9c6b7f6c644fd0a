//! Datamodel estimators by name: a registry of constructors from JSON hyper-parameters, as the
//! methods' registry is. The built-ins are registered first; a user registers an estimator of
//! their own beside them ([`EstimatorRegistry::register`]) and it reaches every consumer that
//! takes the registry: the bench (and so DM-Direct and DMM), `unlearn attribute`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use unlearn_data::{merge_params, register_entry};

use crate::error::{AttributionError, Result};
use crate::{DiffOfMeans, Estimator, LassoParams, RELAXED_GRID, RidgeParams};

/// How a fit holds out subset models: for the choice of λ and for LDS. The bench and the CLI
/// hold out the same models for every estimator, so their LDS compare; an estimator whose
/// parameters have `held_out_fraction` and `seed` gets them from here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitOptions {
    /// Share of the subset models held out.
    pub held_out: f64,
    /// Seed of the held-out split.
    pub seed: u64,
}

impl Default for FitOptions {
    /// 10 % held out, seed 0.
    fn default() -> Self {
        Self {
            held_out: 0.1,
            seed: 0,
        }
    }
}

/// The parameter keys [`FitOptions`] sets.
const HELD_OUT_KEYS: [&str; 2] = ["held_out_fraction", "seed"];

type Builder = Box<dyn Fn(&Map<String, Value>) -> Result<Box<dyn Estimator>> + Send + Sync>;

/// One registered estimator.
pub struct EstimatorEntry {
    /// Registry name (`datamodels-ridge`, …).
    pub name: String,
    /// One line on what it does.
    pub summary: String,
    /// Its default hyper-parameters (a JSON object), without the keys [`FitOptions`] sets.
    pub defaults: Value,
    /// Whether its defaults hold `held_out_fraction` and `seed`, set from [`FitOptions`].
    holds_out: bool,
    build: Builder,
}

/// Datamodel estimators by name, in registration order.
pub struct EstimatorRegistry {
    entries: Vec<EstimatorEntry>,
}

impl Default for EstimatorRegistry {
    /// The built-in estimators.
    fn default() -> Self {
        Self::builtin()
    }
}

/// Parameters of an estimator that has none.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

impl EstimatorRegistry {
    /// A registry with no estimator.
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The built-ins: difference of means, ridge, lasso and the relaxed lasso
    /// (docs/algorithms.md §6).
    pub fn builtin() -> Self {
        let mut r = Self::empty();
        r.register(
            "datamodels-mean",
            "difference of the mean outputs of the models with and without each point",
            NoParams {},
            |_: NoParams| Ok(DiffOfMeans),
        );
        r.register(
            "datamodels-ridge",
            "ridge regression on the masks, one λ chosen on held-out models, refitted on all",
            RidgeParams::default(),
            |p: RidgeParams| p.check(),
        );
        r.register(
            "datamodels-lasso",
            "lasso path per target, λ chosen per target on held-out models",
            LassoParams::default(),
            |p: LassoParams| p.check(),
        );
        r.register(
            "datamodels-relaxed-lasso",
            "the lasso with least squares on its support blended back, (λ, φ) chosen on held-out models",
            LassoParams::default().relax(&RELAXED_GRID),
            |p: LassoParams| p.check(),
        );
        r
    }

    /// Registers `name` (replacing an estimator of that name): `defaults` are its
    /// hyper-parameters when nothing is overridden (they must serialise as a JSON object),
    /// `check` validates a set of them into the estimator. Parameters named
    /// `held_out_fraction` and `seed` are set from the [`FitOptions`] of each build.
    pub fn register<P, E, F>(
        &mut self,
        name: &str,
        summary: &str,
        defaults: P,
        check: F,
    ) -> &mut Self
    where
        P: Serialize + DeserializeOwned + 'static,
        E: Estimator + 'static,
        F: Fn(P) -> Result<E> + Send + Sync + 'static,
    {
        let all = serde_json::to_value(&defaults).expect("hyper-parameters serialise");
        assert!(
            all.is_object(),
            "estimator '{name}': hyper-parameters must serialise as a JSON object"
        );
        let holds_out = HELD_OUT_KEYS.iter().all(|k| all.get(k).is_some());
        let mut shown = all.clone();
        if holds_out {
            let object = shown.as_object_mut().expect("an object");
            for key in HELD_OUT_KEYS {
                object.remove(key);
            }
        }
        let estimator = name.to_string();
        let build: Builder = Box::new(move |overrides| {
            let params: P =
                merge_params(&all, overrides).map_err(|source| AttributionError::Params {
                    estimator: estimator.clone(),
                    source,
                })?;
            Ok(Box::new(check(params)?) as Box<dyn Estimator>)
        });
        let entry = EstimatorEntry {
            name: name.to_string(),
            summary: summary.to_string(),
            defaults: shown,
            holds_out,
            build,
        };
        register_entry(&mut self.entries, entry, |e| e.name == name);
        self
    }

    /// Every estimator's name, in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// Every entry, in registration order.
    pub fn entries(&self) -> impl Iterator<Item = &EstimatorEntry> {
        self.entries.iter()
    }

    /// The entry of `name`.
    pub fn entry(&self, name: &str) -> Result<&EstimatorEntry> {
        self.entries.iter().find(|e| e.name == name).ok_or_else(|| {
            AttributionError::UnknownEstimator {
                name: name.to_string(),
                known: self.names().join(", "),
            }
        })
    }

    /// The estimator `name` with `overrides` (a JSON object) applied to its defaults and the
    /// held-out split of `options`; unknown keys, wrong types and invalid values are errors.
    pub fn build(
        &self,
        name: &str,
        overrides: &Map<String, Value>,
        options: FitOptions,
    ) -> Result<Box<dyn Estimator>> {
        let entry = self.entry(name)?;
        let mut overrides = overrides.clone();
        if entry.holds_out {
            if let Some(key) = HELD_OUT_KEYS.iter().find(|k| overrides.contains_key(**k)) {
                return Err(AttributionError::InvalidParam {
                    name: "held-out split",
                    reason: format!(
                        "estimator '{name}': '{key}' is set for every estimator alike by the fit options (held_out, seed), not per estimator"
                    ),
                });
            }
            overrides.insert("held_out_fraction".into(), options.held_out.into());
            overrides.insert("seed".into(), options.seed.into());
        }
        (entry.build)(&overrides)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("an object")
    }

    #[test]
    fn builtins_come_first_and_overrides_are_checked_by_key() {
        let r = EstimatorRegistry::builtin();
        assert_eq!(
            r.names(),
            [
                "datamodels-mean",
                "datamodels-ridge",
                "datamodels-lasso",
                "datamodels-relaxed-lasso"
            ]
        );
        let options = FitOptions::default();
        assert!(
            r.build(
                "datamodels-ridge",
                &map(serde_json::json!({ "lambdas": [10.0] })),
                options
            )
            .is_ok()
        );
        let e = r
            .build(
                "datamodels-ridge",
                &map(serde_json::json!({ "lambdas": "ten" })),
                options,
            )
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("datamodels-ridge") && e.contains("'lambdas'"),
            "{e}"
        );
        let e = r.build(
            "datamodels-mean",
            &map(serde_json::json!({ "lambdas": [1.0] })),
            options,
        );
        assert!(
            e.err()
                .unwrap()
                .to_string()
                .contains("unknown hyper-parameter 'lambdas'")
        );
        let e = r
            .build("ridge", &Map::new(), options)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("datamodels-ridge") && e.contains("trak"), "{e}");
        // The held-out split is the fit options', never an estimator's own.
        let e = r.build(
            "datamodels-lasso",
            &map(serde_json::json!({ "seed": 3 })),
            options,
        );
        assert!(e.err().unwrap().to_string().contains("'seed'"));
        let shown = &r.entry("datamodels-lasso").unwrap().defaults;
        assert!(
            shown.get("seed").is_none() && shown.get("n_lambdas").is_some(),
            "{shown}"
        );
    }

    #[test]
    fn a_users_estimator_gets_its_parameters_and_the_fit_options() {
        let seen: Arc<Mutex<Option<RidgeParams>>> = Arc::default();
        let mut r = EstimatorRegistry::builtin();
        let store = seen.clone();
        r.register(
            "probe",
            "records its parameters",
            RidgeParams::default(),
            move |p: RidgeParams| {
                *store.lock().unwrap() = Some(p.clone());
                p.check()
            },
        );
        assert_eq!(r.names().last(), Some(&"probe"));
        let options = FitOptions {
            held_out: 0.25,
            seed: 7,
        };
        r.build(
            "probe",
            &map(serde_json::json!({ "lambdas": [2.0] })),
            options,
        )
        .unwrap();
        let p = seen.lock().unwrap().clone().unwrap();
        assert_eq!(
            (p.lambdas, p.held_out_fraction, p.seed),
            (vec![2.0], 0.25, 7)
        );
    }
}
