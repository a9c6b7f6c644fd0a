//! Dense helpers on top of nalgebra: a rayon-parallel GEMM, design matrices, output centring.

use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut};
use rayon::prelude::*;

use crate::data::{Masks, Outputs};

/// `a · b`, split over column blocks of `b` and run on the rayon pool (nalgebra's GEMM is
/// matrixmultiply's single-threaded, SIMD kernel).
pub(crate) fn par_gemm(a: DMatrixView<'_, f64>, b: DMatrixView<'_, f64>) -> DMatrix<f64> {
    assert_eq!(a.ncols(), b.nrows(), "par_gemm: inner dimensions");
    let (m, p) = (a.nrows(), b.ncols());
    let mut out = DMatrix::<f64>::zeros(m, p);
    if m == 0 || p == 0 {
        return out;
    }
    if a.ncols() == 0 {
        return out;
    }
    let w = column_block(p, 8);
    out.as_mut_slice()
        .par_chunks_mut(m * w)
        .enumerate()
        .for_each(|(ci, chunk)| {
            let cols = chunk.len() / m;
            let mut o = DMatrixViewMut::from_slice(chunk, m, cols);
            o.gemm(1.0, &a, &b.columns(ci * w, cols), 0.0);
        });
    out
}

/// A block width that gives each rayon thread about four blocks of at least `min` columns.
pub(crate) fn column_block(p: usize, min: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    p.div_ceil(4 * threads).max(min).min(p.max(1))
}

/// `1 / σ_i` with `σ_i = sqrt(μ_i (1 − μ_i))` the standard deviation of mask column `i`
/// (`counts[i]` of `models` include point `i`; counts must be in `1..models`).
pub(crate) fn inv_mask_sd(counts: &[usize], models: usize) -> Vec<f64> {
    counts
        .iter()
        .map(|&c| {
            let mu = c as f64 / models as f64;
            1.0 / (mu * (1.0 - mu)).sqrt()
        })
        .collect()
}

/// Mean of the mask columns over the given models.
pub(crate) fn mask_means(masks: &Masks<'_>, models: &[usize]) -> Vec<f64> {
    let counts = masks.inclusion_counts(Some(models));
    let k = models.len().max(1) as f64;
    counts.iter().map(|&c| c as f64 / k).collect()
}

/// The design matrix `X[r, j] = (mask[models[r], j] − center[j]) · inv_scale[j]`,
/// `models.len() × points`, column-major.
pub(crate) fn design(
    masks: &Masks<'_>,
    models: &[usize],
    center: &[f64],
    inv_scale: &[f64],
) -> DMatrix<f64> {
    let rows = models.len();
    let n = masks.points();
    let mut x = DMatrix::<f64>::zeros(rows, n);
    x.as_mut_slice()
        .par_chunks_mut(rows.max(1))
        .enumerate()
        .for_each(|(j, col)| {
            if rows == 0 {
                return;
            }
            for (r, &m) in models.iter().enumerate() {
                col[r] = (masks.row(m)[j] as f64 - center[j]) * inv_scale[j];
            }
        });
    x
}

/// Mean of every target over the given models.
pub(crate) fn output_means(outputs: &Outputs<'_>, models: &[usize]) -> Vec<f64> {
    let t = outputs.targets();
    let mut mean = vec![0.0f64; t];
    for &m in models {
        for (s, &v) in mean.iter_mut().zip(outputs.row(m)) {
            *s += v as f64;
        }
    }
    let k = models.len().max(1) as f64;
    mean.iter_mut().for_each(|s| *s /= k);
    mean
}

/// The outputs of `models`, centred by `mean`, as a `targets × models` column-major matrix
/// (i.e. the transpose of the row-major `models × targets` input; one model per column).
pub(crate) fn centered_outputs_t(
    outputs: &Outputs<'_>,
    models: &[usize],
    mean: &[f64],
) -> DMatrix<f64> {
    let t = outputs.targets();
    let mut y = DMatrix::<f64>::zeros(t, models.len());
    if t == 0 {
        return y;
    }
    y.as_mut_slice()
        .par_chunks_mut(t)
        .zip(models.par_iter())
        .for_each(|(col, &m)| {
            for ((c, &v), &mu) in col.iter_mut().zip(outputs.row(m)).zip(mean) {
                *c = v as f64 - mu;
            }
        });
    y
}

/// `y += a · x`.
#[inline(always)]
pub(crate) fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_gemm_matches_nalgebra_product() {
        let a = DMatrix::from_fn(37, 23, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
        let b = DMatrix::from_fn(23, 101, |i, j| ((i * 5 + j * 13) % 17) as f64 * 0.25);
        let want = &a * &b;
        let got = par_gemm(a.as_view(), b.as_view());
        assert_eq!(got, want);
    }
}
