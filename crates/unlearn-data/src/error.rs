//! The crate's single error type.
//!
//! Every variant renders as one line that names the file (when there is one),
//! the position inside it (line, record or element) and the cause, so a user can
//! go straight to the offending spot.

use std::path::{Path, PathBuf};

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, DataError>;

/// Everything that can go wrong while loading, validating or writing data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The operating system refused to open, read, write or rename a file.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// What was being attempted ("cannot open", "cannot write", ...).
        action: &'static str,
        /// Underlying OS error.
        source: std::io::Error,
    },

    /// A text file has a bad line (CSV row, forget-set line).
    #[error("{}, line {line}: {message}", path.display())]
    Line {
        /// File involved.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong and, where sensible, how to fix it.
        message: String,
    },

    /// A binary file has a bad record (CIFAR-10 record, IDX image, npy element).
    #[error("{}, {unit} {index}: {message}", path.display())]
    Record {
        /// File involved.
        path: PathBuf,
        /// What a record is called in this format ("record", "image", "element", ...).
        unit: &'static str,
        /// Position of the bad record; the unit's doc says whether it is 0- or 1-based.
        index: usize,
        /// What is wrong.
        message: String,
    },

    /// A file as a whole is malformed (bad magic, wrong dtype, shape mismatch, empty).
    #[error("{}: {message}", path.display())]
    Format {
        /// File involved.
        path: PathBuf,
        /// What is wrong and, where sensible, how to fix it.
        message: String,
    },

    /// A data set or file that was asked for is not there.
    #[error("{what} not found: {hint}")]
    Missing {
        /// What was looked for (a file, a directory, a data set name).
        what: String,
        /// Where it was looked for and how to provide it.
        hint: String,
    },

    /// A data-set spec that `resolve_dataset` does not understand.
    #[error("unknown data set '{spec}': {accepted}")]
    UnknownSpec {
        /// The spec as given.
        spec: String,
        /// The list of accepted forms.
        accepted: String,
    },

    /// An argument or in-memory value is out of its valid range.
    #[error("{0}")]
    Invalid(String),
}

impl DataError {
    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    pub(crate) fn line(path: &Path, line: u64, message: impl Into<String>) -> Self {
        DataError::Line {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn record(
        path: &Path,
        unit: &'static str,
        index: usize,
        message: impl Into<String>,
    ) -> Self {
        DataError::Record {
            path: path.to_path_buf(),
            unit,
            index,
            message: message.into(),
        }
    }

    pub(crate) fn format(path: &Path, message: impl Into<String>) -> Self {
        DataError::Format {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        DataError::Invalid(message.into())
    }
}
