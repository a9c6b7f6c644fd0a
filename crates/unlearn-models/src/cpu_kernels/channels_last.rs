//! im2col over a padded channels-last copy of a unit's images (docs/algorithms.md §13,
//! "Convolutions on the CPU").
//!
//! With the input laid out `[image, row, column, channel]`, the kernel window of one output
//! position is `kernel_h` runs of `kernel_w · c_in` consecutive values, whatever the stride. So an
//! unfolded row (one output position, its patch in `(i, j, c)` order) is `kernel_h` copies of a
//! few hundred values instead of `c_in · kernel_h · kernel_w` copies of one output row each, and
//! the products keep their hundreds of rows and columns on 4×4 maps as on 32×32 ones.
//! Forward: `Yᵀ = unfold(X) · W'ᵀ`; backward `dW' += G · unfold(X)` and `unfold(dX) = Gᵀ · W'`,
//! folded back; `W'` is the weight with its patch in `(i, j, c)` order.

use super::geometry::{ConvShape, Tile, Unit, UnitSlice, tile_grad, tiles};
use super::matmul::matmul;
use super::zeros;
use rayon::prelude::*;
use std::borrow::Cow;

/// Input channels from which a unit is unfolded channels-last: below, a row's runs are a few
/// values each and unfolding from the planes is faster (measured on the 3-channel input layer).
const MIN_CHANNELS: usize = 8;

/// Output width from which the forward pass unfolds from the planes even for deep inputs: each
/// unfolded row is then a copy of whole output rows, and the product is written straight into
/// the output, where this path pays two transposes (in, and the product out). Measured on the
/// small ResNet: planes a fifth faster on its 32×32 maps, channels-last a fifth faster on 16×16.
const PLANES_FROM_WIDTH: usize = 32;

/// Whether the backward pass of `shape` is unfolded channels-last.
pub(super) fn suits_backward(shape: &ConvShape) -> bool {
    shape.c_in >= MIN_CHANNELS
}

/// Whether the forward pass of `shape` is unfolded channels-last.
pub(super) fn suits_forward(shape: &ConvShape) -> bool {
    suits_backward(shape) && shape.output().is_some_and(|[_, w]| w < PLANES_FROM_WIDTH)
}

/// Buffers one thread reuses from unit to unit.
#[derive(Default)]
pub(super) struct Scratch {
    padded: Vec<f32>,
    cols: Vec<f32>,
    product: Vec<f32>,
    gathered: Vec<f32>,
    padded_grad: Vec<f32>,
    plane: Vec<f32>,
}

/// Padded height and width.
fn padded_hw(shape: &ConvShape) -> [usize; 2] {
    [
        shape.input[0] + 2 * shape.padding[0],
        shape.input[1] + 2 * shape.padding[1],
    ]
}

/// The weight in the patch order of the lowering: reordered to `(i, j, c)` when
/// `channels_last`, as given otherwise.
pub(super) fn lowered_weight<'a>(
    weight: &'a [f32],
    shape: &ConvShape,
    channels_last: bool,
) -> Cow<'a, [f32]> {
    if channels_last {
        Cow::Owned(weight_to_channels_last(weight, shape))
    } else {
        Cow::Borrowed(weight)
    }
}

/// The weight `[groups·c_out, c_in, kh, kw]` with each patch reordered to `(i, j, c)`.
fn weight_to_channels_last(weight: &[f32], shape: &ConvShape) -> Vec<f32> {
    let (c_in, taps) = (shape.c_in, shape.kernel[0] * shape.kernel[1]);
    transpose_patches(weight, shape, [c_in, taps])
}

/// The inverse of [`weight_to_channels_last`].
pub(super) fn weight_from_channels_last(weight: &[f32], shape: &ConvShape) -> Vec<f32> {
    let (c_in, taps) = (shape.c_in, shape.kernel[0] * shape.kernel[1]);
    transpose_patches(weight, shape, [taps, c_in])
}

/// Every patch of `weight` (`[rows, cols]` each) transposed, the patches in parallel.
fn transpose_patches(weight: &[f32], shape: &ConvShape, [rows, cols]: [usize; 2]) -> Vec<f32> {
    let mut out = zeros(weight.len());
    out.par_chunks_exact_mut(shape.patch())
        .zip(weight.par_chunks_exact(shape.patch()))
        .for_each(|(dst, src)| transpose(src, cols, [rows, cols], dst, rows));
    out
}

/// The unit's images of its group as `[count, hp, wp, c_in]`, zero in the padding (`plane`:
/// room for one image's `[h·w, c_in]`).
fn pad(x: &[f32], shape: &ConvShape, unit: Unit, padded: &mut Vec<f32>, plane: &mut Vec<f32>) {
    let [hp, wp] = padded_hw(shape);
    let [h, w] = shape.input;
    let [ph, pw] = shape.padding;
    let c_in = shape.c_in;
    let channels = shape.groups * c_in;
    padded.clear();
    padded.resize(unit.count * hp * wp * c_in, 0.0);
    plane.resize(h * w * c_in, 0.0);
    for b in 0..unit.count {
        let image = (unit.first + b) * channels + unit.group * c_in;
        transpose(&x[image * h * w..], h * w, [c_in, h * w], plane, c_in);
        for (y, row) in plane.chunks_exact(w * c_in).enumerate() {
            padded[((b * hp + y + ph) * wp + pw) * c_in..][..w * c_in].copy_from_slice(row);
        }
    }
}

/// The inverse of [`pad`] for a gradient: the interior of `padded` written into the unit's
/// input-gradient images (`[c_in, h, w]` each).
fn unpad(padded: &[f32], shape: &ConvShape, dx: &mut [UnitSlice<'_>], plane: &mut Vec<f32>) {
    let [hp, wp] = padded_hw(shape);
    let [h, w] = shape.input;
    let [ph, pw] = shape.padding;
    let c_in = shape.c_in;
    plane.resize(h * w * c_in, 0.0);
    for (b, image) in dx.iter_mut().enumerate() {
        for (y, row) in plane.chunks_exact_mut(w * c_in).enumerate() {
            row.copy_from_slice(&padded[((b * hp + y + ph) * wp + pw) * c_in..][..w * c_in]);
        }
        transpose(plane, c_in, [h * w, c_in], image.0, h * w);
    }
}

/// Side of the square blocks [`transpose`] moves at once.
const TRANSPOSE_BLOCK: usize = 8;

/// `dst[c · dst_rs + r] = src[r · src_rs + c]` for `r < rows`, `c < cols`: a block at a time, so
/// both sides are read and written a cache line at a time (the rows of `dst` are often a plane,
/// a multiple of 4 KiB, apart).
fn transpose(src: &[f32], src_rs: usize, [rows, cols]: [usize; 2], dst: &mut [f32], dst_rs: usize) {
    const B: usize = TRANSPOSE_BLOCK;
    for r0 in (0..rows).step_by(B) {
        let rb = B.min(rows - r0);
        for c0 in (0..cols).step_by(B) {
            let cb = B.min(cols - c0);
            if rb < B || cb < B {
                for r in r0..r0 + rb {
                    for c in c0..c0 + cb {
                        dst[c * dst_rs + r] = src[r * src_rs + c];
                    }
                }
                continue;
            }
            let mut block = [[0.0f32; B]; B];
            for (i, line) in block.iter_mut().enumerate() {
                line.copy_from_slice(&src[(r0 + i) * src_rs + c0..][..B]);
            }
            for j in 0..B {
                let line: &mut [f32; B] = (&mut dst[(c0 + j) * dst_rs + r0..][..B])
                    .try_into()
                    .expect("a block's row");
                for (i, v) in line.iter_mut().enumerate() {
                    *v = block[i][j];
                }
            }
        }
    }
}

/// Unfolds the tile into `cols`: `[count·rows·out_w, patch]`, row `(image, oh − tile.first, ow)`,
/// its patch in `(i, j, c)` order.
fn unfold(padded: &[f32], shape: &ConvShape, count: usize, tile: Tile, cols: &mut Vec<f32>) {
    let run = shape.kernel[1] * shape.c_in;
    cols.resize(
        count * tile.rows * shape.output().expect("checked")[1] * shape.patch(),
        0.0,
    );
    let mut runs = cols.chunks_exact_mut(run);
    for_each_run(shape, count, tile, |start| {
        let dst = runs.next().expect("sized above");
        dst.copy_from_slice(&padded[start..start + run]);
    });
}

/// Adds the unfolded gradient `cols` of a tile back onto the padded gradient (the adjoint of
/// [`unfold`]).
fn fold(cols: &[f32], shape: &ConvShape, count: usize, tile: Tile, padded: &mut [f32]) {
    let run = shape.kernel[1] * shape.c_in;
    let mut runs = cols.chunks_exact(run);
    for_each_run(shape, count, tile, |start| {
        let src = runs.next().expect("cols holds the tile");
        for (d, v) in padded[start..start + run].iter_mut().zip(src) {
            *d += v;
        }
    });
}

/// Calls `f` with where each run of the tile's unfolded rows starts in the padded buffer, in the
/// order of the rows and, within a row, of the kernel rows `i`. (Plain loops: the same walk as
/// chained iterators was 15 % slower.)
fn for_each_run(shape: &ConvShape, count: usize, tile: Tile, mut f: impl FnMut(usize)) {
    let [hp, wp] = padded_hw(shape);
    let [_, ow_n] = shape.output().expect("checked");
    let [sh, sw] = shape.stride;
    for b in 0..count {
        for oh in tile.first..tile.first + tile.rows {
            for ow in 0..ow_n {
                for i in 0..shape.kernel[0] {
                    f(((b * hp + oh * sh + i) * wp + ow * sw) * shape.c_in);
                }
            }
        }
    }
}

/// The forward pass of one unit into its output images (`[c_out, out_h·out_w]` each), with the
/// group's channels-last weight `[c_out, patch]`.
pub(super) fn forward_unit(
    x: &[f32],
    weight: &[f32],
    shape: &ConvShape,
    unit: Unit,
    outs: &mut [UnitSlice<'_>],
    scratch: &mut Scratch,
) {
    let [oh_n, ow_n] = shape.output().expect("checked");
    let (patch, c_out, ohw) = (shape.patch(), shape.c_out, oh_n * ow_n);
    pad(x, shape, unit, &mut scratch.padded, &mut scratch.plane);
    for tile in tiles(shape, unit) {
        let tile_hw = tile.rows * ow_n;
        let width = unit.count * tile_hw;
        unfold(&scratch.padded, shape, unit.count, tile, &mut scratch.cols);
        scratch.product.resize(width * c_out, 0.0);
        // [width, c_out] = cols · W'ᵀ
        matmul(
            [width, c_out, patch],
            &mut scratch.product,
            [c_out, 1],
            false,
            &scratch.cols,
            [patch, 1],
            weight,
            [1, patch],
        );
        for (b, image) in outs.iter_mut().enumerate() {
            let product = &scratch.product[b * tile_hw * c_out..][..tile_hw * c_out];
            let out = &mut image.0[tile.first * ow_n..];
            transpose(product, c_out, [tile_hw, c_out], out, ohw);
        }
    }
}

/// The backward pass of one unit from the output gradient (`x`, the group's channels-last
/// weight, `grad`): adds the group's weight gradient (channels-last, `[c_out, patch]`) to
/// `weight_grad` and, when `dx` is not empty, writes the unit's input gradient.
pub(super) fn backward_unit(
    (x, weight, grad): (&[f32], &[f32], &[f32]),
    shape: &ConvShape,
    unit: Unit,
    weight_grad: &mut [f32],
    dx: &mut [UnitSlice<'_>],
    scratch: &mut Scratch,
) {
    let ow_n = shape.output().expect("checked")[1];
    let [hp, wp] = padded_hw(shape);
    let (patch, c_out) = (shape.patch(), shape.c_out);
    let input_grad = !dx.is_empty();
    pad(x, shape, unit, &mut scratch.padded, &mut scratch.plane);
    if input_grad {
        scratch.padded_grad.clear();
        scratch
            .padded_grad
            .resize(unit.count * hp * wp * shape.c_in, 0.0);
    }
    for tile in tiles(shape, unit) {
        let width = unit.count * tile.rows * ow_n;
        let (g, g_rs) = tile_grad(grad, shape, unit, tile, &mut scratch.gathered);
        unfold(&scratch.padded, shape, unit.count, tile, &mut scratch.cols);
        // dW' += G · cols
        matmul(
            [c_out, patch, width],
            weight_grad,
            [patch, 1],
            true,
            g,
            [g_rs, 1],
            &scratch.cols,
            [patch, 1],
        );
        if input_grad {
            // unfold(dX) = Gᵀ · W', written over cols (no longer needed), then folded.
            matmul(
                [width, patch, c_out],
                &mut scratch.cols,
                [patch, 1],
                false,
                g,
                [1, g_rs],
                weight,
                [patch, 1],
            );
            fold(
                &scratch.cols,
                shape,
                unit.count,
                tile,
                &mut scratch.padded_grad,
            );
        }
    }
    if input_grad {
        unpad(&scratch.padded_grad, shape, dx, &mut scratch.plane);
    }
}
