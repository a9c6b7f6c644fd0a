//! Margins as the public CIFAR-10 unlearning benchmark publishes them, so that any method can be
//! scored against its published oracles on a CPU, without their checkpoints. The tree (under a
//! dataset root `ROOT`):
//!
//! - `forget_sets/<data>/forget_set_<K>.npy`: indices of forget set `K` into the training set;
//! - `margins/<data>/oracle/forget_<K>/{retain,forget,val}/<arch>/id_<N>_epoch_<E>.npy`: model
//!   `N` retrained without forget set `K`, one margin per point of the split;
//! - `margins/<data>/pretrain/{retain,val}/<arch>/id_<N>_epoch_<E>.npy` (every training point in
//!   "retain") and `margins/<data>/pretrain/forget_<K>/<arch>/id_<N>_epoch_<E>.npy`: the
//!   originals, i.e. doing nothing;
//! - any other name in place of `oracle` (a method's margins written in the oracle layout).
//!
//! Defaults: `<data>` = `cifar10`, `<arch>` = `resnet9`, `<E>` = 23 (the last of 24 epochs).

use crate::error::{EvalError, Result};
use crate::klom::{Direction, KlomVariant, klom_with};
use crate::summary::Summary;
use serde::Serialize;
use std::path::PathBuf;

/// One of the three evaluation splits, named as in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitName {
    /// The forget set F.
    Forget,
    /// The training set without F.
    Retain,
    /// The test set.
    Val,
}

impl SplitName {
    /// All three, in report order.
    pub const ALL: [SplitName; 3] = [SplitName::Forget, SplitName::Retain, SplitName::Val];

    fn dir(self) -> &'static str {
        match self {
            SplitName::Forget => "forget",
            SplitName::Retain => "retain",
            SplitName::Val => "val",
        }
    }
}

/// Whose margins: the originals (`pretrain`, their own layout) or a set of models per forget
/// set in the oracle layout (`oracle`, or a method's directory name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarginSource {
    /// `margins/<data>/pretrain/…`.
    Pretrain,
    /// `margins/<data>/<name>/forget_<K>/<split>/…`.
    PerForgetSet(String),
}

/// A published margin tree.
#[derive(Debug, Clone)]
pub struct MarginTree {
    /// Dataset root (holds `margins/` and `forget_sets/`).
    pub root: PathBuf,
    /// Dataset directory name.
    pub data: String,
    /// Architecture directory name.
    pub arch: String,
    /// Epoch in the file names.
    pub epoch: u32,
}

impl MarginTree {
    /// The tree at `root` with the benchmark's names (`cifar10`, `resnet9`, epoch 23).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            data: "cifar10".into(),
            arch: "resnet9".into(),
            epoch: 23,
        }
    }

    fn model_file(&self, dir: PathBuf, model: usize) -> PathBuf {
        dir.join(&self.arch)
            .join(format!("id_{model}_epoch_{}.npy", self.epoch))
    }

    /// The file of `model`'s margins on `split`.
    pub fn path(
        &self,
        source: &MarginSource,
        split: SplitName,
        forget: usize,
        model: usize,
    ) -> PathBuf {
        let base = self.root.join("margins").join(&self.data);
        let dir = match source {
            MarginSource::Pretrain => match split {
                SplitName::Forget => base.join("pretrain").join(format!("forget_{forget}")),
                other => base.join("pretrain").join(other.dir()),
            },
            MarginSource::PerForgetSet(name) => base
                .join(name)
                .join(format!("forget_{forget}"))
                .join(split.dir()),
        };
        self.model_file(dir, model)
    }

    /// The indices of forget set `forget` into the training set.
    pub fn forget_set(&self, forget: usize) -> Result<Vec<usize>> {
        let path = self
            .root
            .join("forget_sets")
            .join(&self.data)
            .join(format!("forget_set_{forget}.npy"));
        let (_, values) = unlearn_data::read_npy_i64(&path)?;
        values
            .into_iter()
            .map(|v| {
                usize::try_from(v).map_err(|_| EvalError::Published {
                    path: path.clone(),
                    what: format!("negative index {v}"),
                })
            })
            .collect()
    }

    /// Margins of models `models` on `split`, `models.len() × points` row-major. The
    /// originals' retain file covers every training point: the forget set's are dropped so
    /// that its points line up with the oracles'.
    pub fn margins(
        &self,
        source: &MarginSource,
        split: SplitName,
        forget: usize,
        models: std::ops::Range<usize>,
    ) -> Result<(usize, Vec<f32>)> {
        let drop: Vec<usize> = if *source == MarginSource::Pretrain && split == SplitName::Retain {
            let mut f = self.forget_set(forget)?;
            f.sort_unstable();
            f
        } else {
            Vec::new()
        };
        let mut points = None;
        let mut all = Vec::new();
        for model in models {
            let path = self.path(source, split, forget, model);
            if !path.is_file() {
                return Err(EvalError::Published {
                    path,
                    what: "missing; ask for fewer models (--models) or complete the tree".into(),
                });
            }
            let (_, mut values) = unlearn_data::read_npy_f32(&path)?;
            if !drop.is_empty() {
                values = values
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| drop.binary_search(i).is_err())
                    .map(|(_, v)| v)
                    .collect();
            }
            match points {
                None => points = Some(values.len()),
                Some(n) if n != values.len() => {
                    return Err(EvalError::Published {
                        path,
                        what: format!(
                            "{} margins where the first model of this split has {n}",
                            values.len()
                        ),
                    });
                }
                _ => {}
            }
            all.extend(values);
        }
        let points = points.ok_or_else(|| EvalError::Empty("no models asked for".into()))?;
        Ok((points, all))
    }
}

/// KLoM of one side against the oracles on each split.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedScore {
    /// Forget, retain and validation, in that order.
    pub splits: Vec<(SplitName, Summary)>,
    /// Points per split.
    pub points: Vec<usize>,
}

/// Scores `unlearned` models `unlearned_models` against the oracles `oracle_models` of forget
/// set `forget` on every split.
pub fn score_published(
    tree: &MarginTree,
    unlearned: (&MarginTree, &MarginSource, std::ops::Range<usize>),
    oracle_models: std::ops::Range<usize>,
    forget: usize,
    direction: Direction,
    variant: KlomVariant,
) -> Result<PublishedScore> {
    let oracle = MarginSource::PerForgetSet("oracle".into());
    let mut splits = Vec::new();
    let mut counts = Vec::new();
    for split in SplitName::ALL {
        let (n_o, o) = tree.margins(&oracle, split, forget, oracle_models.clone())?;
        let (u_tree, u_source, u_models) = (unlearned.0, unlearned.1, unlearned.2.clone());
        let (n_u, u) = u_tree.margins(u_source, split, forget, u_models)?;
        if n_u != n_o {
            return Err(EvalError::Published {
                path: u_tree.path(u_source, split, forget, 0),
                what: format!(
                    "{n_u} points on {} but the oracles have {n_o}; score margins of the same forget set",
                    split.dir()
                ),
            });
        }
        let per_point = klom_with(&u, &o, n_o, direction, variant)?;
        splits.push((split, Summary::of(&per_point)?));
        counts.push(n_o);
    }
    Ok(PublishedScore {
        splits,
        points: counts,
    })
}
