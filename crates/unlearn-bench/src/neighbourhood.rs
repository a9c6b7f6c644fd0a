//! The bench's neighbourhood term (docs/algorithms.md §6, "Neighbourhood term"): a second zoo of
//! subset models whose left-out points come partly as whole groups, and the term fitted on what
//! the datamodels leave unexplained of their outputs. DM-Direct and DMM then take
//! `Σ_{i∈F} β − change_F` in place of `Σ_{i∈F} β`.

use crate::datamodels::SubsetZoo;
use crate::error::{BenchError, Result};
use crate::record;
use serde::{Deserialize, Serialize};
use std::path::Path;
use unlearn_attribution::{Datamodel, NeighbourhoodTerm, Neighbours, Outputs};
use unlearn_data::{GroupedRemoval, Prepared};

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
            return Err(BenchError::Config(format!(
                "neighbourhood_term.neighbours must lie in 1..{n_train} (got {})",
                self.neighbours
            )));
        }
        if self.subset_models < 3 {
            return Err(BenchError::Config(
                "neighbourhood_term.subset_models must be ≥ 3 (two coefficients and a mean per output)".into(),
            ));
        }
        if self.groups.neighbourhoods <= 0.0 {
            return Err(BenchError::Config(
                "neighbourhood_term.groups.neighbourhoods must be > 0: the term learns from subsets that leave whole neighbourhoods out".into(),
            ));
        }
        Ok(self.groups.check()?)
    }
}

/// A fitted term and the neighbour table it reads.
pub struct FittedTerm {
    term: NeighbourhoodTerm,
    table: Vec<u32>,
    k: usize,
    n_train: usize,
}

impl FittedTerm {
    /// Fits the term on `subsets` against the datamodels `beta` (`n × points × classes`), or
    /// reads it back from `dir` when an earlier run finished it.
    pub fn fit_or_load(
        dir: &Path,
        spec: &NeighbourhoodSpec,
        beta: &[f32],
        subsets: &SubsetZoo,
        data: &Prepared,
    ) -> Result<Self> {
        let (zoo, n) = (&subsets.zoo, subsets.masks.n);
        let (points, classes) = (zoo.points, zoo.classes);
        let table = unlearn_data::neighbour_table(
            &data.train.features,
            &data.val.features,
            data.train.dim,
            spec.neighbours,
        )?;
        let neighbours = Neighbours::new(&table, spec.neighbours, n)?;
        if neighbours.points() != points {
            return Err(BenchError::invalid(
                &zoo.dir,
                format!(
                    "holds {points} evaluated points, the data {}; train it on the same data",
                    neighbours.points()
                ),
            ));
        }
        let _lock = record::open(dir)?;
        let file = "coefficients.npy";
        let term = if dir.join(record::RECORD).is_file() && dir.join(file).is_file() {
            crate::datamodels::check_recorded(dir)?;
            let (shape, values) = unlearn_data::read_npy_f32(dir.join(file))?;
            if shape != [points, classes, 2] {
                return Err(BenchError::invalid(
                    &dir.join(file),
                    format!(
                        "shape {shape:?}, expected [{points}, {classes}, 2]; delete the directory to refit"
                    ),
                ));
            }
            NeighbourhoodTerm::from_coefficients(points, classes, n, values)?
        } else {
            record::unmark(dir)?;
            let targets = points * classes;
            let linear = Datamodel::new(n, targets, beta.to_vec(), vec![0.0; targets])?;
            let logits = subsets.logits_of_points(&(0..points));
            let term = NeighbourhoodTerm::fit(
                &linear,
                &subsets.model_masks()?,
                &Outputs::new(&logits, zoo.models, targets)?,
                &neighbours,
                classes,
            )?;
            unlearn_data::write_npy_f32(
                dir.join(file),
                &[points, classes, 2],
                term.coefficients(),
            )?;
            let mut info = serde_json::json!({
                "estimator": "neighbourhood-term",
                "neighbours": spec.neighbours,
                "zoo": zoo.manifest.config_hash,
                "models": zoo.models,
            });
            record::write(dir, &mut info, &[file])?;
            term
        };
        Ok(Self {
            term,
            table,
            k: spec.neighbours,
            n_train: n,
        })
    }

    /// `Σ_{i∈F} β` (`points × classes`) becomes `Σ_{i∈F} β − change_F`: the quantity DM-Direct
    /// and DMM subtract from the original logits.
    pub fn adjust(&self, beta_forget: &mut [f32], forget: &[usize]) -> Result<()> {
        let neighbours = Neighbours::new(&self.table, self.k, self.n_train)?;
        let change = self.term.removal_change(&neighbours, forget)?;
        if change.len() != beta_forget.len() {
            return Err(BenchError::Config(format!(
                "the neighbourhood term covers {} outputs, the attribution {}",
                change.len(),
                beta_forget.len()
            )));
        }
        for (b, c) in beta_forget.iter_mut().zip(change) {
            *b -= c;
        }
        Ok(())
    }
}
