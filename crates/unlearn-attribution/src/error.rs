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
        what: &'static str,
        len: usize,
        rows: usize,
        cols: usize,
    },
    /// Two inputs disagree on a dimension (models, points or targets).
    #[error("{what}: {left} vs {right}")]
    DimensionMismatch {
        what: &'static str,
        left: usize,
        right: usize,
    },
    /// A mask entry is neither 0 nor 1.
    #[error("mask value {value} at model {model}, point {point} is not 0 or 1")]
    InvalidMaskValue {
        model: usize,
        point: usize,
        value: u8,
    },
    /// An output is NaN or infinite.
    #[error("output at model {model}, target {target} is not finite")]
    NonFiniteOutput { model: usize, target: usize },
    /// A train point is in every subset or in none, so its effect cannot be estimated.
    #[error(
        "train point {point} is in {count} of {models} subsets; it must be in at least one and out of at least one: train more subset models, or draw subsets with α further from 0 and 1"
    )]
    DegeneratePoint {
        point: usize,
        count: usize,
        models: usize,
    },
    /// The held-out split of the models is empty.
    #[error("held-out set is empty ({models} models, held-out fraction {fraction})")]
    EmptyHeldOut { models: usize, fraction: f64 },
    /// Nothing is left to fit on after the held-out split.
    #[error("fit set is empty ({models} models, held-out fraction {fraction})")]
    EmptyFitSet { models: usize, fraction: f64 },
    /// Too few models for the requested computation.
    #[error("{what} needs at least {needed} models, got {got}")]
    TooFewModels {
        what: &'static str,
        needed: usize,
        got: usize,
    },
    /// A requested row (train point) index is out of range.
    #[error("row {row} is out of range for {points} train points")]
    RowOutOfRange { row: usize, points: usize },
    /// A model index is out of range.
    #[error("model index {index} is out of range for {models} models")]
    ModelOutOfRange { index: usize, models: usize },
    /// A requested row appears more than once.
    #[error("row {row} appears more than once in the requested set")]
    DuplicateRow { row: usize },
    /// A hyper-parameter is invalid.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam { name: &'static str, reason: String },
    /// A linear solve failed (matrix not positive definite).
    #[error("numerical failure: {0}")]
    Numerical(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, AttributionError>;
