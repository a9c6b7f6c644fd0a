//! Unlearning algorithms for unlearn, behind one interface ([`UnlearnMethod`]) and one registry
//! of methods by name ([`MethodRegistry`]); a user's method is registered beside the built-ins.
//!
//! Every method starts from the originals of a zoo and returns the unlearned models' logits on
//! every train and validation point, plus its compute cost as a fraction of retraining
//! (docs/algorithms.md §3). Methods run on a stack of originals at once (see `unlearn-models`).
//! Also here: the convex experiment ([`convex`]).
//!
//! Section marks (§N) refer to `docs/algorithms.md`, the project's account of the methods.

pub mod builtins;
pub mod chain;
pub mod config;
pub mod context;
pub mod convex;
pub mod error;
pub mod finetune;
pub mod localize;
pub mod method;
pub mod methods;
pub mod pull;
pub mod registry;
pub mod runner;

pub use chain::{Chain, ChainRecord, LineageStep};
pub use context::Context;
pub use error::MethodError;
pub use method::{Inputs, StackOutput, UnlearnMethod, check_inputs};
pub use registry::{MethodEntry, MethodRegistry, parse_sets};
pub use runner::{RunSummary, unlearn_zoo};
