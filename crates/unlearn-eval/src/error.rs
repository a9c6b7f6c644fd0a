//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while evaluating, reporting or plotting.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A buffer does not have the length its stated shape implies.
    #[error("shape mismatch for {what}: expected {expected} values, got {got}")]
    Shape {
        /// Which input is malformed.
        what: String,
        /// The length the shape implies.
        expected: usize,
        /// The length that was passed.
        got: usize,
    },
    /// A dimension that must be positive is zero or too small.
    #[error("invalid dimension for {what}: {detail}")]
    Dimension {
        /// Which dimension.
        what: String,
        /// Why it is invalid.
        detail: String,
    },
    /// An input that must be non-empty is empty.
    #[error("empty input: {0}")]
    Empty(String),
    /// An index points outside the data it indexes.
    #[error("index {index} out of range for {what} of length {len}")]
    Index {
        /// Which index list.
        what: String,
        /// The offending index.
        index: usize,
        /// The length of the indexed data.
        len: usize,
    },
    /// A NaN (or otherwise unusable number) was found where a number is required.
    #[error("non-finite value in {0}")]
    NonFinite(String),
    /// A parameter is outside its valid range.
    #[error("invalid argument {what}: {detail}")]
    Argument {
        /// Which argument.
        what: String,
        /// Why it is invalid.
        detail: String,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The destination path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A published margin or forget-set file that is missing or does not fit the others.
    #[error("{path}: {what}")]
    Published {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong, and the fix.
        what: String,
    },
    /// A data file that cannot be read (it names the file and the cause).
    #[error(transparent)]
    Data(#[from] unlearn_data::DataError),
    /// Plotting failed inside the drawing backend.
    #[error("plot {path} failed: {detail}")]
    Plot {
        /// The output path (stem or file).
        path: PathBuf,
        /// The backend's message.
        detail: String,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, EvalError>;

impl EvalError {
    pub(crate) fn shape(what: &str, expected: usize, got: usize) -> Self {
        EvalError::Shape {
            what: what.to_string(),
            expected,
            got,
        }
    }

    pub(crate) fn dim(what: &str, detail: impl Into<String>) -> Self {
        EvalError::Dimension {
            what: what.to_string(),
            detail: detail.into(),
        }
    }

    pub(crate) fn arg(what: &str, detail: impl Into<String>) -> Self {
        EvalError::Argument {
            what: what.to_string(),
            detail: detail.into(),
        }
    }
}

/// Checks that every index in `indices` is `< len`.
pub(crate) fn check_indices(what: &str, indices: &[usize], len: usize) -> Result<()> {
    match indices.iter().find(|&&i| i >= len) {
        Some(&index) => Err(EvalError::Index {
            what: what.to_string(),
            index,
            len,
        }),
        None => Ok(()),
    }
}

/// Derives the number of models of a `models × points` row-major matrix from its length.
pub(crate) fn models_of(what: &str, values: &[f32], points: usize) -> Result<usize> {
    if points == 0 {
        return Err(EvalError::dim(what, "points must be positive"));
    }
    if values.is_empty() {
        return Err(EvalError::Empty(format!("{what} (no models)")));
    }
    if !values.len().is_multiple_of(points) {
        let expected = (values.len() / points + 1) * points;
        return Err(EvalError::shape(what, expected, values.len()));
    }
    Ok(values.len() / points)
}
