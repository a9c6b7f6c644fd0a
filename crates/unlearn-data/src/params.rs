//! Hyper-parameters as JSON objects: a method's or estimator's defaults with a user's overrides
//! merged field by field, then read as its parameter type. The registries of unlearning methods
//! and of attribution estimators share it, so both name the offending key the same way.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Why overrides do not make valid parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamsError {
    /// A key the defaults do not have.
    #[error("unknown hyper-parameter '{key}'; known: {known:?}")]
    UnknownKey {
        /// The key given.
        key: String,
        /// The keys of the defaults.
        known: Vec<String>,
    },
    /// A value of the wrong type or out of what the type accepts.
    #[error("hyper-parameter '{key}': {what}")]
    BadValue {
        /// The key whose value breaks the parameters.
        key: String,
        /// The deserialiser's reason.
        what: String,
    },
    /// The merged object does not read as the parameters, and no single key is to blame.
    #[error("{0}")]
    Invalid(String),
}

/// `defaults` (a JSON object) with `overrides` applied, read as `P`; on failure the key at fault
/// is named.
pub fn merge_params<P: DeserializeOwned>(
    defaults: &Value,
    overrides: &Map<String, Value>,
) -> Result<P, ParamsError> {
    let empty = Map::new();
    let base = defaults.as_object().unwrap_or(&empty);
    let mut merged = base.clone();
    for (key, v) in overrides {
        if !base.contains_key(key) {
            return Err(ParamsError::UnknownKey {
                key: key.clone(),
                known: base.keys().cloned().collect(),
            });
        }
        merged.insert(key.clone(), v.clone());
    }
    serde_json::from_value(Value::Object(merged)).map_err(|e| {
        // serde names the type, not the field: find the override that breaks the parameters.
        let culprit = overrides.iter().find_map(|(key, v)| {
            let mut single = base.clone();
            single.insert(key.clone(), v.clone());
            serde_json::from_value::<P>(Value::Object(single))
                .is_err()
                .then_some(key)
        });
        match culprit {
            Some(key) => ParamsError::BadValue {
                key: key.clone(),
                what: e.to_string(),
            },
            None => ParamsError::Invalid(e.to_string()),
        }
    })
}

/// Registers `entry` in a registry kept in registration order: it replaces the entry `same`
/// picks, or goes last.
pub fn register_entry<T>(entries: &mut Vec<T>, entry: T, same: impl Fn(&T) -> bool) {
    match entries.iter_mut().find(|e| same(e)) {
        Some(old) => *old = entry,
        None => entries.push(entry),
    }
}

/// Parses `key=value` pairs (the value as JSON, or else a bare string) into overrides.
pub fn parse_overrides(sets: &[String]) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    for s in sets {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not key=value"))?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string()));
        map.insert(k.trim().to_string(), value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct P {
        epochs: usize,
        lr: f64,
    }

    #[test]
    fn overrides_replace_defaults_and_name_the_key_at_fault() {
        let defaults = serde_json::json!({ "epochs": 3, "lr": 0.1 });
        let set = |pairs: &[&str]| {
            parse_overrides(&pairs.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        let p: P = merge_params(&defaults, &set(&["lr=0.5"])).unwrap();
        assert_eq!(p, P { epochs: 3, lr: 0.5 });
        let e = merge_params::<P>(&defaults, &set(&["lrr=0.5"])).unwrap_err();
        assert!(
            matches!(&e, ParamsError::UnknownKey { key, known } if key == "lrr" && known.len() == 2)
        );
        let e = merge_params::<P>(&defaults, &set(&["epochs=-1", "lr=0.2"])).unwrap_err();
        assert!(
            matches!(&e, ParamsError::BadValue { key, .. } if key == "epochs"),
            "{e}"
        );
        assert!(parse_overrides(&["lr".to_string()]).is_err());
        // A bare word is a string; JSON values keep their type.
        let m = set(&["kind=del", "grid=[1,2]"]);
        assert_eq!(m["kind"], Value::String("del".into()));
        assert_eq!(m["grid"], serde_json::json!([1, 2]));
    }
}
