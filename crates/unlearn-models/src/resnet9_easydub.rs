//! The ResNet-9 of the public CIFAR-10 unlearning benchmark (docs/algorithms.md §13), stacked,
//! so that its published originals and oracles can be imported and unlearned: convolution (no
//! bias), batch norm and ReLU blocks 3→w, w→2w (5×5, stride 2), a residual pair at 2w, 2w→4w,
//! 2×2 max-pool, a residual pair at 4w, 4w→2w without padding, a global max-pool, a linear head
//! without bias, the logits multiplied by `scale` (published: w = 64, scale 0.2).

use crate::architecture::{ArchSpec, Architecture, StackModel};
use crate::cpu_kernels::max_pool_relu;
use crate::init::StackRng;
use crate::input::{InputSpec, ModelError, checks};
use crate::layers::{ConvGeometry, StackedLinear, from_grouped_images, to_grouped_images};
use crate::resnet9::ConvBlock;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// The benchmark's ResNet-9, `{"kind": "resnet9-easydub", "width": 64, "scale": 0.2}`, whose
/// published checkpoints `unlearn import` reads: widths `width·{1,2,4,2}` (64 gives the published
/// 64-128-256-128), logits multiplied by `scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EasydubResNet9Config {
    /// Channels of the first block (published: 64).
    pub width: usize,
    /// Output multiplier (published: 0.2).
    #[serde(serialize_with = "crate::as_written::f32")]
    pub scale: f32,
}

impl Default for EasydubResNet9Config {
    /// The published 64 and 0.2.
    fn default() -> Self {
        Self {
            width: 64,
            scale: 0.2,
        }
    }
}

impl EasydubResNet9Config {
    /// Its `kind` in JSON and its name on the command line.
    pub const NAME: &'static str = "resnet9-easydub";
}

impl Architecture for EasydubResNet9Config {
    type Model = EasydubResNet9;

    fn spec(&self) -> ArchSpec {
        ArchSpec::new(Self::NAME, self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        checks::classes(Self::NAME, input)?;
        checks::width(Self::NAME, self.width)?;
        let image = checks::image(Self::NAME, input)?;
        let side = EasydubResNet9::min_side();
        if image[1] < side || image[2] < side {
            return Err(checks::invalid(
                Self::NAME,
                format!(
                    "its strided and unpadded convolutions need images of at least {side}×{side} (got {}×{})",
                    image[1], image[2]
                ),
            ));
        }
        Ok(())
    }

    fn init(
        &self,
        input: &InputSpec,
        seeds: &[u64],
        device: &Device,
    ) -> Result<EasydubResNet9, ModelError> {
        self.validate(input)?;
        let image = checks::image(Self::NAME, input)?;
        let mut rng = StackRng::new(seeds);
        Ok(EasydubResNet9::build(
            &mut rng,
            image,
            self,
            input.classes,
            device,
        ))
    }
}

/// The geometries of its five plain blocks, input side first (the residual blocks are 3×3
/// "same"): they fix the smallest image it takes.
pub const GEOMETRIES: [ConvGeometry; 3] = [
    ConvGeometry {
        kernel: 3,
        stride: 1,
        padding: 1,
    },
    ConvGeometry {
        kernel: 5,
        stride: 2,
        padding: 2,
    },
    ConvGeometry {
        kernel: 3,
        stride: 1,
        padding: 0,
    },
];

/// A stack of the benchmark's ResNet-9 models.
#[derive(Module, Debug)]
pub struct EasydubResNet9 {
    prep: ConvBlock,
    down: ConvBlock,
    res1: [ConvBlock; 2],
    widen: ConvBlock,
    res2: [ConvBlock; 2],
    narrow: ConvBlock,
    /// Classifier head (no bias).
    pub head: StackedLinear,
    image: [usize; 3],
    scale: f32,
}

impl EasydubResNet9 {
    /// Widths `width·{1, 2, 4, 2}` (published: 64-128-256-128).
    fn build(
        rng: &mut StackRng,
        image: [usize; 3],
        config: &EasydubResNet9Config,
        classes: usize,
        device: &Device,
    ) -> Self {
        let EasydubResNet9Config { width, scale } = *config;
        let (w1, w2, w4) = (width, 2 * width, 4 * width);
        let [plain, strided, valid] = GEOMETRIES;
        let mut block =
            |c_in, c_out, g| ConvBlock::with_geometry(rng, c_in, c_out, g, false, device);
        let prep = block(image[0], w1, plain);
        let down = block(w1, w2, strided);
        let res1 = [block(w2, w2, plain), block(w2, w2, plain)];
        let widen = block(w2, w4, plain);
        let res2 = [block(w4, w4, plain), block(w4, w4, plain)];
        let narrow = block(w4, w2, valid);
        Self {
            prep,
            down,
            res1,
            widen,
            res2,
            narrow,
            head: StackedLinear::new(rng, w2, classes, false, device),
            image,
            scale,
        }
    }

    /// Smallest image side it takes: the strided block, the pool and the unpadded block must
    /// each leave at least one pixel.
    pub fn min_side() -> usize {
        (1..)
            .find(|&side| {
                GEOMETRIES[1]
                    .output(side)
                    .map(|s| s / 2)
                    .and_then(|s| GEOMETRIES[2].output(s))
                    .is_some_and(|s| s >= 1)
            })
            .expect("some side fits")
    }

    /// `[K, batch, c·h·w]` → `[K, batch, classes]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let models = x.dims()[0];
        let x = self.prep.forward(to_grouped_images(x, self.image));
        let x = self.down.forward(x);
        let x = x.clone() + self.res1[1].forward(self.res1[0].forward(x));
        let x = max_pool_relu(self.widen.forward(x), [2, 2], false);
        let x = x.clone() + self.res2[1].forward(self.res2[0].forward(x));
        let x = self.narrow.forward(x);
        let [_, _, h, w] = x.dims();
        let x = max_pool_relu(x, [h, w], false);
        self.head
            .forward(from_grouped_images(x, models))
            .mul_scalar(self.scale)
    }
}

impl StackModel for EasydubResNet9 {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        EasydubResNet9::forward(self, x)
    }

    fn draws_randomness(&self) -> bool {
        false
    }

    fn head_param_ids(&self) -> Vec<burn::module::ParamId> {
        self.head.param_ids()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 32 → 16 (5×5, stride 2, pad 2) → 8 (pool) → 6 (3×3, no pad), as in the published model;
    /// 11 → 6 → 3 → 1 is the smallest that fits.
    #[test]
    fn sides_follow_pytorch_arithmetic() {
        assert_eq!(GEOMETRIES[1].output(32), Some(16));
        assert_eq!(GEOMETRIES[2].output(8), Some(6));
        assert_eq!(EasydubResNet9::min_side(), 11);
        assert_eq!(GEOMETRIES[2].output(2), None);
    }
}
