//! KLoM — KL divergence of margins (docs/algorithms.md §2), per point, and the retrain noise floor.
//!
//! For one point, `u` holds the margins of the unlearned models and `o` those of the oracles:
//! 1. both are clipped to `[−100, 100]`;
//! 2. `lo = min(u ∪ o)`, `hi = max(u ∪ o)`, and if `hi ≤ lo` then `hi = lo + 1`;
//! 3. 20 equal-width bins on `[lo, hi]`, each half-open `[e_k, e_{k+1})` except the last,
//!    which is closed (a value equal to `hi` is counted in bin 20);
//! 4. `P_k` = share of `u` in bin `k`, `Q_k` = share of `o` in bin `k`;
//! 5. `KLoM = Σ_{k: P_k > 0} P_k · ln(P_k / max(Q_k, 1e−5))` (natural log; at most
//!    `ln(1e5) ≈ 11.513`).
//!
//! [`Direction::OracleUnlearned`] swaps the roles of `P` and `Q` in step 5 (the ε floor then
//! applies to the unlearned histogram).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, models_of};

/// Clip bound applied to margins before binning.
pub const KLOM_CLIP: f32 = 100.0;
/// Number of equal-width bins.
pub const KLOM_BINS: usize = 20;
/// Models per side from which KLoM settles (docs/algorithms.md §2): below it even two sets of
/// retrained models differ a lot (the noise floor's P95 about 5 at 20 models on digits, 0.7 at
/// 100), so a score says little without its floor.
pub const KLOM_STABLE_MODELS: usize = 80;
/// Floor on the reference histogram's bin shares.
pub const KLOM_EPS: f64 = 1e-5;

/// Which KL direction to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Direction {
    /// `D_KL(unlearned ‖ oracle)`: the published default.
    #[default]
    UnlearnedOracle,
    /// `D_KL(oracle ‖ unlearned)`.
    OracleUnlearned,
}

/// Which histogram rules KLoM follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KlomVariant {
    /// docs/algorithms.md §2 (this module's header): the last bin closed on the right.
    #[default]
    Spec,
    /// The public CIFAR-10 unlearning benchmark's own evaluation, to reproduce its published
    /// numbers (docs/algorithms.md §2, "variants"): 21 edges as numpy's `linspace`, bins as
    /// `np.digitize`, so a value equal to the top edge falls in no bin; each histogram is
    /// normalised by the values it did count; Q floored at 1e−5 where P > 0, not renormalised.
    Benchmark,
}

/// Bin index of `v` in 20 equal bins on `[lo, hi]` (the last bin closed), matching numpy's
/// `histogram` (fast path plus its correction against the explicit edges).
fn bin_of(v: f64, lo: f64, hi: f64) -> usize {
    let n = KLOM_BINS;
    let width = hi - lo;
    let edge = |k: usize| {
        if k == n {
            hi
        } else {
            lo + (k as f64) * (width / n as f64)
        }
    };
    let f = (v - lo) * (n as f64 / width);
    let mut k = if f <= 0.0 { 0 } else { (f as usize).min(n - 1) };
    if k > 0 && v < edge(k) {
        k -= 1;
    }
    if k < n - 1 && v >= edge(k + 1) {
        k += 1;
    }
    k
}

fn histogram(values: &[f64], lo: f64, hi: f64) -> [f64; KLOM_BINS] {
    let mut counts = [0.0f64; KLOM_BINS];
    for &v in values {
        counts[bin_of(v, lo, hi)] += 1.0;
    }
    let n = values.len() as f64;
    for c in counts.iter_mut() {
        *c /= n;
    }
    counts
}

fn kl(p: &[f64; KLOM_BINS], q: &[f64; KLOM_BINS]) -> f64 {
    p.iter()
        .zip(q.iter())
        .filter(|(pk, _)| **pk > 0.0)
        .map(|(&pk, &qk)| pk * (pk / qk.max(KLOM_EPS)).ln())
        .sum()
}

/// KLoM of one point from its unlearned-model margins `u` and oracle margins `o` (the two
/// sample sizes may differ). Both must be non-empty and NaN-free (±∞ is clipped to ±100).
pub fn klom_point(u: &[f32], o: &[f32], direction: Direction) -> Result<f32> {
    if u.is_empty() || o.is_empty() {
        return Err(EvalError::Empty(
            "KLoM needs at least one margin on each side".into(),
        ));
    }
    if u.iter().chain(o.iter()).any(|v| v.is_nan()) {
        return Err(EvalError::NonFinite("margins passed to KLoM (NaN)".into()));
    }
    Ok(klom_point_unchecked(u, o, direction))
}

fn klom_point_unchecked(u: &[f32], o: &[f32], direction: Direction) -> f32 {
    let clip = |v: &f32| f64::from(v.clamp(-KLOM_CLIP, KLOM_CLIP));
    let u: Vec<f64> = u.iter().map(clip).collect();
    let o: Vec<f64> = o.iter().map(clip).collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in u.iter().chain(o.iter()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let p = histogram(&u, lo, hi);
    let q = histogram(&o, lo, hi);
    let d = match direction {
        Direction::UnlearnedOracle => kl(&p, &q),
        Direction::OracleUnlearned => kl(&q, &p),
    };
    d as f32
}

/// The benchmark variant of [`klom_point`] (see [`KlomVariant::Benchmark`]); `p` is the side
/// whose histogram weighs the sum.
fn klom_point_benchmark(p: &[f32], q: &[f32]) -> f32 {
    let clip = |v: &f32| f64::from(v.clamp(-KLOM_CLIP, KLOM_CLIP));
    let p: Vec<f64> = p.iter().map(clip).collect();
    let q: Vec<f64> = q.iter().map(clip).collect();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &v in p.iter().chain(q.iter()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo >= hi {
        hi = lo + 1.0;
    }
    // numpy's linspace: start + k·step, the last edge exactly `hi`.
    let step = (hi - lo) / KLOM_BINS as f64;
    let edges: Vec<f64> = (0..=KLOM_BINS)
        .map(|k| {
            if k == KLOM_BINS {
                hi
            } else {
                k as f64 * step + lo
            }
        })
        .collect();
    // np.digitize (right=False): the number of edges ≤ v; bins 1..=20 are counted.
    let shares = |values: &[f64]| {
        let mut counts = [0.0f64; KLOM_BINS];
        for &v in values {
            let bin = edges.partition_point(|&e| e <= v);
            if (1..=KLOM_BINS).contains(&bin) {
                counts[bin - 1] += 1.0;
            }
        }
        let total: f64 = counts.iter().sum();
        if total > 0.0 {
            counts.iter_mut().for_each(|c| *c /= total);
        }
        counts
    };
    let (p, q) = (shares(&p), shares(&q));
    p.iter()
        .zip(q.iter())
        .filter(|(pk, _)| **pk > 0.0)
        .map(|(&pk, &qk)| pk * (pk / qk.max(KLOM_EPS)).ln())
        .sum::<f64>() as f32
}

/// Per-point KLoM of two margin matrices under `variant` (see [`klom`]).
pub fn klom_with(
    unlearned: &[f32],
    oracle: &[f32],
    points: usize,
    direction: Direction,
    variant: KlomVariant,
) -> Result<Vec<f32>> {
    if variant == KlomVariant::Spec {
        return klom(unlearned, oracle, points, direction);
    }
    let n_u = models_of("unlearned margins", unlearned, points)?;
    let n_o = models_of("oracle margins", oracle, points)?;
    if unlearned.iter().chain(oracle).any(|v| v.is_nan()) {
        return Err(EvalError::NonFinite("margins (NaN)".into()));
    }
    Ok((0..points)
        .into_par_iter()
        .map(|j| {
            let u: Vec<f32> = (0..n_u).map(|m| unlearned[m * points + j]).collect();
            let o: Vec<f32> = (0..n_o).map(|m| oracle[m * points + j]).collect();
            match direction {
                Direction::UnlearnedOracle => klom_point_benchmark(&u, &o),
                Direction::OracleUnlearned => klom_point_benchmark(&o, &u),
            }
        })
        .collect())
}

/// Per-point KLoM of two margin matrices.
///
/// `unlearned` is `N_u × points` and `oracle` is `N_o × points`, both row-major (model-major,
/// as returned by [`crate::margins`]); `N_u` and `N_o` are derived from the lengths and may
/// differ. Returns one value per point. Parallel over points (rayon).
pub fn klom(
    unlearned: &[f32],
    oracle: &[f32],
    points: usize,
    direction: Direction,
) -> Result<Vec<f32>> {
    let n_u = models_of("unlearned margins", unlearned, points)?;
    let n_o = models_of("oracle margins", oracle, points)?;
    if unlearned.iter().any(|v| v.is_nan()) {
        return Err(EvalError::NonFinite("unlearned margins (NaN)".into()));
    }
    if oracle.iter().any(|v| v.is_nan()) {
        return Err(EvalError::NonFinite("oracle margins (NaN)".into()));
    }
    Ok((0..points)
        .into_par_iter()
        .map_init(
            || (Vec::with_capacity(n_u), Vec::with_capacity(n_o)),
            |(u, o), j| {
                u.clear();
                o.clear();
                u.extend((0..n_u).map(|m| unlearned[m * points + j]));
                o.extend((0..n_o).map(|m| oracle[m * points + j]));
                klom_point_unchecked(u, o, direction)
            },
        )
        .collect())
}

/// Retrain noise floor ("Retrain" row of the published tables): the per-point KLoM of one set
/// of oracle margins scored against a second, disjoint set of oracle margins (distinct
/// seeds), both `N × points` row-major.
///
/// This is exactly [`klom`] with `first_oracles` in the unlearned slot; it is the value an
/// ideal unlearning method (one indistinguishable from retraining) would obtain with the same
/// number of models, so method results should be read against it.
pub fn retrain_noise_floor(
    first_oracles: &[f32],
    second_oracles: &[f32],
    points: usize,
    direction: Direction,
) -> Result<Vec<f32>> {
    klom(first_oracles, second_oracles, points, direction)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LN_1E5: f32 = 11.512_925;

    fn close(a: f32, b: f32, tol: f32) -> bool {
        (a - b).abs() <= tol
    }

    /// Where the spec counts a value equal to the top edge in bin 20, the benchmark drops it
    /// and normalises by what is left: u = [5, 5, 5, 1] against o = [1, 1, 1]: the spec sees
    /// P = (1/4 in bin 1, 3/4 in bin 20), the benchmark P = (1 in bin 1), Q = (1 in bin 1).
    #[test]
    fn the_benchmark_variant_drops_the_top_edge() {
        let (u, o) = ([5.0f32, 5.0, 5.0, 1.0], [1.0f32, 1.0, 1.0]);
        let spec = klom_point(&u, &o, Direction::UnlearnedOracle).unwrap();
        let want = 0.25 * (0.25f64 / 1.0).ln() + 0.75 * (0.75f64 / 1e-5).ln();
        assert!(close(spec, want as f32, 1e-5), "{spec} vs {want}");
        assert_eq!(klom_point_benchmark(&u, &o), 0.0);
        let both = klom_with(
            &u,
            &o,
            1,
            Direction::UnlearnedOracle,
            KlomVariant::Benchmark,
        );
        assert_eq!(both.unwrap(), [0.0]);
        // Nothing but the top value on one side: that side's histogram is empty, KL 0.
        assert_eq!(klom_point_benchmark(&[3.0, 3.0], &[1.0]), 0.0);
    }

    #[test]
    fn identical_distributions_give_zero() {
        let u = [0.3, -1.2, 4.0, 2.5, 2.5, 0.0];
        assert_eq!(klom_point(&u, &u, Direction::UnlearnedOracle).unwrap(), 0.0);
        assert_eq!(klom_point(&u, &u, Direction::OracleUnlearned).unwrap(), 0.0);
        // Same distribution, different sample sizes (each value duplicated).
        let o: Vec<f32> = u.iter().chain(u.iter()).copied().collect();
        assert!(
            klom_point(&u, &o, Direction::UnlearnedOracle)
                .unwrap()
                .abs()
                < 1e-7
        );
    }

    #[test]
    fn fully_separated_gives_ln_1e5_and_counts_the_maximum() {
        // u all equal to hi: every u falls in bin 20 (closed on the right), where Q is empty:
        // KLoM = 1 · ln(1 / 1e−5) = ln(1e5). A histogram dropping v == hi would give 0.
        let u = [5.0f32; 4];
        let o = [-3.0f32, -2.0, -3.0];
        let d = klom_point(&u, &o, Direction::UnlearnedOracle).unwrap();
        assert!(close(d, LN_1E5, 1e-5), "{d}");
        let d = klom_point(&o, &u, Direction::UnlearnedOracle).unwrap();
        // o as the unlearned side: bins 1 (value −3, share 2/3) and 3 (value −2 at
        // (−2+3)/8·20 = 2.5 → bin index 2, share 1/3); Q empty there:
        // 2/3·ln(2/3·1e5) + 1/3·ln(1/3·1e5) = 2/3·11.10746 + 1/3·10.41431 = 10.87641
        assert!(close(d, 10.876_41, 1e-4), "{d}");
    }

    #[test]
    fn degenerate_range_uses_lo_plus_one() {
        // All margins equal → hi = lo + 1; everything in bin 1 on both sides → 0.
        assert_eq!(
            klom_point(&[2.0; 3], &[2.0; 5], Direction::UnlearnedOracle).unwrap(),
            0.0
        );
        // Clipping makes 150 and 1e9 both 100 → identical → 0.
        assert_eq!(
            klom_point(&[150.0], &[1e9], Direction::UnlearnedOracle).unwrap(),
            0.0
        );
    }

    #[test]
    fn clipping_at_100() {
        // Unclipped, u = 0 and o = {0, 1000} would put o's 1000 far away; clipped to 100 the
        // range is [0, 100] with bins of 5. u = {0, 0} → P = (1, 0, …); o = {0, 100}:
        // Q_1 = 1/2, Q_20 = 1/2 → KLoM = ln(1 / 0.5) = ln 2.
        let d = klom_point(&[0.0, 0.0], &[0.0, 1000.0], Direction::UnlearnedOracle).unwrap();
        assert!(close(d, std::f32::consts::LN_2, 1e-6), "{d}");
        // −∞ is clipped to −100 as well: u = {−100, −100}, o = {−100, 100} → ln 2 again.
        let d = klom_point(
            &[f32::NEG_INFINITY, -500.0],
            &[-100.0, 100.0],
            Direction::UnlearnedOracle,
        )
        .unwrap();
        assert!(close(d, std::f32::consts::LN_2, 1e-6), "{d}");
        // Without clipping at 100, a value 99.9 vs 150 would land in different bins: with
        // clipping 150 → 100, range [0, 100], 99.9 → bin 20 and 100 → bin 20.
        let d = klom_point(&[0.0, 99.9], &[0.0, 150.0], Direction::UnlearnedOracle).unwrap();
        assert_eq!(d, 0.0);
    }

    #[test]
    fn directions_differ_on_asymmetric_case() {
        // u = {0, 0, 0, 10}, o = {0, 10, 10, 10}: range [0, 10], bins of 0.5;
        // 0 → bin 1, 10 → bin 20 (closed right).
        // P = (3/4 in bin 1, 1/4 in bin 20), Q = (1/4, 3/4).
        // D(P‖Q) = 3/4·ln 3 + 1/4·ln(1/3) = 1/2·ln 3 = 0.5493061 — symmetric here, so perturb:
        // u = {0, 0, 0, 0, 10} (P = 4/5, 1/5), o = {0, 10} (Q = 1/2, 1/2):
        // D(P‖Q) = 4/5·ln(8/5) + 1/5·ln(2/5) = 0.8·0.4700036 − 0.2·0.9162907 = 0.1927447
        // D(Q‖P) = 1/2·ln(5/8) + 1/2·ln(5/2) = 0.5·(−0.4700036 + 0.9162907) = 0.2231436
        let u = [0.0, 0.0, 0.0, 0.0, 10.0];
        let o = [0.0, 10.0];
        let fwd = klom_point(&u, &o, Direction::UnlearnedOracle).unwrap();
        let rev = klom_point(&u, &o, Direction::OracleUnlearned).unwrap();
        assert!(close(fwd, 0.192_744_7, 1e-6), "{fwd}");
        assert!(close(rev, 0.223_143_6, 1e-6), "{rev}");
        // Reverse with an empty unlearned bin: u = {0}, o = {0, 10}:
        // fwd = 1·ln(1/0.5) = ln 2; rev = 1/2·ln(0.5/1) + 1/2·ln(0.5/1e−5) = 0.5·(−0.6931472
        // + 10.8197783) = 5.0633156.
        let fwd = klom_point(&[0.0], &o, Direction::UnlearnedOracle).unwrap();
        let rev = klom_point(&[0.0], &o, Direction::OracleUnlearned).unwrap();
        assert!(close(fwd, std::f32::consts::LN_2, 1e-6), "{fwd}");
        assert!(close(rev, 5.063_315_6, 1e-5), "{rev}");
    }

    #[test]
    fn interior_edges_are_half_open() {
        // Range [0, 20] → bins of width 1; 1.0 lies on the edge between bins 1 and 2 and must
        // go to bin 2. u = {1}, o = {0, 20, 1.0 − 1e−4 → bin 1}: if 1.0 fell in bin 1 its Q
        // would be 1/3 (KLoM ln 3); in bin 2 Q is empty → ln(1e5).
        let d = klom_point(&[1.0], &[0.0, 20.0, 0.9999], Direction::UnlearnedOracle).unwrap();
        assert!(close(d, LN_1E5, 1e-5), "{d}");
        // Exact binning over all edges of [−3, 17]: edge k is −3 + k.
        for k in 0..20 {
            assert_eq!(bin_of(-3.0 + k as f64, -3.0, 17.0), k);
        }
        assert_eq!(bin_of(17.0, -3.0, 17.0), 19);
    }

    #[test]
    fn matrix_version_matches_per_point_and_floor_alias() {
        // 3 unlearned models × 2 points, 2 oracle models × 2 points.
        let u = [0.0, 5.0, 0.0, 5.0, 10.0, 5.0];
        let o = [0.0, -1.0, 10.0, -2.0];
        let d = klom(&u, &o, 2, Direction::UnlearnedOracle).unwrap();
        let p0 = klom_point(&[0.0, 0.0, 10.0], &[0.0, 10.0], Direction::UnlearnedOracle).unwrap();
        let p1 = klom_point(&[5.0, 5.0, 5.0], &[-1.0, -2.0], Direction::UnlearnedOracle).unwrap();
        assert_eq!(d, vec![p0, p1]);
        // p0: P = (2/3, 1/3), Q = (1/2, 1/2): 2/3·ln(4/3) + 1/3·ln(2/3) = 0.0566330
        assert!(close(p0, 0.056_633, 1e-6), "{p0}");
        assert!(close(p1, LN_1E5, 1e-5));
        let f = retrain_noise_floor(&u, &o, 2, Direction::UnlearnedOracle).unwrap();
        assert_eq!(f, d);
        assert!(klom(&u[..5], &o, 2, Direction::UnlearnedOracle).is_err());
        assert!(klom(&[f32::NAN, 0.0], &o, 2, Direction::UnlearnedOracle).is_err());
    }
}
