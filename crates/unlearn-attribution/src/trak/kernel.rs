//! TRAK's kernel and scores (docs/algorithms.md §7), for one model: `K = (ΦᵀΦ + λI)⁻¹` from the
//! train features `Φ` (`n × k`), `A = Φ K`, and the raw scores `(Φ K ψ(x))_i = A_i · ψ(x)` of any
//! target features `ψ`; [`ScoreAccumulator`] sums those over models for a chosen set of train
//! rows × targets, and applies TRAK's weights `Q` at the end.
//!
//! The ridge is relative: `λ = ridge · tr(ΦᵀΦ)/k`, so it does not depend on the (arbitrary)
//! scale of the features. The inverse goes through a Cholesky factorisation in f64.

use nalgebra::{DMatrixView, DMatrixViewMut};
use rayon::prelude::*;

use super::dense::{gram, row_block, spd_inverse, times_kernel};
use crate::error::{AttributionError, Result};

/// `A = Φ (ΦᵀΦ + λI)⁻¹` for one model.
#[derive(Debug, Clone)]
pub struct TrakKernel {
    n: usize,
    k: usize,
    lambda: f64,
    /// Row-major `n × k`.
    a: Vec<f32>,
}

impl TrakKernel {
    /// Fits the kernel of the row-major `n × k` train features `phi`, with `λ = ridge · tr(ΦᵀΦ)/k`.
    pub fn fit(phi: &[f32], n: usize, k: usize, ridge: f64) -> Result<Self> {
        Ok(Self::fit_many(phi, n, k, &[ridge])?
            .pop()
            .expect("one ridge"))
    }

    /// One kernel per relative ridge, sharing the Gram matrix `ΦᵀΦ`.
    pub fn fit_many(phi: &[f32], n: usize, k: usize, ridges: &[f64]) -> Result<Vec<Self>> {
        if phi.len() != n * k {
            return Err(AttributionError::BufferLength {
                what: "train features",
                len: phi.len(),
                rows: n,
                cols: k,
            });
        }
        if let Some(&ridge) = ridges.iter().find(|r| !(**r >= 0.0 && r.is_finite())) {
            return Err(AttributionError::InvalidParam {
                name: "ridge",
                reason: format!("must be ≥ 0, got {ridge}"),
            });
        }
        if phi.iter().any(|v| !v.is_finite()) {
            return Err(AttributionError::Numerical(
                "a train gradient feature is not finite".into(),
            ));
        }
        let gram = gram(phi, n, k);
        let scale = gram.trace() / k as f64;
        ridges
            .iter()
            .map(|&ridge| {
                let lambda = ridge * scale;
                let mut g = gram.clone();
                for i in 0..k {
                    g[(i, i)] += lambda;
                }
                let kernel = spd_inverse(&g).ok_or_else(|| {
                    AttributionError::Numerical(format!(
                        "ΦᵀΦ + λI is not positive definite (k = {k}, n = {n}, λ = {lambda:.3e}); use a ridge > 0 or k < n"
                    ))
                })?;
                let a = times_kernel(phi, n, k, &kernel);
                Ok(Self { n, k, lambda, a })
            })
            .collect()
    }

    /// The absolute ridge λ used.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }

    /// Train points.
    pub fn points(&self) -> usize {
        self.n
    }

    /// Feature width.
    pub fn dim(&self) -> usize {
        self.k
    }

    /// `A = Φ K`, row-major `n × k`.
    pub fn a(&self) -> &[f32] {
        &self.a
    }

    /// Raw scores `A ψᵀ` of row-major `t × k` target features: row-major `n × t`.
    pub fn scores(&self, psi: &[f32], t: usize) -> Result<Vec<f32>> {
        let mut acc = ScoreAccumulator::new((0..self.n).collect(), (0..t).collect(), self.n)?;
        acc.add_block(self, 0, psi, t)?;
        acc.add_model_weights(&vec![1.0; self.n])?;
        acc.finish()
    }
}

/// Sums raw scores over models for a set of train rows × targets, then applies the weights.
#[derive(Debug, Clone)]
pub struct ScoreAccumulator {
    rows: Vec<usize>,
    targets: Vec<usize>,
    n: usize,
    /// Row-major `rows × targets`, summed over models.
    values: Vec<f32>,
    /// Σ over models of `Q` per train point.
    q_sum: Vec<f64>,
    models: usize,
    /// Models that have added blocks since their weights.
    pending: bool,
}

impl ScoreAccumulator {
    /// Scores of train rows `rows` (distinct, `< n`) on targets `targets` (strictly increasing
    /// indices into the caller's target list).
    pub fn new(rows: Vec<usize>, targets: Vec<usize>, n: usize) -> Result<Self> {
        crate::data::check_rows(&rows, n)?;
        if targets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(AttributionError::InvalidParam {
                name: "targets",
                reason: "must be strictly increasing".into(),
            });
        }
        let values = vec![0.0f32; rows.len() * targets.len()];
        Ok(Self {
            rows,
            targets,
            n,
            values,
            q_sum: vec![0.0; n],
            models: 0,
            pending: false,
        })
    }

    /// The train rows.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// The targets.
    pub fn targets(&self) -> &[usize] {
        &self.targets
    }

    /// Adds `A_rows ψᵀ` for a block of consecutive targets `first..first + t` (features
    /// row-major `t × k`); targets of the block this accumulator does not hold are skipped.
    pub fn add_block(
        &mut self,
        kernel: &TrakKernel,
        first: usize,
        psi: &[f32],
        t: usize,
    ) -> Result<()> {
        let k = kernel.dim();
        if psi.len() != t * k {
            return Err(AttributionError::BufferLength {
                what: "target features",
                len: psi.len(),
                rows: t,
                cols: k,
            });
        }
        if kernel.points() != self.n {
            return Err(AttributionError::DimensionMismatch {
                what: "train points of kernel vs accumulator",
                left: kernel.points(),
                right: self.n,
            });
        }
        // This accumulator's targets inside the block: a contiguous run of its columns.
        let lo = self.targets.partition_point(|&x| x < first);
        let hi = self.targets.partition_point(|&x| x < first + t);
        if lo == hi || self.rows.is_empty() {
            self.pending = true;
            return Ok(());
        }
        let cols = hi - lo;
        let contiguous = self.targets[hi - 1] - self.targets[lo] + 1 == cols;
        let selected: Vec<f32>;
        let sel: &[f32] = if contiguous {
            let start = self.targets[lo] - first;
            &psi[start * k..(start + cols) * k]
        } else {
            selected = self.targets[lo..hi]
                .iter()
                .flat_map(|&x| psi[(x - first) * k..(x - first + 1) * k].iter().copied())
                .collect();
            &selected
        };
        let width = self.targets.len();
        let a = kernel.a();
        let rows = &self.rows;
        let all_rows = rows.len() == self.n && rows.iter().enumerate().all(|(i, &r)| i == r);
        let chunk = row_block(rows.len(), 16);
        // Computed transposed, outᵀ += ψ A_rowsᵀ, so that every view has unit row stride:
        // ψ column-major (cols × k), A_rowsᵀ is the row-major A_rows read column-major.
        let psi_cm = DMatrixView::from_slice(sel, k, cols).transpose();
        self.values
            .par_chunks_mut(chunk * width)
            .enumerate()
            .for_each(|(ci, out)| {
                let r0 = ci * chunk;
                let nr = out.len() / width;
                let gathered: Vec<f32>;
                let a_rows: &[f32] = if all_rows {
                    &a[r0 * k..(r0 + nr) * k]
                } else {
                    gathered = rows[r0..r0 + nr]
                        .iter()
                        .flat_map(|&r| a[r * k..(r + 1) * k].iter().copied())
                        .collect();
                    &gathered
                };
                let at = DMatrixView::from_slice(a_rows, k, nr);
                let mut o =
                    DMatrixViewMut::from_slice_with_strides_mut(&mut out[lo..], cols, nr, 1, width);
                o.gemm(1.0, &psi_cm, &at, 1.0);
            });
        self.pending = true;
        Ok(())
    }

    /// Closes one model: adds its weights `Q` (one per train point, all `n`).
    pub fn add_model_weights(&mut self, q: &[f32]) -> Result<()> {
        if q.len() != self.n {
            return Err(AttributionError::DimensionMismatch {
                what: "weights vs train points",
                left: q.len(),
                right: self.n,
            });
        }
        for (s, &v) in self.q_sum.iter_mut().zip(q) {
            *s += v as f64;
        }
        self.models += 1;
        self.pending = false;
        Ok(())
    }

    /// Models closed so far.
    pub fn models(&self) -> usize {
        self.models
    }

    /// `τ(i, x) = mean_m (Φ_m K_m ψ_m(x))_i · mean_m Q_m,i`, row-major `rows × targets`.
    pub fn finish(self) -> Result<Vec<f32>> {
        if self.models == 0 || self.pending {
            return Err(AttributionError::TooFewModels {
                what: "TRAK scores (every model needs its weights)",
                needed: 1,
                got: self.models,
            });
        }
        let m = self.models as f64;
        let width = self.targets.len();
        let mut values = self.values;
        if width > 0 {
            values
                .par_chunks_mut(width)
                .zip(self.rows.par_iter())
                .for_each(|(row, &i)| {
                    let w = (self.q_sum[i] / m / m) as f32;
                    row.iter_mut().for_each(|v| *v *= w);
                });
        }
        Ok(values)
    }
}
