//! A pull toward the original weights (docs/algorithms.md §4): θ ← θ0 + (θ − θ0)·(1 − c),
//! decoupled from the optimiser as AdamW decouples weight decay, so that it does not pass
//! through Adam's per-parameter normalisation.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// The original weights of a stack, flattened, in visiting order.
pub struct Anchor {
    weights: Vec<Tensor<1>>,
}

struct Collect<'a>(&'a mut Vec<Tensor<1>>);

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().detach().reshape([-1]));
    }
}

struct Pull<'a> {
    anchor: &'a [Tensor<1>],
    keep: f32,
    position: usize,
}

impl ModuleMapper for Pull<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let anchor = self.anchor[self.position].clone();
        self.position += 1;
        let keep = self.keep;
        let require_grad = param.is_require_grad();
        param
            .map(|t| {
                let anchor = anchor.reshape(t.dims());
                ((t - anchor.clone()).mul_scalar(keep) + anchor).detach()
            })
            .set_require_grad(require_grad)
    }
}

impl Anchor {
    /// Records `model`'s current weights.
    pub fn of<M: Module>(model: &M) -> Self {
        let mut weights = Vec::new();
        model.visit(&mut Collect(&mut weights));
        Self { weights }
    }

    /// Moves every weight of `model` (same architecture and stack) the share `share` of the way
    /// back to the anchor.
    pub fn pull<M: Module>(&self, model: M, share: f64) -> M {
        model.map(&mut Pull {
            anchor: &self.weights,
            keep: (1.0 - share.clamp(0.0, 1.0)) as f32,
            position: 0,
        })
    }
}
