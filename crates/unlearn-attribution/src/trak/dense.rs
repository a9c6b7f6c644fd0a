//! Dense kernels for TRAK on top of nalgebra/matrixmultiply: strided views of row-major
//! buffers, rayon-parallel products, and a recursive (GEMM-based) Cholesky factorisation and
//! triangular inverse that stay fast at `k` in the thousands (nalgebra's own are unblocked).

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};
use rayon::prelude::*;

// Every view handed to nalgebra's `gemm` here has unit row stride (plain column-major with a
// leading dimension): nalgebra 0.34's fallback for small matrices (any side ≤ 5) walks strided
// columns past their end when the row stride is not 1.

/// Rows handled by one rayon task: about four tasks per thread, at least `min` rows.
pub(crate) fn row_block(rows: usize, min: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    rows.div_ceil(4 * threads).max(min).min(rows.max(1))
}

/// `ΦᵀΦ` (`k × k`, f64, column-major) of a row-major `n × k` f32 matrix, accumulated in f64
/// over blocks of rows, columns of the result split over the rayon pool.
pub(crate) fn gram(phi: &[f32], n: usize, k: usize) -> DMatrix<f64> {
    let mut out = DMatrix::<f64>::zeros(k, k);
    const ROWS: usize = 2048;
    let w = row_block(k, 16);
    for r0 in (0..n).step_by(ROWS) {
        let b = ROWS.min(n - r0);
        let block: Vec<f64> = phi[r0 * k..(r0 + b) * k]
            .iter()
            .map(|&v| v as f64)
            .collect();
        // block is row-major b × k, i.e. column-major k × b (= Φ_bᵀ); `cm` is Φ_b column-major.
        let bt = DMatrixView::from_slice(&block, k, b);
        let cm = bt.transpose();
        out.as_mut_slice()
            .par_chunks_mut(k * w)
            .enumerate()
            .for_each(|(ci, chunk)| {
                let cols = chunk.len() / k;
                let mut o = DMatrixViewMut::from_slice(chunk, k, cols);
                let right = DMatrixView::from_slice(&cm.as_slice()[ci * w * b..], b, cols);
                o.gemm(1.0, &bt, &right, 1.0);
            });
    }
    out
}

/// `Φ K` (row-major `n × k`, f32) for a row-major f32 `Φ` and a column-major f64 `K`, in f64.
pub(crate) fn times_kernel(phi: &[f32], n: usize, k: usize, kernel: &DMatrix<f64>) -> Vec<f32> {
    let mut out = vec![0.0f32; n * k];
    if n == 0 || k == 0 {
        return out;
    }
    let rows = row_block(n, 64);
    out.par_chunks_mut(rows * k)
        .zip(phi.par_chunks(rows * k))
        .for_each(|(o, p)| {
            let b = p.len() / k;
            let block: Vec<f64> = p.iter().map(|&v| v as f64).collect();
            // (Φ_b K)ᵀ = K Φ_bᵀ (K symmetric): column-major k × b, i.e. row-major b × k.
            let bt = DMatrixView::from_slice(&block, k, b);
            let prod = kernel * bt;
            for (d, s) in o.iter_mut().zip(prod.as_slice()) {
                *d = *s as f32;
            }
        });
    out
}

/// Below this size the recursions use nalgebra's unblocked routines.
const LEAF: usize = 96;

/// Lower Cholesky factor of a symmetric positive definite matrix; `None` if it is not.
pub(crate) fn cholesky(a: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let n = a.nrows();
    if n <= LEAF {
        return a.clone().cholesky().map(|c| c.unpack());
    }
    let h = n / 2;
    let l11 = cholesky(&a.view((0, 0), (h, h)).clone_owned())?;
    let l11_inv = lower_inverse(&l11);
    // L21 = A21 L11⁻ᵀ; S = A22 − L21 L21ᵀ.
    let l21 = a.view((h, 0), (n - h, h)) * l11_inv.transpose();
    let s = a.view((h, h), (n - h, n - h)) - &l21 * l21.transpose();
    let l22 = cholesky(&s)?;
    let mut l = DMatrix::<f64>::zeros(n, n);
    l.view_mut((0, 0), (h, h)).copy_from(&l11);
    l.view_mut((h, 0), (n - h, h)).copy_from(&l21);
    l.view_mut((h, h), (n - h, n - h)).copy_from(&l22);
    Some(l)
}

/// Inverse of a lower-triangular matrix with a non-zero diagonal.
pub(crate) fn lower_inverse(l: &DMatrix<f64>) -> DMatrix<f64> {
    let n = l.nrows();
    if n <= LEAF {
        return l
            .solve_lower_triangular(&DMatrix::identity(n, n))
            .expect("non-zero diagonal");
    }
    let h = n / 2;
    let i11 = lower_inverse(&l.view((0, 0), (h, h)).clone_owned());
    let i22 = lower_inverse(&l.view((h, h), (n - h, n - h)).clone_owned());
    // [L11 0; L21 L22]⁻¹ = [L11⁻¹ 0; −L22⁻¹ L21 L11⁻¹  L22⁻¹].
    let i21 = -(&i22 * l.view((h, 0), (n - h, h)) * &i11);
    let mut out = DMatrix::<f64>::zeros(n, n);
    out.view_mut((0, 0), (h, h)).copy_from(&i11);
    out.view_mut((h, 0), (n - h, h)).copy_from(&i21);
    out.view_mut((h, h), (n - h, n - h)).copy_from(&i22);
    out
}

/// `(A)⁻¹` of a symmetric positive definite matrix through its Cholesky factor, or `None`.
pub(crate) fn spd_inverse(a: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let l = cholesky(a)?;
    if l.diagonal().iter().any(|&d| !(d.is_finite() && d > 0.0)) {
        return None;
    }
    let li = lower_inverse(&l);
    // A⁻¹ = L⁻ᵀ L⁻¹.
    let mut out = li.transpose() * &li;
    // Exact symmetry.
    let n = out.nrows();
    for j in 0..n {
        for i in (j + 1)..n {
            let v = 0.5 * (out[(i, j)] + out[(j, i)]);
            out[(i, j)] = v;
            out[(j, i)] = v;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spd(n: usize) -> DMatrix<f64> {
        let x = DMatrix::<f64>::from_fn(n + 7, n, |i, j| {
            (((i * 7919 + j * 104_729) % 1000) as f64) / 1000.0 - 0.5
        });
        x.transpose() * &x + DMatrix::identity(n, n) * 0.1
    }

    #[test]
    fn recursive_cholesky_and_inverse_match_nalgebra() {
        for n in [5, 96, 97, 300] {
            let a = spd(n);
            let l = cholesky(&a).unwrap();
            let want = a.clone().cholesky().unwrap().unpack();
            assert!((&l - &want).amax() < 1e-8 * want.amax(), "n = {n}");
            let inv = spd_inverse(&a).unwrap();
            let eye = &a * &inv;
            assert!(
                (eye - DMatrix::<f64>::identity(n, n)).amax() < 1e-6,
                "n = {n}"
            );
        }
    }

    #[test]
    fn gram_and_kernel_products() {
        let (n, k) = (2100, 13);
        let phi: Vec<f32> = (0..n * k)
            .map(|i| ((i * 37 % 101) as f32) / 101.0 - 0.5)
            .collect();
        let g = gram(&phi, n, k);
        let m = DMatrix::<f64>::from_row_slice(
            n,
            k,
            &phi.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        );
        let want = m.transpose() * &m;
        assert!((&g - &want).amax() < 1e-9 * want.amax());
        let kk = spd(k);
        let a = times_kernel(&phi, n, k, &kk);
        let want = &m * &kk;
        for i in 0..n {
            for j in 0..k {
                assert!((a[i * k + j] as f64 - want[(i, j)]).abs() < 1e-4 * want.amax());
            }
        }
    }
}
