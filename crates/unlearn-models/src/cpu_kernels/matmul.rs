//! The one matrix product every kernel calls: the `gemm` crate flex itself uses, on strided
//! views of slices, with the bounds checked before the unsafe call.

/// `dst (m×n) = lhs (m×k) · rhs (k×n)` (+ `dst` when `accumulate`); every operand given with its
/// (row, column) strides. Single-threaded: the kernels parallelise across images.
///
/// # Panics
/// When a stride pattern reaches past the end of its slice.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    [m, n, k]: [usize; 3],
    dst: &mut [f32],
    [dst_rs, dst_cs]: [usize; 2],
    accumulate: bool,
    lhs: &[f32],
    [lhs_rs, lhs_cs]: [usize; 2],
    rhs: &[f32],
    [rhs_rs, rhs_cs]: [usize; 2],
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        dst.len() > (m - 1) * dst_rs + (n - 1) * dst_cs,
        "matmul: dst too short"
    );
    assert!(
        k == 0 || lhs.len() > (m - 1) * lhs_rs + (k - 1) * lhs_cs,
        "matmul: lhs too short"
    );
    assert!(
        k == 0 || rhs.len() > (k - 1) * rhs_rs + (n - 1) * rhs_cs,
        "matmul: rhs too short"
    );
    // SAFETY: the asserts keep every index the product touches inside its slice; `dst` is
    // borrowed mutably, so it aliases neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
