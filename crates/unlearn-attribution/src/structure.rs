//! The structure of the train × train datamodel matrix (docs/algorithms.md §11): its principal
//! components, whose extremes are groups of training points that move the same outputs, the
//! structured forget sets of the paper.

use crate::error::{AttributionError, Result};
use nalgebra::{DMatrix, DVector};

/// Power iterations at most per component; the first components of datamodel matrices separate
/// well, so the iteration normally stops on its tolerance long before.
const MAX_ITERATIONS: usize = 1000;
const TOLERANCE: f64 = 1e-10;

/// The train × train matrix of datamodel effects on margins: row x (an example, with label
/// `labels[x]`), column i (a training point), `β[i, x, y] − mean_{c≠y} β[i, x, c]`, the linear
/// part of the change of x's margin when i is included. `beta` is `n × points × classes`
/// (points: the first `n` are the training points).
pub fn margin_effects(
    beta: &[f32],
    n: usize,
    points: usize,
    classes: usize,
    labels: &[u32],
) -> Result<DMatrix<f64>> {
    if beta.len() != n * points * classes {
        return Err(AttributionError::BufferLength {
            what: "datamodel β",
            len: beta.len(),
            rows: n,
            cols: points * classes,
        });
    }
    if labels.len() != n || points < n || classes < 2 {
        return Err(AttributionError::DimensionMismatch {
            what: "training labels vs datamodel rows (needs ≥ 2 classes, train points first)",
            left: labels.len(),
            right: n,
        });
    }
    Ok(DMatrix::from_fn(n, n, |x, i| {
        let row = &beta[(i * points + x) * classes..(i * points + x + 1) * classes];
        let y = labels[x] as usize;
        let others = (row.iter().sum::<f32>() - row[y]) / (classes - 1) as f32;
        f64::from(row[y] - others)
    }))
}

/// Each row's coordinate along principal component `component` (1 = first) of `matrix`'s rows
/// (columns centred). A component's sign is arbitrary: it is fixed so that the coordinate of
/// largest magnitude is positive.
pub fn principal_coordinates(matrix: &DMatrix<f64>, component: usize) -> Result<Vec<f64>> {
    if component == 0 || component > matrix.ncols().min(matrix.nrows()) {
        return Err(AttributionError::InvalidParam {
            name: "component",
            reason: format!(
                "{component} is not a component of a {}×{} matrix (1 = first)",
                matrix.nrows(),
                matrix.ncols()
            ),
        });
    }
    let mut centred = matrix.clone();
    for mut column in centred.column_iter_mut() {
        let mean = column.mean();
        column.add_scalar_mut(-mean);
    }
    let gram = centred.transpose() * &centred;
    let mut found: Vec<DVector<f64>> = Vec::new();
    for _ in 0..component {
        // A fixed, generic start (not orthogonal to any component in practice).
        let mut v = DVector::from_fn(gram.nrows(), |i, _| 1.0 + (i as f64 * 0.618).fract());
        for _ in 0..MAX_ITERATIONS {
            let mut next = &gram * &v;
            for u in &found {
                let along = u.dot(&next);
                next.axpy(-along, u, 1.0);
            }
            let norm = next.norm();
            if norm == 0.0 {
                return Err(AttributionError::Numerical(format!(
                    "the datamodel matrix has fewer than {component} principal components"
                )));
            }
            next /= norm;
            let change = (&next - &v).norm();
            v = next;
            if change < TOLERANCE {
                break;
            }
        }
        found.push(v);
    }
    let direction = found.pop().expect("one per component");
    let mut coordinates: Vec<f64> = (&centred * direction).iter().copied().collect();
    let largest = coordinates
        .iter()
        .copied()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap_or(0.0);
    if largest < 0.0 {
        coordinates.iter_mut().for_each(|c| *c = -*c);
    }
    Ok(coordinates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn margin_effects_subtract_the_other_classes_mean() {
        // n = 2 train points, 3 evaluated points, 3 classes; labels [0, 2].
        let mut beta = vec![0.0f32; 2 * 3 * 3];
        // β[i=1, x=0, :] = [3, 1, 2] → 3 − 1.5 = 1.5.
        beta[3 * 3..3 * 3 + 3].copy_from_slice(&[3.0, 1.0, 2.0]);
        // β[i=0, x=1, :] = [1, 1, 4] → label 2: 4 − 1 = 3.
        beta[3..6].copy_from_slice(&[1.0, 1.0, 4.0]);
        let m = margin_effects(&beta, 2, 3, 3, &[0, 2]).unwrap();
        assert_eq!(m[(0, 1)], 1.5);
        assert_eq!(m[(1, 0)], 3.0);
        assert_eq!(m[(0, 0)], 0.0);
        assert!(margin_effects(&beta, 2, 3, 3, &[0]).is_err());
    }

    #[test]
    fn principal_coordinates_match_a_planted_structure() {
        // Rows = a·u + b·w with u, w orthonormal directions, a and b centred and orthogonal, a of
        // larger spread: the first component's coordinates are a, the second's b (up to sign).
        let a = [4.0, -3.0, 2.0, -1.0, 0.5, -2.5];
        let b = [0.25, 0.1, -0.35, 0.0, 0.0, 0.0];
        let u = [0.5, 0.5, 0.5, 0.5];
        let w = [0.5, -0.5, 0.5, -0.5];
        let m = DMatrix::from_fn(6, 4, |r, c| a[r] * u[c] + b[r] * w[c]);
        let first = principal_coordinates(&m, 1).unwrap();
        let second = principal_coordinates(&m, 2).unwrap();
        let centre = |v: &[f64]| {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| x - mean).collect::<Vec<_>>()
        };
        for (got, want) in first.iter().zip(centre(&a)) {
            assert!((got - want).abs() < 1e-8, "{got} vs {want}");
        }
        // Largest |b| is −0.35 at row 2 → sign flipped to make it positive.
        let want: Vec<f64> = centre(&b).iter().map(|x| -x).collect();
        for (got, want) in second.iter().zip(want) {
            assert!((got - want).abs() < 1e-8, "{got} vs {want}");
        }
        assert!(principal_coordinates(&m, 0).is_err());
        assert!(principal_coordinates(&m, 5).is_err());
    }
}
