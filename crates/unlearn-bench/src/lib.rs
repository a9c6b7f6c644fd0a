//! The unlearn bench as a library: for any architecture and any method of a registry, train the
//! originals, three oracle zoos per forget set and the subset models, fit datamodels, run every
//! method over its grid, score each with KLoM against the oracles, and write a report.
//!
//! ```no_run
//! use unlearn_bench::{Bench, MethodSpec, NamedForgetSet};
//! use unlearn_methods::MethodRegistry;
//! use unlearn_models::{MlpConfig, ModelConfig};
//! use unlearn_train::DataSource;
//!
//! let (data, info) = DataSource::named("digits").load().unwrap();
//! let arch = ModelConfig::Mlp(MlpConfig { hidden: vec![64] });
//! let registry = MethodRegistry::builtin();
//! let mut bench = Bench::new(&arch, &registry, &data, info, burn::tensor::Device::flex());
//! let forget = unlearn_data::ForgetSet::random(data.train.len(), 10, 0).unwrap();
//! bench.forget_sets.push(NamedForgetSet::new("random-10", forget));
//! bench.methods.push(MethodSpec::new("dmm"));
//! let outcome = bench.run(&()).unwrap();
//! ```
//!
//! Progress arrives through [`unlearn_train::Progress`]; the library prints nothing.
//!
//! Section marks (§N) refer to `docs/algorithms.md`, the project's account of the methods.

pub mod beta_store;
pub mod config;
pub mod datamodels;
pub mod error;
pub mod neighbourhood;
pub mod pipeline;
pub mod record;
pub mod report;
pub mod sequence;
pub mod settings;
pub mod trak;

pub use config::{BenchConfig, ForgetKind, ForgetSpec, RecipeSpec};
pub use datamodels::{FitOptions, SubsetZoo};
pub use error::{BenchError, Result};
pub use pipeline::{Bench, BenchOutcome, logits_view, score};
pub use report::{CHALLENGE_SPLITS_FILE, ReportHeader, ReportRow};
pub use sequence::{SequenceRow, SequenceSpec};
pub use settings::{BenchSettings, ForgetDraw, MethodSpec, NamedForgetSet, NeighbourhoodSpec};
