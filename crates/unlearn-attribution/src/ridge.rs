//! Ridge regression on standardised masks, with intercept, λ chosen on held-out models.

use nalgebra::{DMatrix, SymmetricEigen};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Estimator;
use crate::data::{Masks, Outputs, check_fraction, check_pair, check_rows, split_models};
use crate::datamodel::{Datamodel, LambdaSelection, PreparedFit};
use crate::error::{AttributionError, Result};
use crate::linalg::{
    centered_outputs_t, column_block, design, inv_mask_sd, mask_means, output_means, par_gemm,
};

/// The default ridge grid: `10^k` for `k = −3, −8/3, …, 4` (22 values, three per decade).
///
/// λ multiplies `‖β_std‖²` in the objective `(1/M)‖y − ȳ − X_std β_std‖² + λ‖β_std‖²`, where the
/// standardised mask columns have unit variance, so λ is free of the number of models and is on
/// the scale of the eigenvalues of the mask correlation matrix (about 1).
pub fn default_ridge_grid() -> Vec<f64> {
    (0..22).map(|k| 10f64.powf(-3.0 + k as f64 / 3.0)).collect()
}

/// Hyper-parameters of [`Ridge`], unchecked. Build with [`RidgeParams::default`] and the setters,
/// then [`RidgeParams::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeParams {
    /// Grid of λ (see [`default_ridge_grid`] for its meaning). One value: no selection, no
    /// held-out split, fit on all models with that λ.
    pub lambdas: Vec<f64>,
    /// Share of the models held out for choosing λ (rounded to a whole number of models).
    pub held_out_fraction: f64,
    /// Seed of the held-out split.
    pub seed: u64,
}

impl Default for RidgeParams {
    fn default() -> Self {
        Self {
            lambdas: default_ridge_grid(),
            held_out_fraction: 0.1,
            seed: 0,
        }
    }
}

impl RidgeParams {
    /// Sets the λ grid.
    pub fn lambdas(mut self, lambdas: Vec<f64>) -> Self {
        self.lambdas = lambdas;
        self
    }

    /// Uses one fixed λ (no selection).
    pub fn lambda(self, lambda: f64) -> Self {
        self.lambdas(vec![lambda])
    }

    /// Sets the held-out fraction.
    pub fn held_out_fraction(mut self, f: f64) -> Self {
        self.held_out_fraction = f;
        self
    }

    /// Sets the seed of the held-out split.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<Ridge> {
        if self.lambdas.is_empty() {
            return Err(AttributionError::InvalidParam {
                name: "lambdas",
                reason: "the grid is empty".into(),
            });
        }
        if let Some(l) = self.lambdas.iter().find(|l| !(l.is_finite() && **l > 0.0)) {
            return Err(AttributionError::InvalidParam {
                name: "lambdas",
                reason: format!("every λ must be finite and > 0, got {l}"),
            });
        }
        if self.lambdas.len() > 1 {
            check_fraction(self.held_out_fraction)?;
        }
        Ok(Ridge { params: self })
    }
}

/// Ridge regression datamodels, validated parameters.
///
/// Model: masks are standardised (centred by their mean, divided by `σ_i = sqrt(μ_i (1 − μ_i))`
/// over all `M` models); with `X` the standardised masks and `y` one target,
/// `β_std = argmin (1/M)‖y − ȳ − X β‖² + λ‖β‖²`, reported in original units as
/// `β[i] = β_std[i] / σ_i` with intercept `ȳ − Σ_i μ_i β[i]`.
///
/// λ selection: the models are split (seeded, [`split_models`]) into fit and held-out parts;
/// for every λ of the grid the fit part is regressed (centred and scaled the same way) and the
/// held-out mean squared error, pooled over all targets, is computed; the λ with the lowest
/// pooled MSE wins (one λ for all targets). The whole grid costs one eigendecomposition of the
/// fit part's `min(M, n)`-sized Gram matrix. The model is then refitted on all `M` models with
/// the chosen λ.
///
/// Solves: with `M < n` the dual form `β_std = Xᵀ(XXᵀ/M + λI)⁻¹ y / M` (an `M × M` Cholesky),
/// otherwise the primal `(XᵀX/M + λI)⁻¹ Xᵀy / M` (`n × n`). Either way the fit is held as
/// `β[i, t] = Σ_m W[m, i] Yc[m, t]` ([`PreparedFit`]), so rows only (`Σ_{i∈F} β[i, ·]`) cost
/// `O(M · (|F| + T))` after the solve, not the `O(n · M · T)` of the full β.
#[derive(Debug, Clone, PartialEq)]
pub struct Ridge {
    params: RidgeParams,
}

impl Ridge {
    /// The validated parameters.
    pub fn params(&self) -> &RidgeParams {
        &self.params
    }

    /// Selects λ on held-out models (when the grid has more than one value) and solves on all
    /// models. The result gives any rows of β cheaply, or the full datamodel.
    pub fn prepare(&self, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<PreparedFit> {
        check_pair(masks, outputs)?;
        let counts = masks.check_not_degenerate()?;
        let m = masks.models();
        let inv_scale = inv_mask_sd(&counts, m);
        let selection = if self.params.lambdas.len() > 1 {
            Some(self.select(masks, outputs, &inv_scale)?)
        } else {
            None
        };
        let lambda = match &selection {
            Some(s) => s.lambdas[s.chosen],
            None => self.params.lambdas[0],
        };
        let all: Vec<usize> = (0..m).collect();
        let mu = mask_means(masks, &all);
        let y_mean = output_means(outputs, &all);
        let yc_t = centered_outputs_t(outputs, &all, &y_mean);
        let x = design(masks, &all, &mu, &inv_scale);
        let mut w = ridge_weights(&x, lambda)?;
        for (i, mut col) in w.column_iter_mut().enumerate() {
            col *= inv_scale[i];
        }
        Ok(PreparedFit::new(
            w,
            yc_t,
            y_mean,
            mu,
            Some(lambda),
            selection,
        ))
    }

    /// Runs the held-out selection of λ only.
    pub fn select_lambda(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
    ) -> Result<LambdaSelection> {
        check_pair(masks, outputs)?;
        let counts = masks.check_not_degenerate()?;
        let m = masks.models();
        let inv_scale = inv_mask_sd(&counts, m);
        self.select(masks, outputs, &inv_scale)
    }

    fn select(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        inv_scale: &[f64],
    ) -> Result<LambdaSelection> {
        let p = &self.params;
        check_fraction(p.held_out_fraction)?;
        let split = split_models(masks.models(), p.held_out_fraction, p.seed)?;
        let (fit, held) = (&split.fit, &split.held_out);
        let (mf, n, t) = (fit.len(), masks.points(), outputs.targets());
        let mu_f = mask_means(masks, fit);
        let y_mean_f = output_means(outputs, fit);
        let xf = design(masks, fit, &mu_f, inv_scale);
        let xh = design(masks, held, &mu_f, inv_scale);
        let yf_t = centered_outputs_t(outputs, fit, &y_mean_f);
        let yh_t = centered_outputs_t(outputs, held, &y_mean_f);
        let xf_t = xf.transpose();
        let inv_m = 1.0 / mf as f64;
        // pred_λ (held-out, centred) = W diag(1/(Λ + λ)) Z with Z = Qᵀ Y.
        let (evals, q, w) = if mf < n {
            let k = par_gemm(xf.as_view(), xf_t.as_view()) * inv_m;
            let eig = SymmetricEigen::new(k);
            let u = eig.eigenvectors;
            let kh = par_gemm(xh.as_view(), xf_t.as_view()) * inv_m;
            let w = kh * &u;
            (eig.eigenvalues, u, w)
        } else {
            let g = par_gemm(xf_t.as_view(), xf.as_view()) * inv_m;
            let eig = SymmetricEigen::new(g);
            let v = eig.eigenvectors;
            let q = par_gemm(xf.as_view(), v.as_view()) * inv_m;
            let w = par_gemm(xh.as_view(), v.as_view());
            (eig.eigenvalues, q, w)
        };
        let zt = par_gemm(yf_t.as_view(), q.as_view()); // T × r
        let wt = w.transpose(); // r × H
        let scaled: Vec<DMatrix<f64>> = p
            .lambdas
            .iter()
            .map(|&l| {
                let mut s = wt.clone();
                for (a, mut row) in s.row_iter_mut().enumerate() {
                    row *= 1.0 / (evals[a].max(0.0) + l);
                }
                s
            })
            .collect();
        let block = column_block(t, 64);
        let starts: Vec<usize> = (0..t).step_by(block.max(1)).collect();
        let sse = starts
            .par_iter()
            .map(|&t0| {
                let b = block.min(t - t0);
                let z = zt.rows(t0, b).clone_owned(); // b × r
                let yh = yh_t.rows(t0, b);
                scaled
                    .iter()
                    .map(|s| {
                        let pred = &z * s; // b × H
                        let d = yh - pred;
                        d.norm_squared()
                    })
                    .collect::<Vec<f64>>()
            })
            .reduce(
                || vec![0.0; p.lambdas.len()],
                |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
            );
        let denom = (held.len() * t).max(1) as f64;
        let held_out_mse: Vec<f64> = sse.iter().map(|s| s / denom).collect();
        let chosen =
            held_out_mse.iter().enumerate().fold(
                0,
                |best, (i, &v)| if v < held_out_mse[best] { i } else { best },
            );
        Ok(LambdaSelection {
            lambdas: p.lambdas.clone(),
            held_out_mse,
            chosen,
        })
    }
}

/// `W` (models × points) with `β_std = Wᵀ Yc`, i.e. `W = (XXᵀ/M + λI)⁻¹ X / M`
/// `= X (XᵀX/M + λI)⁻¹ / M`, by whichever system is smaller.
fn ridge_weights(x: &DMatrix<f64>, lambda: f64) -> Result<DMatrix<f64>> {
    let (m, n) = x.shape();
    let inv_m = 1.0 / m as f64;
    let xt = x.transpose();
    let (mut a, rhs) = if m < n {
        (par_gemm(x.as_view(), xt.as_view()) * inv_m, x.clone())
    } else {
        (par_gemm(xt.as_view(), x.as_view()) * inv_m, xt)
    };
    for i in 0..a.nrows() {
        a[(i, i)] += lambda;
    }
    let chol = a.cholesky().ok_or_else(|| {
        AttributionError::Numerical("ridge system is not positive definite".into())
    })?;
    let cols = rhs.ncols();
    let rows = rhs.nrows();
    let mut sol = rhs;
    if rows > 0 && cols > 0 {
        let w = column_block(cols, 16);
        sol.as_mut_slice()
            .par_chunks_mut(rows * w)
            .for_each(|chunk| {
                let c = chunk.len() / rows;
                let mut v = nalgebra::DMatrixViewMut::from_slice(chunk, rows, c);
                chol.solve_mut(&mut v);
            });
    }
    sol *= inv_m;
    Ok(if m < n { sol } else { sol.transpose() })
}

impl Estimator for Ridge {
    fn fit(&self, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<Datamodel> {
        Ok(self.prepare(masks, outputs)?.to_datamodel())
    }

    fn fit_rows_sum(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        rows: &[usize],
    ) -> Result<Vec<f32>> {
        check_rows(rows, masks.points())?;
        self.prepare(masks, outputs)?.rows_sum(rows)
    }
}
