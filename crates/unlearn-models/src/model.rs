//! The model a zoo trains: one of the architectures, built from a [`ModelConfig`].

use crate::architecture::{ArchSpec, Architecture, StackModel};
use crate::cnn::Cnn;
use crate::config::ModelConfig;
use crate::input::{InputSpec, ModelError};
use crate::mlp::Mlp;
use crate::onnx::OnnxModel;
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
    /// A model of an ONNX graph (stacks of one).
    Onnx(OnnxModel),
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
            Model::Onnx(m) => StackModel::forward(m, x),
        }
    }

    fn draws_randomness(&self) -> bool {
        match self {
            Model::Onnx(m) => m.graph().draws_randomness(),
            _ => false,
        }
    }

    fn head_param_ids(&self) -> Vec<burn::module::ParamId> {
        match self {
            Model::Mlp(m) => m.head_param_ids(),
            Model::Cnn(m) => m.head_param_ids(),
            Model::ResNet9(m) => m.head_param_ids(),
            Model::ResNet9Easydub(m) => m.head_param_ids(),
            Model::Onnx(m) => m.head_param_ids(),
        }
    }
}

/// The built-ins' enum builds the matching [`Model`] variant.
impl Architecture for ModelConfig {
    type Model = Model;

    fn spec(&self) -> ArchSpec {
        ModelConfig::spec(self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        ModelConfig::validate(self, input)
    }

    fn init(&self, input: &InputSpec, seeds: &[u64], device: &Device) -> Result<Model, ModelError> {
        Ok(match self {
            ModelConfig::Logistic(c) => Model::Mlp(c.init(input, seeds, device)?),
            ModelConfig::Mlp(c) => Model::Mlp(c.init(input, seeds, device)?),
            ModelConfig::Cnn(c) => Model::Cnn(c.init(input, seeds, device)?),
            ModelConfig::ResNet9(c) => Model::ResNet9(c.init(input, seeds, device)?),
            ModelConfig::ResNet9Easydub(c) => Model::ResNet9Easydub(c.init(input, seeds, device)?),
            ModelConfig::Onnx(c) => Model::Onnx(Architecture::init(c, input, seeds, device)?),
        })
    }

    fn max_stack(&self) -> Option<usize> {
        matches!(self, ModelConfig::Onnx(_)).then_some(1)
    }
}
