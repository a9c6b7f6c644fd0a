//! Fully connected network (logistic regression is the case with no hidden layer).

use crate::architecture::{ArchSpec, Architecture, StackModel};
use crate::init::StackRng;
use crate::input::{InputSpec, ModelError, checks};
use crate::layers::StackedLinear;
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Multinomial logistic regression: one linear layer, `{"kind": "logistic"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticConfig {}

impl LogisticConfig {
    /// Its `kind` in JSON and its name on the command line.
    pub const NAME: &'static str = "logistic";
}

impl Architecture for LogisticConfig {
    type Model = Mlp;

    fn spec(&self) -> ArchSpec {
        ArchSpec::new(Self::NAME, self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        checks::classes(Self::NAME, input)
    }

    fn init(&self, input: &InputSpec, seeds: &[u64], device: &Device) -> Result<Mlp, ModelError> {
        self.validate(input)?;
        Ok(Mlp::build(&mut StackRng::new(seeds), input, &[], device))
    }
}

/// A fully connected network with ReLU between layers, `{"kind": "mlp", "hidden": [64]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Widths of the hidden layers, input side first.
    pub hidden: Vec<usize>,
}

impl Default for MlpConfig {
    /// One hidden layer of 64.
    fn default() -> Self {
        Self { hidden: vec![64] }
    }
}

impl MlpConfig {
    /// Its `kind` in JSON and its name on the command line.
    pub const NAME: &'static str = "mlp";
}

impl Architecture for MlpConfig {
    type Model = Mlp;

    fn spec(&self) -> ArchSpec {
        ArchSpec::new(Self::NAME, self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        checks::classes(Self::NAME, input)?;
        if self.hidden.contains(&0) {
            return Err(checks::invalid(Self::NAME, "hidden widths must be > 0"));
        }
        Ok(())
    }

    fn init(&self, input: &InputSpec, seeds: &[u64], device: &Device) -> Result<Mlp, ModelError> {
        self.validate(input)?;
        Ok(Mlp::build(
            &mut StackRng::new(seeds),
            input,
            &self.hidden,
            device,
        ))
    }
}

/// A stack of MLPs; ReLU between layers, none after the last.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Layers, input side first; the last one produces logits.
    pub layers: Vec<StackedLinear>,
}

impl Mlp {
    /// `input → hidden… → classes`, for the configurations above.
    fn build(rng: &mut StackRng, input: &InputSpec, hidden: &[usize], device: &Device) -> Self {
        let mut widths = vec![input.dim];
        widths.extend_from_slice(hidden);
        widths.push(input.classes);
        let layers = widths
            .windows(2)
            .map(|w| StackedLinear::new(rng, w[0], w[1], true, device))
            .collect();
        Self { layers }
    }

    /// `[K, batch, in]` → `[K, batch, classes]`.
    pub fn forward(&self, mut x: Tensor<3>) -> Tensor<3> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        x
    }
}

impl StackModel for Mlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        Mlp::forward(self, x)
    }

    fn draws_randomness(&self) -> bool {
        false
    }

    fn head_param_ids(&self) -> Vec<burn::module::ParamId> {
        self.layers
            .last()
            .expect("an MLP has an output layer")
            .param_ids()
    }
}
