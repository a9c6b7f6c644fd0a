//! Fully connected network (logistic regression is the case with no hidden layer).

use crate::init::StackRng;
use crate::layers::StackedLinear;
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// A stack of MLPs; ReLU between layers, none after the last.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Layers, input side first; the last one produces logits.
    pub layers: Vec<StackedLinear>,
}

impl Mlp {
    /// Builds `input → hidden… → classes`.
    pub fn new(
        rng: &mut StackRng,
        d_in: usize,
        hidden: &[usize],
        classes: usize,
        device: &Device,
    ) -> Self {
        let mut widths = vec![d_in];
        widths.extend_from_slice(hidden);
        widths.push(classes);
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
