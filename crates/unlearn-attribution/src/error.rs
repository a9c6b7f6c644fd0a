//! The crate's single error type.

use thiserror::Error;

/// Everything that can go wrong while fitting or scoring a datamodel.
///
/// Shape problems are reported as errors, never as panics.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AttributionError {
    /// A flat buffer does not hold `rows × cols` values.
    #[error("{what}: buffer holds {len} values, expected {rows}×{cols} = {}", rows * cols)]
    BufferLength {
        /// Which buffer.
        what: &'static str,
        /// Length of the buffer given.
        len: usize,
        /// Rows of the matrix.
        rows: usize,
        /// Columns of the matrix.
        cols: usize,
    },
    /// Two inputs disagree on a dimension (models, points or targets).
    #[error("{what}: {left} vs {right}")]
    DimensionMismatch {
        /// Which dimension of which inputs.
        what: &'static str,
        /// Size of the left operand.
        left: usize,
        /// Size of the right operand.
        right: usize,
    },
    /// A mask entry is neither 0 nor 1.
    #[error("mask value {value} at model {model}, point {point} is not 0 or 1")]
    InvalidMaskValue {
        /// Index of the model.
        model: usize,
        /// Index of the point.
        point: usize,
        /// The offending value.
        value: u8,
    },
    /// An output is NaN or infinite.
    #[error("output at model {model}, target {target} is not finite")]
    NonFiniteOutput {
        /// Index of the model.
        model: usize,
        /// Index of the target (point × class).
        target: usize,
    },
    /// A train point is in every subset or in none, so its effect cannot be estimated.
    #[error(
        "train point {point} is in {count} of {models} subsets; it must be in at least one and out of at least one: train more subset models, or draw subsets with α further from 0 and 1"
    )]
    DegeneratePoint {
        /// Index of the point.
        point: usize,
        /// Subsets holding the point.
        count: usize,
        /// Number of models.
        models: usize,
    },
    /// The held-out split of the models is empty.
    #[error("held-out set is empty ({models} models, held-out fraction {fraction})")]
    EmptyHeldOut {
        /// Number of models.
        models: usize,
        /// The held-out fraction asked for.
        fraction: f64,
    },
    /// Nothing is left to fit on after the held-out split.
    #[error("fit set is empty ({models} models, held-out fraction {fraction})")]
    EmptyFitSet {
        /// Number of models.
        models: usize,
        /// The held-out fraction asked for.
        fraction: f64,
    },
    /// Too few models for the requested computation.
    #[error("{what} needs at least {needed} models, got {got}")]
    TooFewModels {
        /// The computation.
        what: &'static str,
        /// How many are needed.
        needed: usize,
        /// How many were given.
        got: usize,
    },
    /// A requested row (train point) index is out of range.
    #[error("row {row} is out of range for {points} train points")]
    RowOutOfRange {
        /// The row index.
        row: usize,
        /// Number of points.
        points: usize,
    },
    /// A model index is out of range.
    #[error("model index {index} is out of range for {models} models")]
    ModelOutOfRange {
        /// The index given.
        index: usize,
        /// Number of models.
        models: usize,
    },
    /// A requested row appears more than once.
    #[error("row {row} appears more than once in the requested set")]
    DuplicateRow {
        /// The row index.
        row: usize,
    },
    /// Overrides that do not make an estimator's parameters.
    #[error("estimator '{estimator}': {source}")]
    Params {
        /// The estimator.
        estimator: String,
        /// Which key and why.
        source: unlearn_data::ParamsError,
    },
    /// Not a registered estimator.
    #[error(
        "unknown attribution estimator '{name}'; registered: {known} (TRAK, which needs the zoo's checkpoints, is `trak`)"
    )]
    UnknownEstimator {
        /// The name asked for.
        name: String,
        /// The registered names.
        known: String,
    },
    /// A hyper-parameter is invalid.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam {
        /// Name of the parameter.
        name: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// A linear solve failed (matrix not positive definite).
    #[error("numerical failure: {0}")]
    Numerical(String),
    /// A stored array could not be read or written (the file's own message).
    #[error("{0}")]
    File(String),
    /// The files of a sparse β do not make one (see `sparse.rs`).
    #[error("{dir}: {reason}")]
    SparseLayout {
        /// The directory holding the files.
        dir: std::path::PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
}

impl From<unlearn_data::DataError> for AttributionError {
    fn from(e: unlearn_data::DataError) -> Self {
        Self::File(e.to_string())
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, AttributionError>;
