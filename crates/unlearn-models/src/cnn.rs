//! Small CNN: (3×3 conv → ReLU → 2×2 max-pool) per block, then a linear classifier.

use crate::architecture::{ArchSpec, Architecture, StackModel};
use crate::cpu_kernels::max_pool_relu;
use crate::init::StackRng;
use crate::input::{InputSpec, ModelError, checks};
use crate::layers::{StackedConv2d, StackedLinear, from_grouped_images, to_grouped_images};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// A small CNN, `{"kind": "cnn", "channels": [16, 32]}`: per entry of `channels` a 3×3
/// convolution, ReLU and 2×2 max-pool, then a linear classifier on the flattened features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnConfig {
    /// Output channels of each convolution block.
    pub channels: Vec<usize>,
}

impl Default for CnnConfig {
    /// Two blocks of 16 and 32 channels.
    fn default() -> Self {
        Self {
            channels: vec![16, 32],
        }
    }
}

impl CnnConfig {
    /// Its `kind` in JSON and its name on the command line.
    pub const NAME: &'static str = "cnn";
}

impl Architecture for CnnConfig {
    type Model = Cnn;

    fn spec(&self) -> ArchSpec {
        ArchSpec::new(Self::NAME, self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        checks::classes(Self::NAME, input)?;
        if self.channels.is_empty() || self.channels.contains(&0) {
            return Err(checks::invalid(
                Self::NAME,
                "channels must be a non-empty list of widths > 0",
            ));
        }
        let image = checks::image(Self::NAME, input)?;
        checks::pools(Self::NAME, image, self.channels.len())
    }

    fn init(&self, input: &InputSpec, seeds: &[u64], device: &Device) -> Result<Cnn, ModelError> {
        self.validate(input)?;
        let image = checks::image(Self::NAME, input)?;
        let mut rng = StackRng::new(seeds);
        Ok(Cnn::build(
            &mut rng,
            image,
            &self.channels,
            input.classes,
            device,
        ))
    }
}

/// A stack of small CNNs.
#[derive(Module, Debug)]
pub struct Cnn {
    /// Convolution blocks.
    pub convs: Vec<StackedConv2d>,
    /// Classifier on the flattened last feature map.
    pub head: StackedLinear,
    image: [usize; 3],
}

impl Cnn {
    /// The blocks for `image` = (channels, height, width).
    fn build(
        rng: &mut StackRng,
        image: [usize; 3],
        channels: &[usize],
        classes: usize,
        device: &Device,
    ) -> Self {
        let mut c_in = image[0];
        let (mut h, mut w) = (image[1], image[2]);
        let mut convs = Vec::new();
        for &c_out in channels {
            convs.push(StackedConv2d::new(rng, c_in, c_out, 3, true, device));
            c_in = c_out;
            h /= 2;
            w /= 2;
        }
        let head = StackedLinear::new(rng, c_in * h * w, classes, true, device);
        Self { convs, head, image }
    }

    /// `[K, batch, c·h·w]` → `[K, batch, classes]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let models = x.dims()[0];
        let mut x = to_grouped_images(x, self.image);
        for conv in &self.convs {
            // relu(max-pool(x)) = max-pool(relu(x)): the ReLU on a quarter of the elements.
            x = max_pool_relu(conv.forward(x), [2, 2], true);
        }
        self.head.forward(from_grouped_images(x, models))
    }
}

impl StackModel for Cnn {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        Cnn::forward(self, x)
    }

    fn draws_randomness(&self) -> bool {
        false
    }

    fn head_param_ids(&self) -> Vec<burn::module::ParamId> {
        self.head.param_ids()
    }
}
