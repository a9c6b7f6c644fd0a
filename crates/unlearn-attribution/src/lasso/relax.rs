//! Relaxed lasso (Meinshausen, 2007): on the support the lasso selected at λ, the unpenalised
//! least-squares fit, blended with the lasso's coefficients as `φ·β_lasso + (1 − φ)·β_ls`.
//!
//! Why: the ℓ1 penalty that picks the support also shrinks every kept coefficient towards 0.
//! A point's effect on its own output (and a tight group's on its members) is large, so
//! shrinkage under-predicts exactly the removals unlearning needs. φ is chosen with λ on the
//! held-out models, so where the shrinkage helps (noisy supports) the lasso is kept (φ = 1).

use nalgebra::{DMatrix, DVector};

/// Least squares restricted to `support` (standardised columns, centred target):
/// solves `G_SS β_S = c_S`, with `G = XᵀX/M'` and `c = Xᵀy/M'`. `None` when the block is
/// numerically singular (then the lasso's coefficients stand).
pub(super) fn least_squares_on(
    gram: impl Fn(usize, usize) -> f64,
    c: &[f64],
    support: &[u32],
) -> Option<Vec<f64>> {
    let s = support.len();
    let mut g =
        DMatrix::<f64>::from_fn(s, s, |a, b| gram(support[a] as usize, support[b] as usize));
    // A ridge far below the columns' unit scale only guards against exact collinearity.
    for a in 0..s {
        g[(a, a)] += 1e-9;
    }
    let rhs = DVector::from_iterator(s, support.iter().map(|&j| c[j as usize]));
    let solved = g.cholesky()?.solve(&rhs);
    solved
        .iter()
        .all(|v| v.is_finite())
        .then(|| solved.iter().copied().collect())
}

/// Held-out predictions (centred) of coefficients `values` on `support`.
pub(super) fn predict(x_held: &DMatrix<f64>, support: &[u32], values: &[f64]) -> Vec<f64> {
    let mut pred = vec![0.0; x_held.nrows()];
    for (&j, &v) in support.iter().zip(values) {
        for (p, &x) in pred.iter_mut().zip(x_held.column(j as usize).iter()) {
            *p += v * x;
        }
    }
    pred
}

/// Least squares of the last support seen, with its held-out predictions: along the path the
/// support often stays put from one λ to the next, and the fit depends on nothing else.
#[derive(Default)]
pub(super) struct LastSupport {
    support: Vec<u32>,
    /// Coefficients and held-out predictions; `None` when singular (or nothing fitted yet).
    fit: Option<(Vec<f64>, Vec<f64>)>,
}

impl LastSupport {
    /// Least squares on `support` and its held-out predictions (`fit` computes both),
    /// refitted only when the support changed.
    pub(super) fn fit(
        &mut self,
        support: Vec<u32>,
        fit: impl FnOnce(&[u32]) -> Option<(Vec<f64>, Vec<f64>)>,
    ) -> Option<(&[f64], &[f64])> {
        if self.fit.is_none() || self.support != support {
            self.fit = fit(&support);
            self.support = support;
        }
        self.fit
            .as_ref()
            .map(|(ls, pred)| (ls.as_slice(), pred.as_slice()))
    }
}

/// `φ·lasso + (1 − φ)·least_squares`, coefficient by coefficient, on the lasso's support.
pub(super) fn blend(lasso: &[(u32, f64)], least_squares: &[f64], phi: f64) -> Vec<(u32, f64)> {
    lasso
        .iter()
        .zip(least_squares)
        .map(|(&(j, l), &o)| (j, phi * l + (1.0 - phi) * o))
        .filter(|&(_, v)| v != 0.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lasso::solver::Problem;

    #[test]
    fn least_squares_on_a_support_recovers_unshrunk_coefficients() {
        // y = 2·x0 − 3·x2 exactly, columns orthogonal-ish; the support {0, 2} must give (2, −3).
        let m = 8;
        let x = DMatrix::<f64>::from_fn(m, 3, |r, j| {
            let v = [[1., -1., 1.], [-1., 1., 1.], [1., 1., -1.], [-1., -1., -1.]][r % 4][j];
            if r >= 4 && j == 1 { -v } else { v }
        });
        let y: Vec<f64> = (0..m).map(|r| 2.0 * x[(r, 0)] - 3.0 * x[(r, 2)]).collect();
        let p = Problem::new(&x);
        let c: Vec<f64> = (0..3)
            .map(|j| (0..m).map(|r| x[(r, j)] * y[r]).sum::<f64>() / m as f64)
            .collect();
        let b = least_squares_on(|a, b| p.gram(a, b), &c, &[0, 2]).unwrap();
        assert!(
            (b[0] - 2.0).abs() < 1e-6 && (b[1] + 3.0).abs() < 1e-6,
            "{b:?}"
        );
        let pred = predict(&x, &[0, 2], &b);
        for (q, t) in pred.iter().zip(&y) {
            assert!((q - t).abs() < 1e-6);
        }
        let mixed = blend(&[(0, 1.0), (2, -1.0)], &b, 0.25);
        assert_eq!(mixed.len(), 2);
        assert!((mixed[0].1 - (0.25 + 0.75 * b[0])).abs() < 1e-12);
        assert!((mixed[1].1 - (-0.25 + 0.75 * b[1])).abs() < 1e-12);
    }
}
