//! Datamodel estimators and the linear datamodeling score (docs/algorithms.md §6).
//!
//! Inputs are the subset masks of `M` models over `n` train points ([`Masks`], `M × n`, 0/1) and
//! the outputs of those models on `T` targets ([`Outputs`], `M × T`, e.g. logits flattened
//! point-major `t = point · C + class`, or one margin per point). An [`Estimator`] fits a
//! [`Datamodel`]: `β` (`n × T`, in original 0/1 mask units: the predicted change of output `t`
//! when train point `i` is included) and an intercept per target, so that the prediction for a
//! mask row `x` is `intercept[t] + Σ_i x[i] β[i, t]`.
//!
//! Estimators: [`DiffOfMeans`], [`Ridge`] (λ chosen on held-out models, refitted on all) and
//! [`Lasso`] (regularisation path, λ per target on held-out models). Hyper-parameters go
//! params → `check()` → validated estimator, like linfa.
//!
//! Rows only: DMM and DM-Direct need `Σ_{i∈F} β[i, ·]` for a forget set `F`.
//! [`Estimator::fit_rows_sum`] computes only that: for difference of means and ridge it never
//! forms the other rows of β ([`PreparedFit`] keeps the solved system for repeated forget sets);
//! the lasso has no closed form and runs the full fit.
//!
//! Quality: [`lds`] scores a datamodel on held-out models with [`spearman`] correlations;
//! [`split_models`] splits a zoo deterministically.
//!
//! Groups: [`NeighbourhoodTerm`] adds to a linear datamodel the joint effect of removing a point
//! together with its nearest neighbours, which a sum of single effects misses.
//!
//! Structure: [`margin_effects`] (the train × train datamodel matrix on margins) and
//! [`principal_coordinates`] along its principal components, for structured forget sets.
//!
//! Pure Rust (nalgebra + rayon), no burn dependency.
//!
//! Section marks (§N) refer to `docs/algorithms.md`, the project's account of the methods.

mod data;
mod datamodel;
mod error;
mod lasso;
mod lds;
mod linalg;
mod mean;
mod neighbourhood;
mod registry;
mod ridge;
mod sparse;
mod structure;

pub use data::{Masks, ModelSplit, Outputs, split_models};
pub use datamodel::{Datamodel, LambdaSelection, PreparedFit};
pub use error::{AttributionError, Result};
pub use lasso::{Lasso, LassoParams, LassoReport, LassoSolver, RELAXED_GRID};
pub use lds::{Lds, average_ranks, lds, lds_from_predictions, spearman};
pub use mean::DiffOfMeans;
pub use neighbourhood::{NeighbourhoodTerm, Neighbours};
pub use registry::{EstimatorEntry, EstimatorRegistry, FitOptions, NoParams};
pub use ridge::{Ridge, RidgeParams, default_ridge_grid};
pub use sparse::{SPARSE_FILES, SparseBeta, SparseDatamodel};
pub use structure::{margin_effects, principal_coordinates};

/// A datamodel estimator (validated parameters). Register one beside the built-ins with
/// [`EstimatorRegistry::register`].
pub trait Estimator {
    /// Fits β (all rows) and the intercept.
    fn fit(&self, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<Datamodel>;

    /// The fit as each target's non-zeros. By default the dense fit with its zeros dropped;
    /// estimators whose β is sparse by nature (the lasso) build it without the dense β.
    fn fit_sparse(&self, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<SparseDatamodel> {
        SparseDatamodel::from_dense(&self.fit(masks, outputs)?)
    }

    /// `Σ_{i ∈ rows} β[i, ·]` (length `T`); `rows` must be distinct and in range. By default
    /// the rows of a full fit; estimators with a cheaper way (a closed form that never forms
    /// the other rows) override it.
    fn fit_rows_sum(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        rows: &[usize],
    ) -> Result<Vec<f32>> {
        data::check_rows(rows, masks.points())?;
        self.fit(masks, outputs)?.rows_sum(rows)
    }

    /// Whether β is mostly zeros by nature (the lasso's supports), so that it is stored sparse
    /// by default (`unlearn attribute --beta-format auto`).
    fn sparse(&self) -> bool {
        false
    }

    /// Whether each target is fitted on its own, so that the targets can be split into shards
    /// fitted apart and joined (`unlearn attribute --shard`). False unless an estimator says so.
    fn independent_targets(&self) -> bool {
        false
    }
}

/// TRAK (docs/algorithms.md §7): attribution from projected per-example gradients of a few models.
/// Unlike the rest of the crate it runs burn models (see [`trak`]).
pub mod trak;

pub use trak::{
    Calibration, ModelReport, Points, ProjectionKind, ScoreRequest, Trak, TrakConfig, calibrate,
};
