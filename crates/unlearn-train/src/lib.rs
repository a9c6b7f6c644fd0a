//! Training for unlearn: recipes (optimiser, schedule, epochs), a manual burn-autodiff loop that
//! trains a stack of models in the same tensor operations, and seeded model zoos written as
//! resumable, atomically written artifacts.
//!
//! Section marks (§N) refer to `docs/algorithms.md`, the project's account of the methods.

pub mod agreement;
pub mod backend;
pub mod data_source;
pub mod error;
pub mod import;
pub mod inference;
pub mod integrity;
pub mod loss;
pub mod manifest;
pub mod merge;
pub mod optimizer;
pub mod profile;
pub mod progress;
pub mod recipe;
pub mod relocate;
pub mod schedule;
pub mod shard;
pub mod speed;
pub mod speed_resnet;
pub mod torch_checkpoint;
pub mod trainer;
pub mod zoo;

pub use backend::Backend;
pub use data_source::DataSource;
pub use error::TrainError;
pub use progress::Progress;
pub use recipe::{LastBatch, OptimizerConfig, Recipe};
pub use schedule::Schedule;
pub use shard::{Shard, ShardInfo};
pub use trainer::{Member, TrainSet, train_stack};
pub use zoo::{Zoo, ZooKind, ZooSpec, train_zoo};
