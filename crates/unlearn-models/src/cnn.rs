//! Small CNN: (3×3 conv → ReLU → 2×2 max-pool) per block, then a linear classifier.

use crate::cpu_kernels::max_pool_relu;
use crate::init::StackRng;
use crate::layers::{StackedConv2d, StackedLinear, from_grouped_images, to_grouped_images};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

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
    /// Builds the blocks for `image` = (channels, height, width).
    pub fn new(
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
