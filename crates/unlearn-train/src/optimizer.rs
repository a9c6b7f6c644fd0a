//! Builds burn's optimiser for a recipe, with PyTorch's semantics.

use crate::recipe::OptimizerConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};

/// The optimiser. Every update rule here is elementwise, so a stack of `K` models is optimised
/// exactly as `K` separate models would be.
pub fn build(config: &OptimizerConfig) -> ModuleOptimizer {
    match *config {
        OptimizerConfig::Sgd {
            momentum,
            nesterov,
            weight_decay,
        } => {
            // burn's momentum dampening defaults to 0.1; PyTorch (and the published recipes) use 0.
            let momentum = (momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
                    .with_nesterov(nesterov)
            });
            let decay = (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay));
            SgdConfig::new()
                .with_momentum(momentum)
                .with_weight_decay(decay)
                .init()
        }
        OptimizerConfig::Adam {
            beta1,
            beta2,
            epsilon,
            weight_decay,
        } => {
            let decay = (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay));
            AdamConfig::new()
                .with_beta_1(beta1)
                .with_beta_2(beta2)
                .with_epsilon(epsilon)
                .with_weight_decay(decay)
                .init()
        }
    }
}
