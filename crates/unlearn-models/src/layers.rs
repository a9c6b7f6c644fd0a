//! Stacked layers: `K` independent copies of a layer evaluated in one tensor operation.

use crate::init::StackRng;
use burn::module::{Module, Param};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::{Device, Tensor};

/// `K` linear layers: `y[k] = x[k] · W[k] + b[k]`.
#[derive(Module, Debug)]
pub struct StackedLinear {
    /// `[K, in, out]`.
    pub weight: Param<Tensor<3>>,
    /// `[K, 1, out]`, absent for bias-free heads.
    pub bias: Option<Param<Tensor<3>>>,
}

impl StackedLinear {
    /// PyTorch's default initialisation: weight and bias uniform in ±1/√in.
    pub fn new(rng: &mut StackRng, d_in: usize, d_out: usize, bias: bool, device: &Device) -> Self {
        let bound = 1.0 / (d_in as f32).sqrt();
        let weight = rng.uniform([1, d_in, d_out], bound, device);
        let bias = bias.then(|| rng.uniform([1, 1, d_out], bound, device));
        Self { weight, bias }
    }

    /// Ids of its weight and bias (the head's, for localised methods).
    pub fn param_ids(&self) -> Vec<burn::module::ParamId> {
        let mut ids = vec![self.weight.id];
        ids.extend(self.bias.as_ref().map(|b| b.id));
        ids
    }

    /// `x`: `[K, batch, in]` → `[K, batch, out]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let y = x.matmul(self.weight.val());
        match &self.bias {
            Some(b) => y + b.val(),
            None => y,
        }
    }
}

/// `K` 2-D convolutions as one grouped convolution over `K·in` channels.
#[derive(Module, Debug)]
pub struct StackedConv2d {
    /// `[K·out, in, k, k]`, model-major.
    pub weight: Param<Tensor<4>>,
    /// `[K·out]`.
    pub bias: Option<Param<Tensor<1>>>,
    c_in: usize,
    padding: usize,
    stride: usize,
}

/// Kernel size, stride and zero padding of a square convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Kernel side.
    pub kernel: usize,
    /// Step between outputs.
    pub stride: usize,
    /// Zeros added on every side.
    pub padding: usize,
}

impl ConvGeometry {
    /// A `kernel`×`kernel` convolution with stride 1 and "same" padding.
    pub fn same(kernel: usize) -> Self {
        Self {
            kernel,
            stride: 1,
            padding: kernel / 2,
        }
    }

    /// Output side for an input side of `side`, as PyTorch computes it; `None` when the
    /// kernel does not fit.
    pub fn output(&self, side: usize) -> Option<usize> {
        (side + 2 * self.padding)
            .checked_sub(self.kernel)
            .map(|s| s / self.stride + 1)
    }
}

impl StackedConv2d {
    /// A `kernel`×`kernel` convolution with "same" padding, PyTorch's default initialisation.
    pub fn new(
        rng: &mut StackRng,
        c_in: usize,
        c_out: usize,
        kernel: usize,
        bias: bool,
        device: &Device,
    ) -> Self {
        Self::with_geometry(rng, c_in, c_out, ConvGeometry::same(kernel), bias, device)
    }

    /// A convolution of any kernel, stride and padding, PyTorch's default initialisation.
    pub fn with_geometry(
        rng: &mut StackRng,
        c_in: usize,
        c_out: usize,
        geometry: ConvGeometry,
        bias: bool,
        device: &Device,
    ) -> Self {
        let kernel = geometry.kernel;
        let bound = 1.0 / ((c_in * kernel * kernel) as f32).sqrt();
        let weight = rng.uniform([c_out, c_in, kernel, kernel], bound, device);
        let bias = bias.then(|| rng.uniform([c_out], bound, device));
        Self {
            weight,
            bias,
            c_in,
            padding: geometry.padding,
            stride: geometry.stride.max(1),
        }
    }

    /// `x`: `[batch, K·in, h, w]` → `[batch, K·out, h, w]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // The stack size is not stored: it follows from the input, so one model cut out of a
        // stack (or many stacked together) works unchanged.
        let models = x.dims()[1] / self.c_in;
        crate::cpu_kernels::conv2d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
            self.stride.max(1),
            self.padding,
            models,
        )
    }
}

/// Batch normalisation of `K·channels` channels is exactly `K` independent batch norms.
pub fn stacked_batch_norm(models: usize, channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(models * channels).init(device)
}

/// `[K, batch, c·h·w]` → `[batch, K·c, h, w]`, the layout grouped convolutions expect.
pub fn to_grouped_images(x: Tensor<3>, shape: [usize; 3]) -> Tensor<4> {
    let [k, batch, _] = x.dims();
    let [c, h, w] = shape;
    x.reshape([k, batch, c * h * w])
        .swap_dims(0, 1)
        .reshape([batch, k * c, h, w])
}

/// `[batch, K·c, h, w]` → `[K, batch, c·h·w]`.
pub fn from_grouped_images(x: Tensor<4>, models: usize) -> Tensor<3> {
    let [batch, kc, h, w] = x.dims();
    x.reshape([batch, models, kc / models * h * w])
        .swap_dims(0, 1)
}
