//! The bench's neighbourhood term (docs/algorithms.md §6, "Neighbourhood term"): a second zoo of
//! subset models whose left-out points come partly as whole groups, and the term fitted on what
//! the datamodels leave unexplained of their outputs. DM-Direct and DMM then take
//! `Σ_{i∈F} β − change_F` in place of `Σ_{i∈F} β`.

use crate::datamodels::SubsetZoo;
use crate::error::{BenchError, Result};
use crate::record;
use std::path::Path;
use unlearn_attribution::{Datamodel, NeighbourhoodTerm, Neighbours, Outputs};
use unlearn_data::Prepared;

/// Below this subset fraction the term runs with a warning.
pub(crate) const TERM_ALPHA: f64 = 0.8;

/// The term's file and its record's estimator name.
const COEFFICIENTS: &str = "coefficients.npy";
const ESTIMATOR: &str = "neighbourhood-term";

/// Every evaluated point's `k` nearest training points (train, then validation rows).
fn table(data: &Prepared, k: usize, points: usize) -> Result<Vec<u32>> {
    let table =
        unlearn_data::neighbour_table(&data.train.features, &data.val.features, data.train.dim, k)?;
    if table.len() != points * k {
        return Err(BenchError::Config(format!(
            "the data hold {} evaluated points, the zoo {points}; use the data it was trained on",
            table.len() / k
        )));
    }
    Ok(table)
}

/// A fitted term and the neighbour table it reads.
pub struct FittedTerm {
    term: NeighbourhoodTerm,
    table: Vec<u32>,
    k: usize,
    n_train: usize,
}

impl FittedTerm {
    /// Fits the term with `k` neighbours on `subsets` against the datamodels `beta`
    /// (`n × points × classes`) into `dir`, or reads it back when `dir` already holds a term
    /// finished with the same inputs.
    pub fn fit_or_load(
        dir: &Path,
        k: usize,
        beta: &[f32],
        subsets: &SubsetZoo,
        data: &Prepared,
    ) -> Result<Self> {
        let zoo = &subsets.zoo;
        let _lock = record::open(dir)?;
        let inputs = serde_json::json!({
            "estimator": ESTIMATOR,
            "neighbours": k,
            "zoo_config_hash": zoo.manifest.config_hash,
            "models": zoo.models,
        });
        if record::finished(dir, &inputs, COEFFICIENTS).is_some() {
            return Self::read(dir, k, data, Some(zoo.classes));
        }
        record::unmark(dir)?;
        let (n, points, classes) = (subsets.masks.n, zoo.points, zoo.classes);
        let table = table(data, k, points)?;
        let targets = points * classes;
        let linear = Datamodel::new(n, targets, beta.to_vec(), vec![0.0; targets])?;
        let logits = subsets.logits_of_points(&(0..points));
        let term = NeighbourhoodTerm::fit(
            &linear,
            &subsets.model_masks()?,
            &Outputs::new(&logits, zoo.models, targets)?,
            &Neighbours::new(&table, k, n)?,
            classes,
        )?;
        unlearn_data::write_npy_f32(
            dir.join(COEFFICIENTS),
            &[points, classes, 2],
            term.coefficients(),
        )?;
        let mut info = inputs;
        record::write(dir, &mut info, &[COEFFICIENTS])?;
        Ok(Self {
            term,
            table,
            k,
            n_train: n,
        })
    }

    /// A term a finished run wrote into `dir` (`unlearn attribute neighbourhood` or the bench),
    /// for the data `data` its zoo was trained on.
    pub fn load(dir: &Path, data: &Prepared) -> Result<Self> {
        crate::datamodels::check_recorded(dir)?;
        let path = dir.join(record::RECORD);
        let text = std::fs::read_to_string(&path).map_err(BenchError::io(&path))?;
        let info: serde_json::Value = serde_json::from_str(&text)?;
        let (Some(ESTIMATOR), Some(k)) = (info["estimator"].as_str(), info["neighbours"].as_u64())
        else {
            return Err(BenchError::invalid(
                &path,
                "is not the record of a neighbourhood term; fit one with `unlearn attribute neighbourhood`",
            ));
        };
        Self::read(dir, k as usize, data, None)
    }

    /// The stored coefficients with `classes` classes (any number when `None`) for `data`.
    fn read(dir: &Path, k: usize, data: &Prepared, classes: Option<usize>) -> Result<Self> {
        let n = data.train.len();
        let points = n + data.val.len();
        let file = dir.join(COEFFICIENTS);
        let (shape, values) = unlearn_data::read_npy_f32(&file)?;
        let classes = classes.unwrap_or(shape.get(1).copied().unwrap_or(0));
        if shape != [points, classes, 2] {
            return Err(BenchError::invalid(
                &file,
                format!(
                    "shape {shape:?}, expected [{points}, {classes}, 2] for these data; fit the term again on them"
                ),
            ));
        }
        Ok(Self {
            term: NeighbourhoodTerm::from_coefficients(points, classes, n, values)?,
            table: table(data, k, points)?,
            k,
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
