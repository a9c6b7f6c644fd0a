//! The crate's error type: one line each, naming the cause and, where there is one, the fix.

use std::path::PathBuf;

/// Errors from training and zoo handling.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss stopped being a finite number.
    #[error(
        "model {model}: loss became {value} at epoch {epoch}, step {step}; lower the learning rate or check the data for NaN/huge values"
    )]
    NonFiniteLoss {
        /// Index of the model.
        model: usize,
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the epoch.
        step: usize,
        /// The offending value.
        value: f32,
    },
    /// Architecture and data do not fit together.
    #[error(transparent)]
    Model(#[from] unlearn_models::ModelError),
    /// Data problems (loading, masks, forget sets).
    #[error(transparent)]
    Data(#[from] unlearn_data::DataError),
    /// A recipe or option that cannot work.
    #[error("invalid recipe: {0}")]
    Recipe(String),
    /// Unknown recipe name.
    #[error("unknown recipe '{0}'; known recipes: {1}")]
    UnknownRecipe(String, String),
    /// Unknown backend name or backend not compiled in.
    #[error("{0}")]
    Backend(String),
    /// The output directory holds a different zoo.
    #[error(
        "{dir}: holds a different zoo (config hash {found}, this run {expected}); choose another output directory or delete it"
    )]
    DifferentZoo {
        /// The directory.
        dir: PathBuf,
        /// What was found.
        found: String,
        /// What was expected.
        expected: String,
    },
    /// A zoo directory is missing files or is inconsistent.
    #[error("{path}: {what}")]
    Zoo {
        /// The file or directory concerned.
        path: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
    /// Another process holds the run directory's lock.
    #[error(
        "{dir}: in use by {holder} (lock file {lock_file}); wait for it to finish or stop it, or write to another directory"
    )]
    LockHeld {
        /// The run directory.
        dir: PathBuf,
        /// Who holds it (process, host, since when).
        holder: String,
        /// The lock file's name inside `dir`.
        lock_file: &'static str,
    },
    /// The output directory holds another shard of the same zoo (or the whole zoo).
    #[error(
        "{dir}: holds {found} of this zoo, not {wanted}; give every shard its own output directory"
    )]
    OtherShard {
        /// The directory.
        dir: PathBuf,
        /// What it holds (`shard 1/4`, `the whole zoo`).
        found: String,
        /// What this run writes.
        wanted: String,
    },
    /// Models of one stack must train on equally many points (subset zoos of unequal subsets).
    #[error(
        "models of one stack must train on equally many points (model {first} has {first_points}, model {other} has {other_points}); train them in stacks of one"
    )]
    UnequalStack {
        /// The stack's first model.
        first: usize,
        /// Its training points.
        first_points: usize,
        /// A model with another count.
        other: usize,
        /// Its training points.
        other_points: usize,
    },
    /// Shards that do not make up one zoo (different runs, overlaps, gaps).
    #[error("cannot merge: {0}")]
    Shards(String),
    /// Filesystem errors, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Checkpoint (burnpack) errors.
    #[error("{path}: cannot read or write the checkpoint: {what}")]
    Checkpoint {
        /// The file or directory concerned.
        path: PathBuf,
        /// What is wrong, in words.
        what: String,
    },
}

impl TrainError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TrainError::Io { path, source }
    }
}
