//! Hyper-parameters of the lasso ([`LassoParams`]): defaults, setters and validation.

use serde::{Deserialize, Serialize};

use super::Lasso;
use crate::data::check_fraction;
use crate::error::{AttributionError, Result};

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
    /// Relaxed lasso: the blend weights φ tried at every λ, each giving
    /// `φ·β_lasso + (1 − φ)·β_ls` (`β_ls` the least-squares fit on the lasso's support); the
    /// held-out models choose (λ, φ) together. `[1.0]` is the plain lasso.
    #[serde(default = "plain")]
    pub relax: Vec<f64>,
    /// Which coordinate descent runs: `gram` forms the `points × points` Gram matrix (fastest
    /// while it fits in memory), `residual` works from the masks alone (memory about
    /// `models × points` bytes; for CIFAR-10's 50 000 points), `auto` picks `gram` when its
    /// matrices fit in `memory_gib`.
    #[serde(default)]
    pub solver: LassoSolver,
    /// The memory `auto` lets the Gram solver's matrices take, in GiB.
    #[serde(default = "default_memory_gib")]
    pub memory_gib: f64,
}

/// The coordinate descent a [`Lasso`] runs (see [`LassoParams::solver`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LassoSolver {
    /// `Gram` when its matrices fit in `memory_gib`, else `Residual`.
    #[default]
    Auto,
    /// Covariance coordinate descent on the Gram matrix.
    Gram,
    /// Gram-free coordinate descent on the masks.
    Residual,
}

fn plain() -> Vec<f64> {
    vec![1.0]
}

fn default_memory_gib() -> f64 {
    8.0
}

/// Bytes the Gram solver's matrices take for `models` subset models over `points` training
/// points: the f32 Gram matrix and the f64 design with its transpose, twice with `refit`.
pub(super) fn gram_bytes(models: usize, points: usize, refit: bool) -> f64 {
    let (m, n) = (models as f64, points as f64);
    let once = 4.0 * n * n + 16.0 * m * n;
    if refit { 2.0 * once } else { once }
}

/// The blend weights of the relaxed lasso estimator (`datamodels-relaxed-lasso`).
pub const RELAXED_GRID: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

impl Default for LassoParams {
    fn default() -> Self {
        Self {
            n_lambdas: 16,
            lambda_min_ratio: 0.01,
            held_out_fraction: 0.1,
            seed: 0,
            tol: 1e-3,
            max_sweeps: 1000,
            early_stop: Some(3),
            refit: true,
            relax: plain(),
            solver: LassoSolver::Auto,
            memory_gib: default_memory_gib(),
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

    /// Sets the relaxed lasso's blend weights (`[1.0]`: the plain lasso).
    pub fn relax(mut self, weights: &[f64]) -> Self {
        self.relax = weights.to_vec();
        self
    }

    /// Sets the coordinate descent.
    pub fn solver(mut self, solver: LassoSolver) -> Self {
        self.solver = solver;
        self
    }

    /// Sets the memory `auto` lets the Gram solver take, in GiB.
    pub fn memory_gib(mut self, gib: f64) -> Self {
        self.memory_gib = gib;
        self
    }

    /// The solver that runs for `models` subset models over `points` training points.
    pub fn solver_for(&self, models: usize, points: usize) -> LassoSolver {
        match self.solver {
            LassoSolver::Auto
                if gram_bytes(models, points, self.refit)
                    <= self.memory_gib * (1u64 << 30) as f64 =>
            {
                LassoSolver::Gram
            }
            LassoSolver::Auto => LassoSolver::Residual,
            chosen => chosen,
        }
    }

    /// Validates the parameters.
    pub fn check(self) -> Result<Lasso> {
        let bad = |name, reason: String| Err(AttributionError::InvalidParam { name, reason });
        if self.n_lambdas < 2 {
            return bad(
                "n_lambdas",
                format!("must be at least 2, got {}", self.n_lambdas),
            );
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
        if self.relax.is_empty() || self.relax.iter().any(|w| !(0.0..=1.0).contains(w)) {
            return bad(
                "relax",
                format!(
                    "blend weights must be in [0, 1] and at least one given, got {:?}",
                    self.relax
                ),
            );
        }
        if !(self.memory_gib > 0.0 && self.memory_gib.is_finite()) {
            return bad(
                "memory_gib",
                format!("must be finite and > 0, got {}", self.memory_gib),
            );
        }
        Ok(Lasso { params: self })
    }
}
