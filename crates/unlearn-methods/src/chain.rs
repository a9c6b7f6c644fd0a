//! Deletion requests one after another (docs/algorithms.md §14). A zoo unlearned for F₁ may be
//! the originals of a request F₂: the methods then see the union F₁ ∪ F₂ as the forget set (the
//! retain set is S minus the union, OM's oracles must exclude the union, DM-Direct and DMM
//! predict the chain's trained originals without the union), and the new zoo's manifest keeps
//! the lineage: every earlier step, the trained originals and every point forgotten so far.

use crate::MethodError;
use serde::{Deserialize, Serialize};
use unlearn_data::ForgetSet;
use unlearn_train::Zoo;
use unlearn_train::manifest::InputRef;

/// One deletion request honoured, as the zoo it made records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineageStep {
    /// The zoo the step made.
    pub zoo: String,
    /// Its configuration hash (what `verify` checks the zoo against).
    pub config_hash: String,
    /// The method and its parameters.
    pub method: String,
    /// Its hyper-parameters.
    pub params: serde_json::Value,
    /// The request's forget set.
    pub forget_set: InputRef,
    /// Points in the request.
    pub size: usize,
    /// Points forgotten after the step (the union so far).
    pub forgotten: usize,
    /// Its cost, a share of one retraining (per model).
    pub cost: Option<f64>,
}

/// The chain behind a zoo about to take another request.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The trained (or imported) originals it began from.
    pub root: Zoo,
    /// Every point forgotten before the coming request, ascending.
    pub forgotten: Vec<usize>,
    /// The steps so far, oldest first.
    pub steps: Vec<LineageStep>,
}

/// The chain record of an unlearned zoo's manifest (`unlearning.inputs.chain`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainRecord {
    /// The trained originals: path and configuration hash.
    pub root: serde_json::Value,
    /// Every point forgotten, this request's included, ascending.
    pub forgotten: Vec<usize>,
    /// Points in this request.
    pub request_size: usize,
    /// The steps before this one, oldest first.
    pub steps: Vec<LineageStep>,
}

impl ChainRecord {
    /// The record of `zoo`, if it was made by a chained request; a record that does not parse
    /// is an error (read as none, the next request would teach earlier points back).
    pub fn of(zoo: &Zoo) -> Result<Option<Self>, MethodError> {
        let Some(chain) = zoo
            .manifest
            .unlearning
            .as_ref()
            .and_then(|u| u.get("inputs"))
            .and_then(|i| i.get("chain"))
        else {
            return Ok(None);
        };
        serde_json::from_value(chain.clone())
            .map(Some)
            .map_err(|e| chain_error(zoo, format!("its chain record is damaged ({e})")))
    }
}

fn chain_error(zoo: &Zoo, what: impl Into<String>) -> MethodError {
    MethodError::Chain {
        zoo: zoo.dir.display().to_string(),
        what: what.into(),
    }
}

impl LineageStep {
    /// The step that made the unlearned `zoo`, whose request had `size` points and left
    /// `forgotten` forgotten.
    pub fn of(zoo: &Zoo, size: usize, forgotten: usize) -> Result<Self, MethodError> {
        let unlearning = zoo
            .manifest
            .unlearning
            .as_ref()
            .ok_or_else(|| chain_error(zoo, "has no unlearning record"))?;
        let forget_set = zoo
            .manifest
            .forget_set
            .clone()
            .ok_or_else(|| chain_error(zoo, "records no forget set"))?;
        Ok(Self {
            zoo: zoo.dir.display().to_string(),
            config_hash: zoo.manifest.config_hash.clone(),
            method: unlearning["method"].as_str().unwrap_or("?").to_string(),
            params: unlearning["params"].clone(),
            forget_set,
            size,
            forgotten,
            cost: unlearning["cost"].as_f64(),
        })
    }
}

impl Chain {
    /// The chain behind `head`: none yet (`None`) when `head` holds trained or imported
    /// originals, else its lineage back to them.
    pub fn of(head: &Zoo) -> Result<Option<Self>, MethodError> {
        if head.manifest.kind != "unlearned" {
            return Ok(None);
        }
        let incomplete = |what: &str| chain_error(head, what.to_string());
        if let Some(record) = ChainRecord::of(head)? {
            let root_path = record.root["path"]
                .as_str()
                .ok_or_else(|| incomplete("its chain record names no originals"))?;
            let root = Zoo::load(std::path::Path::new(root_path))?;
            check_hash(&root, &record.root["config_hash"])?;
            let mut steps = record.steps.clone();
            steps.push(LineageStep::of(
                head,
                record.request_size,
                record.forgotten.len(),
            )?);
            return Ok(Some(Self {
                root,
                forgotten: record.forgotten,
                steps,
            }));
        }
        // The first request: its originals are the root, its forget set all that is forgotten.
        let unlearning = head.manifest.unlearning.as_ref();
        let originals = unlearning
            .and_then(|u| u["originals"]["path"].as_str())
            .ok_or_else(|| incomplete("its unlearning record names no originals"))?;
        let root = Zoo::load(std::path::Path::new(originals))?;
        check_hash(
            &root,
            &unlearning.map_or(serde_json::Value::Null, |u| {
                u["originals"]["config_hash"].clone()
            }),
        )?;
        let forget = head
            .manifest
            .forget_set
            .as_ref()
            .ok_or_else(|| incomplete("records no forget set"))?;
        let n_train = head.manifest.dataset.n_train;
        let set = ForgetSet::load(&forget.path, n_train)?;
        if unlearn_data::sha256_file(&forget.path)? != forget.sha256 {
            return Err(chain_error(
                head,
                format!(
                    "its forget set {} has changed since it was unlearned",
                    forget.path
                ),
            ));
        }
        let step = LineageStep::of(head, set.len(), set.len())?;
        Ok(Some(Self {
            root,
            forgotten: set.indices,
            steps: vec![step],
        }))
    }

    /// Everything forgotten once `request` is: a point forgotten before is an error naming it
    /// and the step that forgot it.
    pub fn union(&self, request: &ForgetSet, n_train: usize) -> Result<ForgetSet, MethodError> {
        if let Some(&again) = request
            .indices
            .iter()
            .find(|i| self.forgotten.binary_search(i).is_ok())
        {
            // The step whose request file holds it (1-based); 0 when the files are gone.
            let step = self
                .steps
                .iter()
                .position(|s| {
                    ForgetSet::load(&s.forget_set.path, n_train)
                        .is_ok_and(|f| f.indices.binary_search(&again).is_ok())
                })
                .map_or(0, |s| s + 1);
            return Err(MethodError::AlreadyForgotten { index: again, step });
        }
        let mut all = self.forgotten.clone();
        all.extend_from_slice(&request.indices);
        Ok(ForgetSet::from_indices(all, n_train)?)
    }

    /// The record the new zoo keeps for a request of `request_size` points.
    pub fn record(&self, union: &ForgetSet, request_size: usize) -> ChainRecord {
        ChainRecord {
            root: serde_json::json!({
                "path": self.root.dir.display().to_string(),
                "config_hash": self.root.manifest.config_hash,
            }),
            forgotten: union.indices.clone(),
            request_size,
            steps: self.steps.clone(),
        }
    }
}

fn check_hash(root: &Zoo, recorded: &serde_json::Value) -> Result<(), MethodError> {
    match recorded.as_str() {
        Some(hash) if hash != root.manifest.config_hash => Err(chain_error(
            root,
            format!(
                "is not the zoo the chain began from (configuration {hash} recorded, {} found)",
                root.manifest.config_hash
            ),
        )),
        _ => Ok(()),
    }
}
