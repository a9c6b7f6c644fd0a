//! im2col straight from the input planes (docs/algorithms.md §13), for inputs of a few channels
//! (an image's colours), where a channels-last row is too short to pay, and for the forward pass
//! of wide maps, where each unfolded row copies whole output rows: a tile of a unit's images
//! written out as the columns a matrix product reads (`im2col`), and such columns added back onto
//! the input positions they came from (`col2im`, the backward pass).

use super::geometry::{ConvShape, Tile, Unit, UnitSlice, tile_grad, tiles};
use super::matmul::matmul;

/// Buffers one thread reuses from unit to unit.
#[derive(Default)]
pub(super) struct Scratch {
    cols: Vec<f32>,
    product: Vec<f32>,
    gathered: Vec<f32>,
}

/// The forward pass of one unit into its output images (`[c_out, out_h·out_w]` each), with the
/// group's weight `[c_out, patch]`.
pub(super) fn forward_unit(
    x: &[f32],
    weight: &[f32],
    shape: &ConvShape,
    unit: Unit,
    outs: &mut [UnitSlice<'_>],
    scratch: &mut Scratch,
) {
    let (patch, c_out, ohw) = (shape.patch(), shape.c_out, shape.out_hw());
    let ow_n = shape.output().expect("checked")[1];
    for tile in tiles(shape, unit) {
        let tile_hw = tile.rows * ow_n;
        let width = unit.count * tile_hw;
        scratch.cols.resize(patch * width, 0.0);
        im2col(x, shape, unit, tile, &mut scratch.cols);
        let operands = ([c_out, width, patch], weight, scratch.cols.as_slice());
        if let [image] = outs {
            // One image: the product goes straight into its output rows.
            product_into(operands, &mut image.0[tile.first * ow_n..], ohw);
        } else {
            scratch.product.resize(c_out * width, 0.0);
            product_into(operands, &mut scratch.product, width);
            for (b, image) in outs.iter_mut().enumerate() {
                for co in 0..c_out {
                    image.0[co * ohw..][..ohw]
                        .copy_from_slice(&scratch.product[co * width + b * ohw..][..ohw]);
                }
            }
        }
    }
}

/// `dst (row stride dst_rs) = W · cols` for `([c_out, width, patch], W, cols)`.
fn product_into(
    ([m, n, k], w, cols): ([usize; 3], &[f32], &[f32]),
    dst: &mut [f32],
    dst_rs: usize,
) {
    matmul([m, n, k], dst, [dst_rs, 1], false, w, [k, 1], cols, [n, 1]);
}

/// The backward pass of one unit from the output gradient (`x`, the group's weight, `grad`):
/// adds the group's weight gradient to `weight_grad` and, when `dx` is not empty, adds the
/// unit's input gradient there.
pub(super) fn backward_unit(
    (x, weight, grad): (&[f32], &[f32], &[f32]),
    shape: &ConvShape,
    unit: Unit,
    weight_grad: &mut [f32],
    dx: &mut [UnitSlice<'_>],
    scratch: &mut Scratch,
) {
    let (patch, c_out) = (shape.patch(), shape.c_out);
    let ow_n = shape.output().expect("checked")[1];
    for tile in tiles(shape, unit) {
        let width = unit.count * tile.rows * ow_n;
        let (g, g_rs) = tile_grad(grad, shape, unit, tile, &mut scratch.gathered);
        scratch.cols.resize(patch * width, 0.0);
        im2col(x, shape, unit, tile, &mut scratch.cols);
        // dW += G · colsᵀ
        let cols = &scratch.cols;
        matmul(
            [c_out, patch, width],
            weight_grad,
            [patch, 1],
            true,
            g,
            [g_rs, 1],
            cols,
            [1, width],
        );
        if !dx.is_empty() {
            // dcols = Wᵀ · G (over cols, no longer needed), folded back onto the images.
            let dcols = &mut scratch.cols;
            matmul(
                [patch, width, c_out],
                dcols,
                [width, 1],
                false,
                weight,
                [1, patch],
                g,
                [g_rs, 1],
            );
            col2im(dcols, shape, unit, tile, dx);
        }
    }
}

/// Unfolds the tile of the unit's images into `cols`: `[patch, count·rows·out_w]`, row
/// `(c, i, j)`, column `(image, oh − tile.first, ow)`.
pub(super) fn im2col(x: &[f32], shape: &ConvShape, unit: Unit, tile: Tile, cols: &mut [f32]) {
    let [_, ow_n] = shape.output().expect("checked");
    let [h, w] = shape.input;
    let [kh, kw] = shape.kernel;
    let [sh, sw] = shape.stride;
    let [ph, pw] = shape.padding;
    let tile_hw = tile.rows * ow_n;
    let width = unit.count * tile_hw;
    let channels = shape.groups * shape.c_in;
    for b in 0..unit.count {
        let image = (unit.first + b) * channels + unit.group * shape.c_in;
        for c in 0..shape.c_in {
            let plane = &x[(image + c) * h * w..][..h * w];
            for i in 0..kh {
                for j in 0..kw {
                    let row = (c * kh + i) * kw + j;
                    let dst = &mut cols[row * width + b * tile_hw..][..tile_hw];
                    for (t, line) in dst.chunks_mut(ow_n).enumerate() {
                        let oh = tile.first + t;
                        let ih = (oh * sh + i) as isize - ph as isize;
                        if ih < 0 || ih >= h as isize {
                            line.fill(0.0);
                            continue;
                        }
                        let src = &plane[ih as usize * w..][..w];
                        let (lo, hi) = valid_columns(ow_n, w, sw, pw, j);
                        line[..lo].fill(0.0);
                        line[hi..].fill(0.0);
                        let first = lo * sw + j - pw;
                        if sw == 1 {
                            line[lo..hi].copy_from_slice(&src[first..first + hi - lo]);
                        } else {
                            for (k, v) in line[lo..hi].iter_mut().enumerate() {
                                *v = src[first + k * sw];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds the unfolded gradient `cols` of a tile back onto the unit's input-gradient images (`dx`
/// holds exactly the unit's images, `[count, c_in, h, w]` of its group).
pub(super) fn col2im(
    cols: &[f32],
    shape: &ConvShape,
    unit: Unit,
    tile: Tile,
    dx: &mut [UnitSlice<'_>],
) {
    let [_, ow_n] = shape.output().expect("checked");
    let [h, w] = shape.input;
    let [kh, kw] = shape.kernel;
    let [sh, sw] = shape.stride;
    let [ph, pw] = shape.padding;
    let tile_hw = tile.rows * ow_n;
    let width = unit.count * tile_hw;
    for (b, image) in dx.iter_mut().enumerate().take(unit.count) {
        for c in 0..shape.c_in {
            let plane = &mut image.0[c * h * w..][..h * w];
            for i in 0..kh {
                for j in 0..kw {
                    let row = (c * kh + i) * kw + j;
                    let src = &cols[row * width + b * tile_hw..][..tile_hw];
                    for t in 0..tile.rows {
                        let oh = tile.first + t;
                        let ih = (oh * sh + i) as isize - ph as isize;
                        if ih < 0 || ih >= h as isize {
                            continue;
                        }
                        let line = &mut plane[ih as usize * w..][..w];
                        let (lo, hi) = valid_columns(ow_n, w, sw, pw, j);
                        let first = lo * sw + j - pw;
                        let from = &src[t * ow_n + lo..t * ow_n + hi];
                        if sw == 1 {
                            for (d, v) in line[first..first + hi - lo].iter_mut().zip(from) {
                                *d += v;
                            }
                        } else {
                            for (k, v) in from.iter().enumerate() {
                                line[first + k * sw] += v;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The output columns `lo..hi` whose input column `ow·stride + j − padding` lies inside
/// `0..width` (empty when none does).
fn valid_columns(
    out_w: usize,
    width: usize,
    stride: usize,
    padding: usize,
    j: usize,
) -> (usize, usize) {
    // ow·s + j ≥ p  ⇔  ow ≥ ⌈(p − j)/s⌉;  ow·s + j − p ≤ width − 1  ⇔  ow ≤ ⌊(width − 1 + p − j)/s⌋.
    let lo = padding.saturating_sub(j).div_ceil(stride);
    let hi = if width + padding > j {
        ((width - 1 + padding - j) / stride + 1).min(out_w)
    } else {
        0
    };
    (lo.min(hi), hi)
}
