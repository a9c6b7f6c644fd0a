//! Device-agnostic burn architectures for unlearn: logistic regression, MLP, a small CNN and
//! ResNet-9.
//!
//! Every model is a *stack* of `K` independent models that share tensor operations: parameters
//! carry the model axis first (linear weights `[K, in, out]`, convolutions as grouped
//! convolutions with `K·out` filters), so training 100 small models costs about as many kernel
//! launches as training one. `K = 1` is the ordinary single model. Each model of a stack is
//! initialised from its own seed, so a model's parameters do not depend on which stack it is in.
//!
//! Inputs are `[K, batch, features]` (images flattened channel-major), outputs `[K, batch,
//! classes]` logits.
//!
//! Section marks (§N) refer to `docs/algorithms.md`, the project's account of the methods.

pub mod architecture;
pub mod as_written;
pub mod cnn;
pub mod config;
pub mod cpu_kernels;
pub mod draws;
pub mod init;
pub mod input;
pub mod layers;
pub mod mlp;
pub mod mode;
pub mod model;
pub mod onnx;
pub mod resnet9;
pub mod resnet9_easydub;
pub mod stacking;
pub mod torch_layout;

pub use architecture::{
    ArchSpec, Architecture, PositionalIds, Single, SingleArchitecture, SingleModel, StackModel,
};
pub use burn;
pub use cnn::CnnConfig;
pub use config::ModelConfig;
pub use input::{InputSpec, ModelError};
pub use mlp::{LogisticConfig, MlpConfig};
pub use model::Model;
pub use onnx::{OnnxConfig, OnnxModel};
pub use resnet9::ResNet9Config;
pub use resnet9_easydub::EasydubResNet9Config;
