//! The neighbourhood term (docs/algorithms.md §6, "Neighbourhood term"): a correction to a linear
//! datamodel for a point removed together with its nearest neighbours.
//!
//! A linear datamodel adds up per-point effects. When a point has near-duplicates, removing it
//! alone changes its output little (the others still teach the model the same thing) and so does
//! removing the others while it stays; only the joint removal moves it, and a sum of small single
//! effects misses that. The term models what the linear part leaves, for each evaluated point `x`
//! and class `c`, as
//!
//! `r(S) = g₁ · φ_x(S) + g₂ · o_x(S) · φ_x(S)`,
//!
//! where `φ_x(S)` is the share of x's `k` nearest training points absent from the subset S and
//! `o_x(S)` is 1 when x itself is absent (always, for a point outside the training split). The
//! coefficients are least squares on the residuals of the linear datamodel over subset models
//! whose left-out points come partly as whole neighbourhoods (uniform subsets never leave one out,
//! so φ barely varies on them). For a forget set F the predicted extra change is the same
//! expression with S = the training split without F.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Masks, Outputs};
use crate::datamodel::Datamodel;
use crate::error::{AttributionError, Result};

/// The `k` nearest training points of every evaluated point, row-major `points × k` (a training
/// point's row never holds the point itself).
#[derive(Debug, Clone, Copy)]
pub struct Neighbours<'a> {
    table: &'a [u32],
    k: usize,
}

impl<'a> Neighbours<'a> {
    /// Checks that `table` has rows of `k` indices below `n_train`.
    pub fn new(table: &'a [u32], k: usize, n_train: usize) -> Result<Self> {
        if k == 0 || !table.len().is_multiple_of(k) {
            return Err(AttributionError::InvalidParam {
                name: "neighbours",
                reason: format!(
                    "{} indices do not form rows of k = {k} (k ≥ 1)",
                    table.len()
                ),
            });
        }
        if let Some(&bad) = table.iter().find(|&&i| i as usize >= n_train) {
            return Err(AttributionError::RowOutOfRange {
                row: bad as usize,
                points: n_train,
            });
        }
        Ok(Self { table, k })
    }

    /// Neighbours per point.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of evaluated points.
    pub fn points(&self) -> usize {
        self.table.len() / self.k
    }

    /// The neighbours of point `p`.
    pub fn of(&self, p: usize) -> &'a [u32] {
        &self.table[p * self.k..(p + 1) * self.k]
    }
}

/// The fitted term: two coefficients per evaluated point and class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighbourhoodTerm {
    points: usize,
    classes: usize,
    n_train: usize,
    /// Row-major `points × classes × 2`: `g₁` (neighbours absent) and `g₂` (the point absent too).
    coefficients: Vec<f32>,
}

impl NeighbourhoodTerm {
    /// Fits the term on the residuals of `linear` over the subset models `masks` / `outputs`
    /// (targets point-major, `t = point · classes + class`, the first `n_train` points being the
    /// training points in mask order).
    pub fn fit(
        linear: &Datamodel,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        neighbours: &Neighbours<'_>,
        classes: usize,
    ) -> Result<Self> {
        let (models, n_train) = (masks.models(), masks.points());
        let points = neighbours.points();
        if outputs.models() != models || outputs.targets() != points * classes {
            return Err(AttributionError::DimensionMismatch {
                what: "subset outputs (models × points·classes) vs masks and neighbour rows",
                left: outputs.models() * outputs.targets(),
                right: models * points * classes,
            });
        }
        if linear.targets() != points * classes || points < n_train {
            return Err(AttributionError::DimensionMismatch {
                what: "datamodel targets vs evaluated points × classes (training points first)",
                left: linear.targets(),
                right: points * classes,
            });
        }
        if models < 3 {
            return Err(AttributionError::TooFewModels {
                what: "a neighbourhood term (two coefficients and a mean)",
                needed: 3,
                got: models,
            });
        }
        let predicted = linear.predict(masks)?;
        let targets = points * classes;
        let mask = masks.as_slice();
        let coefficients: Vec<f32> = (0..points)
            .into_par_iter()
            .flat_map_iter(|p| {
                let near = neighbours.of(p);
                let phi: Vec<f64> = (0..models)
                    .map(|m| {
                        let row = &mask[m * n_train..(m + 1) * n_train];
                        let present: usize = near.iter().map(|&j| row[j as usize] as usize).sum();
                        1.0 - present as f64 / near.len() as f64
                    })
                    .collect();
                let joint: Vec<f64> = (0..models)
                    .map(|m| {
                        let absent = p >= n_train || mask[m * n_train + p] == 0;
                        if absent { phi[m] } else { 0.0 }
                    })
                    .collect();
                let (a1, a2) = (centred(&phi), centred(&joint));
                let solve = Solve::new(&a1, &a2);
                let mut pairs = Vec::with_capacity(2 * classes);
                for c in 0..classes {
                    let t = p * classes + c;
                    let r: Vec<f64> = (0..models)
                        .map(|m| {
                            f64::from(outputs.as_slice()[m * targets + t])
                                - f64::from(predicted[m * targets + t])
                        })
                        .collect();
                    let (g1, g2) = solve.apply(dot(&a1, &r), dot(&a2, &r));
                    pairs.extend([g1 as f32, g2 as f32]);
                }
                pairs
            })
            .collect();
        if coefficients.iter().any(|g| !g.is_finite()) {
            return Err(AttributionError::Numerical(
                "a neighbourhood coefficient is not finite; check the subset outputs".into(),
            ));
        }
        Ok(Self {
            points,
            classes,
            n_train,
            coefficients,
        })
    }

    /// A term from stored coefficients (`points × classes × 2`).
    pub fn from_coefficients(
        points: usize,
        classes: usize,
        n_train: usize,
        coefficients: Vec<f32>,
    ) -> Result<Self> {
        if coefficients.len() != points * classes * 2 || n_train > points {
            return Err(AttributionError::BufferLength {
                what: "neighbourhood coefficients (points × classes × 2)",
                len: coefficients.len(),
                rows: points,
                cols: classes * 2,
            });
        }
        Ok(Self {
            points,
            classes,
            n_train,
            coefficients,
        })
    }

    /// The coefficients, row-major `points × classes × 2`.
    pub fn coefficients(&self) -> &[f32] {
        &self.coefficients
    }

    /// The predicted change of every evaluated output (`points × classes`) when the training
    /// points `forget` are removed, beyond the linear datamodel's `−Σ_{i∈F} β`.
    pub fn removal_change(
        &self,
        neighbours: &Neighbours<'_>,
        forget: &[usize],
    ) -> Result<Vec<f32>> {
        if neighbours.points() != self.points {
            return Err(AttributionError::DimensionMismatch {
                what: "neighbour rows vs the term's points",
                left: neighbours.points(),
                right: self.points,
            });
        }
        let mut gone = vec![false; self.n_train];
        for &i in forget {
            *gone.get_mut(i).ok_or(AttributionError::RowOutOfRange {
                row: i,
                points: self.n_train,
            })? = true;
        }
        let mut change = vec![0.0f32; self.points * self.classes];
        for (p, out) in change.chunks_exact_mut(self.classes).enumerate() {
            let near = neighbours.of(p);
            let absent = near.iter().filter(|&&j| gone[j as usize]).count();
            let phi = absent as f32 / near.len() as f32;
            let own = if p >= self.n_train || gone[p] {
                phi
            } else {
                0.0
            };
            let g = &self.coefficients[p * self.classes * 2..(p + 1) * self.classes * 2];
            for (o, pair) in out.iter_mut().zip(g.chunks_exact(2)) {
                *o = pair[0] * phi + pair[1] * own;
            }
        }
        Ok(change)
    }
}

/// Least squares for two centred regressors, with the degenerate cases resolved: a regressor that
/// never varies gets 0, and two that always vary together (a point outside the training split,
/// always absent) share one coefficient, given to the first.
struct Solve {
    g11: f64,
    g12: f64,
    g22: f64,
    det: f64,
}

/// Below this relative size a Gram entry or determinant counts as zero.
const DEGENERATE: f64 = 1e-9;

impl Solve {
    fn new(a1: &[f64], a2: &[f64]) -> Self {
        let (g11, g12, g22) = (dot(a1, a1), dot(a1, a2), dot(a2, a2));
        Self {
            g11,
            g12,
            g22,
            det: g11 * g22 - g12 * g12,
        }
    }

    fn apply(&self, b1: f64, b2: f64) -> (f64, f64) {
        let scale = self.g11.max(self.g22);
        if scale <= 0.0 {
            return (0.0, 0.0);
        }
        if self.det > DEGENERATE * self.g11 * self.g22 && self.det > 0.0 {
            return (
                (self.g22 * b1 - self.g12 * b2) / self.det,
                (self.g11 * b2 - self.g12 * b1) / self.det,
            );
        }
        if self.g11 > DEGENERATE * scale {
            (b1 / self.g11, 0.0)
        } else {
            (0.0, b2 / self.g22)
        }
    }
}

fn centred(v: &[f64]) -> Vec<f64> {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    v.iter().map(|x| x - mean).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Point 0 with neighbours {1, 2} (k = 2), points 1 and 2 each other's and 0's; one
    /// validation point 3 near {0, 1}.
    const TABLE: [u32; 8] = [1, 2, 0, 2, 0, 1, 0, 1];

    /// The mask of three points whose membership is the low bits of `i`.
    fn bits(i: u8) -> [u8; 3] {
        [i & 1, (i >> 1) & 1, (i >> 2) & 1]
    }

    fn masks_of(rows: &[[u8; 3]]) -> Vec<u8> {
        rows.iter().flatten().copied().collect()
    }

    #[test]
    fn recovers_a_planted_joint_effect_and_predicts_it_for_a_forget_set() {
        // Every pattern of three points, twice: output of point 0 (class 0) drops by 4·φ only
        // when 0 is absent too, point 1's rises by 2·φ whatever happens to 1, point 3 (not
        // trained) drops by 3·φ; class 1 is untouched. The linear part is zero.
        let patterns: Vec<[u8; 3]> = (0..16u8).map(bits).collect();
        let masks = masks_of(&patterns);
        let neighbours = Neighbours::new(&TABLE, 2, 3).unwrap();
        let (points, classes) = (4, 2);
        let mut outputs = Vec::new();
        for row in &patterns {
            let phi = |p: usize| {
                let near = neighbours.of(p);
                near.iter().filter(|&&j| row[j as usize] == 0).count() as f32 / 2.0
            };
            let own0 = if row[0] == 0 { phi(0) } else { 0.0 };
            outputs.extend_from_slice(&[-4.0 * own0, 0.0, 2.0 * phi(1), 0.0, 0.0, 0.0]);
            outputs.extend_from_slice(&[-3.0 * phi(3), 0.0]);
        }
        let models = patterns.len();
        let linear = Datamodel::new(3, points * classes, vec![0.0; 3 * 8], vec![0.0; 8]).unwrap();
        let term = NeighbourhoodTerm::fit(
            &linear,
            &Masks::new(&masks, models, 3).unwrap(),
            &Outputs::new(&outputs, models, points * classes).unwrap(),
            &neighbours,
            classes,
        )
        .unwrap();
        let g = term.coefficients();
        let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
        assert!(
            close(g[0], 0.0) && close(g[1], -4.0),
            "point 0: {:?}",
            &g[..4]
        );
        assert!(
            close(g[4], 2.0) && close(g[5], 0.0),
            "point 1: {:?}",
            &g[4..8]
        );
        // The validation point's two regressors coincide: one coefficient carries it.
        assert!(
            close(g[12], -3.0) && close(g[13], 0.0),
            "point 3: {:?}",
            &g[12..]
        );
        assert!(g.chunks(4).all(|p| close(p[2], 0.0) && close(p[3], 0.0)));

        // Forget {0, 2}: point 0 has φ = ½ (2 gone) and is gone: −4·½; point 1 has φ = 1 (0 and
        // 2 gone): +2; point 2 (φ = ½, its neighbour 0 gone) has no effect; point 3: φ = ½.
        let change = term.removal_change(&neighbours, &[0, 2]).unwrap();
        let expected = [-2.0, 0.0, 2.0, 0.0, 0.0, 0.0, -1.5, 0.0];
        assert!(
            change.iter().zip(expected).all(|(&a, b)| close(a, b)),
            "{change:?}"
        );
        assert!(term.removal_change(&neighbours, &[3]).is_err());
    }

    #[test]
    fn the_term_is_fitted_on_what_the_linear_part_leaves() {
        // Outputs exactly linear in the masks: the residuals are zero, so is the term.
        let patterns: Vec<[u8; 3]> = (0..8u8).map(bits).collect();
        let masks = masks_of(&patterns);
        let beta: Vec<f32> = (0..3 * 8).map(|v| (v % 5) as f32 - 2.0).collect();
        let linear = Datamodel::new(3, 8, beta, vec![1.0; 8]).unwrap();
        let m = Masks::new(&masks, 8, 3).unwrap();
        let outputs = linear.predict(&m).unwrap();
        let neighbours = Neighbours::new(&TABLE, 2, 3).unwrap();
        let term = NeighbourhoodTerm::fit(
            &linear,
            &m,
            &Outputs::new(&outputs, 8, 8).unwrap(),
            &neighbours,
            2,
        )
        .unwrap();
        assert!(term.coefficients().iter().all(|g| g.abs() < 1e-5));
    }

    #[test]
    fn rejects_neighbours_out_of_range_and_ragged_tables() {
        assert!(Neighbours::new(&[0, 3], 1, 3).is_err());
        assert!(Neighbours::new(&[0, 1, 2], 2, 3).is_err());
        assert!(Neighbours::new(&[0, 1], 0, 3).is_err());
    }
}
