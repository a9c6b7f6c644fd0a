//! β on disk, dense (`beta.npy`, `n × points × classes` f32) or sparse (each target's non-zeros:
//! [`unlearn_attribution::SPARSE_FILES`], the layout docs/algorithms.md §6 describes), and the
//! reads DM-Direct and DMM need: Σ_{i∈F} β touches only F's rows of a dense file (seeks) or the
//! stored non-zeros of a sparse one, never the whole dense β.

use crate::error::{BenchError, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use unlearn_attribution::{
    Datamodel, Estimator, Masks, Outputs, SPARSE_FILES, SparseBeta, SparseDatamodel,
};

/// Dense β's file.
pub const DENSE_FILE: &str = "beta.npy";
/// The intercept's file (dense either way: one value per target).
pub const INTERCEPT_FILE: &str = "intercept.npy";

/// How `unlearn attribute` stores β.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BetaFormat {
    /// Sparse for estimators whose β is mostly zeros (the lassos), dense for the others.
    #[default]
    Auto,
    /// `beta.npy`.
    Dense,
    /// The non-zeros of each target.
    Sparse,
}

impl BetaFormat {
    /// Whether β of `estimator` is stored sparse.
    pub fn sparse_for(self, estimator: &dyn Estimator) -> bool {
        match self {
            Self::Auto => estimator.sparse(),
            Self::Dense => false,
            Self::Sparse => true,
        }
    }

    /// The files a datamodel directory of this storage lists in its record.
    pub fn outputs(sparse: bool) -> &'static [&'static str] {
        if sparse {
            &[
                SPARSE_FILES[0],
                SPARSE_FILES[1],
                SPARSE_FILES[2],
                SPARSE_FILES[3],
                INTERCEPT_FILE,
            ]
        } else {
            &[DENSE_FILE, INTERCEPT_FILE]
        }
    }
}

/// A fit, dense or sparse as its storage will be.
pub enum FittedBeta {
    /// β as a dense matrix.
    Dense(Datamodel),
    /// β as each target's non-zeros.
    Sparse(SparseDatamodel),
}

impl FittedBeta {
    /// Fits `estimator`, sparse (without forming the dense β where the estimator can) when
    /// `sparse`.
    pub fn fit(
        estimator: &dyn Estimator,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        sparse: bool,
    ) -> Result<Self> {
        Ok(if sparse {
            Self::Sparse(estimator.fit_sparse(masks, outputs)?)
        } else {
            Self::Dense(estimator.fit(masks, outputs)?)
        })
    }

    /// Predicted outputs of every mask row (row-major `models × targets`).
    pub fn predict(&self, masks: &Masks<'_>) -> Result<Vec<f32>> {
        Ok(match self {
            Self::Dense(d) => d.predict(masks)?,
            Self::Sparse(s) => s.predict(masks)?,
        })
    }

    /// The dense datamodel.
    pub fn into_dense(self) -> Result<Datamodel> {
        Ok(match self {
            Self::Dense(d) => d,
            Self::Sparse(s) => s.to_dense()?,
        })
    }

    /// Writes β (`[n, points, classes]`) and the intercept into `dir`, removing a β of the
    /// other storage an earlier run left; returns the files written.
    pub fn write(&self, dir: &Path, shape: [usize; 3]) -> Result<&'static [&'static str]> {
        let [n, points, classes] = shape;
        let sparse = matches!(self, Self::Sparse(_));
        for stale in BetaFormat::outputs(!sparse) {
            let path = dir.join(stale);
            if *stale != INTERCEPT_FILE && path.exists() {
                std::fs::remove_file(&path).map_err(BenchError::io(&path))?;
            }
        }
        let intercept = match self {
            Self::Dense(d) => {
                unlearn_data::write_npy_f32(dir.join(DENSE_FILE), &shape, d.beta())?;
                d.intercept()
            }
            Self::Sparse(s) => {
                s.beta().write(dir, &[points, classes])?;
                s.intercept()
            }
        };
        debug_assert_eq!(intercept.len(), points * classes, "{n} rows");
        unlearn_data::write_npy_f32(dir.join(INTERCEPT_FILE), &[points, classes], intercept)?;
        Ok(BetaFormat::outputs(sparse))
    }
}

/// The β an attribution directory holds.
pub enum StoredBeta {
    /// `beta.npy` of this shape.
    Dense(PathBuf, [usize; 3]),
    /// The sparse files, read, with their shape.
    Sparse(SparseBeta, [usize; 3]),
}

impl StoredBeta {
    /// Whether `dir` holds a β, dense or sparse.
    pub fn exists(dir: &Path) -> bool {
        dir.join(DENSE_FILE).is_file() || SparseBeta::exists(dir)
    }

    /// Opens the β of `dir` (a write removes the other storage's files, so one is there).
    pub fn open(dir: &Path) -> Result<Self> {
        if SparseBeta::exists(dir) {
            let (beta, shape) = SparseBeta::read(dir)?;
            let [n, points, classes] = shape[..] else {
                return Err(BenchError::invalid(
                    dir.join(SPARSE_FILES[3]),
                    format!("shape {shape:?}, expected [train points, points, classes]"),
                ));
            };
            return Ok(Self::Sparse(beta, [n, points, classes]));
        }
        let path = dir.join(DENSE_FILE);
        if !path.is_file() {
            return Err(BenchError::invalid(
                dir,
                "holds no β (only Σ_F β rows?); compute every row with `unlearn attribute` without --forget-set",
            ));
        }
        let (shape, _) = unlearn_data::read_npy_f32_rows(&path, &[])?;
        let [n, points, classes] = shape[..] else {
            return Err(BenchError::invalid(
                &path,
                format!("shape {shape:?}, expected [train points, points, classes]"),
            ));
        };
        Ok(Self::Dense(path, [n, points, classes]))
    }

    /// The file of `dir` that records the shape (for messages).
    pub fn shape_file(&self, dir: &Path) -> PathBuf {
        match self {
            Self::Dense(path, _) => path.clone(),
            Self::Sparse(..) => dir.join(SPARSE_FILES[3]),
        }
    }

    /// `[training points, points, classes]`.
    pub fn shape(&self) -> [usize; 3] {
        match self {
            Self::Dense(_, s) | Self::Sparse(_, s) => *s,
        }
    }

    /// Σ_{i∈rows} β[i, ·] over every target, reading only what it needs.
    pub fn rows_sum(&self, rows: &[usize]) -> Result<Vec<f32>> {
        match self {
            Self::Sparse(beta, _) => Ok(beta.rows_sum(rows)?),
            Self::Dense(path, [n, points, classes]) => {
                if let Some(&bad) = rows.iter().find(|&&i| i >= *n) {
                    return Err(BenchError::invalid(
                        path,
                        format!("forget index {bad} is beyond its {n} rows"),
                    ));
                }
                let (_, picked) = unlearn_data::read_npy_f32_rows(path, rows)?;
                // Summed as the whole file always was (f32, in the order asked): the same bits.
                let order: Vec<usize> = (0..rows.len()).collect();
                Ok(sum_rows(&picked, &order, points * classes))
            }
        }
    }

    /// Every row: row-major `n × points × classes` (the whole dense β, for the uses that need
    /// all of it: the neighbourhood term, structured forget sets, coupling).
    pub fn dense(&self) -> Result<Vec<f32>> {
        match self {
            Self::Sparse(beta, _) => Ok(beta.to_dense()),
            Self::Dense(path, _) => Ok(unlearn_data::read_npy_f32(path)?.1),
        }
    }
}

/// Joins the β of attribution shards (`(directory, evaluated points)` in the order of their
/// point ranges) into `out`: one file as an unsharded run writes it.
pub fn join_shards(
    shards: &[(&Path, usize)],
    classes: usize,
    sparse: bool,
    out: &Path,
) -> Result<()> {
    let misfit = |dir: &Path, shape: &[usize], len: usize| {
        BenchError::invalid(
            dir,
            format!(
                "β of shape {shape:?} does not fit its shard ({len} points × {classes} classes)"
            ),
        )
    };
    if sparse {
        let mut parts = Vec::with_capacity(shards.len());
        for &(dir, len) in shards {
            let (part, shape) = SparseBeta::read(dir)?;
            if shape[1..] != [len, classes] {
                return Err(misfit(dir, &shape, len));
            }
            parts.push(part);
        }
        let joined = SparseBeta::concat(&parts)?;
        joined.write(out, &[joined.targets() / classes.max(1), classes])?;
        return Ok(());
    }
    // parts[j]: (training points, values) of shard j.
    let mut parts: Vec<(usize, Vec<f32>)> = Vec::new();
    for &(dir, len) in shards {
        let (shape, values) = unlearn_data::read_npy_f32(dir.join(DENSE_FILE))?;
        if shape.len() != 3 || shape[1..] != [len, classes] {
            return Err(misfit(dir, &shape, len));
        }
        if let Some((rows, _)) = parts.first().filter(|(rows, _)| *rows != shape[0]) {
            return Err(BenchError::invalid(
                dir,
                format!(
                    "has β for {} training points, the first shard for {rows}; shards of different data",
                    shape[0]
                ),
            ));
        }
        parts.push((shape[0], values));
    }
    let rows = parts.first().map_or(0, |p| p.0);
    let points: usize = shards.iter().map(|s| s.1).sum();
    // β is n × points × classes: each training point's row joins the shards' point ranges.
    let mut beta = Vec::with_capacity(rows * points * classes);
    for i in 0..rows {
        for (&(_, len), (_, values)) in shards.iter().zip(&parts) {
            let width = len * classes;
            beta.extend_from_slice(&values[i * width..(i + 1) * width]);
        }
    }
    unlearn_data::write_npy_f32(out.join(DENSE_FILE), &[rows, points, classes], &beta)?;
    Ok(())
}

/// Σ_{i∈rows} β[i, ·] of a row-major `n × per` matrix.
pub fn sum_rows(beta: &[f32], rows: &[usize], per: usize) -> Vec<f32> {
    let mut sum = vec![0.0f32; per];
    for &i in rows {
        for (s, &b) in sum.iter_mut().zip(&beta[i * per..(i + 1) * per]) {
            *s += b;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_files_give_the_same_sums_and_rows() {
        // 3 training points × (2 points × 2 classes), with zeros.
        let beta = [
            0.5f32, 0.0, 0.0, -1.0, //
            0.0, 0.0, 2.0, 0.0, //
            0.25, 1.0, 0.0, 0.0,
        ];
        let model = Datamodel::new(3, 4, beta.to_vec(), vec![0.0; 4]).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let (dense_dir, sparse_dir) = (tmp.path().join("dense"), tmp.path().join("sparse"));
        for d in [&dense_dir, &sparse_dir] {
            std::fs::create_dir_all(d).unwrap();
        }
        let written = FittedBeta::Dense(model.clone())
            .write(&dense_dir, [3, 2, 2])
            .unwrap();
        assert_eq!(written, &[DENSE_FILE, INTERCEPT_FILE]);
        let sparse = SparseDatamodel::from_dense(&model).unwrap();
        let written = FittedBeta::Sparse(sparse)
            .write(&sparse_dir, [3, 2, 2])
            .unwrap();
        assert_eq!(written.len(), 5);
        for dir in [&dense_dir, &sparse_dir] {
            let stored = StoredBeta::open(dir).unwrap();
            assert_eq!(stored.shape(), [3, 2, 2]);
            // Rows 0 and 2 by hand: 0.75, 1.0, 0.0, −1.0.
            assert_eq!(
                stored.rows_sum(&[2, 0]).unwrap(),
                vec![0.75, 1.0, 0.0, -1.0]
            );
            assert!(stored.rows_sum(&[3]).is_err());
            assert_eq!(stored.dense().unwrap(), beta.to_vec());
        }
    }
}
