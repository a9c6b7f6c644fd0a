//! Fitting the lasso: the regularisation path per target, the choice of λ on held-out models,
//! the refit on all models, and the assembly of the datamodel and its report.

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::path_solver::{GramPath, PathSolver, ResidualPath};
use super::relax::{LastSupport, blend, least_squares_on};
use super::residual::{Columns, Residual};
use super::solver::{Cd, DIAG_EPS, Problem};
use super::{Lasso, LassoParams, LassoReport, LassoSolver};
use crate::Estimator;
use crate::data::{Masks, Outputs, check_pair, split_models};
use crate::datamodel::Datamodel;
use crate::error::Result;
use crate::linalg::{design, inv_mask_sd, mask_means, output_means};
use crate::sparse::{SparseBeta, SparseDatamodel};

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

/// What both solvers share: the model split, the standardisation, the centred outputs and the
/// λ ratios of the path.
struct Setup {
    fit: Vec<usize>,
    held: Vec<usize>,
    all: Vec<usize>,
    inv_scale: Vec<f64>,
    mu_f: Vec<f64>,
    ym_f: Vec<f64>,
    path: Vec<f64>,
    points: usize,
    targets: usize,
}

/// Each block's first target and its targets' fits.
type BlockFits = Vec<(usize, Vec<TargetFit>)>;

impl Lasso {
    /// The validated parameters.
    pub fn params(&self) -> &LassoParams {
        &self.params
    }

    /// Fits and returns the datamodel (dense) with counters of the fit.
    pub fn fit_with_report(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
    ) -> Result<(Datamodel, LassoReport)> {
        let (sparse, report) = self.fit_sparse_with_report(masks, outputs)?;
        Ok((sparse.to_dense()?, report))
    }

    /// Fits and returns the datamodel as each target's support, never forming the dense β, with
    /// counters of the fit. Runs the solver [`LassoParams::solver_for`] picks.
    pub fn fit_sparse_with_report(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
    ) -> Result<(SparseDatamodel, LassoReport)> {
        check_pair(masks, outputs)?;
        let counts = masks.check_not_degenerate()?;
        let prm = &self.params;
        let (m, n, t) = (masks.models(), masks.points(), outputs.targets());
        let split = split_models(m, prm.held_out_fraction, prm.seed)?;
        let fit = split.fit;
        let setup = Setup {
            mu_f: mask_means(masks, &fit),
            ym_f: output_means(outputs, &fit),
            fit,
            held: split.held_out,
            all: (0..m).collect(),
            inv_scale: inv_mask_sd(&counts, m),
            path: (0..prm.n_lambdas)
                .map(|k| {
                    prm.lambda_min_ratio
                        .powf(k as f64 / (prm.n_lambdas - 1) as f64)
                })
                .collect(),
            points: n,
            targets: t,
        };
        let mu_all = prm.refit.then(|| mask_means(masks, &setup.all));
        let results = match prm.solver_for(m, n) {
            LassoSolver::Residual => self.fit_residual(masks, outputs, &setup, mu_all.as_deref()),
            _ => self.fit_gram(masks, outputs, &setup, mu_all.as_deref()),
        };
        let mu = mu_all.unwrap_or_else(|| setup.mu_f.clone());
        assemble(results, &mu, &setup.inv_scale, n, t)
    }

    /// Covariance coordinate descent: the Gram matrices of the fit part (and of all models, to
    /// refit) are formed once and shared by every target.
    fn fit_gram(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        s: &Setup,
        mu_all: Option<&[f64]>,
    ) -> BlockFits {
        let prm = &self.params;
        let (m, n, t) = (masks.models(), s.points, s.targets);
        let xf = design(masks, &s.fit, &s.mu_f, &s.inv_scale);
        let xh = design(masks, &s.held, &s.mu_f, &s.inv_scale);
        let pf = Problem::new(&xf);
        let xf_t = xf.transpose();
        drop(xf);
        let refit = mu_all.map(|mu_a| {
            let ym_a = output_means(outputs, &s.all);
            let xa = design(masks, &s.all, mu_a, &s.inv_scale);
            let pa = Problem::new(&xa);
            (ym_a, xa.transpose(), pa)
        });
        let starts: Vec<usize> = (0..t).step_by(BLOCK).collect();
        starts
            .par_iter()
            .map_init(
                || Cd::new(n, s.held.len()),
                |cd, &t0| {
                    let b = BLOCK.min(t - t0);
                    let yf = gather(outputs, &s.fit, t0, b, &s.ym_f);
                    let yh = gather(outputs, &s.held, t0, b, &s.ym_f);
                    let cf = &xf_t * &yf * (1.0 / s.fit.len() as f64);
                    let ca = refit.as_ref().map(|(ym_a, xa_t, _)| {
                        let ya = gather(outputs, &s.all, t0, b, ym_a);
                        xa_t * ya * (1.0 / m as f64)
                    });
                    let fits = (0..b)
                        .map(|tb| {
                            let c = cf.column(tb);
                            let mut solver = GramPath {
                                cd: &mut *cd,
                                p: &pf,
                                c: c.as_slice(),
                                xh: &xh,
                            };
                            let yft = yf.column(tb);
                            let mut f = self.path_target(
                                &mut solver,
                                c.as_slice(),
                                yft.as_slice(),
                                yh.column(tb).as_slice(),
                                &s.path,
                            );
                            f.intercept = s.ym_f[t0 + tb];
                            if let (Some((ym_a, _, pa)), Some(ca)) = (&refit, &ca) {
                                if !f.coef.is_empty() {
                                    let tol = prm.tol * rms(yft.as_slice());
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
                                        f.coef = relaxed(|a, b| pa.gram(a, b), c, &f.coef, f.relax);
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
            .collect()
    }

    /// Gram-free coordinate descent (`residual.rs`): the same path, selection and refit, with
    /// the design kept as mask bytes.
    fn fit_residual(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        s: &Setup,
        mu_all: Option<&[f64]>,
    ) -> BlockFits {
        let prm = &self.params;
        let (n, t) = (s.points, s.targets);
        let xf = Columns::new(masks, &s.fit, &s.mu_f, &s.inv_scale);
        let xh = Columns::new(masks, &s.held, &s.mu_f, &s.inv_scale);
        let refit = mu_all.map(|mu_a| {
            let ym_a = output_means(outputs, &s.all);
            (ym_a, Columns::new(masks, &s.all, mu_a, &s.inv_scale))
        });
        let starts: Vec<usize> = (0..t).step_by(BLOCK).collect();
        starts
            .par_iter()
            .map_init(
                || (Residual::new(n), vec![0.0; n]),
                |(state, c), &t0| {
                    let b = BLOCK.min(t - t0);
                    let yf = gather(outputs, &s.fit, t0, b, &s.ym_f);
                    let yh = gather(outputs, &s.held, t0, b, &s.ym_f);
                    let fits = (0..b)
                        .map(|tb| {
                            let y = yf.column(tb);
                            let y = y.as_slice();
                            xf.gradient(y, c);
                            let mut solver = ResidualPath {
                                state: &mut *state,
                                x: &xf,
                                held: &xh,
                                y,
                                c: c.as_slice(),
                                pred: Vec::new(),
                            };
                            let mut f = self.path_target(
                                &mut solver,
                                c,
                                y,
                                yh.column(tb).as_slice(),
                                &s.path,
                            );
                            f.intercept = s.ym_f[t0 + tb];
                            if let Some((ym_a, xa)) = &refit {
                                if !f.coef.is_empty() {
                                    let tol = prm.tol * rms(y);
                                    let ya = gather(outputs, &s.all, t0 + tb, 1, ym_a);
                                    let ya = ya.as_slice();
                                    state.start(xa, ya, &f.coef);
                                    state.solve(xa, f.lambda, tol, prm.max_sweeps);
                                    f.exhausted |= state.sweeps_exhausted;
                                    f.coef = state.nonzeros();
                                    if f.relax < 1.0 {
                                        let mut ca = vec![0.0; n];
                                        xa.gradient(ya, &mut ca);
                                        f.coef =
                                            relaxed(|a, b| xa.gram(a, b), &ca, &f.coef, f.relax);
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
            .collect()
    }

    /// Walks the path for one target on the fit part, choosing λ (and the relaxed lasso's
    /// blend weight) on the held-out part.
    #[allow(clippy::too_many_arguments)]
    fn path_target(
        &self,
        solver: &mut impl PathSolver,
        c: &[f64],
        yf: &[f64],
        yh: &[f64],
        path: &[f64],
    ) -> TargetFit {
        let prm = &self.params;
        let lambda_max = c
            .iter()
            .zip(solver.diag())
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
        solver.reset();
        let mut best_sse: f64 = yh.iter().map(|v| v * v).sum();
        // Early stopping follows the lasso's own held-out error: a relaxed fit stays the same
        // for as long as no point enters the support, which is no sign that the path is done.
        let (mut lasso_sse, mut lasso_best) = (best_sse, 0);
        let mut last = LastSupport::default();
        let relaxing = prm.relax.iter().any(|&w| w < 1.0);
        for (k, &ratio) in path.iter().enumerate().skip(1) {
            let lambda = lambda_max * ratio;
            solver.solve(lambda, tol, prm.max_sweeps);
            best.path_len = k + 1;
            let sse: f64 = yh
                .iter()
                .zip(solver.held_pred())
                .map(|(y, q)| (y - q) * (y - q))
                .sum();
            if sse < lasso_sse {
                (lasso_sse, lasso_best) = (sse, k);
            }
            if sse < best_sse || relaxing {
                let lasso = solver.nonzeros();
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
                    if let Some((ls, ls_pred)) = last.fit(support, |s| solver.least_squares(s)) {
                        for &phi in prm.relax.iter().filter(|&&w| w < 1.0) {
                            let sse: f64 = yh
                                .iter()
                                .zip(solver.held_pred().iter().zip(ls_pred))
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
        (best.exhausted, best.active, best.work) = solver.counters();
        best
    }
}

/// The sparse datamodel in original units (`β[i] = β_std[i] / σ_i`, intercept
/// `ȳ − Σ_i μ_i β[i]`) and the fit's counters.
fn assemble(
    results: BlockFits,
    mu: &[f64],
    inv_scale: &[f64],
    n: usize,
    t: usize,
) -> Result<(SparseDatamodel, LassoReport)> {
    let mut per_target: Vec<Vec<(u32, f32)>> = vec![Vec::new(); t];
    let mut intercept = vec![0.0f32; t];
    let mut lambdas = vec![0.0f64; t];
    let mut report = LassoReport::default();
    for (t0, fits) in results {
        for (tb, f) in fits.into_iter().enumerate() {
            let tt = t0 + tb;
            let mut icpt = f.intercept;
            per_target[tt] = f
                .coef
                .iter()
                .map(|&(j, v)| {
                    let b = v * inv_scale[j as usize];
                    icpt -= mu[j as usize] * b;
                    (j, b as f32)
                })
                .collect();
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
    let beta = SparseBeta::from_targets(n, per_target)?;
    let dm = SparseDatamodel::new(beta, intercept)?.with_lambdas(lambdas);
    Ok((dm, report))
}

/// The relaxed blend `φ·lasso + (1 − φ)·least squares` on the support of `lasso`; the lasso
/// itself when least squares is singular there.
fn relaxed(
    gram: impl Fn(usize, usize) -> f64,
    c: &[f64],
    lasso: &[(u32, f64)],
    phi: f64,
) -> Vec<(u32, f64)> {
    let support: Vec<u32> = lasso.iter().map(|&(j, _)| j).collect();
    match least_squares_on(gram, c, &support) {
        Some(ls) => blend(lasso, &ls, phi),
        None => lasso.to_vec(),
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

    fn fit_sparse(&self, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<SparseDatamodel> {
        Ok(self.fit_sparse_with_report(masks, outputs)?.0)
    }

    /// The full fit (the lasso has no closed form for single rows), summed from its supports.
    fn fit_rows_sum(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        rows: &[usize],
    ) -> Result<Vec<f32>> {
        crate::data::check_rows(rows, masks.points())?;
        self.fit_sparse(masks, outputs)?.beta().rows_sum(rows)
    }

    fn sparse(&self) -> bool {
        true
    }

    /// Each target walks its own path and picks its own λ.
    fn independent_targets(&self) -> bool {
        true
    }
}
