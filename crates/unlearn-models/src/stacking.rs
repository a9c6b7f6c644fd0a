//! Cutting single models out of a stack and stacking single models together.
//!
//! Every parameter of a stacked model is model-major along its first axis (each model owns one
//! contiguous chunk of `dims[0] / K` rows), so both operations are generic parameter maps.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

struct Narrow {
    index: usize,
    models: usize,
}

impl ModuleMapper for Narrow {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let require_grad = param.is_require_grad();
        let (index, models) = (self.index, self.models);
        param
            .map(|t| {
                let chunk = t.dims()[0] / models;
                // Detached: a new leaf, so it can track gradients of its own.
                t.narrow(0, index * chunk, chunk).detach()
            })
            .set_require_grad(require_grad)
    }
}

/// Model `index` of a stack of `models`, as a stack of one.
pub fn extract<M: Module>(stack: &M, index: usize, models: usize) -> M {
    assert!(index < models, "model {index} out of a stack of {models}");
    // `valid()` rather than `clone()`: a clone shares batch-norm running statistics (behind an
    // `Arc`), which `map` would narrow in place, corrupting the source stack.
    stack.valid().map(&mut Narrow { index, models })
}

struct Collect {
    tensors: Vec<Vec<f32>>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.tensors.push(
            param
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .expect("float parameter"),
        );
    }
}

struct Concat {
    parts: Vec<Vec<Tensor<1>>>,
    position: usize,
}

impl ModuleMapper for Concat {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let require_grad = param.is_require_grad();
        let pieces: Vec<Tensor<1>> = self
            .parts
            .iter()
            .map(|p| p[self.position].clone())
            .collect();
        self.position += 1;
        param
            .map(|t| {
                let mut dims = t.dims();
                let models = pieces.len();
                dims[0] = dims[0] / models * models;
                Tensor::cat(pieces, 0).reshape(dims).detach()
            })
            .set_require_grad(require_grad)
    }
}

/// Stacks `models` (each a stack of one, same architecture) into one stack, in order.
///
/// `template` must be a stack of `models.len()` models of that architecture (its values are
/// replaced); build it with `Model::init` and any seeds.
pub fn concat<M: Module>(template: M, models: &[M]) -> M {
    let device = template
        .devices()
        .into_iter()
        .next()
        .expect("a module with parameters");
    let parts = models
        .iter()
        .map(|m| {
            let mut collect = Collect {
                tensors: Vec::new(),
            };
            m.visit(&mut collect);
            collect
                .tensors
                .into_iter()
                .map(|v| Tensor::<1>::from_floats(v.as_slice(), &device))
                .collect()
        })
        .collect();
    template.map(&mut Concat { parts, position: 0 })
}
