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
        let y = &mut y[..ow_n];
        let r0 = &plane[2 * oh * w..][..2 * ow_n];
        let r1 = &plane[(2 * oh + 1) * w..][..2 * ow_n];
        for j in 0..ow_n {
            let m = max_nan(
                max_nan(r0[2 * j], r0[2 * j + 1]),
                max_nan(r1[2 * j], r1[2 * j + 1]),
            );
            y[j] = if relu && m <= 0.0 { 0.0 } else { m };
        }
    }
}

/// Windows the 2×2 backward pass handles at once: their four inputs are first gathered into
/// arrays, so the arithmetic runs over unit-stride lanes. The compiler does not vectorise the
/// interleaved reads of a window's pairs directly; left scalar, the backward pass took a quarter
/// of the small CNN's step (the forward pass, a max and a select, gained nothing from it).
const LANES: usize = 16;

/// The four inputs of windows `j0..j0 + n` of the row pair `r0`, `r1`, one array per position
/// (top left, top right, bottom left, bottom right); lanes from `n` on are zero.
fn gather_windows(r0: &[f32], r1: &[f32], j0: usize, n: usize) -> [[f32; LANES]; 4] {
    let mut v = [[0.0f32; LANES]; 4];
    let (top, bottom) = (&r0[2 * j0..][..2 * n], &r1[2 * j0..][..2 * n]);
    for (j, (t, b)) in top.chunks_exact(2).zip(bottom.chunks_exact(2)).enumerate() {
        v[0][j] = t[0];
        v[1][j] = t[1];
        v[2][j] = b[0];
        v[3][j] = b[1];
    }
    v
}

/// Writes the four arrays of `gather_windows`'s layout back to windows `j0..j0 + n` of the row
/// pair `d0`, `d1`; lanes from `n` on are dropped.
fn scatter_windows(v: &[[f32; LANES]; 4], d0: &mut [f32], d1: &mut [f32], j0: usize, n: usize) {
    let (top, bottom) = (&mut d0[2 * j0..][..2 * n], &mut d1[2 * j0..][..2 * n]);
    for (j, (t, b)) in top
        .chunks_exact_mut(2)
        .zip(bottom.chunks_exact_mut(2))
        .enumerate()
    {
        t[0] = v[0][j];
        t[1] = v[1][j];
        b[0] = v[2][j];
        b[1] = v[3][j];
    }
}

fn backward_2x2(plane: &[f32], w: usize, g: &[f32], ow_n: usize, dx: &mut [f32], relu: bool) {
    for (oh, g) in g.chunks(ow_n).enumerate() {
        let r0 = &plane[2 * oh * w..][..2 * ow_n];
        let r1 = &plane[(2 * oh + 1) * w..][..2 * ow_n];
        let (d0, d1) = dx[2 * oh * w..][..2 * w].split_at_mut(w);
        for (j0, g) in (0..ow_n).step_by(LANES).zip(g.chunks(LANES)) {
            let n = g.len();
            let v = gather_windows(r0, r1, j0, n);
            let mut grad = [0.0f32; LANES];
            grad[..n].copy_from_slice(g);
            let mut out = [[0.0f32; LANES]; 4];
            for j in 0..LANES {
                let top = max_nan(max_nan(v[0][j], v[1][j]), max_nan(v[2][j], v[3][j]));
                // The first element equal to the maximum (the first NaN when it is NaN),
                // chosen with selects: on real activations which of the four wins is a coin
                // toss, and branches on it mispredict.
                let nan = top.is_nan();
                let hit = |x: f32| (x == top) | (x.is_nan() & nan);
                let (h0, h1, h2) = (hit(v[0][j]), hit(v[1][j]), hit(v[2][j]));
                let value = if !relu || top > 0.0 { grad[j] } else { 0.0 };
                out[0][j] = if h0 { value } else { 0.0 };
                out[1][j] = if h1 & !h0 { value } else { 0.0 };
                out[2][j] = if h2 & !(h0 | h1) { value } else { 0.0 };
                out[3][j] = if !(h0 | h1 | h2) { value } else { 0.0 };
            }
            scatter_windows(&out, d0, d1, j0, n);
        }
    }
}

/// The backward pass of one plane for any window (the 2×2 one's reference in the tests).
fn backward_any(
    plane: &[f32],
    [w, oh_n, ow_n]: [usize; 3],
    [kh, kw]: [usize; 2],
    g: &[f32],
    dx: &mut [f32],
    relu: bool,
) {
    for oh in 0..oh_n {
        for ow in 0..ow_n {
            let top = window_max(plane, w, [kh, kw], oh, ow);
            let at = position_of(plane, w, [kh, kw], oh, ow, top);
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
    let mut dx = zeros(planes * h * w);
    if oh_n * ow_n == 0 {
        return dx;
    }
    dx.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w).zip(grad.par_chunks(oh_n * ow_n)))
        .for_each(|(dx, (plane, g))| {
            if kernel == [2, 2] {
                backward_2x2(plane, w, g, ow_n, dx, relu);
            } else {
                backward_any(plane, [w, oh_n, ow_n], kernel, g, dx, relu);
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
    fn the_vectorised_2x2_backward_routes_like_the_window_loop() {
        // Values from a small set, so windows often hold ties, with NaNs and negatives; 39
        // columns: 19 windows a row (a full lane block and a partial one) and a dropped column.
        let (h, w) = (6, 39);
        let pick = [-1.0, 0.0, 0.5, 2.0, f32::NAN, 2.0, 0.5];
        let plane: Vec<f32> = (0..h * w)
            .map(|i| pick[(i * 7 + i / 5) % pick.len()])
            .collect();
        let [oh_n, ow_n] = output([h, w], [2, 2]);
        let g: Vec<f32> = (0..oh_n * ow_n).map(|i| 1.0 + i as f32).collect();
        for relu in [false, true] {
            let mut fast = vec![0.0; h * w];
            let mut reference = vec![0.0; h * w];
            backward_2x2(&plane, w, &g, ow_n, &mut fast, relu);
            backward_any(&plane, [w, oh_n, ow_n], [2, 2], &g, &mut reference, relu);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&fast), bits(&reference), "relu {relu}");
            // Every window passes its gradient to exactly one element unless the ReLU cut it.
            let routed = fast.iter().filter(|&&v| v != 0.0).count();
            assert!(
                routed > oh_n * ow_n / 2 && routed <= oh_n * ow_n,
                "{routed}"
            );
        }
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
