//! Summaries of per-point values (docs/algorithms.md §2): percentiles with numpy's default linear
//! interpolation, and per-split (forget / retain / validation) P95, P99 and mean.

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result, check_indices};

/// numpy's `_lerp`: `a + t·(b − a)`, evaluated from the `b` side when `t ≥ 0.5` for accuracy.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Percentile `q ∈ [0, 100]` of `values`, as numpy's default (`method="linear"`): with the
/// sorted values `v_0 ≤ … ≤ v_{n−1}` and `h = (n − 1)·q/100`, the result is
/// `v_⌊h⌋ + (h − ⌊h⌋)·(v_⌊h⌋+1 − v_⌊h⌋)`. Errors on empty input or NaN.
pub fn percentile(values: &[f32], q: f64) -> Result<f64> {
    let sorted = sorted_checked(values, "percentile input")?;
    percentile_sorted(&sorted, q)
}

fn sorted_checked(values: &[f32], what: &str) -> Result<Vec<f64>> {
    if values.is_empty() {
        return Err(EvalError::Empty(what.to_string()));
    }
    if values.iter().any(|v| v.is_nan()) {
        return Err(EvalError::NonFinite(format!("{what} (NaN)")));
    }
    let mut v: Vec<f64> = values.iter().map(|&x| f64::from(x)).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    Ok(v)
}

fn percentile_sorted(sorted: &[f64], q: f64) -> Result<f64> {
    if !(0.0..=100.0).contains(&q) {
        return Err(EvalError::arg(
            "q",
            format!("percentile must be in [0, 100], got {q}"),
        ));
    }
    let n = sorted.len();
    let h = (n - 1) as f64 * (q / 100.0);
    let lo = (h.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    let t = h - lo as f64;
    Ok(lerp(sorted[lo], sorted[hi], t))
}

/// P95, P99 and mean of a set of per-point values (typically KLoM).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// 95th percentile (numpy linear interpolation).
    pub p95: f64,
    /// 99th percentile (numpy linear interpolation).
    pub p99: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Summary {
    /// Summarises `values`; errors on empty input or NaN.
    pub fn of(values: &[f32]) -> Result<Summary> {
        let sorted = sorted_checked(values, "summary input")?;
        let mean = sorted.iter().sum::<f64>() / sorted.len() as f64;
        Ok(Summary {
            p95: percentile_sorted(&sorted, 95.0)?,
            p99: percentile_sorted(&sorted, 99.0)?,
            mean,
        })
    }
}

/// Index lists of the three evaluation splits, into a per-point vector.
#[derive(Debug, Clone, Copy)]
pub struct Splits<'a> {
    /// Forget set F.
    pub forget: &'a [usize],
    /// Retain set R.
    pub retain: &'a [usize],
    /// Validation / test set V.
    pub validation: &'a [usize],
}

/// A [`Summary`] for each of the forget, retain and validation splits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    /// Summary over the forget points.
    pub forget: Summary,
    /// Summary over the retain points.
    pub retain: Summary,
    /// Summary over the validation points.
    pub validation: Summary,
}

/// Gathers `values[i]` for each `i` in `indices` (errors on an out-of-range index).
pub fn select(values: &[f32], indices: &[usize], what: &str) -> Result<Vec<f32>> {
    check_indices(what, indices, values.len())?;
    Ok(indices.iter().map(|&i| values[i]).collect())
}

/// Summarises a per-point vector (e.g. the output of [`crate::klom`], indexed by evaluation
/// point) on each split. Every split must be non-empty.
pub fn summarize_splits(per_point: &[f32], splits: Splits<'_>) -> Result<SplitSummary> {
    let one = |idx: &[usize], name: &str| -> Result<Summary> {
        if idx.is_empty() {
            return Err(EvalError::Empty(format!("{name} split")));
        }
        Summary::of(&select(per_point, idx, &format!("{name} indices"))?)
    };
    Ok(SplitSummary {
        forget: one(splits.forget, "forget")?,
        retain: one(splits.retain, "retain")?,
        validation: one(splits.validation, "validation")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn numpy_linear_percentiles() {
        let v = [10.0, 1.0, 4.0, 2.0, 3.0];
        // sorted 1 2 3 4 10; q=95: h = 3.8 → 4 + 0.8·6 = 8.8
        assert!(close(percentile(&v, 95.0).unwrap(), 8.8));
        // q=99: h = 3.96 → 4 + 0.96·6 = 9.76
        assert!(close(percentile(&v, 99.0).unwrap(), 9.76));
        // q=50: h = 2 → 3; q=10: h = 0.4 → 1.4; q=0 → 1; q=100 → 10
        assert!(close(percentile(&v, 50.0).unwrap(), 3.0));
        assert!(close(percentile(&v, 10.0).unwrap(), 1.4));
        assert!(close(percentile(&v, 0.0).unwrap(), 1.0));
        assert!(close(percentile(&v, 100.0).unwrap(), 10.0));
        // Four values 0 1 2 3, q=95: h = 2.85 → 2.85. q=25: h = 0.75 → 0.75
        let w = [3.0, 0.0, 2.0, 1.0];
        assert!(close(percentile(&w, 95.0).unwrap(), 2.85));
        assert!(close(percentile(&w, 25.0).unwrap(), 0.75));
        // A single value is every percentile.
        assert!(close(percentile(&[7.5], 95.0).unwrap(), 7.5));
        assert!(percentile(&[], 50.0).is_err());
        assert!(percentile(&[1.0, f32::NAN], 50.0).is_err());
        assert!(percentile(&[1.0], 101.0).is_err());
    }

    #[test]
    fn summary_and_splits() {
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0, 10.0]).unwrap();
        assert!(close(s.p95, 8.8) && close(s.p99, 9.76) && close(s.mean, 4.0));
        let per_point = [0.0, 1.0, 2.0, 3.0, 4.0, 10.0];
        let sp = summarize_splits(
            &per_point,
            Splits {
                forget: &[5],
                retain: &[0, 1, 2],
                validation: &[3, 4],
            },
        )
        .unwrap();
        assert!(close(sp.forget.p95, 10.0) && close(sp.forget.mean, 10.0));
        // retain 0 1 2: p95 h = 1.9 → 1.9; mean 1
        assert!(close(sp.retain.p95, 1.9) && close(sp.retain.mean, 1.0));
        // validation 3 4: p99 h = 0.99 → 3.99
        assert!(close(sp.validation.p99, 3.99) && close(sp.validation.mean, 3.5));
        let bad = Splits {
            forget: &[6],
            retain: &[0],
            validation: &[1],
        };
        assert!(summarize_splits(&per_point, bad).is_err());
        let empty = Splits {
            forget: &[],
            retain: &[0],
            validation: &[1],
        };
        assert!(summarize_splits(&per_point, empty).is_err());
    }
}
