//! Difference of means: `β[i, t] = mean_{m: i ∈ S_m} y[m, t] − mean_{m: i ∉ S_m} y[m, t]`.

use nalgebra::DMatrix;
use rayon::prelude::*;

use crate::Estimator;
use crate::data::{Masks, Outputs, check_pair, check_rows};
use crate::datamodel::{Datamodel, PreparedFit};
use crate::error::Result;
use crate::linalg::{centered_outputs_t, output_means};

/// The difference-of-means estimator (no hyper-parameters).
///
/// `β[i, t]` is the mean output over the models whose subset contains point `i` minus the mean
/// over the models whose subset does not. Every point must be in at least one subset and out of
/// at least one, otherwise [`crate::AttributionError::DegeneratePoint`].
///
/// The intercept is `ȳ[t] − Σ_i μ_i β[i, t]` (`ȳ` the mean output, `μ_i` the share of models that
/// include `i`), so that the prediction at the average mask is the average output.
///
/// Rows only: `Σ_{i∈F} β[i, ·]` costs `O(models · (|F| + targets))`; no other row is computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiffOfMeans;

impl DiffOfMeans {
    /// Prepares the closed form, from which any rows of β follow cheaply.
    pub fn prepare(&self, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<PreparedFit> {
        check_pair(masks, outputs)?;
        let counts = masks.check_not_degenerate()?;
        let (m, n) = (masks.models(), masks.points());
        let all: Vec<usize> = (0..m).collect();
        let y_mean = output_means(outputs, &all);
        let yc_t = centered_outputs_t(outputs, &all, &y_mean);
        // W[m, i] = x_mi / c_i − (1 − x_mi) / (M − c_i)
        let mut w = DMatrix::<f64>::zeros(m, n);
        w.as_mut_slice()
            .par_chunks_mut(m)
            .enumerate()
            .for_each(|(i, col)| {
                let c = counts[i] as f64;
                let (pin, pout) = (1.0 / c, -1.0 / (m as f64 - c));
                for (r, v) in col.iter_mut().enumerate() {
                    *v = if masks.row(r)[i] == 1 { pin } else { pout };
                }
            });
        let mask_mean = counts.iter().map(|&c| c as f64 / m as f64).collect();
        Ok(PreparedFit::new(w, yc_t, y_mean, mask_mean, None, None))
    }
}

impl Estimator for DiffOfMeans {
    fn fit(&self, masks: &Masks<'_>, outputs: &Outputs<'_>) -> Result<Datamodel> {
        Ok(self.prepare(masks, outputs)?.to_datamodel())
    }

    fn fit_rows_sum(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
        rows: &[usize],
    ) -> Result<Vec<f32>> {
        check_rows(rows, masks.points())?;
        self.prepare(masks, outputs)?.rows_sum(rows)
    }

    /// Each target's effects are its own differences of means.
    fn independent_targets(&self) -> bool {
        true
    }
}
