//! DM-Direct (§5): the datamodel's prediction of the retrained outputs, z − s·Σ_{i∈F} β.

use super::StackOutput;
use crate::MethodError;
use crate::config::{Checked, DirectParams};
use crate::context::Context;
use crate::method::{Inputs, UnlearnMethod};
use crate::methods::params_json;
use unlearn_models::Architecture;

/// `z_k(x) − s·Σβ(x)` for every original `k` and evaluated point `x`; `beta` is `P × C`.
pub fn predicted_logits(original: &[f32], beta: &[f32], scale: f64) -> Vec<f32> {
    let per = beta.len();
    original
        .chunks_exact(per)
        .flat_map(|z| {
            z.iter()
                .zip(beta)
                .map(move |(&z, &b)| z - (scale as f32) * b)
        })
        .collect()
}

/// Needs the attribution rows; trains nothing (cost 0 per request).
pub fn run<A: Architecture>(
    ctx: &Context<'_, A>,
    indices: &[usize],
    scale: f64,
) -> Result<StackOutput<A::Model>, MethodError> {
    let beta = ctx.beta_forget.ok_or_else(|| MethodError::MissingInput {
        method: "dm-direct".into(),
        what: "attribution rows Σ_{i∈F} β (from datamodels or TRAK)".into(),
    })?;
    Ok(StackOutput {
        logits: predicted_logits(&ctx.prediction_base(indices), beta, scale),
        model: None,
        examples: 0,
        member_examples: None,
    })
}

/// DM-Direct: the predicted outputs z − s·Σβ, no training.
#[derive(Debug, Clone)]
pub struct DmDirect {
    params: Checked<DirectParams>,
}

impl DmDirect {
    /// DM-Direct with checked parameters.
    pub fn new(params: Checked<DirectParams>) -> Self {
        Self { params }
    }
}

impl<A: Architecture> UnlearnMethod<A> for DmDirect {
    fn name(&self) -> &str {
        "dm-direct"
    }
    fn params(&self) -> serde_json::Value {
        params_json(&*self.params)
    }
    fn inputs(&self) -> Inputs {
        Inputs::ATTRIBUTION
    }
    fn makes_models(&self) -> bool {
        false
    }
    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        run(ctx, indices, self.params.scale)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subtracts_scaled_attribution_from_each_model() {
        // Two models, one point, two classes.
        let z = [1.0, 2.0, 3.0, 4.0];
        let beta = [0.5, -1.0];
        assert_eq!(
            super::predicted_logits(&z, &beta, 2.0),
            vec![0.0, 4.0, 2.0, 6.0]
        );
    }
}
