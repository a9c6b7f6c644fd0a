//! Unlearning algorithms for unlearn, behind one entry point ([`methods::run_stack`]) and one
//! configuration type ([`MethodConfig`]).
//!
//! Every method starts from the originals of a zoo and returns the unlearned models' logits on
//! every train and validation point, plus its compute cost as a fraction of retraining
//! (ALGORITHMS.md §3). Methods run on a stack of originals at once (see `unlearn-models`).
//! Also here: the convex experiment ([`convex`]).

pub mod config;
pub mod context;
pub mod convex;
pub mod error;
pub mod finetune;
pub mod localize;
pub mod methods;
pub mod noisy;
pub mod runner;

pub use config::{METHOD_NAMES, MethodConfig};
pub use context::Context;
pub use error::MethodError;
pub use runner::{RunSummary, unlearn_zoo};
