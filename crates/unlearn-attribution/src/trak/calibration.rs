//! Calibration of TRAK scores: they have an arbitrary scale, while DM-Direct and DMM need β in
//! output (logit) units (docs/algorithms.md §7).
//!
//! With subset models `m` (masks `S_m`, outputs `z_m(t)`), the prediction of the raw scores is
//! `p_m(t) = Σ_{i∈S_m} τ(i, t)`. [`calibrate`] fits one scale `s` shared by every target and an
//! intercept per target by least squares:
//! `min_{s, b} Σ_{m,t} (z_m(t) − b_t − s · p_m(t))²`, i.e.
//! `s = Σ (z − z̄_t)(p − p̄_t) / Σ (p − p̄_t)²` (means over models per target) and
//! `b_t = z̄_t − s p̄_t`. Then `β = s · τ` and the datamodel `(β, b)` predicts outputs like the
//! datamodel estimators do. A positive scale does not change the LDS (a rank correlation per
//! target), so calibrating on the models that also fit nothing else is enough.

use nalgebra::DMatrixView;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{Masks, Outputs, check_pair};
use crate::datamodel::par_gemm_into;
use crate::error::{AttributionError, Result};

/// A fitted scale and per-target intercept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// The scale `s` (β = s · τ).
    pub scale: f64,
    /// Per-target intercept `b_t`.
    pub intercept: Vec<f32>,
    /// Models it was fitted on.
    pub models: usize,
    /// Pearson correlation of the per-target centred predictions and outputs (pooled).
    pub correlation: f64,
}

/// `Σ_{i∈S_m} τ(i, t)` for every mask row: row-major `models × t` (τ row-major `n × t`).
pub fn predict_sums(tau: &[f32], n: usize, t: usize, masks: &Masks<'_>) -> Result<Vec<f32>> {
    if tau.len() != n * t {
        return Err(AttributionError::BufferLength {
            what: "scores",
            len: tau.len(),
            rows: n,
            cols: t,
        });
    }
    if masks.points() != n {
        return Err(AttributionError::DimensionMismatch {
            what: "train points of masks vs scores",
            left: masks.points(),
            right: n,
        });
    }
    let h = masks.models();
    let mut pred = vec![0.0f32; h * t];
    if h == 0 || t == 0 || n == 0 {
        return Ok(pred);
    }
    // (t × n) · (n × models): column-major t × models = row-major models × t.
    let tau_t = DMatrixView::from_slice(tau, t, n);
    let x: Vec<f32> = masks.as_slice().iter().map(|&v| v as f32).collect();
    let x = DMatrixView::from_slice(&x, n, h);
    par_gemm_into(tau_t, x, &mut pred);
    Ok(pred)
}

/// Fits the scale and intercepts of raw scores `tau` (row-major `n × t`) on subset models with
/// masks `masks` and actual outputs `outputs` (`models × t`).
pub fn calibrate(
    tau: &[f32],
    n: usize,
    t: usize,
    masks: &Masks<'_>,
    outputs: &Outputs<'_>,
) -> Result<Calibration> {
    check_pair(masks, outputs)?;
    if outputs.targets() != t {
        return Err(AttributionError::DimensionMismatch {
            what: "targets of outputs vs scores",
            left: outputs.targets(),
            right: t,
        });
    }
    let h = masks.models();
    if h < 2 {
        return Err(AttributionError::TooFewModels {
            what: "calibration",
            needed: 2,
            got: h,
        });
    }
    let pred = predict_sums(tau, n, t, masks)?;
    // Per-target means over models, then pooled centred moments.
    let (sp, sz) = (0..h).fold((vec![0.0f64; t], vec![0.0f64; t]), |(mut sp, mut sz), m| {
        for j in 0..t {
            sp[j] += pred[m * t + j] as f64;
            sz[j] += outputs.row(m)[j] as f64;
        }
        (sp, sz)
    });
    let hm = h as f64;
    let mp: Vec<f64> = sp.iter().map(|v| v / hm).collect();
    let mz: Vec<f64> = sz.iter().map(|v| v / hm).collect();
    let (pz, pp, zz) = (0..h)
        .into_par_iter()
        .map(|m| {
            let row = outputs.row(m);
            let (mut pz, mut pp, mut zz) = (0.0f64, 0.0f64, 0.0f64);
            for j in 0..t {
                let dp = pred[m * t + j] as f64 - mp[j];
                let dz = row[j] as f64 - mz[j];
                pz += dp * dz;
                pp += dp * dp;
                zz += dz * dz;
            }
            (pz, pp, zz)
        })
        .reduce(|| (0.0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    if pp.is_nan() || pp <= 0.0 {
        return Err(AttributionError::Numerical(
            "the scores predict the same output for every calibration model".into(),
        ));
    }
    let scale = pz / pp;
    let intercept = mz
        .iter()
        .zip(&mp)
        .map(|(z, p)| (z - scale * p) as f32)
        .collect();
    let correlation = if zz > 0.0 {
        pz / (pp * zz).sqrt()
    } else {
        f64::NAN
    };
    Ok(Calibration {
        scale,
        intercept,
        models: h,
        correlation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_scale() {
        let (n, t, h) = (6, 3, 10);
        let tau: Vec<f32> = (0..n * t).map(|i| ((i * 7 % 5) as f32) - 2.0).collect();
        let masks: Vec<u8> = (0..h * n)
            .map(|i| ((i * 13 + i / 7) % 3 == 0) as u8)
            .collect();
        let m = Masks::new(&masks, h, n).unwrap();
        let sums = predict_sums(&tau, n, t, &m).unwrap();
        let outputs: Vec<f32> = sums
            .iter()
            .enumerate()
            .map(|(i, &p)| 0.5 * p + (i % t) as f32)
            .collect();
        let c = calibrate(&tau, n, t, &m, &Outputs::new(&outputs, h, t).unwrap()).unwrap();
        assert!((c.scale - 0.5).abs() < 1e-6, "{}", c.scale);
        for (j, b) in c.intercept.iter().enumerate() {
            assert!((b - j as f32).abs() < 1e-4);
        }
        assert!((c.correlation - 1.0).abs() < 1e-9);
    }
}
