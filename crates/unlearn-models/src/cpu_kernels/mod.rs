//! unlearn's own CPU kernels for the layers of its convolutional networks, where they are faster
//! than the backend's (docs/algorithms.md §13, "CPU kernels"): on flex, f32 grouped 2-D
//! convolutions run as matrix products over unfolded inputs (im2col from a padded channels-last
//! copy, or straight from the planes for shallow inputs and wide maps), batch normalisation and
//! max-pool + ReLU in one pass each, forward and backward. Every other backend (wgpu above all)
//! keeps its own kernels.

mod channels_last;
pub mod conv;
mod extension;
pub mod geometry;
mod matmul;
pub mod norm;
pub mod peak;
pub mod pool;
mod unfold;

use burn::backend::Dispatch;
use burn::backend::flex::FlexTensor;
use burn::nn::BatchNorm;
use burn::tensor::activation::relu as burn_relu;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};
use extension::CpuKernelsBackend;
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

static OWN_KERNELS: AtomicBool = AtomicBool::new(true);

/// Whether flex computes convolutions, batch norm and max-pool with unlearn's kernels (the
/// default) or with its own. A switch for benchmarks that compare the two in one process
/// (`unlearn bench-speed`); results agree to rounding either way.
pub fn use_own_kernels(enabled: bool) {
    OWN_KERNELS.store(enabled, Ordering::Relaxed);
}

/// Whether [`use_own_kernels`] is on (it is unless a benchmark turned it off).
pub fn own_kernels() -> bool {
    OWN_KERNELS.load(Ordering::Relaxed)
}

/// Whether this process computes on `device` with unlearn's CPU kernels.
pub fn runs_own_kernels(device: &Device) -> bool {
    own_kernels() && device.clone().inner() == Device::flex()
}

/// A 2-D convolution (`x`: `[batch, groups·c_in, h, w]`, `weight`: `[groups·c_out, c_in, kh, kw]`)
/// with square stride and padding, dilation 1.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    stride: usize,
    padding: usize,
    groups: usize,
) -> Tensor<4> {
    let own = runs_own_kernels(&x.device())
        && x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && fits(&x.dims(), &weight.dims(), stride, padding, groups);
    if !own {
        let options = ConvOptions::new([stride, stride], [padding, padding], [1, 1], groups);
        return burn_conv2d(x, weight, bias, options);
    }
    let geometry = ([stride, stride], [padding, padding], groups);
    let out = Tensor::<4>::from_dispatch(<Dispatch as CpuKernelsBackend>::unfold_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        geometry,
    ));
    match bias {
        Some(b) => {
            let channels = b.dims()[0];
            out + b.reshape([1, channels, 1, 1])
        }
        None => out,
    }
}

/// `norm` applied to `x` (`[batch, channels, h, w]`), as `BatchNorm::forward` computes it: in
/// training (an autodiff device, the layer not frozen) with the batch's statistics, which also
/// move the running ones by the layer's momentum; otherwise with the running statistics.
pub fn batch_norm(norm: &BatchNorm, x: Tensor<4>) -> Tensor<4> {
    let device = x.device();
    let training = device.is_autodiff() && norm.training.is_enabled();
    if !(training && runs_own_kernels(&device) && x.dtype() == DType::F32) {
        return norm.forward(x);
    }
    let out = <Dispatch as CpuKernelsBackend>::batch_norm_train(
        x.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        norm.epsilon,
    );
    let mean = Tensor::<1>::from_dispatch(out.mean).detach();
    let variance = Tensor::<1>::from_dispatch(out.variance).detach();
    let m = norm.momentum;
    let running_mean = norm.running_mean.value_sync().to_device(&device);
    let running_var = norm.running_var.value_sync().to_device(&device);
    norm.running_mean.update(
        running_mean
            .mul_scalar(1.0 - m)
            .add(mean.mul_scalar(m))
            .detach(),
    );
    norm.running_var.update(
        running_var
            .mul_scalar(1.0 - m)
            .add(variance.mul_scalar(m))
            .detach(),
    );
    Tensor::<4>::from_dispatch(out.output)
}

/// Max-pool of `x` over non-overlapping `kernel` windows (stride = window), then a ReLU when
/// `relu`: `relu(max_pool2d(x))`.
pub fn max_pool_relu(x: Tensor<4>, kernel: [usize; 2], relu: bool) -> Tensor<4> {
    let [_, _, h, w] = x.dims();
    let own = runs_own_kernels(&x.device())
        && x.dtype() == DType::F32
        && kernel[0] >= 1
        && kernel[1] >= 1
        && kernel[0] <= h
        && kernel[1] <= w;
    if !own {
        let pooled = max_pool2d(x, MaxPoolOptions::new(kernel));
        return if relu { burn_relu(pooled) } else { pooled };
    }
    Tensor::<4>::from_dispatch(<Dispatch as CpuKernelsBackend>::max_pool_relu(
        x.into_dispatch(),
        kernel,
        relu,
    ))
}

/// Whether the shapes describe a convolution the kernels compute (anything else goes to burn,
/// which reports the error).
fn fits(x: &[usize; 4], weight: &[usize; 4], stride: usize, padding: usize, groups: usize) -> bool {
    groups > 0
        && stride > 0
        && x[1] == groups * weight[1]
        && weight[0].is_multiple_of(groups)
        && x[2] + 2 * padding >= weight[2]
        && x[3] + 2 * padding >= weight[3]
}

/// A flex tensor's f32 values in row-major order, copied only when its layout is not
/// contiguous.
fn f32_slice(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .expect("contiguous f32")
                .to_vec(),
        ),
    }
}

/// `len` zeros, written by every thread: the zero fill of a large activation (and the page
/// faults of fresh memory) would otherwise hold up all threads but one between kernels.
fn zeros(len: usize) -> Vec<f32> {
    use rayon::prelude::*;
    let mut values = Vec::with_capacity(len);
    values.par_extend(rayon::iter::repeat_n(0.0f32, len));
    values
}

/// A flex tensor owning `values` in row-major order (an array of dims or a slice's `Vec`).
fn flex_tensor(values: Vec<f32>, shape: impl Into<burn::tensor::Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
