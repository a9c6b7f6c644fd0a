//! Training for unlearn: recipes (optimiser, schedule, epochs), a manual burn-autodiff loop that
//! trains a stack of models in the same tensor operations, and seeded model zoos written as
//! resumable, atomically written artifacts.

pub mod backend;
pub mod error;
pub mod inference;
pub mod integrity;
pub mod loss;
pub mod manifest;
pub mod merge;
pub mod optimizer;
pub mod profile;
pub mod recipe;
pub mod schedule;
pub mod shard;
pub mod speed;
pub mod speed_resnet;
pub mod trainer;
pub mod zoo;

pub use backend::Backend;
pub use error::TrainError;
pub use recipe::{OptimizerConfig, Recipe};
pub use schedule::Schedule;
pub use shard::{Shard, ShardInfo};
pub use trainer::{Member, TrainSet, train_stack};
pub use zoo::{Zoo, ZooKind, ZooSpec, train_zoo};
