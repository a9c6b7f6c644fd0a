//! The crate's error type: one line each, naming the cause and, where there is one, the fix.

use std::path::PathBuf;

/// Errors of the bench pipeline and of attribution directories.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Training, zoo or checkpoint problems.
    #[error(transparent)]
    Train(#[from] unlearn_train::TrainError),
    /// Method problems.
    #[error(transparent)]
    Method(#[from] unlearn_methods::MethodError),
    /// Data problems.
    #[error(transparent)]
    Data(#[from] unlearn_data::DataError),
    /// Evaluation problems.
    #[error(transparent)]
    Eval(#[from] unlearn_eval::EvalError),
    /// Datamodel estimation problems.
    #[error(transparent)]
    Attribution(#[from] unlearn_attribution::AttributionError),
    /// A bench configuration that cannot run.
    #[error("{0}")]
    Config(String),
    /// A key a bench config does not have.
    #[error("{config}: unknown field `{key}`, expected one of {expected}")]
    UnknownKey {
        /// The config (a file, or the default).
        config: String,
        /// The key.
        key: String,
        /// The keys it has, comma-separated.
        expected: String,
    },
    /// A size or setting outside its range.
    #[error("{setting} must be {expected} (got {value})")]
    OutOfRange {
        /// The setting's key in a bench config.
        setting: &'static str,
        /// The value given.
        value: String,
        /// Its range, in words (and why).
        expected: String,
    },
    /// The report could not be formatted.
    #[error("report: {0}")]
    Report(String),
    /// An attribution directory that is missing, unfinished or does not fit.
    #[error("{path}: {what}")]
    Invalid {
        /// The file or directory concerned.
        path: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
    /// Filesystem errors, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

impl BenchError {
    /// `setting` = `value` is not `expected`.
    pub fn out_of_range(
        setting: &'static str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        BenchError::OutOfRange {
            setting,
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BenchError::Io { path, source }
    }

    /// A problem with the file or directory `path`.
    pub fn invalid(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        BenchError::Invalid {
            path: path.into(),
            what: what.into(),
        }
    }
}

impl From<serde_json::Error> for BenchError {
    fn from(e: serde_json::Error) -> Self {
        BenchError::Config(format!("JSON: {e}"))
    }
}

/// The crate's result type.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;
