//! The crate's error type.

/// Errors of unlearning methods.
#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    /// Training, zoo or checkpoint problems.
    #[error(transparent)]
    Train(#[from] unlearn_train::TrainError),
    /// Data problems.
    #[error(transparent)]
    Data(#[from] unlearn_data::DataError),
    /// A method needs an input that was not given.
    #[error("method '{method}' needs {what}")]
    MissingInput {
        /// The method.
        method: String,
        /// The input it lacks.
        what: String,
    },
    /// Unknown method name.
    #[error("unknown method '{name}'; known: {known}")]
    UnknownMethod {
        /// The name asked for.
        name: String,
        /// The registered names.
        known: String,
    },
    /// Overrides that do not make the method's parameters (an unknown key, a value of the
    /// wrong type).
    #[error("method '{method}': {source}")]
    Params {
        /// The method.
        method: String,
        /// Which key and why.
        source: unlearn_data::ParamsError,
    },
    /// A hyper-parameter outside its range.
    #[error("method '{method}': {source}")]
    OutOfRange {
        /// The method.
        method: String,
        /// Which parameter, its value and its range.
        source: crate::config::OutOfRange,
    },
    /// A hyper-parameter file or flag that does not fit the method.
    #[error("method '{method}': {what}")]
    Config {
        /// The method.
        method: String,
        /// What is wrong with its parameters.
        what: String,
    },
    /// The originals were trained on other data or another split than the data given.
    #[error(
        "the originals were trained on {trained_train} + {trained_val} points but the data have {train} + {val}: load the same dataset with the same split"
    )]
    SplitMismatch {
        /// Training points of the originals' data.
        trained_train: usize,
        /// Validation points of the originals' data.
        trained_val: usize,
        /// Training points of the data given.
        train: usize,
        /// Validation points of the data given.
        val: usize,
    },
    /// A chain of requests that cannot be followed back (a zoo moved without its originals, a
    /// record changed).
    #[error("{zoo}: {what}")]
    Chain {
        /// The zoo concerned.
        zoo: String,
        /// What is wrong.
        what: String,
    },
    /// A request names a point an earlier request of the chain forgot.
    #[error(
        "training point {index} was already forgotten{}; remove it from the request",
        if *step > 0 { format!(" by request {step} of the chain") } else { String::new() }
    )]
    AlreadyForgotten {
        /// The point.
        index: usize,
        /// The request (1-based) that forgot it; 0 when unknown.
        step: usize,
    },
    /// Inputs that disagree with each other.
    #[error("{0}")]
    Mismatch(String),
}
