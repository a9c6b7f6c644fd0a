//! Methods by name: a registry of constructors from JSON hyper-parameters, read by
//! `unlearn forget`, the bench and library users, who register their own methods beside the
//! built-ins ([`MethodRegistry::register`]).

use crate::MethodError;
use crate::method::UnlearnMethod;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use unlearn_data::{merge_params, parse_overrides, register_entry};
use unlearn_models::Architecture;

type Builder<A> = Box<
    dyn Fn(&Map<String, Value>) -> Result<Box<dyn UnlearnMethod<A>>, MethodError> + Send + Sync,
>;

/// One registered method.
pub struct MethodEntry<A: Architecture> {
    /// Registry name.
    pub name: String,
    /// One line on what it does.
    pub summary: String,
    /// Its default hyper-parameters (a JSON object).
    pub defaults: Value,
    build: Builder<A>,
}

/// Methods by name, in the order reports list them.
pub struct MethodRegistry<A: Architecture> {
    entries: Vec<MethodEntry<A>>,
}

impl<A: Architecture> Default for MethodRegistry<A> {
    /// The built-in methods.
    fn default() -> Self {
        Self::builtin()
    }
}

impl<A: Architecture> MethodRegistry<A> {
    /// A registry with no method.
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Registers `name` (replacing a method of that name): `defaults` are its hyper-parameters
    /// when nothing is overridden, `check` validates a set of them into the method. Overrides
    /// are merged into the defaults field by field, so `P` must serialise as a JSON object.
    pub fn register<P, M, F>(
        &mut self,
        name: &str,
        summary: &str,
        defaults: P,
        check: F,
    ) -> &mut Self
    where
        P: Serialize + DeserializeOwned + 'static,
        M: UnlearnMethod<A> + 'static,
        F: Fn(P) -> Result<M, MethodError> + Send + Sync + 'static,
    {
        let defaults = serde_json::to_value(&defaults).expect("hyper-parameters serialise");
        assert!(
            defaults.is_object(),
            "method '{name}': hyper-parameters must serialise as a JSON object"
        );
        let base = defaults.clone();
        let method = name.to_string();
        let build: Builder<A> = Box::new(move |overrides| {
            let params: P =
                merge_params(&base, overrides).map_err(|source| MethodError::Params {
                    method: method.clone(),
                    source,
                })?;
            Ok(Box::new(check(params)?) as Box<dyn UnlearnMethod<A>>)
        });
        let entry = MethodEntry {
            name: name.to_string(),
            summary: summary.to_string(),
            defaults,
            build,
        };
        register_entry(&mut self.entries, entry, |e| e.name == name);
        self
    }

    /// Every method's name, in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// Every entry, in registration order.
    pub fn entries(&self) -> impl Iterator<Item = &MethodEntry<A>> {
        self.entries.iter()
    }

    /// The entry of `name`.
    pub fn entry(&self, name: &str) -> Result<&MethodEntry<A>, MethodError> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| MethodError::UnknownMethod {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }

    /// The method `name` with `overrides` (a JSON object of hyper-parameters) applied to its
    /// defaults; unknown keys, wrong types and invalid values are errors.
    pub fn build(
        &self,
        name: &str,
        overrides: &Map<String, Value>,
    ) -> Result<Box<dyn UnlearnMethod<A>>, MethodError> {
        (self.entry(name)?.build)(overrides)
    }
}

/// Parses `key=value` pairs (value as JSON, or else a bare string) into an override map.
pub fn parse_sets(sets: &[String]) -> Result<Map<String, Value>, MethodError> {
    parse_overrides(sets).map_err(|what| MethodError::Config {
        method: "override".into(),
        what,
    })
}
