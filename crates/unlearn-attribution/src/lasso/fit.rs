//! Fitting the lasso: the regularisation path per target, the choice of λ on held-out models,
//! the refit on all models, and the assembly of the datamodel and its report.

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::relax::{LastSupport, blend, least_squares_on};
use super::solver::{Cd, DIAG_EPS, Problem};
use super::{Lasso, LassoParams, LassoReport};
use crate::Estimator;
use crate::data::{Masks, Outputs, check_pair, split_models};
use crate::datamodel::Datamodel;
use crate::error::Result;
use crate::linalg::{design, inv_mask_sd, mask_means, output_means};

/// Targets per parallel work item.
const BLOCK: usize = 32;

/// One target's result.
struct TargetFit {
    lambda: f64,
    /// Relaxed-lasso blend weight chosen with λ (1: the plain lasso).
    relax: f64,
    intercept: f64,
    /// Standardised coefficients (index, value).
    coef: Vec<(u32, f64)>,
    path_len: usize,
    chosen: usize,
    exhausted: bool,
    active: usize,
    work: u64,
}

impl Lasso {
    /// The validated parameters.
    pub fn params(&self) -> &LassoParams {
        &self.params
    }

    /// Fits and returns the datamodel with counters of the fit.
    pub fn fit_with_report(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
    ) -> Result<(Datamodel, LassoReport)> {
        check_pair(masks, outputs)?;
        let counts = masks.check_not_degenerate()?;
        let prm = &self.params;
        let (m, n, t) = (masks.models(), masks.points(), outputs.targets());
        let split = split_models(m, prm.held_out_fraction, prm.seed)?;
        let (fit, held) = (&split.fit, &split.held_out);
        let all: Vec<usize> = (0..m).collect();
        let inv_scale = inv_mask_sd(&counts, m);

        let mu_f = mask_means(masks, fit);
        let ym_f = output_means(outputs, fit);
        let xf = design(masks, fit, &mu_f, &inv_scale);
        let xh = design(masks, held, &mu_f, &inv_scale);
        let pf = Problem::new(&xf);
        let xf_t = xf.transpose();
        drop(xf);

        let refit = if prm.refit {
            let mu_a = mask_means(masks, &all);
            let ym_a = output_means(outputs, &all);
            let xa = design(masks, &all, &mu_a, &inv_scale);
            let pa = Problem::new(&xa);
            Some((mu_a, ym_a, xa.transpose(), pa))
        } else {
            None
        };

        let path: Vec<f64> = (0..prm.n_lambdas)
            .map(|k| {
                prm.lambda_min_ratio
                    .powf(k as f64 / (prm.n_lambdas - 1) as f64)
            })
            .collect();

        let starts: Vec<usize> = (0..t).step_by(BLOCK).collect();
        let results: Vec<(usize, Vec<TargetFit>)> = starts
            .par_iter()
            .map_init(
                || Cd::new(n, held.len()),
                |cd, &t0| {
                    let b = BLOCK.min(t - t0);
                    let yf = gather(outputs, fit, t0, b, &ym_f);
                    let yh = gather(outputs, held, t0, b, &ym_f);
                    let cf = &xf_t * &yf * (1.0 / fit.len() as f64);
                    let ca = refit.as_ref().map(|(_, ym_a, xa_t, _)| {
                        let ya = gather(outputs, &all, t0, b, ym_a);
                        xa_t * ya * (1.0 / m as f64)
                    });
                    let fits = (0..b)
                        .map(|tb| {
                            let mut f = self.path_target(
                                cd,
                                &pf,
                                cf.column(tb).as_slice(),
                                yf.column(tb).as_slice(),
                                &xh,
                                yh.column(tb).as_slice(),
                                &path,
                            );
                            f.intercept = ym_f[t0 + tb];
                            if let (Some((_, ym_a, _, pa)), Some(ca)) = (&refit, &ca) {
                                if !f.coef.is_empty() {
                                    let tol = prm.tol * rms(yf.column(tb).as_slice());
                                    let c = ca.column(tb);
                                    let c = c.as_slice();
                                    cd.reset(c);
                                    cd.pending.clear();
                                    cd.pending.extend(f.coef.iter().map(|&(j, _)| j as usize));
                                    cd.add_pending(pa, c);
                                    let values: Vec<f64> = f.coef.iter().map(|&(_, v)| v).collect();
                                    cd.set_beta(&values, c);
                                    cd.sync(pa, None);
                                    cd.solve(f.lambda, pa, c, None, tol, prm.max_sweeps);
                                    f.exhausted |= cd.sweeps_exhausted;
                                    f.coef = cd.nonzeros();
                                    if f.relax < 1.0 {
                                        f.coef = self.relaxed(pa, c, &f.coef, f.relax);
                                    }
                                }
                                f.intercept = ym_a[t0 + tb];
                            }
                            f
                        })
                        .collect();
                    (t0, fits)
                },
            )
            .collect();

        let mu = match &refit {
            Some((mu_a, ..)) => mu_a.clone(),
            None => mu_f,
        };
        let mut beta = vec![0.0f32; n * t];
        let mut intercept = vec![0.0f32; t];
        let mut lambdas = vec![0.0f64; t];
        let mut report = LassoReport::default();
        for (t0, fits) in results {
            for (tb, f) in fits.into_iter().enumerate() {
                let tt = t0 + tb;
                let mut icpt = f.intercept;
                for &(j, v) in &f.coef {
                    let j = j as usize;
                    let b = v * inv_scale[j];
                    beta[j * t + tt] = b as f32;
                    icpt -= mu[j] * b;
                }
                intercept[tt] = icpt as f32;
                lambdas[tt] = f.lambda;
                report.not_converged += f.exhausted as usize;
                report.mean_path_len += f.path_len as f64;
                report.mean_nonzero += f.coef.len() as f64;
                report.mean_chosen_index += f.chosen as f64;
                report.mean_relax += f.relax;
                report.mean_active += f.active as f64;
                report.mean_coordinate_visits += f.work as f64;
            }
        }
        let tf = t.max(1) as f64;
        report.mean_path_len /= tf;
        report.mean_nonzero /= tf;
        report.mean_chosen_index /= tf;
        report.mean_relax /= tf;
        report.mean_active /= tf;
        report.mean_coordinate_visits /= tf;
        let dm = Datamodel::new(n, t, beta, intercept)?.with_lambdas(lambdas);
        Ok((dm, report))
    }

    /// The relaxed blend `φ·lasso + (1 − φ)·least squares` on the support of `lasso`; the lasso
    /// itself when least squares is singular there.
    fn relaxed(&self, p: &Problem, c: &[f64], lasso: &[(u32, f64)], phi: f64) -> Vec<(u32, f64)> {
        let support: Vec<u32> = lasso.iter().map(|&(j, _)| j).collect();
        match least_squares_on(p, c, &support) {
            Some(ls) => blend(lasso, &ls, phi),
            None => lasso.to_vec(),
        }
    }

    /// Walks the path for one target on the fit part, choosing λ (and the relaxed lasso's
    /// blend weight) on the held-out part.
    #[allow(clippy::too_many_arguments)]
    fn path_target(
        &self,
        cd: &mut Cd,
        p: &Problem,
        c: &[f64],
        yf: &[f64],
        xh: &DMatrix<f64>,
        yh: &[f64],
        path: &[f64],
    ) -> TargetFit {
        let prm = &self.params;
        let lambda_max = c
            .iter()
            .zip(&p.diag)
            .filter(|&(_, &d)| d > DIAG_EPS)
            .fold(0.0f64, |a, (&v, _)| a.max(v.abs()));
        let mut best = TargetFit {
            lambda: lambda_max,
            relax: 1.0,
            intercept: 0.0,
            coef: Vec::new(),
            path_len: 1,
            chosen: 0,
            exhausted: false,
            active: 0,
            work: 0,
        };
        if lambda_max <= 0.0 {
            return best;
        }
        let tol = prm.tol * rms(yf);
        cd.reset(c);
        cd.work = 0;
        let mut best_sse: f64 = yh.iter().map(|v| v * v).sum();
        // Early stopping follows the lasso's own held-out error: a relaxed fit stays the same
        // for as long as no point enters the support, which is no sign that the path is done.
        let (mut lasso_sse, mut lasso_best) = (best_sse, 0);
        let mut last = LastSupport::default();
        let relaxing = prm.relax.iter().any(|&w| w < 1.0);
        for (k, &ratio) in path.iter().enumerate().skip(1) {
            let lambda = lambda_max * ratio;
            cd.solve(lambda, p, c, Some(xh), tol, prm.max_sweeps);
            best.path_len = k + 1;
            let sse: f64 = yh
                .iter()
                .zip(&cd.pred)
                .map(|(y, q)| (y - q) * (y - q))
                .sum();
            if sse < lasso_sse {
                (lasso_sse, lasso_best) = (sse, k);
            }
            if sse < best_sse || relaxing {
                let lasso = cd.nonzeros();
                if sse < best_sse {
                    best_sse = sse;
                    best.lambda = lambda;
                    best.relax = 1.0;
                    best.coef = lasso.clone();
                    best.chosen = k;
                }
                // Least squares on more than half as many points as models would fit noise.
                if relaxing && !lasso.is_empty() && 2 * lasso.len() < yf.len() {
                    let support: Vec<u32> = lasso.iter().map(|&(j, _)| j).collect();
                    if let Some((ls, ls_pred)) = last.fit(p, c, xh, support) {
                        for &phi in prm.relax.iter().filter(|&&w| w < 1.0) {
                            let sse: f64 = yh
                                .iter()
                                .zip(cd.pred.iter().zip(ls_pred))
                                .map(|(y, (l, o))| {
                                    let q = phi * l + (1.0 - phi) * o;
                                    (y - q) * (y - q)
                                })
                                .sum();
                            if sse < best_sse {
                                best_sse = sse;
                                best.lambda = lambda;
                                best.relax = phi;
                                best.coef = blend(&lasso, ls, phi);
                                best.chosen = k;
                            }
                        }
                    }
                }
            }
            if let Some(pat) = prm.early_stop
                && k - lasso_best >= pat
            {
                break;
            }
        }
        best.exhausted = cd.sweeps_exhausted;
        best.active = cd.active.len();
        best.work = cd.work;
        best
    }
}

/// Root mean square of a centred target (its standard deviation); 1 if it is 0.
fn rms(y: &[f64]) -> f64 {
    let s = (y.iter().map(|v| v * v).sum::<f64>() / y.len().max(1) as f64).sqrt();
    if s > 0.0 { s } else { 1.0 }
}

/// Outputs of `models` for targets `t0..t0+b`, centred by `mean`, as `models × b` column-major.
fn gather(
    outputs: &Outputs<'_>,
    models: &[usize],
    t0: usize,
    b: usize,
    mean: &[f64],
) -> DMatrix<f64> {
    let rows = models.len();
    let mut y = DMatrix::<f64>::zeros(rows, b);
    for (r, &m) in models.iter().enumerate() {
        let src = &outputs.row(m)[t0..t0 + b];
        for (k, &v) in src.iter().enumerate() {
            y[(r, k)] = v as f64 - mean[t0 + k];
        }
    }
    y
}

impl Estimator for Lasso {
    fn fit(&self, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<Datamodel> {
        Ok(self.fit_with_report(masks, outputs)?.0)
    }

    // `fit_rows_sum`: the default (a full fit; the lasso has no closed form for single rows).

    /// Each target walks its own path and picks its own λ.
    fn independent_targets(&self) -> bool {
        true
    }
}
