//! The model a zoo trains: one of the architectures, built from a [`ModelConfig`].

use crate::architecture::StackModel;
use crate::cnn::Cnn;
use crate::config::{InputSpec, ModelConfig, ModelError};
use crate::init::StackRng;
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
    /// Builds a stack of `seeds.len()` models, model `k` initialised from `seeds[k]`.
    pub fn init(
        config: &ModelConfig,
        input: &InputSpec,
        seeds: &[u64],
        device: &Device,
    ) -> Result<Self, ModelError> {
        config.validate(input)?;
        assert!(!seeds.is_empty(), "a stack needs at least one model");
        let mut rng = StackRng::new(seeds);
        Ok(match config {
            ModelConfig::Logistic => {
                Model::Mlp(Mlp::new(&mut rng, input.dim, &[], input.classes, device))
            }
            ModelConfig::Mlp { hidden } => {
                Model::Mlp(Mlp::new(&mut rng, input.dim, hidden, input.classes, device))
            }
            ModelConfig::Cnn { channels } => {
                let image = input.image_shape.expect("validated");
                Model::Cnn(Cnn::new(&mut rng, image, channels, input.classes, device))
            }
            ModelConfig::ResNet9 { width, scale } => {
                let image = input.image_shape.expect("validated");
                Model::ResNet9(ResNet9::new(
                    &mut rng,
                    image,
                    *width,
                    *scale,
                    input.classes,
                    device,
                ))
            }
            ModelConfig::ResNet9Easydub { width, scale } => {
                let image = input.image_shape.expect("validated");
                Model::ResNet9Easydub(EasydubResNet9::new(
                    &mut rng,
                    image,
                    *width,
                    *scale,
                    input.classes,
                    device,
                ))
            }
        })
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
        let head = match self {
            Model::Mlp(m) => m.layers.last().expect("an MLP has an output layer"),
            Model::Cnn(m) => &m.head,
            Model::ResNet9(m) => &m.head,
            Model::ResNet9Easydub(m) => &m.head,
        };
        let mut ids = vec![head.weight.id];
        ids.extend(head.bias.as_ref().map(|b| b.id));
        ids
    }
}
