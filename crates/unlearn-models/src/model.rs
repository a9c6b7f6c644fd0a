//! The model a zoo trains: one of the architectures, built from a [`ModelConfig`].

use crate::architecture::{Architecture, StackModel};
use crate::cnn::Cnn;
use crate::config::{InputSpec, ModelConfig, ModelError};
use crate::mlp::Mlp;
use crate::resnet9::ResNet9;
use crate::resnet9_easydub::EasydubResNet9;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// A stack of `K` models of one architecture (see the crate docs).
// The variants differ in size, but a model is built once per stack and moved rarely; boxing
// them would only add an indirection to every forward pass.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Model {
    /// Logistic regression or MLP.
    Mlp(Mlp),
    /// Small CNN.
    Cnn(Cnn),
    /// ResNet-9.
    ResNet9(ResNet9),
    /// The benchmark's ResNet-9.
    ResNet9Easydub(EasydubResNet9),
}

impl Model {
    /// A stack of `seeds.len()` models of the built-in `config`, model `k` initialised from
    /// `seeds[k]` (the same as [`Architecture::init`]).
    pub fn init(
        config: &ModelConfig,
        input: &InputSpec,
        seeds: &[u64],
        device: &Device,
    ) -> Result<Self, ModelError> {
        config.init(input, seeds, device)
    }
}

impl StackModel for Model {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Model::Mlp(m) => m.forward(x),
            Model::Cnn(m) => m.forward(x),
            Model::ResNet9(m) => m.forward(x),
            Model::ResNet9Easydub(m) => m.forward(x),
        }
    }

    fn head_param_ids(&self) -> Vec<burn::module::ParamId> {
        match self {
            Model::Mlp(m) => m.head_param_ids(),
            Model::Cnn(m) => m.head_param_ids(),
            Model::ResNet9(m) => m.head_param_ids(),
            Model::ResNet9Easydub(m) => m.head_param_ids(),
        }
    }
}
