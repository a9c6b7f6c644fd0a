//! The bench's configuration (shipped in `assets/bench/`), its overrides and its grid.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use unlearn_train::Recipe;

/// The default experiment, embedded so `bench` needs no file.
pub const DEFAULT_CONFIG: &str = include_str!("../../../../../assets/bench/digits.json");

/// A recipe by name or spelled out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecipeSpec {
    /// A named recipe (`mlp`, `cnn`, …).
    Named(String),
    /// A full recipe.
    Full(Recipe),
}

impl RecipeSpec {
    /// The recipe.
    pub fn resolve(&self) -> Result<Recipe> {
        Ok(match self {
            RecipeSpec::Named(name) => Recipe::named(name)?,
            RecipeSpec::Full(r) => r.clone(),
        })
    }
}

/// One forget set of the experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetSpec {
    /// Name in reports and paths.
    pub name: String,
    /// Number of points.
    pub size: usize,
    /// Restrict to these classes.
    #[serde(default)]
    pub classes: Option<Vec<u32>>,
    /// Seed of the draw.
    #[serde(default)]
    pub seed: u64,
}

/// One method with fixed settings and a grid of values to sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    /// Method name (`unlearn forget --list`).
    pub method: String,
    /// Name in reports (default: the method name).
    #[serde(default)]
    pub label: Option<String>,
    /// Fixed hyper-parameters.
    #[serde(default)]
    pub params: Map<String, Value>,
    /// Hyper-parameter → values; every combination is run.
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<Value>>,
}

/// The whole experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    /// Dataset (as `--dataset`).
    pub dataset: String,
    /// CSV label column.
    #[serde(default = "label")]
    pub label_column: String,
    /// Validation share.
    pub val_fraction: f64,
    /// Split seed.
    pub split_seed: u64,
    /// Use only the first N points (0 = all).
    #[serde(default)]
    pub limit: usize,
    /// Recipe of every trained model.
    pub recipe: RecipeSpec,
    /// Originals, and oracles per forget set (three sets: evaluation, floor, OM targets).
    pub models: usize,
    /// Subset models for the datamodels.
    pub subset_models: usize,
    /// Subset fraction α.
    pub alpha: f64,
    /// Datamodel estimator for DM-Direct and DMM.
    pub attribution: String,
    /// Models trained or unlearned together.
    pub stack: usize,
    /// Forget sets.
    pub forget_sets: Vec<ForgetSpec>,
    /// Methods and their grids.
    pub methods: Vec<MethodSpec>,
}

fn label() -> String {
    "label".into()
}

impl BenchConfig {
    /// The shipped default, a file, and `key=value` overrides of top-level fields, in that order.
    pub fn load(file: Option<&Path>, sets: &[String]) -> Result<Self> {
        let text = match file {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
            None => DEFAULT_CONFIG.to_string(),
        };
        let what = file
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the default bench config".into());
        let mut value: Value =
            serde_json::from_str(&text).with_context(|| format!("{what}: not valid JSON"))?;
        for set in sets {
            let (key, raw) = set
                .split_once('=')
                .with_context(|| format!("--set '{set}' is not key=value"))?;
            let v = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
            value
                .as_object_mut()
                .context("the bench config must be a JSON object")?
                .insert(key.trim().to_string(), v);
        }
        let config: BenchConfig = serde_json::from_value(value)
            .with_context(|| format!("{what}: invalid bench config"))?;
        if config.models < 2 {
            bail!("models must be ≥ 2 (KLoM compares distributions over models)");
        }
        if config.forget_sets.is_empty() || config.methods.is_empty() {
            bail!("the bench config needs at least one forget set and one method");
        }
        // Check every method and grid point now, not after hours of training.
        for method in &config.methods {
            for (label, params) in method.points() {
                unlearn_methods::MethodConfig::with_overrides(&method.method, &params)
                    .with_context(|| format!("{what}: method entry '{label}'"))?;
            }
        }
        Ok(config)
    }

    /// The reduced experiment of `--quick`: 30 models, the first forget set, one grid point each.
    pub fn quick(mut self) -> Self {
        self.models = self.models.min(30);
        self.subset_models = self.subset_models.min(100);
        self.forget_sets.truncate(1);
        for m in &mut self.methods {
            for values in m.grid.values_mut() {
                values.truncate(1);
            }
        }
        self
    }
}

impl MethodSpec {
    /// Every grid point: (label, overrides).
    pub fn points(&self) -> Vec<(String, Map<String, Value>)> {
        let base = self.label.clone().unwrap_or_else(|| self.method.clone());
        let mut points = vec![(base, self.params.clone())];
        for (key, values) in &self.grid {
            points = points
                .into_iter()
                .flat_map(|(label, params)| {
                    values.iter().map(move |v| {
                        let mut p = params.clone();
                        p.insert(key.clone(), v.clone());
                        (format!("{label} {key}={v}"), p)
                    })
                })
                .collect();
        }
        points
    }
}
