//! Subset masks whose left-out points come partly in groups drawn like structured forget sets
//! (docs/algorithms.md §6, "Subsets drawn like forget sets"). Random subsets never leave out a
//! whole group of similar points, so a datamodel fitted on them has never seen the removal a
//! class-restricted or neighbourhood forget set asks for; these masks show it such removals.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::forget::ForgetSet;
use crate::masks::{SubsetFraction, SubsetMasks};

/// How the `n − round(α·n)` points each subset leaves out are drawn: shares of them as whole
/// groups, the rest one at a time, uniformly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupedRemoval {
    /// Points per group.
    pub group_size: usize,
    /// Share of the left-out points taken as the `group_size` nearest neighbours (input space)
    /// of a uniformly drawn point.
    #[serde(default)]
    pub neighbourhoods: f64,
    /// Share taken as `group_size` points drawn uniformly from one class (the class of a
    /// uniformly drawn point, so classes come in proportion to their size).
    #[serde(default)]
    pub classes: f64,
}

impl GroupedRemoval {
    /// Checks the group size and the shares.
    pub fn check(&self) -> Result<()> {
        let share_ok = |s: f64| (0.0..=1.0).contains(&s);
        if self.group_size == 0 {
            return Err(DataError::invalid(
                "grouped subsets need group_size >= 1 (points per left-out group)",
            ));
        }
        if !share_ok(self.neighbourhoods)
            || !share_ok(self.classes)
            || self.neighbourhoods + self.classes > 1.0
        {
            return Err(DataError::invalid(format!(
                "grouped subsets: shares neighbourhoods = {} and classes = {} must lie in [0, 1] \
                 and sum to at most 1 (the rest is left out one point at a time)",
                self.neighbourhoods, self.classes
            )));
        }
        Ok(())
    }
}

/// The points a grouped draw takes from: features for neighbourhoods, labels for classes.
#[derive(Debug, Clone, Copy)]
pub struct GroupSource<'a> {
    /// Row-major `labels.len() × dim` features.
    pub features: &'a [f32],
    /// Features per point.
    pub dim: usize,
    /// One label per point.
    pub labels: &'a [u32],
}

impl SubsetMasks {
    /// `m` subsets of the points of `train`: [`SubsetMasks::grouped`] when `groups` is given,
    /// [`SubsetMasks::random_fractions`] otherwise.
    pub fn draw(
        m: usize,
        train: &Dataset,
        alpha: &SubsetFraction,
        groups: Option<&GroupedRemoval>,
        seed: u64,
    ) -> Result<Self> {
        match groups {
            None => Self::random_fractions(m, train.len(), alpha, seed),
            Some(removal) => {
                let source = GroupSource {
                    features: &train.features,
                    dim: train.dim,
                    labels: &train.labels,
                };
                Self::grouped(m, source, alpha, removal, seed)
            }
        }
    }

    /// `m` subsets, row `i` of exactly `round(α_i · n)` of the `n` points of `source` (`α_i`:
    /// `alpha`'s value for row `i`); of the points
    /// each leaves out, about `removal.neighbourhoods` are whole nearest-neighbour groups,
    /// `removal.classes` whole same-class groups (groups may overlap; the rest fill up), and
    /// the remainder single uniform points.
    ///
    /// Row `i` is drawn from its own ChaCha8 stream (`seed` as key, `i` as stream number), so
    /// it is the same whatever `m` is.
    pub fn grouped(
        m: usize,
        source: GroupSource<'_>,
        alpha: &SubsetFraction,
        removal: &GroupedRemoval,
        seed: u64,
    ) -> Result<Self> {
        removal.check()?;
        let n = source.labels.len();
        if source.dim == 0 || source.features.len() != n * source.dim {
            return Err(DataError::invalid(format!(
                "{} feature values do not make {n} rows of {}",
                source.features.len(),
                source.dim
            )));
        }
        alpha.check()?;
        let g = removal.group_size.min(n.max(1));
        let mut by_class: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, &label) in source.labels.iter().enumerate() {
            by_class.entry(label).or_default().push(i);
        }
        // Nearest neighbours are computed once per drawn centre and reused across rows.
        let mut neighbours: HashMap<usize, Vec<usize>> = HashMap::new();
        let mut data = vec![1u8; m * n];
        for (i, row) in data.chunks_exact_mut(n.max(1)).take(m).enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64);
            let left_out = n - Self::subset_size(n, alpha.of_row(i));
            let groups_of = |share: f64| (share * left_out as f64 / g as f64).floor() as usize;
            let mut removed = 0;
            let mut drop = |row: &mut [u8], j: usize| {
                if row[j] == 1 && removed < left_out {
                    row[j] = 0;
                    removed += 1;
                }
            };
            for _ in 0..groups_of(removal.neighbourhoods) {
                let centre = rng.random_range(0..n);
                let group = match neighbours.entry(centre) {
                    Entry::Occupied(known) => known.into_mut(),
                    Entry::Vacant(slot) => slot.insert(
                        ForgetSet::nearest_neighbours(source.features, source.dim, centre, g)?
                            .indices,
                    ),
                };
                for &j in group.iter() {
                    drop(row, j);
                }
            }
            for _ in 0..groups_of(removal.classes) {
                let pool = &by_class[&source.labels[rng.random_range(0..n)]];
                for k in rand::seq::index::sample(&mut rng, pool.len(), g.min(pool.len())) {
                    drop(row, pool[k]);
                }
            }
            let kept: Vec<usize> = (0..n).filter(|&j| row[j] == 1).collect();
            let missing = left_out - removed;
            for k in rand::seq::index::sample(&mut rng, kept.len(), missing) {
                row[kept[k]] = 0;
            }
        }
        Ok(SubsetMasks { rows: m, n, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a line at 0, 1, …, n−1 (dim 1), labels alternating 0 and 1.
    fn line(n: usize) -> (Vec<f32>, Vec<u32>) {
        (
            (0..n).map(|i| i as f32).collect(),
            (0..n).map(|i| (i % 2) as u32).collect(),
        )
    }

    /// The draw's view of `line`'s points.
    fn on_line<'a>((features, labels): &'a (Vec<f32>, Vec<u32>)) -> GroupSource<'a> {
        GroupSource {
            features,
            dim: 1,
            labels,
        }
    }

    fn removal(group_size: usize, neighbourhoods: f64, classes: f64) -> GroupedRemoval {
        GroupedRemoval {
            group_size,
            neighbourhoods,
            classes,
        }
    }

    #[test]
    fn every_row_keeps_exactly_alpha_n_points() {
        let points = line(100);
        let source = on_line(&points);
        let removal = removal(7, 0.4, 0.3);
        let masks = SubsetMasks::grouped(20, source, &0.8.into(), &removal, 3).unwrap();
        for i in 0..20 {
            assert_eq!(masks.row_sum(i), 80, "row {i}");
        }
        // The same seed gives the same rows, and rows do not depend on how many are drawn.
        let again = SubsetMasks::grouped(5, source, &0.8.into(), &removal, 3).unwrap();
        assert_eq!(again.data[..], masks.data[..5 * 100]);
    }

    #[test]
    fn neighbourhood_groups_leave_out_runs_of_adjacent_points() {
        // All 20 left-out points come as 4 neighbourhoods of 5 on a line: each is a run of 5
        // consecutive positions (or fewer where two overlap, then filled up one at a time), so
        // left-out points sit next to other left-out ones far more than at random.
        let points = line(200);
        let source = on_line(&points);
        let removal = removal(5, 1.0, 0.0);
        let masks = SubsetMasks::grouped(50, source, &0.9.into(), &removal, 0).unwrap();
        let (mut adjacent, mut out) = (0, 0);
        for i in 0..50 {
            let row = masks.row(i);
            for j in 0..200 {
                if row[j] == 0 {
                    out += 1;
                    if (j > 0 && row[j - 1] == 0) || (j + 1 < 200 && row[j + 1] == 0) {
                        adjacent += 1;
                    }
                }
            }
        }
        // At random (10 % left out) a left-out point has a left-out neighbour ~19 % of the
        // time; in runs of 5, every one does unless an overlap split a run.
        assert!(adjacent as f64 / out as f64 > 0.9, "{adjacent} of {out}");
    }

    #[test]
    fn class_groups_leave_out_points_of_one_class() {
        let points = line(100);
        let source = on_line(&points);
        let removal = removal(10, 0.0, 1.0);
        let masks = SubsetMasks::grouped(30, source, &0.9.into(), &removal, 1).unwrap();
        for i in 0..30 {
            let out: Vec<usize> = (0..100).filter(|&j| masks.row(i)[j] == 0).collect();
            assert_eq!(out.len(), 10);
            assert!(
                out.iter().all(|&j| points.1[j] == points.1[out[0]]),
                "row {i}: {out:?}"
            );
        }
    }

    #[test]
    fn bad_shares_and_sizes_are_refused() {
        let points = line(10);
        let source = on_line(&points);
        let over = removal(2, 0.7, 0.5);
        let err = SubsetMasks::grouped(2, source, &0.5.into(), &over, 0).unwrap_err();
        assert!(err.to_string().contains("sum to at most 1"), "{err}");
        let empty = removal(0, 0.5, 0.0);
        assert!(SubsetMasks::grouped(2, source, &0.5.into(), &empty, 0).is_err());
        let ok = removal(2, 0.5, 0.0);
        assert!(SubsetMasks::grouped(2, source, &1.5.into(), &ok, 0).is_err());
    }
}
