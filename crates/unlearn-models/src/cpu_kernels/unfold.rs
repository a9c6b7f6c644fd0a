//! The unfolding of im2col convolutions (docs/algorithms.md §13): a tile of a unit's images
//! written out as the columns a matrix product reads (`im2col`), and such columns added back onto
//! the input positions they came from (`col2im`, the backward pass).

use super::conv::{BLOCK_COLUMNS, ConvShape, Unit};

/// Output rows `first..first + rows` of every image of a unit: the piece of the output one
/// matrix product computes. A unit of one large image is cut into tiles of about
/// `BLOCK_COLUMNS` outputs so its unfolded input stays in cache; a unit of several small images
/// is one tile.
#[derive(Clone, Copy)]
pub(super) struct Tile {
    pub(super) first: usize,
    pub(super) rows: usize,
}

pub(super) fn tiles(shape: &ConvShape, unit: Unit) -> impl Iterator<Item = Tile> {
    let [oh_n, ow_n] = shape.output().expect("checked");
    let step = if unit.count == 1 {
        (BLOCK_COLUMNS / ow_n.max(1)).clamp(1, oh_n.max(1))
    } else {
        oh_n.max(1)
    };
    (0..oh_n).step_by(step).map(move |first| Tile {
        first,
        rows: step.min(oh_n - first),
    })
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

/// One image's channels of one group in an `[batch, groups·c, h, w]` tensor.
pub(super) struct UnitSlice<'a>(pub(super) &'a mut [f32]);
