//! Structured forget sets (docs/algorithms.md §11): points chosen by a score (e.g. their
//! coordinate along a principal component of the datamodel matrix) or the nearest neighbours
//! of one example. Random sets spread their effect over the data; these concentrate it, which is
//! where unlearning methods fail worst.

use rayon::prelude::*;

use crate::error::{DataError, Result};
use crate::forget::ForgetSet;

/// Which end(s) of a score ordering a forget set takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ends {
    /// The k highest scores.
    Top,
    /// The ⌈k/2⌉ highest and the ⌊k/2⌋ lowest.
    Both,
}

/// Squared Euclidean distance of two feature rows (f64 accumulation).
pub fn squared_distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum()
}

impl ForgetSet {
    /// The `k` points with the highest `scores` (or the highest and lowest halves, `ends` =
    /// [`Ends::Both`]); ties go to the lower index. Scores must be finite.
    pub fn by_score(scores: &[f64], k: usize, ends: Ends) -> Result<Self> {
        let n = scores.len();
        if k == 0 || k > n {
            return Err(DataError::invalid(format!(
                "cannot take {k} points by score from {n}; need 1 <= k <= {n}"
            )));
        }
        if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
            return Err(DataError::invalid(format!(
                "score of point {i} is not finite; cannot order points by it"
            )));
        }
        let mut order: Vec<usize> = (0..n).collect();
        // Descending score, ascending index among equals: the same set on every platform.
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let indices = match ends {
            Ends::Top => order[..k].to_vec(),
            Ends::Both => {
                let top = k.div_ceil(2);
                let mut bottom: Vec<usize> = order.iter().rev().take(k - top).copied().collect();
                bottom.extend_from_slice(&order[..top]);
                bottom
            }
        };
        ForgetSet::from_indices(indices, n)
    }

    /// The `k` points nearest (Euclidean) to point `anchor` in `features` (row-major, `dim`
    /// columns), the anchor itself included; ties go to the lower index.
    pub fn nearest_neighbours(
        features: &[f32],
        dim: usize,
        anchor: usize,
        k: usize,
    ) -> Result<Self> {
        if dim == 0 || !features.len().is_multiple_of(dim) {
            return Err(DataError::invalid(format!(
                "{} feature values do not form rows of {dim}",
                features.len()
            )));
        }
        let n = features.len() / dim;
        if anchor >= n {
            return Err(DataError::invalid(format!(
                "anchor {anchor} is out of range for {n} points (valid: 0..={})",
                n.saturating_sub(1)
            )));
        }
        let a = &features[anchor * dim..(anchor + 1) * dim];
        let negated: Vec<f64> = features
            .chunks_exact(dim)
            .map(|row| -squared_distance(row, a))
            .collect();
        Self::by_score(&negated, k, Ends::Top)
    }
}

/// The `k` nearest training points (Euclidean, ties to the lower index) of every training point
/// (itself left out) and then of every row of `others`, as one row-major `(n + others) × k`
/// table of training indices; `train` and `others` are row-major with `dim` columns.
pub fn neighbour_table(train: &[f32], others: &[f32], dim: usize, k: usize) -> Result<Vec<u32>> {
    if dim == 0 || !train.len().is_multiple_of(dim) || !others.len().is_multiple_of(dim) {
        return Err(DataError::invalid(format!(
            "{} training and {} other feature values do not form rows of {dim}",
            train.len(),
            others.len()
        )));
    }
    let n = train.len() / dim;
    if k == 0 || k >= n {
        return Err(DataError::invalid(format!(
            "cannot take {k} neighbours among {n} training points (itself excluded); need 1 <= k < {n}"
        )));
    }
    let rows: Vec<&[f32]> = train
        .chunks_exact(dim)
        .chain(others.chunks_exact(dim))
        .collect();
    Ok(rows
        .par_iter()
        .enumerate()
        .flat_map_iter(|(p, row)| {
            let mut order: Vec<(f64, u32)> = train
                .chunks_exact(dim)
                .enumerate()
                .filter(|&(i, _)| i != p)
                .map(|(i, t)| (squared_distance(row, t), i as u32))
                .collect();
            let by_distance =
                |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            order.select_nth_unstable_by(k - 1, by_distance);
            order.truncate(k);
            order.sort_by(by_distance);
            order.into_iter().map(|(_, i)| i)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_score_takes_the_top_or_both_ends() {
        let scores = [0.5, 3.0, -1.0, 2.0, 3.0, -2.0, 0.0];
        let top = ForgetSet::by_score(&scores, 3, Ends::Top).unwrap();
        // 3.0 (1), 3.0 (4: tie, later index), 2.0 (3).
        assert_eq!(top.indices, vec![1, 3, 4]);
        let both = ForgetSet::by_score(&scores, 3, Ends::Both).unwrap();
        // ⌈3/2⌉ = 2 highest (1, 4) and 1 lowest (5).
        assert_eq!(both.indices, vec![1, 4, 5]);
        let four = ForgetSet::by_score(&scores, 4, Ends::Both).unwrap();
        assert_eq!(four.indices, vec![1, 2, 4, 5]);
        assert!(ForgetSet::by_score(&scores, 8, Ends::Top).is_err());
        assert!(ForgetSet::by_score(&[1.0, f64::NAN], 1, Ends::Top).is_err());
    }

    #[test]
    fn nearest_neighbours_include_the_anchor_and_order_by_distance() {
        // Points on a line at 0, 10, 1, 3, -2 (dim 1); anchor 0 at x = 0.
        let features = [0.0, 10.0, 1.0, 3.0, -2.0];
        let set = ForgetSet::nearest_neighbours(&features, 1, 0, 3).unwrap();
        assert_eq!(set.indices, vec![0, 2, 4]);
        // Two dimensions: anchor (1, 1); distances² 2, 0, 1, 8 → nearest 2: points 1 and 2.
        let grid = [0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 3.0, 3.0];
        let set = ForgetSet::nearest_neighbours(&grid, 2, 1, 2).unwrap();
        assert_eq!(set.indices, vec![1, 2]);
        assert!(ForgetSet::nearest_neighbours(&grid, 2, 4, 2).is_err());
        assert!(ForgetSet::nearest_neighbours(&grid, 3, 0, 2).is_err());
    }

    #[test]
    fn neighbour_tables_leave_a_training_point_out_of_its_own_row() {
        // Training points on a line at 0, 10, 1, 3; one other point at 9.
        let train = [0.0, 10.0, 1.0, 3.0];
        let table = neighbour_table(&train, &[9.0], 1, 2).unwrap();
        assert_eq!(table, vec![2, 3, 3, 2, 0, 3, 2, 0, 1, 3]);
        // A tie (1 is as far from 0 as from 2) goes to the lower index.
        let tied = neighbour_table(&[0.0, 1.0, 2.0], &[], 1, 1).unwrap();
        assert_eq!(tied, vec![1, 0, 1]);
        assert!(neighbour_table(&train, &[], 1, 4).is_err());
        assert!(neighbour_table(&train, &[1.0, 2.0, 3.0], 2, 1).is_err());
    }
}
