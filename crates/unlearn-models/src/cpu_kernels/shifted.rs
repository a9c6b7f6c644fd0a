//! Stride-1 convolutions of large feature maps without unfolding the input (docs/algorithms.md
//! §13): one matrix product per kernel position over a zero-padded copy of the image.
//!
//! The output is computed on the padded width `wp` (the `wp − out_w` extra columns per row are
//! discarded), so kernel position `(i, j)` reads the padded planes at the constant offset
//! `i·wp + j`: an ordinary strided matrix, `[c_in, rows·wp]` with row stride one plane. The
//! backward pass is the same products transposed: the weight gradient of position `(i, j)` is
//! `G · shiftᵢⱼ(X)ᵀ` (`G` on the padded width, zero in the extra columns so they add nothing),
//! and the input gradient accumulates `Wᵢⱼᵀ · G` at the same offset into a padded gradient. No
//! unfolded copy is written or read: measured, a third to a half faster than im2col on the
//! 16×16 and 32×32 maps of the small ResNet, slower on 4×4 maps, hence `suits`.

use super::conv::ConvShape;
use super::matmul::matmul;

/// Input channels below which one product per kernel position is too shallow to pay (the
/// 3-channel input layer stays with im2col).
const MIN_CHANNELS: usize = 8;

/// Output positions per image from which a unit is one image and this path pays.
const MIN_OUTPUTS: usize = 256;

/// Padded-width columns one tile of products covers (the tile's output stays in cache).
const TILE_COLUMNS: usize = 256;

/// Whether `shape` takes this path.
pub(super) fn suits(shape: &ConvShape) -> bool {
    let [oh, ow] = shape.output().unwrap_or([0, 0]);
    shape.stride == [1, 1] && shape.c_in >= MIN_CHANNELS && oh * ow >= MIN_OUTPUTS
}

/// Buffers one thread reuses from image to image.
#[derive(Default)]
pub(super) struct Scratch {
    padded: Vec<f32>,
    product: Vec<f32>,
    grad: Vec<f32>,
    grad_padded: Vec<f32>,
}

/// Padded height, width, plane and buffer length (with `kernel_w` slack after the last plane:
/// the discarded columns of the last rows read that far).
fn padded_dims(shape: &ConvShape) -> [usize; 4] {
    let (hp, wp) = (
        shape.input[0] + 2 * shape.padding[0],
        shape.input[1] + 2 * shape.padding[1],
    );
    [hp, wp, hp * wp, shape.c_in * hp * wp + shape.kernel[1]]
}

/// Output rows per tile, and the tiles' first rows.
fn row_tiles(shape: &ConvShape, wp: usize) -> impl Iterator<Item = (usize, usize)> {
    let oh = shape.output().expect("checked")[0];
    let step = (TILE_COLUMNS / wp.max(1)).clamp(1, oh.max(1));
    (0..oh).step_by(step).map(move |r0| (r0, step.min(oh - r0)))
}

/// Zero-padded copy of one image's `[c_in, h, w]` planes.
fn pad(image: &[f32], shape: &ConvShape, padded: &mut Vec<f32>) {
    let [hp, wp, plane, len] = padded_dims(shape);
    let [h, w] = shape.input;
    let [ph, pw] = shape.padding;
    padded.clear();
    padded.resize(len, 0.0);
    for c in 0..shape.c_in {
        for r in 0..h {
            let dst = c * plane + (r + ph) * wp + pw;
            padded[dst..dst + w].copy_from_slice(&image[(c * h + r) * w..][..w]);
        }
    }
    debug_assert!(hp * wp == plane);
}

/// One image of one group: `out` (`[c_out, out_h·out_w]`) from `image` (`[c_in, h, w]`) and the
/// group's weights (`[c_out, c_in, kh, kw]`).
pub(super) fn forward_image(
    image: &[f32],
    weight: &[f32],
    shape: &ConvShape,
    out: &mut [f32],
    scratch: &mut Scratch,
) {
    let [_, wp, plane, _] = padded_dims(shape);
    let [oh, ow] = shape.output().expect("checked");
    let [kh, kw] = shape.kernel;
    let taps = kh * kw;
    pad(image, shape, &mut scratch.padded);
    for (r0, rows) in row_tiles(shape, wp) {
        let n = rows * wp;
        scratch.product.resize(shape.c_out * n, 0.0);
        for i in 0..kh {
            for j in 0..kw {
                matmul(
                    [shape.c_out, n, shape.c_in],
                    &mut scratch.product,
                    [n, 1],
                    i + j > 0,
                    &weight[i * kw + j..],
                    [shape.c_in * taps, taps],
                    &scratch.padded[(r0 + i) * wp + j..],
                    [plane, 1],
                );
            }
        }
        for co in 0..shape.c_out {
            for t in 0..rows {
                out[co * oh * ow + (r0 + t) * ow..][..ow]
                    .copy_from_slice(&scratch.product[co * n + t * wp..][..ow]);
            }
        }
    }
}

/// The backward pass of one image of one group: adds its weight gradient to `weight_grad`
/// (`[c_out, c_in, kh, kw]`) and, when given, writes its input gradient into `input_grad`
/// (`[c_in, h, w]`), from the output gradient `grad` (`[c_out, out_h·out_w]`).
pub(super) fn backward_image(
    image: &[f32],
    weight: &[f32],
    grad: &[f32],
    shape: &ConvShape,
    weight_grad: &mut [f32],
    input_grad: Option<&mut [f32]>,
    scratch: &mut Scratch,
) {
    let [_, wp, plane, len] = padded_dims(shape);
    let [oh, ow] = shape.output().expect("checked");
    let [kh, kw] = shape.kernel;
    let taps = kh * kw;
    pad(image, shape, &mut scratch.padded);
    let with_input = input_grad.is_some();
    if with_input {
        scratch.grad_padded.clear();
        scratch.grad_padded.resize(len, 0.0);
    }
    for (r0, rows) in row_tiles(shape, wp) {
        let n = rows * wp;
        // The tile's output gradient on the padded width, zero in the discarded columns.
        scratch.grad.clear();
        scratch.grad.resize(shape.c_out * n, 0.0);
        for co in 0..shape.c_out {
            for t in 0..rows {
                scratch.grad[co * n + t * wp..][..ow]
                    .copy_from_slice(&grad[co * oh * ow + (r0 + t) * ow..][..ow]);
            }
        }
        for i in 0..kh {
            for j in 0..kw {
                let offset = (r0 + i) * wp + j;
                // dW[:, :, i, j] += G · shift(X)ᵀ
                matmul(
                    [shape.c_out, shape.c_in, n],
                    &mut weight_grad[i * kw + j..],
                    [shape.c_in * taps, taps],
                    true,
                    &scratch.grad,
                    [n, 1],
                    &scratch.padded[offset..],
                    [1, plane],
                );
                if with_input {
                    // shift(dX) += W[:, :, i, j]ᵀ · G
                    matmul(
                        [shape.c_in, n, shape.c_out],
                        &mut scratch.grad_padded[offset..],
                        [plane, 1],
                        true,
                        &weight[i * kw + j..],
                        [taps, shape.c_in * taps],
                        &scratch.grad,
                        [n, 1],
                    );
                }
            }
        }
    }
    if let Some(dx) = input_grad {
        let [h, w] = shape.input;
        let [ph, pw] = shape.padding;
        for c in 0..shape.c_in {
            for r in 0..h {
                dx[(c * h + r) * w..][..w]
                    .copy_from_slice(&scratch.grad_padded[c * plane + (r + ph) * wp + pw..][..w]);
            }
        }
    }
}
