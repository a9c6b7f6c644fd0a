//! Sparse datamodels: β stored as each target's non-zero `(training point, value)` pairs, the
//! layout of a lasso's support. At CIFAR-10 scale a dense β is 50 000 × 600 000 f32 (120 GB);
//! the lasso keeps a few hundred points per target.
//!
//! On disk (docs/algorithms.md §6, "Sparse β"): compressed sparse rows over the targets, the
//! layout of `scipy.sparse.csr_matrix((values, indices, indptr), shape=(targets, train))`:
//! `beta_indptr.npy` (i64, targets + 1), `beta_indices.npy` (i32, training point per non-zero,
//! ascending within a target), `beta_values.npy` (f32), `beta_shape.npy` (i64: train, then the
//! target axes, e.g. `[n, points, classes]`). Target `t` is `point · classes + class`, as in the
//! dense `beta.npy` (`n × points × classes`).

use std::path::Path;

use rayon::prelude::*;

use crate::data::{Masks, check_rows};
use crate::datamodel::Datamodel;
use crate::error::{AttributionError, Result};

/// The four files of a sparse β, in the order [`SparseBeta::write`] writes them.
pub const SPARSE_FILES: [&str; 4] = [
    "beta_indptr.npy",
    "beta_indices.npy",
    "beta_values.npy",
    "beta_shape.npy",
];

/// β as per-target non-zeros (compressed sparse rows, one row per target).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseBeta {
    train: usize,
    targets: usize,
    indptr: Vec<u64>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl SparseBeta {
    /// From each target's non-zeros (any order; zeros dropped).
    pub fn from_targets(train: usize, targets: Vec<Vec<(u32, f32)>>) -> Result<Self> {
        let mut indptr = Vec::with_capacity(targets.len() + 1);
        indptr.push(0u64);
        let total: usize = targets.iter().map(Vec::len).sum();
        let (mut indices, mut values) = (Vec::with_capacity(total), Vec::with_capacity(total));
        let n_targets = targets.len();
        for mut pairs in targets {
            pairs.sort_unstable_by_key(|&(j, _)| j);
            for (j, v) in pairs {
                if j as usize >= train {
                    return Err(AttributionError::RowOutOfRange {
                        row: j as usize,
                        points: train,
                    });
                }
                if v != 0.0 {
                    indices.push(j);
                    values.push(v);
                }
            }
            indptr.push(indices.len() as u64);
        }
        Ok(Self {
            train,
            targets: n_targets,
            indptr,
            indices,
            values,
        })
    }

    /// From a dense row-major `train × targets` β (its zeros dropped).
    pub fn from_dense(train: usize, targets: usize, dense: &[f32]) -> Result<Self> {
        if train.checked_mul(targets) != Some(dense.len()) {
            return Err(AttributionError::BufferLength {
                what: "beta",
                len: dense.len(),
                rows: train,
                cols: targets,
            });
        }
        let per_target = (0..targets)
            .into_par_iter()
            .map(|t| {
                (0..train)
                    .filter_map(|j| {
                        let v = dense[j * targets + t];
                        (v != 0.0).then_some((j as u32, v))
                    })
                    .collect()
            })
            .collect();
        Self::from_targets(train, per_target)
    }

    /// Training points (rows of the dense β).
    pub fn train(&self) -> usize {
        self.train
    }

    /// Targets (columns of the dense β).
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// Stored non-zeros.
    pub fn nonzeros(&self) -> usize {
        self.values.len()
    }

    /// Target `t`'s non-zeros: (training points, values).
    pub fn target(&self, t: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[t] as usize, self.indptr[t + 1] as usize);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// The dense row-major `train × targets` β.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut dense = vec![0.0f32; self.train * self.targets];
        for t in 0..self.targets {
            let (idx, val) = self.target(t);
            for (&j, &v) in idx.iter().zip(val) {
                dense[j as usize * self.targets + t] = v;
            }
        }
        dense
    }

    /// `Σ_{i ∈ rows} β[i, ·]` (length `targets`), added in f32 in the order of `rows`, as a
    /// dense β's rows are summed: the same bits from either storage. Each target looks its rows
    /// up among its own non-zeros (`O(|rows| · log nnz)` per target).
    pub fn rows_sum(&self, rows: &[usize]) -> Result<Vec<f32>> {
        check_rows(rows, self.train)?;
        Ok((0..self.targets)
            .into_par_iter()
            .map(|t| {
                let (idx, val) = self.target(t);
                let mut sum = 0.0f32;
                for &i in rows {
                    if let Ok(k) = idx.binary_search(&(i as u32)) {
                        sum += val[k];
                    }
                }
                sum
            })
            .collect())
    }

    /// The targets of several parts side by side (shards of the targets, in order).
    pub fn concat(parts: &[SparseBeta]) -> Result<Self> {
        let train = parts.first().map_or(0, |p| p.train);
        if let Some(other) = parts.iter().find(|p| p.train != train) {
            return Err(AttributionError::DimensionMismatch {
                what: "training points of sparse β parts",
                left: other.train,
                right: train,
            });
        }
        let mut out = Self {
            train,
            targets: 0,
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
        };
        for part in parts {
            let base = out.indices.len() as u64;
            out.indptr
                .extend(part.indptr[1..].iter().map(|&p| base + p));
            out.indices.extend_from_slice(&part.indices);
            out.values.extend_from_slice(&part.values);
            out.targets += part.targets;
        }
        Ok(out)
    }

    /// Writes the four files of the layout into `dir` (each atomically); `target_shape` splits
    /// the targets into axes (e.g. `[points, classes]`), recorded in `beta_shape.npy`.
    pub fn write(&self, dir: &Path, target_shape: &[usize]) -> Result<()> {
        if target_shape.iter().product::<usize>() != self.targets {
            return Err(AttributionError::DimensionMismatch {
                what: "target shape vs targets of sparse β",
                left: target_shape.iter().product(),
                right: self.targets,
            });
        }
        let indptr: Vec<i64> = self.indptr.iter().map(|&p| p as i64).collect();
        let indices: Vec<i32> = self.indices.iter().map(|&j| j as i32).collect();
        let mut shape = vec![self.train as i64];
        shape.extend(target_shape.iter().map(|&d| d as i64));
        let [p, i, v, s] = SPARSE_FILES.map(|f| dir.join(f));
        unlearn_data::write_npy_i64(p, &[indptr.len()], &indptr)?;
        unlearn_data::write_npy_i32(i, &[indices.len()], &indices)?;
        unlearn_data::write_npy_f32(v, &[self.values.len()], &self.values)?;
        unlearn_data::write_npy_i64(s, &[shape.len()], &shape)?;
        Ok(())
    }

    /// Whether `dir` holds a sparse β.
    pub fn exists(dir: &Path) -> bool {
        SPARSE_FILES.iter().all(|f| dir.join(f).is_file())
    }

    /// Reads a sparse β written by [`write`](Self::write) (or by numpy in the same layout),
    /// checking that the files agree: `(β, the recorded shape [train, target axes...])`.
    pub fn read(dir: &Path) -> Result<(Self, Vec<usize>)> {
        let [p, i, v, s] = SPARSE_FILES.map(|f| dir.join(f));
        let bad = |reason: String| AttributionError::SparseLayout {
            dir: dir.to_path_buf(),
            reason,
        };
        let (_, shape) = unlearn_data::read_npy_i64(&s)?;
        if shape.len() < 2 || shape.iter().any(|&d| d < 0) {
            return Err(bad(format!(
                "beta_shape.npy holds {shape:?}, expected [train, points, classes]"
            )));
        }
        let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        let (train, targets) = (shape[0], shape[1..].iter().product::<usize>());
        let (_, indptr) = unlearn_data::read_npy_i64(&p)?;
        let (_, indices) = unlearn_data::read_npy_i64(&i)?;
        let (_, values) = unlearn_data::read_npy_f32(&v)?;
        let nnz = values.len();
        let monotone = indptr.windows(2).all(|w| w[0] <= w[1]);
        if indptr.len() != targets + 1
            || indptr.first() != Some(&0)
            || !monotone
            || indptr.last() != Some(&(nnz as i64))
        {
            return Err(bad(format!(
                "beta_indptr.npy must rise from 0 to the {nnz} values over {targets} targets + 1 entries; the files do not belong together (write them again)"
            )));
        }
        if indices.len() != nnz {
            return Err(bad(format!(
                "beta_indices.npy has {} entries for {nnz} values",
                indices.len()
            )));
        }
        if let Some(&j) = indices.iter().find(|&&j| j < 0 || j as usize >= train) {
            return Err(bad(format!(
                "beta_indices.npy names training point {j}, beyond the {train} points"
            )));
        }
        Ok((
            Self {
                train,
                targets,
                indptr: indptr.into_iter().map(|p| p as u64).collect(),
                indices: indices.into_iter().map(|j| j as u32).collect(),
                values,
            },
            shape,
        ))
    }
}

/// A datamodel whose β is sparse ([`SparseBeta`]), with its per-target intercept.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseDatamodel {
    beta: SparseBeta,
    intercept: Vec<f32>,
    lambdas: Vec<f64>,
}

impl SparseDatamodel {
    /// Builds one from β and a per-target intercept.
    pub fn new(beta: SparseBeta, intercept: Vec<f32>) -> Result<Self> {
        if intercept.len() != beta.targets {
            return Err(AttributionError::DimensionMismatch {
                what: "intercept length vs targets",
                left: intercept.len(),
                right: beta.targets,
            });
        }
        Ok(Self {
            beta,
            intercept,
            lambdas: Vec::new(),
        })
    }

    pub(crate) fn with_lambdas(mut self, lambdas: Vec<f64>) -> Self {
        self.lambdas = lambdas;
        self
    }

    /// The same datamodel, sparse (its zeros dropped).
    pub fn from_dense(dense: &Datamodel) -> Result<Self> {
        let beta = SparseBeta::from_dense(dense.points(), dense.targets(), dense.beta())?;
        Ok(Self::new(beta, dense.intercept().to_vec())?.with_lambdas(dense.lambdas().to_vec()))
    }

    /// The same datamodel, dense.
    pub fn to_dense(&self) -> Result<Datamodel> {
        Ok(Datamodel::new(
            self.beta.train,
            self.beta.targets,
            self.beta.to_dense(),
            self.intercept.clone(),
        )?
        .with_lambdas(self.lambdas.clone()))
    }

    /// β.
    pub fn beta(&self) -> &SparseBeta {
        &self.beta
    }

    /// Per-target intercept.
    pub fn intercept(&self) -> &[f32] {
        &self.intercept
    }

    /// λ per target, as [`Datamodel::lambdas`].
    pub fn lambdas(&self) -> &[f64] {
        &self.lambdas
    }

    /// Predicted outputs for every mask row: row-major `models × targets`, in
    /// `O(models × non-zeros)`.
    pub fn predict(&self, masks: &Masks<'_>) -> Result<Vec<f32>> {
        if masks.points() != self.beta.train {
            return Err(AttributionError::DimensionMismatch {
                what: "train points of masks vs datamodel",
                left: masks.points(),
                right: self.beta.train,
            });
        }
        let t = self.beta.targets;
        let mut pred = vec![0.0f32; masks.models() * t];
        pred.par_chunks_mut(t.max(1))
            .enumerate()
            .for_each(|(m, row)| {
                let mask = masks.row(m);
                for (tt, p) in row.iter_mut().enumerate() {
                    let (idx, val) = self.beta.target(tt);
                    let sum: f64 = idx
                        .iter()
                        .zip(val)
                        .filter(|&(&j, _)| mask[j as usize] != 0)
                        .map(|(_, &v)| v as f64)
                        .sum();
                    *p = self.intercept[tt] + sum as f32;
                }
            });
        Ok(pred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written 4 × 3 β: train point rows, target columns.
    const DENSE: [f32; 12] = [
        0.0, 1.5, 0.0, //
        2.0, 0.0, 0.0, //
        0.0, -1.0, 0.0, //
        0.5, 0.0, 0.0,
    ];

    #[test]
    fn dense_round_trip_rows_sum_and_layout_match_hand_values() {
        let s = SparseBeta::from_dense(4, 3, &DENSE).unwrap();
        // CSR over targets: target 0 has points 1 and 3, target 1 points 0 and 2, target 2 none.
        assert_eq!(s.indptr, vec![0, 2, 4, 4]);
        assert_eq!(s.indices, vec![1, 3, 0, 2]);
        assert_eq!(s.values, vec![2.0, 0.5, 1.5, -1.0]);
        assert_eq!(s.to_dense(), DENSE.to_vec());
        assert_eq!(s.rows_sum(&[0, 1]).unwrap(), vec![2.0, 1.5, 0.0]);
        assert_eq!(s.rows_sum(&[2, 3]).unwrap(), vec![0.5, -1.0, 0.0]);
        assert!(s.rows_sum(&[4]).is_err());
        // Two shards of targets join into the whole.
        let (a, b) = (
            SparseBeta::from_targets(4, vec![vec![(3, 0.5), (1, 2.0)]]).unwrap(),
            SparseBeta::from_targets(4, vec![vec![(0, 1.5), (2, -1.0)], vec![]]).unwrap(),
        );
        assert_eq!(SparseBeta::concat(&[a, b]).unwrap(), s);
    }

    #[test]
    fn files_round_trip_and_mismatched_files_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let s = SparseBeta::from_dense(4, 3, &DENSE).unwrap();
        s.write(dir, &[3, 1]).unwrap();
        let (back, shape) = SparseBeta::read(dir).unwrap();
        assert_eq!((back, shape), (s, vec![4, 3, 1]));
        unlearn_data::write_npy_i64(dir.join("beta_indptr.npy"), &[3], &[0, 2, 4]).unwrap();
        let err = SparseBeta::read(dir).unwrap_err().to_string();
        assert!(err.contains("do not belong together"), "{err}");
    }

    #[test]
    fn sparse_predictions_equal_the_dense_datamodels() {
        let dense = Datamodel::new(4, 3, DENSE.to_vec(), vec![0.25, -0.5, 1.0]).unwrap();
        let sparse = SparseDatamodel::from_dense(&dense).unwrap();
        let masks = [1u8, 0, 1, 1, 0, 1, 0, 0];
        let masks = Masks::new(&masks, 2, 4).unwrap();
        // Model 0 has points 0, 2, 3: targets 0.25 + 0.5, −0.5 + 1.5 − 1.0, 1.0.
        assert_eq!(
            sparse.predict(&masks).unwrap(),
            vec![0.75, 0.0, 1.0, 2.25, -0.5, 1.0]
        );
        assert_eq!(
            sparse.predict(&masks).unwrap(),
            dense.predict(&masks).unwrap()
        );
        assert_eq!(sparse.to_dense().unwrap(), dense);
    }
}
