//! The bench's plain data: its sizes and estimator, its forget sets, its methods with their grids
//! and the neighbourhood term's settings, and how artifacts are named. A leaf: the configuration,
//! the pipeline and the report read these types, and this module reads none of them.

use crate::error::{BenchError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use unlearn_data::{Ends, ForgetSet, GroupedRemoval, SubsetFraction};
use unlearn_methods::MethodRegistry;
use unlearn_models::Architecture;

/// A forget set with the name reports give it.
#[derive(Debug, Clone)]
pub struct NamedForgetSet {
    /// Name in reports and paths.
    pub name: String,
    /// The points, or how to choose them once the datamodels exist.
    pub draw: ForgetDraw,
    /// One line for the report ("10 points, classes [3]").
    pub description: String,
}

/// The points of a forget set (indices into the training split).
#[derive(Debug, Clone)]
pub enum ForgetDraw {
    /// Known before anything trains.
    Fixed(ForgetSet),
    /// `size` points at the end(s) of a principal component of the train × train datamodel
    /// matrix (docs/algorithms.md §11), drawn once the datamodels are fitted.
    Principal {
        /// Number of points.
        size: usize,
        /// 1 = first component.
        component: usize,
        /// The top, or the top and bottom halves.
        ends: Ends,
    },
}

impl NamedForgetSet {
    /// A forget set given in memory.
    pub fn new(name: &str, set: ForgetSet) -> Self {
        let description = format!("{} points", set.len());
        Self {
            name: name.to_string(),
            draw: ForgetDraw::Fixed(set),
            description,
        }
    }
}

/// Sizes of the experiment (the fields of the same names in a bench config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSettings {
    /// Originals, and models of each oracle zoo (three zoos per forget set: evaluation, floor,
    /// OM targets).
    pub models: usize,
    /// Subset models for the datamodels.
    pub subset_models: usize,
    /// Subset fraction α: a number, or a list the subsets take in turn (docs/algorithms.md §6).
    pub alpha: SubsetFraction,
    /// Leave points out of the subsets partly in groups drawn like structured forget sets
    /// (docs/algorithms.md §6); uniform subsets when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset_groups: Option<GroupedRemoval>,
    /// A neighbourhood term added to the datamodels (docs/algorithms.md §6), fitted on subsets
    /// of its own; the datamodels alone when absent. Meant for α near 1: at α = 0.5 β already
    /// holds most of a neighbourhood's effect and the term can count it twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbourhood_term: Option<NeighbourhoodSpec>,
    /// Datamodel estimator for DM-Direct and DMM: a name in [`Bench::estimators`]
    /// (`datamodels-lasso`, …, or one the user registered).
    pub attribution: String,
    /// Overrides of the estimator's hyper-parameters (a JSON object; empty: its defaults),
    /// e.g. `{"lambdas": [10.0]}` for ridge.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attribution_params: serde_json::Map<String, serde_json::Value>,
    /// Models trained or unlearned together.
    pub stack: usize,
}

impl Default for BenchSettings {
    /// 100 models per zoo, 500 subset models at α = 0.5, lasso datamodels, stacks of 32.
    fn default() -> Self {
        Self {
            models: 100,
            subset_models: 500,
            alpha: 0.5.into(),
            subset_groups: None,
            neighbourhood_term: None,
            attribution: "datamodels-lasso".into(),
            attribution_params: serde_json::Map::new(),
            stack: 32,
        }
    }
}

/// One method with fixed settings and a grid of values to sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    /// Method name in the registry.
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

impl MethodSpec {
    /// The method with its defaults and no grid.
    pub fn new(method: &str) -> Self {
        Self {
            method: method.to_string(),
            label: None,
            params: Map::new(),
            grid: BTreeMap::new(),
        }
    }

    /// Builds every grid point with `registry`: an unknown method, or a parameter it does not
    /// take or cannot read, is an error naming the entry.
    pub fn check<A: Architecture>(&self, registry: &MethodRegistry<A>) -> Result<()> {
        for (label, params) in self.points() {
            registry
                .build(&self.method, &params)
                .map_err(|e| BenchError::Config(format!("method entry '{label}': {e}")))?;
        }
        Ok(())
    }

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

/// Settings of the term (bench config `neighbourhood_term`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighbourhoodSpec {
    /// Nearest training points (input space) whose absence the term measures, per point.
    #[serde(default = "default_neighbours")]
    pub neighbours: usize,
    /// Subset models the term is fitted on (a zoo of its own, at the bench's α).
    pub subset_models: usize,
    /// How those subsets leave points out: a share as whole neighbourhoods is what the term
    /// learns from.
    pub groups: GroupedRemoval,
}

fn default_neighbours() -> usize {
    20
}

impl NeighbourhoodSpec {
    /// Checks the sizes and the groups.
    pub fn check(&self, n_train: usize) -> Result<()> {
        if self.neighbours == 0 || self.neighbours >= n_train {
            return Err(BenchError::out_of_range(
                "neighbourhood_term.neighbours",
                self.neighbours,
                format!("in 1..{n_train}"),
            ));
        }
        if self.subset_models < 3 {
            return Err(BenchError::out_of_range(
                "neighbourhood_term.subset_models",
                self.subset_models,
                "≥ 3 (two coefficients and a mean per output)",
            ));
        }
        if self.groups.neighbourhoods <= 0.0 {
            return Err(BenchError::out_of_range(
                "neighbourhood_term.groups.neighbourhoods",
                self.groups.neighbourhoods,
                "> 0 (the term learns from subsets that leave whole neighbourhoods out)",
            ));
        }
        Ok(self.groups.check()?)
    }
}

/// First 8 hex digits of the hash of a JSON value: names an artifact by what determines it.
pub(crate) fn key(value: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(value.to_string().as_bytes()))[..8].to_string()
}
