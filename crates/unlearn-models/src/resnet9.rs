//! ResNet-9, the fast "KakaoBrain" CIFAR-10 layout (docs/algorithms.md §13), stacked.

use crate::architecture::{ArchSpec, Architecture, StackModel};
use crate::cpu_kernels::{batch_norm, max_pool_relu};
use crate::init::StackRng;
use crate::input::{InputSpec, ModelError, checks};
use crate::layers::{
    ConvGeometry, StackedConv2d, StackedLinear, from_grouped_images, stacked_batch_norm,
    to_grouped_images,
};
use burn::module::Module;
use burn::module::RunningState;
use burn::nn::BatchNorm;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// ResNet-9 in the fast "KakaoBrain" layout (docs/algorithms.md §13),
/// `{"kind": "resnet9", "width": 64, "scale": 0.125}`: widths `width·{1,2,4,8}` (64 gives the
/// published 64-128-256-512), logits multiplied by `scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResNet9Config {
    /// Channels of the prep layer (published: 64).
    pub width: usize,
    /// Output multiplier (published: 0.125).
    #[serde(serialize_with = "crate::as_written::f32")]
    pub scale: f32,
}

impl Default for ResNet9Config {
    /// The published 64 and 0.125.
    fn default() -> Self {
        Self {
            width: 64,
            scale: 0.125,
        }
    }
}

impl ResNet9Config {
    /// Its `kind` in JSON and its name on the command line.
    pub const NAME: &'static str = "resnet9";
    /// Times it halves the image (three 2×2 max-pools).
    const POOLS: usize = 3;
}

impl Architecture for ResNet9Config {
    type Model = ResNet9;

    fn spec(&self) -> ArchSpec {
        ArchSpec::new(Self::NAME, self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        checks::classes(Self::NAME, input)?;
        checks::width(Self::NAME, self.width)?;
        let image = checks::image(Self::NAME, input)?;
        checks::pools(Self::NAME, image, Self::POOLS)
    }

    fn init(
        &self,
        input: &InputSpec,
        seeds: &[u64],
        device: &Device,
    ) -> Result<ResNet9, ModelError> {
        self.validate(input)?;
        let image = checks::image(Self::NAME, input)?;
        let mut rng = StackRng::new(seeds);
        Ok(ResNet9::build(&mut rng, image, self, input.classes, device))
    }
}

/// Convolution (no bias) → batch norm → ReLU, optionally followed by a 2×2 max-pool.
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: StackedConv2d,
    norm: BatchNorm,
    pool: bool,
}

impl ConvBlock {
    fn new(rng: &mut StackRng, c_in: usize, c_out: usize, pool: bool, device: &Device) -> Self {
        Self::with_geometry(rng, c_in, c_out, ConvGeometry::same(3), pool, device)
    }

    /// A block whose convolution has `geometry` (the benchmark's ResNet-9 has a strided and an
    /// unpadded one).
    pub(crate) fn with_geometry(
        rng: &mut StackRng,
        c_in: usize,
        c_out: usize,
        geometry: ConvGeometry,
        pool: bool,
        device: &Device,
    ) -> Self {
        let conv = StackedConv2d::with_geometry(rng, c_in, c_out, geometry, false, device);
        let mut norm = stacked_batch_norm(rng.models(), c_out, device);
        norm.running_mean = RunningState::with_id(rng.running_id(), norm.running_mean.value());
        norm.running_var = RunningState::with_id(rng.running_id(), norm.running_var.value());
        Self { conv, norm, pool }
    }

    pub(crate) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = batch_norm(&self.norm, self.conv.forward(x));
        // ReLU and max-pool commute (both monotone): pooling first gives the same values and
        // gradients with the ReLU on a quarter of the elements.
        if self.pool {
            max_pool_relu(x, [2, 2], true)
        } else {
            relu(x)
        }
    }
}

/// A stack of ResNet-9 models.
#[derive(Module, Debug)]
pub struct ResNet9 {
    prep: ConvBlock,
    layer1: ConvBlock,
    res1: [ConvBlock; 2],
    layer2: ConvBlock,
    layer3: ConvBlock,
    res3: [ConvBlock; 2],
    /// Classifier head.
    pub head: StackedLinear,
    image: [usize; 3],
    scale: f32,
}

impl ResNet9 {
    /// Widths `width·{1, 2, 4, 8}`; the head has no bias and its output is multiplied by `scale`.
    fn build(
        rng: &mut StackRng,
        image: [usize; 3],
        config: &ResNet9Config,
        classes: usize,
        device: &Device,
    ) -> Self {
        let ResNet9Config { width, scale } = *config;
        let (w1, w2, w4, w8) = (width, 2 * width, 4 * width, 8 * width);
        Self {
            prep: ConvBlock::new(rng, image[0], w1, false, device),
            layer1: ConvBlock::new(rng, w1, w2, true, device),
            res1: [
                ConvBlock::new(rng, w2, w2, false, device),
                ConvBlock::new(rng, w2, w2, false, device),
            ],
            layer2: ConvBlock::new(rng, w2, w4, true, device),
            layer3: ConvBlock::new(rng, w4, w8, true, device),
            res3: [
                ConvBlock::new(rng, w8, w8, false, device),
                ConvBlock::new(rng, w8, w8, false, device),
            ],
            head: StackedLinear::new(rng, w8, classes, false, device),
            image,
            scale,
        }
    }

    /// `[K, batch, c·h·w]` → `[K, batch, classes]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let models = x.dims()[0];
        let x = self.prep.forward(to_grouped_images(x, self.image));
        let x = self.layer1.forward(x);
        let x = x.clone() + self.res1[1].forward(self.res1[0].forward(x));
        let x = self.layer2.forward(x);
        let x = self.layer3.forward(x);
        let x = x.clone() + self.res3[1].forward(self.res3[0].forward(x));
        let [_, _, h, w] = x.dims();
        let x = max_pool_relu(x, [h, w], false);
        self.head
            .forward(from_grouped_images(x, models))
            .mul_scalar(self.scale)
    }
}

impl StackModel for ResNet9 {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        ResNet9::forward(self, x)
    }

    fn draws_randomness(&self) -> bool {
        false
    }

    fn head_param_ids(&self) -> Vec<burn::module::ParamId> {
        self.head.param_ids()
    }
}
