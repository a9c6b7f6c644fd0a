//! Grouped 2-D convolution on the CPU as im2col + matrix multiply, forward and backward
//! (docs/algorithms.md §13, "Convolutions on the CPU").
//!
//! Images are taken a block at a time so that every matrix multiply has a few hundred rows and
//! columns even on 4×4 feature maps: the weight matrix is packed once per block instead of once
//! per image, and the weight gradient is one product over the whole block. Blocks × groups are
//! the units of parallel work; each writes its own slice of the output (or of the input
//! gradient), and weight gradients are summed per chunk of units, then across chunks. A unit is
//! unfolded from a channels-last copy of its images (`channels_last.rs`), or, for inputs of a few
//! channels, straight from the planes (`unfold.rs`).

use super::channels_last;
use super::geometry::{ConvShape, Unit, UnitSlice};
use super::unfold;
use super::zeros;
use rayon::prelude::*;

/// Chunks the weight gradient is summed in: more than the cores of a workstation, fixed so the
/// sum's order never depends on the machine.
const WEIGHT_GRAD_CHUNKS: usize = 8;

fn units(shape: &ConvShape) -> Vec<Unit> {
    let block = shape.block();
    let mut out = Vec::new();
    for first in (0..shape.batch).step_by(block) {
        for group in 0..shape.groups {
            out.push(Unit {
                first,
                count: block.min(shape.batch - first),
                group,
            });
        }
    }
    out
}

/// Splits `[batch, groups·per_group]` data into one mutable slice per (image, group), indexed
/// `image · groups + group`.
fn per_image_group<'a>(
    data: &'a mut [f32],
    shape: &ConvShape,
    per_group: usize,
) -> Vec<&'a mut [f32]> {
    debug_assert_eq!(data.len(), shape.batch * shape.groups * per_group);
    if per_group == 0 {
        return Vec::new();
    }
    data.chunks_mut(per_group).collect()
}

/// Regroups per-(image, group) slices into per-unit lists, in `units` order.
fn by_unit<'a>(
    mut slices: Vec<&'a mut [f32]>,
    shape: &ConvShape,
    units: &[Unit],
) -> Vec<Vec<UnitSlice<'a>>> {
    let mut taken: Vec<Option<&'a mut [f32]>> = slices.drain(..).map(Some).collect();
    units
        .iter()
        .map(|u| {
            (u.first..u.first + u.count)
                .map(|image| {
                    UnitSlice(
                        taken[image * shape.groups + u.group]
                            .take()
                            .expect("each image and group belongs to one unit"),
                    )
                })
                .collect()
        })
        .collect()
}

/// The forward pass: `[batch, groups·c_out, out_h, out_w]`.
pub fn forward(x: &[f32], weight: &[f32], shape: &ConvShape) -> Vec<f32> {
    let [_, _, out_len] = shape.lengths();
    let mut out = zeros(out_len);
    let per_group_w = shape.c_out * shape.patch();
    let units = units(shape);
    let slices = per_image_group(&mut out, shape, shape.c_out * shape.out_hw());
    let channels_last = channels_last::suits_forward(shape);
    let lowered_weight = &*channels_last::lowered_weight(weight, shape, channels_last);
    by_unit(slices, shape, &units)
        .into_par_iter()
        .zip(units.par_iter())
        .for_each_init(Scratch::default, |scratch, (mut outs, unit)| {
            let w = &lowered_weight[unit.group * per_group_w..][..per_group_w];
            if channels_last {
                channels_last::forward_unit(x, w, shape, *unit, &mut outs, &mut scratch.0);
            } else {
                unfold::forward_unit(x, w, shape, *unit, &mut outs, &mut scratch.1);
            }
        });
    out
}

/// Buffers of either lowering, reused by one thread from unit to unit.
type Scratch = (channels_last::Scratch, unfold::Scratch);

/// The backward pass from the output gradient: the input gradient (when `input_grad`) and the
/// weight gradient.
pub fn backward(
    x: &[f32],
    weight: &[f32],
    grad: &[f32],
    shape: &ConvShape,
    input_grad: bool,
) -> (Option<Vec<f32>>, Vec<f32>) {
    let [x_len, w_len, _] = shape.lengths();
    let per_group_w = shape.c_out * shape.patch();
    let units = units(shape);
    let mut dx = if input_grad { zeros(x_len) } else { Vec::new() };
    let dx_units: Vec<Vec<UnitSlice<'_>>> = if input_grad {
        by_unit(
            per_image_group(&mut dx, shape, shape.c_in * shape.in_hw()),
            shape,
            &units,
        )
    } else {
        units.iter().map(|_| Vec::new()).collect()
    };
    let channels_last = channels_last::suits_backward(shape);
    let lowered_weight = &*channels_last::lowered_weight(weight, shape, channels_last);
    let mut work: Vec<(Vec<UnitSlice<'_>>, Unit)> = dx_units.into_iter().zip(units).collect();
    // A fixed number of chunks, each summing its weight gradients in order, then the chunks in
    // order: the same numbers whatever the thread count or scheduling.
    let chunk = work.len().div_ceil(WEIGHT_GRAD_CHUNKS).max(1);
    let partial: Vec<Vec<f32>> = work
        .par_chunks_mut(chunk)
        .map(|chunk| {
            // In the lowering's own patch order: channels-last weight gradients are reordered
            // once, after the sum.
            let mut dw = vec![0.0f32; w_len];
            let mut scratch = Scratch::default();
            for (dx_unit, unit) in chunk.iter_mut() {
                let operands = (
                    x,
                    &lowered_weight[unit.group * per_group_w..][..per_group_w],
                    grad,
                );
                let dw_group = &mut dw[unit.group * per_group_w..][..per_group_w];
                if channels_last {
                    let s = &mut scratch.0;
                    channels_last::backward_unit(operands, shape, *unit, dw_group, dx_unit, s);
                } else {
                    unfold::backward_unit(
                        operands,
                        shape,
                        *unit,
                        dw_group,
                        dx_unit,
                        &mut scratch.1,
                    );
                }
            }
            dw
        })
        .collect();
    let mut dw = vec![0.0f32; w_len];
    for part in &partial {
        dw.iter_mut().zip(part).for_each(|(a, b)| *a += b);
    }
    if channels_last {
        dw = channels_last::weight_from_channels_last(&dw, shape);
    }
    (input_grad.then_some(dx), dw)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution written out as its definition, one output at a time.
    fn direct(x: &[f32], weight: &[f32], s: &ConvShape) -> Vec<f32> {
        let [oh_n, ow_n] = s.output().unwrap();
        let [h, w] = s.input;
        let mut out = vec![0.0; s.lengths()[2]];
        for n in 0..s.batch {
            for g in 0..s.groups {
                for co in 0..s.c_out {
                    for oh in 0..oh_n {
                        for ow in 0..ow_n {
                            let mut acc = 0.0f64;
                            for c in 0..s.c_in {
                                for i in 0..s.kernel[0] {
                                    for j in 0..s.kernel[1] {
                                        let ih =
                                            (oh * s.stride[0] + i) as isize - s.padding[0] as isize;
                                        let iw =
                                            (ow * s.stride[1] + j) as isize - s.padding[1] as isize;
                                        if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize
                                        {
                                            continue;
                                        }
                                        let xi = ((n * s.groups + g) * s.c_in + c) * h * w
                                            + ih as usize * w
                                            + iw as usize;
                                        let wi = (((g * s.c_out + co) * s.c_in + c) * s.kernel[0]
                                            + i)
                                            * s.kernel[1]
                                            + j;
                                        acc += (x[xi] * weight[wi]) as f64;
                                    }
                                }
                            }
                            out[((n * s.groups + g) * s.c_out + co) * oh_n * ow_n
                                + oh * ow_n
                                + ow] = acc as f32;
                        }
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| {
                (((i as u32).wrapping_mul(2654435761).wrapping_add(seed)) % 1000) as f32 / 500.0
                    - 1.0
            })
            .collect()
    }

    /// Every shape of [`base_shapes`], with 3 input channels (unfolded from the planes) and with
    /// 10 (unfolded channels-last).
    fn shapes() -> Vec<ConvShape> {
        base_shapes()
            .into_iter()
            .flat_map(|s| [s, ConvShape { c_in: 10, ..s }])
            .collect()
    }

    fn base_shapes() -> Vec<ConvShape> {
        let base = ConvShape {
            batch: 3,
            groups: 2,
            c_in: 3,
            c_out: 4,
            input: [7, 6],
            kernel: [3, 3],
            stride: [1, 1],
            padding: [1, 1],
        };
        vec![
            base,
            ConvShape {
                stride: [2, 2],
                kernel: [5, 5],
                padding: [2, 2],
                ..base
            },
            ConvShape {
                padding: [0, 0],
                groups: 1,
                ..base
            },
            ConvShape {
                batch: 40,
                input: [2, 2],
                ..base
            },
            // Larger than one tile: 300 outputs per image, cut into row tiles.
            ConvShape {
                batch: 2,
                groups: 1,
                input: [20, 15],
                ..base
            },
            ConvShape {
                batch: 2,
                input: [41, 30],
                stride: [2, 2],
                ..base
            },
            // Rows of 32 outputs and more: the forward pass unfolds from the planes.
            ConvShape {
                batch: 2,
                groups: 1,
                input: [9, 34],
                ..base
            },
            // Deep inputs on larger maps: channels-last tiles of one image.
            ConvShape {
                batch: 2,
                groups: 2,
                c_in: 8,
                c_out: 5,
                input: [17, 16],
                ..base
            },
            ConvShape {
                batch: 1,
                groups: 1,
                c_in: 9,
                c_out: 4,
                input: [20, 19],
                kernel: [5, 5],
                padding: [2, 2],
                ..base
            },
            ConvShape {
                batch: 2,
                groups: 1,
                c_in: 8,
                c_out: 3,
                input: [18, 18],
                padding: [0, 0],
                ..base
            },
        ]
    }

    #[test]
    fn forward_matches_the_definition() {
        for s in shapes() {
            let [xl, wl, _] = s.lengths();
            let (x, w) = (values(xl, 1), values(wl, 7));
            let (fast, slow) = (forward(&x, &w, &s), direct(&x, &w, &s));
            for (a, b) in fast.iter().zip(&slow) {
                assert!((a - b).abs() < 1e-4, "{s:?}: {a} vs {b}");
            }
        }
    }

    /// Backward against the adjoint identity: ⟨conv(x, w), g⟩ is linear in x and in w, so its
    /// gradients are exact finite differences along any direction.
    #[test]
    fn backward_is_the_adjoint_of_forward() {
        for s in shapes() {
            let [xl, wl, ol] = s.lengths();
            let (x, w, g) = (values(xl, 1), values(wl, 7), values(ol, 3));
            let (dx, dw) = backward(&x, &w, &g, &s, true);
            let (dx, dw) = (dx.unwrap(), dw);
            let inner = |x: &[f32], w: &[f32]| -> f64 {
                direct(x, w, &s)
                    .iter()
                    .zip(&g)
                    .map(|(a, b)| (*a * *b) as f64)
                    .sum()
            };
            let (vx, vw) = (values(xl, 11), values(wl, 13));
            let along_x = inner(&vx, &w);
            let along_w = inner(&x, &vw);
            let dot = |a: &[f32], b: &[f32]| -> f64 {
                a.iter().zip(b).map(|(p, q)| (*p * *q) as f64).sum()
            };
            assert!((dot(&dx, &vx) - along_x).abs() < 1e-2, "{s:?} dx");
            assert!((dot(&dw, &vw) - along_w).abs() < 1e-2, "{s:?} dw");
            let (none, dw2) = backward(&x, &w, &g, &s, false);
            assert!(none.is_none());
            assert_eq!(dw, dw2);
        }
    }

    /// The weight gradient is summed in fixed chunks, then in order: bit for bit the same on one
    /// thread as on three.
    #[test]
    fn gradients_do_not_depend_on_the_thread_count() {
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                shapes()
                    .iter()
                    .map(|s| {
                        let [xl, wl, ol] = s.lengths();
                        let (x, w, g) = (values(xl, 1), values(wl, 7), values(ol, 3));
                        let (dx, dw) = backward(&x, &w, &g, s, true);
                        (forward(&x, &w, s), dx.unwrap(), dw)
                    })
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(run(1), run(3));
    }
}
