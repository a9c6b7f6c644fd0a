//! Lasso (ℓ1) regression on standardised masks, with intercept, along a regularisation path,
//! λ chosen per target on held-out models. Covariance (Gram) coordinate descent.

use nalgebra::DMatrix;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Estimator;
use crate::data::{Masks, Outputs, check_fraction, check_pair, check_rows, split_models};
use crate::datamodel::Datamodel;
use crate::error::{AttributionError, Result};
use crate::linalg::{axpy, design, dot, mask_means, output_means, par_gemm};

/// Hyper-parameters of [`Lasso`], unchecked. Build with [`LassoParams::default`] and the setters,
/// then [`LassoParams::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LassoParams {
    /// Number of λ values on the path, `λ_max` included (≥ 2).
    pub n_lambdas: usize,
    /// The path ends at `lambda_min_ratio · λ_max` (in (0, 1); the spec's 0.01).
    pub lambda_min_ratio: f64,
    /// Share of the models held out for choosing λ (rounded to a whole number of models).
    pub held_out_fraction: f64,
    /// Seed of the held-out split.
    pub seed: u64,
    /// Coordinate descent stops when no coefficient moved by more than `tol · sd(y)` (in
    /// standardised units, so also in output units per standard deviation of the mask) in a sweep.
    pub tol: f64,
    /// Most sweeps over the active set per λ.
    pub max_sweeps: usize,
    /// Stop a target's path once its held-out error has not improved for this many consecutive
    /// λ values (`None`: always walk the whole path).
    pub early_stop: Option<usize>,
    /// Refit each target on all models (fit and held-out) at its chosen λ, warm-started from the
    /// held-out-selected solution. With `false` the coefficients fitted on the fit part are
    /// returned as they are (as the published datamodels do).
    pub refit: bool,
}

impl Default for LassoParams {
    fn default() -> Self {
        Self {
            n_lambdas: 16,
            lambda_min_ratio: 0.01,
            held_out_fraction: 0.1,
            seed: 0,
            tol: 1e-4,
            max_sweeps: 1000,
            early_stop: Some(3),
            refit: true,
        }
    }
}

impl LassoParams {
    /// Sets the number of λ values on the path.
    pub fn n_lambdas(mut self, n: usize) -> Self {
        self.n_lambdas = n;
        self
    }

    /// Sets the ratio of the last to the first λ.
    pub fn lambda_min_ratio(mut self, r: f64) -> Self {
        self.lambda_min_ratio = r;
        self
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

    /// Sets the convergence tolerance.
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Sets the most sweeps per λ.
    pub fn max_sweeps(mut self, s: usize) -> Self {
        self.max_sweeps = s;
        self
    }

    /// Sets the early-stopping patience (`None`: off).
    pub fn early_stop(mut self, patience: Option<usize>) -> Self {
        self.early_stop = patience;
        self
    }

    /// Sets whether to refit on all models at the chosen λ.
    pub fn refit(mut self, refit: bool) -> Self {
        self.refit = refit;
        self
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<Lasso> {
        let bad = |name, reason: String| Err(AttributionError::InvalidParam { name, reason });
        if self.n_lambdas < 2 {
            return bad("n_lambdas", format!("must be at least 2, got {}", self.n_lambdas));
        }
        if !(self.lambda_min_ratio > 0.0 && self.lambda_min_ratio < 1.0) {
            return bad(
                "lambda_min_ratio",
                format!("must be in (0, 1), got {}", self.lambda_min_ratio),
            );
        }
        check_fraction(self.held_out_fraction)?;
        if !(self.tol > 0.0 && self.tol.is_finite()) {
            return bad("tol", format!("must be finite and > 0, got {}", self.tol));
        }
        if self.max_sweeps == 0 {
            return bad("max_sweeps", "must be at least 1".into());
        }
        if self.early_stop == Some(0) {
            return bad("early_stop", "patience must be at least 1".into());
        }
        Ok(Lasso { params: self })
    }
}

/// Counters of a lasso fit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LassoReport {
    /// Targets for which some λ hit `max_sweeps` before converging.
    pub not_converged: usize,
    /// Mean number of λ values visited per target (early stopping shortens paths).
    pub mean_path_len: f64,
    /// Mean number of non-zero coefficients per target in the returned β.
    pub mean_nonzero: f64,
    /// Mean index of the chosen λ on the path (0 = λ_max, i.e. β = 0).
    pub mean_chosen_index: f64,
}

/// Lasso datamodels, validated parameters.
///
/// Model, per target `t`: masks standardised as for ridge (centred by the mean over the models
/// being fitted, divided by `σ_i = sqrt(μ_i (1 − μ_i))` over all `M` models), and
/// `β_std = argmin (1/(2M'))‖y − ȳ − X β‖² + λ‖β‖₁` over the `M'` fitted models; reported as
/// `β[i] = β_std[i] / σ_i` with intercept `ȳ − Σ_i μ_i β[i]`.
///
/// Path and selection: the models are split (seeded, [`split_models`]) into fit and held-out
/// parts. On the fit part, `λ_max = max_j |X_jᵀ(y − ȳ)| / M'` (where β = 0 is optimal) down to
/// `lambda_min_ratio · λ_max`, `n_lambdas` log-spaced values, warm-started. λ is chosen **per
/// target**: the one with the lowest held-out squared error of that target (β = 0 at `λ_max`
/// is a candidate). With `refit`, the target is then refitted on all `M` models at its λ.
///
/// Solver: covariance coordinate descent. `G = XᵀX/M'` is formed once; per target
/// `c = Xᵀ(y − ȳ)/M'`. Coordinate descent runs over an active set with its own compact copy of
/// `G`, growing by the sequential strong rule, and is checked against the KKT conditions over
/// all points; the full gradient is updated only for coefficients that changed. Targets run in
/// parallel (rayon) in blocks whose `c` come from one GEMM.
///
/// Rows only: the lasso has no closed form, so [`Estimator::fit_rows_sum`] runs the full fit and
/// sums the requested rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Lasso {
    params: LassoParams,
}

/// Targets per parallel work item.
const BLOCK: usize = 32;
/// Gram diagonals below this are treated as constant columns (coefficient fixed at 0).
const DIAG_EPS: f64 = 1e-12;

struct Problem {
    n: usize,
    /// Row-major `n × n` (symmetric).
    g: Vec<f64>,
    diag: Vec<f64>,
}

impl Problem {
    fn new(x: &DMatrix<f64>) -> Self {
        let (m, n) = x.shape();
        let xt = x.transpose();
        let g = par_gemm(xt.as_view(), x.as_view()) * (1.0 / m as f64);
        let diag = (0..n).map(|j| g[(j, j)]).collect();
        Self {
            n,
            g: g.as_slice().to_vec(),
            diag,
        }
    }

    #[inline]
    fn row(&self, j: usize) -> &[f64] {
        &self.g[j * self.n..(j + 1) * self.n]
    }
}

const NONE: u32 = u32::MAX;

/// Per-thread coordinate descent state for one target at a time.
struct Cd {
    active: Vec<usize>,
    pos: Vec<u32>,
    cap: usize,
    /// `cap × cap` row-major compact Gram of the active set.
    gaa: Vec<f64>,
    beta: Vec<f64>,
    snap: Vec<f64>,
    /// Gradient `c − G β` on the active set, always current.
    q_a: Vec<f64>,
    /// Gradient on all points, current as of the last `sync`.
    q_full: Vec<f64>,
    /// Held-out predictions (centred), current as of the last `sync`.
    pred: Vec<f64>,
    sweeps_exhausted: bool,
}

impl Cd {
    fn new(n: usize, h: usize) -> Self {
        Self {
            active: Vec::new(),
            pos: vec![NONE; n],
            cap: 0,
            gaa: Vec::new(),
            beta: Vec::new(),
            snap: Vec::new(),
            q_a: Vec::new(),
            q_full: vec![0.0; n],
            pred: vec![0.0; h],
            sweeps_exhausted: false,
        }
    }

    fn reset(&mut self, c: &[f64]) {
        for &j in &self.active {
            self.pos[j] = NONE;
        }
        self.active.clear();
        self.beta.clear();
        self.snap.clear();
        self.q_a.clear();
        self.q_full.copy_from_slice(c);
        self.pred.iter_mut().for_each(|p| *p = 0.0);
        self.sweeps_exhausted = false;
    }

    fn grow(&mut self, n: usize) {
        let new_cap = (self.cap * 2).max(64).min(n);
        let mut g = vec![0.0; new_cap * new_cap];
        let k = self.active.len();
        for r in 0..k {
            g[r * new_cap..r * new_cap + k].copy_from_slice(&self.gaa[r * self.cap..r * self.cap + k]);
        }
        self.gaa = g;
        self.cap = new_cap;
    }

    /// Adds point `j` to the active set with β_j = 0.
    fn add(&mut self, j: usize, p: &Problem, c: &[f64]) {
        debug_assert_eq!(self.pos[j], NONE);
        let k = self.active.len();
        if k == self.cap {
            self.grow(p.n);
        }
        let cap = self.cap;
        let row = p.row(j);
        for (l, &a) in self.active.iter().enumerate() {
            let v = row[a];
            self.gaa[k * cap + l] = v;
            self.gaa[l * cap + k] = v;
        }
        self.gaa[k * cap + k] = row[j];
        let q = c[j] - dot(&self.gaa[k * cap..k * cap + k], &self.beta[..k]);
        self.active.push(j);
        self.pos[j] = k as u32;
        self.beta.push(0.0);
        self.snap.push(0.0);
        self.q_a.push(q);
    }

    /// Recomputes the active gradient from scratch (after setting β directly).
    fn refresh_q_a(&mut self, c: &[f64]) {
        let (k, cap) = (self.active.len(), self.cap);
        for r in 0..k {
            self.q_a[r] =
                c[self.active[r]] - dot(&self.gaa[r * cap..r * cap + k], &self.beta[..k]);
        }
    }

    /// Brings `q_full` and `pred` up to date with the coefficients changed since the last sync.
    fn sync(&mut self, p: &Problem, x_ho: Option<&DMatrix<f64>>) {
        for r in 0..self.active.len() {
            let d = self.beta[r] - self.snap[r];
            if d != 0.0 {
                let j = self.active[r];
                axpy(&mut self.q_full, -d, p.row(j));
                if let Some(x) = x_ho {
                    axpy(&mut self.pred, d, x.column(j).as_slice());
                }
                self.snap[r] = self.beta[r];
            }
        }
    }

    /// Coordinate descent over the active set at `lambda` until no coefficient moves by more
    /// than `tol_abs` (scaled by `sqrt(G_jj)`) or `max_sweeps` sweeps.
    fn sweep(&mut self, lambda: f64, tol_abs: f64, max_sweeps: usize) {
        let k = self.active.len();
        let cap = self.cap;
        for _ in 0..max_sweeps {
            let mut max_d = 0.0f64;
            for r in 0..k {
                let gjj = self.gaa[r * cap + r];
                if gjj <= DIAG_EPS {
                    continue;
                }
                let b = self.beta[r];
                let z = self.q_a[r] + gjj * b;
                let nb = soft(z, lambda) / gjj;
                let d = nb - b;
                if d != 0.0 {
                    self.beta[r] = nb;
                    axpy(&mut self.q_a[..k], -d, &self.gaa[r * cap..r * cap + k]);
                    max_d = max_d.max(d.abs() * gjj.sqrt());
                }
            }
            if max_d <= tol_abs {
                return;
            }
        }
        self.sweeps_exhausted = true;
    }

    /// Solves at `lambda`, warm-started from the current β (the solution at `lambda_prev`).
    #[allow(clippy::too_many_arguments)]
    fn solve(
        &mut self,
        lambda: f64,
        lambda_prev: f64,
        p: &Problem,
        c: &[f64],
        x_ho: Option<&DMatrix<f64>>,
        tol_abs: f64,
        max_sweeps: usize,
    ) {
        // Sequential strong rule: |q_j(β(λ_prev))| ≥ 2λ − λ_prev.
        let strong = 2.0 * lambda - lambda_prev;
        for j in 0..p.n {
            if self.pos[j] == NONE && p.diag[j] > DIAG_EPS && self.q_full[j].abs() >= strong {
                self.add(j, p, c);
            }
        }
        loop {
            self.sweep(lambda, tol_abs, max_sweeps);
            self.sync(p, x_ho);
            let kkt = lambda * (1.0 + 1e-9);
            let before = self.active.len();
            for j in 0..p.n {
                if self.pos[j] == NONE && p.diag[j] > DIAG_EPS && self.q_full[j].abs() > kkt {
                    self.add(j, p, c);
                }
            }
            if self.active.len() == before {
                return;
            }
        }
    }

    fn nonzeros(&self) -> Vec<(u32, f64)> {
        self.active
            .iter()
            .zip(&self.beta)
            .filter(|&(_, &b)| b != 0.0)
            .map(|(&j, &b)| (j as u32, b))
            .collect()
    }
}

#[inline]
fn soft(z: f64, l: f64) -> f64 {
    if z > l {
        z - l
    } else if z < -l {
        z + l
    } else {
        0.0
    }
}

/// One target's result.
struct TargetFit {
    lambda: f64,
    intercept: f64,
    /// Standardised coefficients (index, value).
    coef: Vec<(u32, f64)>,
    path_len: usize,
    chosen: usize,
    exhausted: bool,
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
        let inv_scale: Vec<f64> = counts
            .iter()
            .map(|&c| {
                let mu = c as f64 / m as f64;
                1.0 / (mu * (1.0 - mu)).sqrt()
            })
            .collect();

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
            .map(|k| prm.lambda_min_ratio.powf(k as f64 / (prm.n_lambdas - 1) as f64))
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
                                    for &(j, _) in &f.coef {
                                        cd.add(j as usize, pa, c);
                                    }
                                    for (r, &(_, v)) in f.coef.iter().enumerate() {
                                        cd.beta[r] = v;
                                    }
                                    cd.refresh_q_a(c);
                                    cd.sync(pa, None);
                                    cd.solve(f.lambda, f.lambda, pa, c, None, tol, prm.max_sweeps);
                                    f.exhausted |= cd.sweeps_exhausted;
                                    f.coef = cd.nonzeros();
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
            }
        }
        let tf = t.max(1) as f64;
        report.mean_path_len /= tf;
        report.mean_nonzero /= tf;
        report.mean_chosen_index /= tf;
        let dm = Datamodel::new(n, t, beta, intercept)?.with_lambdas(lambdas);
        Ok((dm, report))
    }

    /// Walks the path for one target on the fit part, choosing λ on the held-out part.
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
            intercept: 0.0,
            coef: Vec::new(),
            path_len: 1,
            chosen: 0,
            exhausted: false,
        };
        if lambda_max <= 0.0 {
            return best;
        }
        let tol = prm.tol * rms(yf);
        cd.reset(c);
        let mut best_sse: f64 = yh.iter().map(|v| v * v).sum();
        let mut prev = lambda_max;
        for (k, &ratio) in path.iter().enumerate().skip(1) {
            let lambda = lambda_max * ratio;
            cd.solve(lambda, prev, p, c, Some(xh), tol, prm.max_sweeps);
            prev = lambda;
            best.path_len = k + 1;
            let sse: f64 = yh
                .iter()
                .zip(&cd.pred)
                .map(|(y, q)| (y - q) * (y - q))
                .sum();
            if sse < best_sse {
                best_sse = sse;
                best.lambda = lambda;
                best.coef = cd.nonzeros();
                best.chosen = k;
            } else if let Some(pat) = prm.early_stop
                && k - best.chosen >= pat
            {
                break;
            }
        }
        best.exhausted = cd.sweeps_exhausted;
        best
    }
}

/// Root mean square of a centred target (its standard deviation); 1 if it is 0.
fn rms(y: &[f64]) -> f64 {
    let s = (y.iter().map(|v| v * v).sum::<f64>() / y.len().max(1) as f64).sqrt();
    if s > 0.0 { s } else { 1.0 }
}

/// Outputs of `models` for targets `t0..t0+b`, centred by `mean`, as `models × b` column-major.
fn gather(outputs: &Outputs<'_>, models: &[usize], t0: usize, b: usize, mean: &[f64]) -> DMatrix<f64> {
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

    /// Runs the full fit (the lasso has no closed form for single rows) and sums `rows`.
    fn fit_rows_sum(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        rows: &[usize],
    ) -> Result<Vec<f32>> {
        check_rows(rows, masks.points())?;
        self.fit(masks, outputs)?.rows_sum(rows)
    }
}
