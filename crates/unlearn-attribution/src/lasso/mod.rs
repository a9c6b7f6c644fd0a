//! Lasso (ℓ1) regression on standardised masks, with intercept, along a regularisation path,
//! λ chosen per target on held-out models. Covariance (Gram) coordinate descent.
//!
//! `params` holds the hyper-parameters and their validation, `solver` the coordinate descent on
//! the Gram matrix, `fit` the path per target, the λ selection and the refit.

use serde::{Deserialize, Serialize};

mod fit;
mod params;
mod path_solver;
mod relax;
mod residual;
mod solver;

pub use params::{LassoParams, LassoSolver, RELAXED_GRID};

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
    /// Mean relaxed-lasso blend weight φ chosen (1 = the plain lasso).
    #[serde(default)]
    pub mean_relax: f64,
    /// Mean size of the active set at the end of a target's path.
    pub mean_active: f64,
    /// Mean number of coordinate visits per target (over all passes).
    pub mean_coordinate_visits: f64,
}

/// Lasso datamodels, validated parameters.
///
/// Model, per target `t`: masks standardised as for ridge (centred by the mean over the models
/// being fitted, divided by `σ_i = sqrt(μ_i (1 − μ_i))` over all `M` models), and
/// `β_std = argmin (1/(2M'))‖y − ȳ − X β‖² + λ‖β‖₁` over the `M'` fitted models; reported as
/// `β[i] = β_std[i] / σ_i` with intercept `ȳ − Σ_i μ_i β[i]`.
///
/// Path and selection: the models are split (seeded, [`split_models`](crate::split_models)) into fit and held-out
/// parts. On the fit part, `λ_max = max_j |X_jᵀ(y − ȳ)| / M'` (where β = 0 is optimal) down to
/// `lambda_min_ratio · λ_max`, `n_lambdas` log-spaced values, warm-started. λ is chosen **per
/// target**: the one with the lowest held-out squared error of that target (β = 0 at `λ_max`
/// is a candidate). With `refit`, the target is then refitted on all `M` models at its λ.
/// With `relax` weights other than 1 (the relaxed lasso, `relax.rs`), every λ also offers
/// blends of the lasso with least squares on its support, and the held-out error picks λ and
/// the blend weight together (the refit blends the same way).
///
/// Solver: covariance coordinate descent. `G = XᵀX/M'` is formed once (stored in f32; the
/// coefficients and the working-set gradients are f64); per target `c = Xᵀ(y − ȳ)/M'`. Coordinate descent runs
/// over a working set with its own compact copy of `G`: passes over the whole working set
/// alternate with passes over its non-zero coefficients only (kept at the front, so those
/// passes touch a contiguous block). When the set has converged, the gradient over all points is
/// brought up to date (only for coefficients that changed) and every KKT violator
/// (`|X_jᵀ r|/M' > λ`) joins the set, until there is none. The inner loops are compiled for
/// AVX-512 and AVX2 and picked at run time. Targets run in parallel (rayon) in blocks of 32
/// whose `c` come from one GEMM.
///
/// Many training points ([`LassoSolver`]): the Gram matrix takes `4 · points²` bytes (10 GB at
/// CIFAR-10's 50 000). The `residual` solver runs the same path, selection and refit without
/// it: the masks are kept as bytes and each coordinate update passes over the models once,
/// keeping the residual; the KKT check computes the gradient over all points from the masks.
/// `auto` (the default) picks it when the Gram solver's matrices exceed `memory_gib`.
/// Either way β is assembled sparse ([`Lasso::fit_sparse_with_report`]): memory grows with
/// the non-zeros, not with points × targets.
///
/// Rows only: the lasso has no closed form, so [`Estimator::fit_rows_sum`](crate::Estimator::fit_rows_sum) runs the full fit and
/// sums the requested rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Lasso {
    params: LassoParams,
}
