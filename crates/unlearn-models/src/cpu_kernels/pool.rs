//! Max-pool over non-overlapping `k_h×k_w` windows (stride = window, no padding, partial windows
//! dropped), optionally followed by a ReLU, forward and backward in one pass each.
//!
//! Data are `[planes, height, width]` (planes = batch·channels). The backward pass finds each
//! window's maximum again instead of storing its position: one more read of the input is cheaper
//! than an index tensor. The gradient goes to the first maximal element of a window, as burn's
//! pool does, and nowhere when the ReLU cut the output (output ≤ 0).

use super::zeros;
use rayon::prelude::*;

/// Output height and width.
pub fn output([h, w]: [usize; 2], [kh, kw]: [usize; 2]) -> [usize; 2] {
    [h / kh.max(1), w / kw.max(1)]
}

/// Maximum of the window at output `(oh, ow)`; a NaN in the window makes it NaN. Written with
/// selects, not branches: which element wins is data-dependent and would mispredict.
#[inline]
fn window_max(plane: &[f32], w: usize, [kh, kw]: [usize; 2], oh: usize, ow: usize) -> f32 {
    let base = oh * kh * w + ow * kw;
    let mut top = plane[base];
    for i in 0..kh {
        for &v in &plane[base + i * w..base + i * w + kw] {
            top = if v > top || v.is_nan() { v } else { top };
        }
    }
    top
}

/// Position (in the plane) of the first element of the window equal to `top` (or the first NaN
/// when `top` is NaN), scanning backwards with selects.
#[inline]
fn position_of(
    plane: &[f32],
    w: usize,
    [kh, kw]: [usize; 2],
    oh: usize,
    ow: usize,
    top: f32,
) -> usize {
    let base = oh * kh * w + ow * kw;
    let mut at = base;
    for i in (0..kh).rev() {
        let start = base + i * w;
        for j in (0..kw).rev() {
            let v = plane[start + j];
            let hit = v == top || (v.is_nan() && top.is_nan());
            at = if hit { start + j } else { at };
        }
    }
    at
}

/// The maximum of two values, NaN if either is (as `window_max`).
#[inline]
fn max_nan(a: f32, b: f32) -> f32 {
    if b > a || b.is_nan() { b } else { a }
}

/// The 2×2 windows of the ResNets and the CNN, unrolled: the general loops do not unroll over
/// runtime window sizes and run at half the speed.
fn forward_2x2(plane: &[f32], w: usize, y: &mut [f32], ow_n: usize, relu: bool) {
    for (oh, y) in y.chunks_mut(ow_n).enumerate() {
        let (r0, r1) = (&plane[2 * oh * w..][..w], &plane[(2 * oh + 1) * w..][..w]);
        for (ow, y) in y.iter_mut().enumerate() {
            let m = max_nan(
                max_nan(r0[2 * ow], r0[2 * ow + 1]),
                max_nan(r1[2 * ow], r1[2 * ow + 1]),
            );
            *y = if relu && m <= 0.0 { 0.0 } else { m };
        }
    }
}

fn backward_2x2(plane: &[f32], w: usize, g: &[f32], ow_n: usize, dx: &mut [f32], relu: bool) {
    for (oh, g) in g.chunks(ow_n).enumerate() {
        let r0 = &plane[2 * oh * w..][..2 * ow_n];
        let r1 = &plane[(2 * oh + 1) * w..][..2 * ow_n];
        let (d0, d1) = dx[2 * oh * w..][..2 * w].split_at_mut(w);
        let windows = r0.chunks_exact(2).zip(r1.chunks_exact(2));
        let targets = d0.chunks_exact_mut(2).zip(d1.chunks_exact_mut(2));
        for ((&g, (top_row, bottom_row)), (d_top, d_bottom)) in g.iter().zip(windows).zip(targets) {
            let v = [top_row[0], top_row[1], bottom_row[0], bottom_row[1]];
            let top = max_nan(max_nan(v[0], v[1]), max_nan(v[2], v[3]));
            // The first maximum, chosen without branches: on real activations which of the
            // four wins is a coin toss, and mispredicted branches made this loop 6× slower.
            let nan = top.is_nan();
            let hit = |x: f32| (x == top) | (x.is_nan() & nan);
            let (h0, h1, h2) = (hit(v[0]), hit(v[1]), hit(v[2]));
            let first = [h0, h1 & !h0, h2 & !(h0 | h1), !(h0 | h1 | h2)];
            let value = if !relu || top > 0.0 { g } else { 0.0 };
            let pick = |chosen: bool| if chosen { value } else { 0.0 };
            d_top[0] = pick(first[0]);
            d_top[1] = pick(first[1]);
            d_bottom[0] = pick(first[2]);
            d_bottom[1] = pick(first[3]);
        }
    }
}

/// `[planes, oh, ow]`.
pub fn forward(x: &[f32], [planes, h, w]: [usize; 3], kernel: [usize; 2], relu: bool) -> Vec<f32> {
    let [oh_n, ow_n] = output([h, w], kernel);
    let mut out = zeros(planes * oh_n * ow_n);
    if oh_n * ow_n == 0 {
        return out;
    }
    out.par_chunks_mut(oh_n * ow_n)
        .zip(x.par_chunks(h * w))
        .for_each(|(y, plane)| {
            if kernel == [2, 2] {
                return forward_2x2(plane, w, y, ow_n, relu);
            }
            for oh in 0..oh_n {
                for (ow, y) in y[oh * ow_n..(oh + 1) * ow_n].iter_mut().enumerate() {
                    let m = window_max(plane, w, kernel, oh, ow);
                    // `max(m, 0)` keeps a NaN, as burn's ReLU does.
                    *y = if relu && m <= 0.0 { 0.0 } else { m };
                }
            }
        });
    out
}

/// Input gradient from the output gradient `grad` (`[planes, oh, ow]`).
pub fn backward(
    x: &[f32],
    grad: &[f32],
    [planes, h, w]: [usize; 3],
    kernel: [usize; 2],
    relu: bool,
) -> Vec<f32> {
    let [oh_n, ow_n] = output([h, w], kernel);
    let [kh, kw] = kernel;
    let mut dx = zeros(planes * h * w);
    if oh_n * ow_n == 0 {
        return dx;
    }
    dx.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w).zip(grad.par_chunks(oh_n * ow_n)))
        .for_each(|(dx, (plane, g))| {
            if kernel == [2, 2] {
                return backward_2x2(plane, w, g, ow_n, dx, relu);
            }
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let top = window_max(plane, w, kernel, oh, ow);
                    let at = position_of(plane, w, kernel, oh, ow, top);
                    let pass = !relu || top > 0.0;
                    let value = if pass { g[oh * ow_n + ow] } else { 0.0 };
                    // Windows do not overlap: write the whole window, no read-modify-write.
                    let base = oh * kh * w + ow * kw;
                    for i in 0..kh {
                        let start = base + i * w;
                        for (j, d) in dx[start..start + kw].iter_mut().enumerate() {
                            *d = if start + j == at { value } else { 0.0 };
                        }
                    }
                }
            }
        });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_windows_and_cuts_negatives() {
        // One 2×4 plane, 2×2 windows: maxima 4 (at 5) and −1 (at 2: the first of equals).
        let x = [1.0, 2.0, -1.0, -3.0, 0.5, 4.0, -1.0, -2.0];
        assert_eq!(forward(&x, [1, 2, 4], [2, 2], false), vec![4.0, -1.0]);
        assert_eq!(forward(&x, [1, 2, 4], [2, 2], true), vec![4.0, 0.0]);
        let g = [10.0, 20.0];
        let plain = backward(&x, &g, [1, 2, 4], [2, 2], false);
        assert_eq!(plain, vec![0.0, 0.0, 20.0, 0.0, 0.0, 10.0, 0.0, 0.0]);
        let cut = backward(&x, &g, [1, 2, 4], [2, 2], true);
        assert_eq!(cut, vec![0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0]);
    }

    #[test]
    fn drops_partial_windows_and_pools_whole_planes() {
        // 3×3 plane, 2×2 windows: one window, the last row and column are dropped.
        let x = [1.0, 2.0, 9.0, 3.0, 0.0, 9.0, 9.0, 9.0, 9.0];
        assert_eq!(forward(&x, [1, 3, 3], [2, 2], false), vec![3.0]);
        // A global pool over two planes.
        let x = [1.0, 5.0, 2.0, -7.0, -2.0, -3.0];
        assert_eq!(forward(&x, [2, 1, 3], [1, 3], false), vec![5.0, -2.0]);
        assert_eq!(forward(&x, [2, 1, 3], [1, 3], true), vec![5.0, 0.0]);
        let g = [3.0, 4.0];
        assert_eq!(
            backward(&x, &g, [2, 1, 3], [1, 3], false),
            vec![0.0, 3.0, 0.0, 0.0, 4.0, 0.0]
        );
        assert_eq!(
            backward(&x, &g, [2, 1, 3], [1, 3], true),
            vec![0.0, 3.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn a_nan_propagates_and_takes_the_gradient() {
        let x = [1.0, f32::NAN, 3.0, 2.0];
        let y = forward(&x, [1, 2, 2], [2, 2], true);
        assert!(y[0].is_nan());
        assert_eq!(
            backward(&x, &[5.0], [1, 2, 2], [2, 2], false),
            vec![0.0, 5.0, 0.0, 0.0]
        );
    }
}
