//! The fitted datamodel (β and intercept) and the prepared linear fits of the closed-form
//! estimators, which can produce single rows of β without the full fit.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector, RealField};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Masks, check_rows};
use crate::error::{AttributionError, Result};
use crate::linalg::column_block;

/// A linear datamodel in original (0/1 mask) units: the predicted output `t` of a model trained
/// on the subset with mask `x` is `intercept[t] + Σ_i x[i] · beta[i, t]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datamodel {
    points: usize,
    targets: usize,
    /// Row-major `points × targets`.
    beta: Vec<f32>,
    intercept: Vec<f32>,
    lambdas: Vec<f64>,
}

impl Datamodel {
    /// Builds a datamodel from a row-major `points × targets` β and a per-target intercept.
    pub fn new(points: usize, targets: usize, beta: Vec<f32>, intercept: Vec<f32>) -> Result<Self> {
        if points.checked_mul(targets) != Some(beta.len()) {
            return Err(AttributionError::BufferLength {
                what: "beta",
                len: beta.len(),
                rows: points,
                cols: targets,
            });
        }
        if intercept.len() != targets {
            return Err(AttributionError::DimensionMismatch {
                what: "intercept length vs targets",
                left: intercept.len(),
                right: targets,
            });
        }
        Ok(Self {
            points,
            targets,
            beta,
            intercept,
            lambdas: Vec::new(),
        })
    }

    pub(crate) fn with_lambdas(mut self, lambdas: Vec<f64>) -> Self {
        self.lambdas = lambdas;
        self
    }

    /// Number of train points `n` (rows of β).
    pub fn points(&self) -> usize {
        self.points
    }

    /// Number of targets `T` (columns of β).
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// β, row-major `points × targets`.
    pub fn beta(&self) -> &[f32] {
        &self.beta
    }

    /// Row `i` of β: the predicted change of every target when train point `i` is included.
    pub fn beta_row(&self, i: usize) -> &[f32] {
        &self.beta[i * self.targets..(i + 1) * self.targets]
    }

    /// Per-target intercept.
    pub fn intercept(&self) -> &[f32] {
        &self.intercept
    }

    /// The regularisation strength(s) the estimator selected: empty for difference of means,
    /// one value for ridge, one per target for lasso, each in its estimator's units (on
    /// standardised masks; see [`crate::Ridge`] and [`crate::Lasso`]).
    pub fn lambdas(&self) -> &[f64] {
        &self.lambdas
    }

    /// `Σ_{i ∈ rows} β[i, ·]` (length `targets`), summed in f64.
    pub fn rows_sum(&self, rows: &[usize]) -> Result<Vec<f32>> {
        check_rows(rows, self.points)?;
        let mut acc = vec![0.0f64; self.targets];
        for &i in rows {
            for (a, &b) in acc.iter_mut().zip(self.beta_row(i)) {
                *a += b as f64;
            }
        }
        Ok(acc.into_iter().map(|v| v as f32).collect())
    }

    /// Predicted outputs for every mask row: row-major `models × targets`.
    pub fn predict(&self, masks: &Masks<'_>) -> Result<Vec<f32>> {
        if masks.points() != self.points {
            return Err(AttributionError::DimensionMismatch {
                what: "train points of masks vs datamodel",
                left: masks.points(),
                right: self.points,
            });
        }
        let h = masks.models();
        let t = self.targets;
        if h == 0 || t == 0 {
            return Ok(vec![0.0; h * t]);
        }
        // (targets × points) · (points × models): column-major result = row-major models × targets.
        let beta_t = DMatrixView::from_slice(&self.beta, t, self.points);
        let x_t: Vec<f32> = masks.as_slice().iter().map(|&v| v as f32).collect();
        let x_t = DMatrixView::from_slice(&x_t, self.points, h);
        let mut pred = vec![0.0f32; h * t];
        par_gemm_into(beta_t, x_t, &mut pred);
        pred.par_chunks_mut(t).for_each(|row| {
            for (p, &b) in row.iter_mut().zip(&self.intercept) {
                *p += b;
            }
        });
        Ok(pred)
    }
}

/// `out = a · b` with `out` a column-major `a.nrows() × b.ncols()` buffer, split over column
/// blocks on the rayon pool.
pub(crate) fn par_gemm_into<T: RealField + Copy>(
    a: DMatrixView<'_, T>,
    b: DMatrixView<'_, T>,
    out: &mut [T],
) {
    let (m, p) = (a.nrows(), b.ncols());
    assert_eq!(out.len(), m * p);
    if m == 0 || p == 0 {
        return;
    }
    let w = column_block(p, 4);
    out.par_chunks_mut(m * w)
        .enumerate()
        .for_each(|(ci, chunk)| {
            let cols = chunk.len() / m;
            let mut o = DMatrixViewMut::from_slice(chunk, m, cols);
            o.gemm(T::one(), &a, &b.columns(ci * w, cols), T::zero());
        });
}

/// How a regularisation strength was chosen on held-out models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaSelection {
    /// The grid, as tried.
    pub lambdas: Vec<f64>,
    /// Mean squared error on the held-out models, averaged over models and targets, per λ.
    pub held_out_mse: Vec<f64>,
    /// Index of the chosen λ in the grid.
    pub chosen: usize,
}

/// A closed-form linear fit, `β[i, t] = Σ_m W[m, i] · Yc[m, t]` with `Yc` the centred outputs.
/// Difference of means and ridge both take this form; holding it lets any set of rows of β (or
/// their sum) be computed in `O(models · targets)` without forming the whole `points × targets` β.
#[derive(Debug, Clone)]
pub struct PreparedFit {
    /// `W`, models × points.
    weights: DMatrix<f64>,
    /// `Ycᵀ`, targets × models.
    yc_t: DMatrix<f64>,
    /// Output means (the centring of `Yc`).
    y_mean: Vec<f64>,
    /// Mask column means used for the intercept.
    mask_mean: Vec<f64>,
    lambda: Option<f64>,
    selection: Option<LambdaSelection>,
}

impl PreparedFit {
    pub(crate) fn new(
        weights: DMatrix<f64>,
        yc_t: DMatrix<f64>,
        y_mean: Vec<f64>,
        mask_mean: Vec<f64>,
        lambda: Option<f64>,
        selection: Option<LambdaSelection>,
    ) -> Self {
        debug_assert_eq!(weights.nrows(), yc_t.ncols());
        Self {
            weights,
            yc_t,
            y_mean,
            mask_mean,
            lambda,
            selection,
        }
    }

    /// Number of train points.
    pub fn points(&self) -> usize {
        self.weights.ncols()
    }

    /// Number of targets.
    pub fn targets(&self) -> usize {
        self.yc_t.nrows()
    }

    /// The λ used (ridge), `None` for difference of means.
    pub fn lambda(&self) -> Option<f64> {
        self.lambda
    }

    /// The held-out selection of λ, when one was run.
    pub fn selection(&self) -> Option<&LambdaSelection> {
        self.selection.as_ref()
    }

    /// `Σ_{i ∈ rows} β[i, ·]` in `O(models · (|rows| + targets))`.
    pub fn rows_sum(&self, rows: &[usize]) -> Result<Vec<f32>> {
        check_rows(rows, self.points())?;
        let mut v = DVector::<f64>::zeros(self.weights.nrows());
        for &i in rows {
            v += self.weights.column(i);
        }
        Ok(self.apply(&v).into_iter().map(|x| x as f32).collect())
    }

    /// Row `i` of β alone.
    pub fn row(&self, i: usize) -> Result<Vec<f32>> {
        self.rows_sum(&[i])
    }

    /// `Ycᵀ v`, targets long.
    fn apply(&self, v: &DVector<f64>) -> Vec<f64> {
        let t = self.targets();
        let mut out = vec![0.0f64; t];
        if t == 0 {
            return out;
        }
        let chunk = t.div_ceil(rayon::current_num_threads().max(1)).max(1024);
        out.par_chunks_mut(chunk).enumerate().for_each(|(ci, o)| {
            let y = self.yc_t.rows(ci * chunk, o.len());
            let r = y * v;
            o.copy_from_slice(r.as_slice());
        });
        out
    }

    /// The full datamodel (all `points × targets` of β, and the intercept).
    pub fn to_datamodel(&self) -> Datamodel {
        let (n, t) = (self.points(), self.targets());
        let mut beta = vec![0.0f32; n * t];
        if n > 0 && t > 0 {
            let w = column_block(n, 4);
            beta.par_chunks_mut(t * w)
                .enumerate()
                .for_each(|(ci, chunk)| {
                    let cols = chunk.len() / t;
                    let block = &self.yc_t * self.weights.columns(ci * w, cols);
                    for (o, v) in chunk.iter_mut().zip(block.as_slice()) {
                        *o = *v as f32;
                    }
                });
        }
        // intercept = ȳ − Σ_i μ_i β_i = ȳ − Ycᵀ (W μ)
        let mu = DVector::from_column_slice(&self.mask_mean);
        let wmu = &self.weights * mu;
        let shift = self.apply(&wmu);
        let intercept = self
            .y_mean
            .iter()
            .zip(&shift)
            .map(|(&m, &s)| (m - s) as f32)
            .collect();
        Datamodel {
            points: n,
            targets: t,
            beta,
            intercept,
            lambdas: self.lambda.into_iter().collect(),
        }
    }
}
