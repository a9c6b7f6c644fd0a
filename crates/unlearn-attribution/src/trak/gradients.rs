//! Per-example gradients without vmap: a stack of `B` copies of one model, one example per copy.
//!
//! Every model of this codebase is a stack whose copies share no parameters (model axis first),
//! so for the summed output `Σ_b f_b(θ_b; x_b)` the gradient with respect to copy `b`'s
//! parameters is exactly example `b`'s gradient: one backward pass gives `B` per-example
//! gradients. Each copy's chunk of every parameter is flattened and the chunks are concatenated
//! in the module's visiting order, giving one row of `G` (`B × p`) per example.
//!
//! The copies run in inference mode (batch norm with running statistics), gradients enabled:
//! the gradient of the deployed function, as TRAK needs, and independent of the other examples.

use burn::module::{ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use unlearn_models::{Architecture, InputSpec, StackModel, stacking};

use super::output::{ModelOutput, Target};
use crate::error::{AttributionError, Result};

/// Tiles every parameter (and buffer) `copies` times along the model axis, as new leaves.
struct Repeat {
    copies: usize,
}

impl ModuleMapper for Repeat {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let copies = self.copies;
        param
            .map(|t| t.repeat_dim(0, copies).detach())
            .set_require_grad(true)
    }
}

/// Ids and stacked shapes of the parameters that take gradients, in visiting order.
struct Trainable(Vec<(ParamId, Vec<usize>)>);

impl ModuleVisitor for Trainable {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if param.is_require_grad() {
            self.0.push((param.id, param.val().dims().to_vec()));
        }
    }
}

fn grad_rows(
    grads: &GradientsParams,
    id: ParamId,
    rank: usize,
    copies: usize,
) -> Option<Tensor<2>> {
    let b = copies as i32;
    match rank {
        1 => grads.get::<1>(id).map(|t| t.reshape([b, -1])),
        2 => grads.get::<2>(id).map(|t| t.reshape([b, -1])),
        3 => grads.get::<3>(id).map(|t| t.reshape([b, -1])),
        4 => grads.get::<4>(id).map(|t| t.reshape([b, -1])),
        5 => grads.get::<5>(id).map(|t| t.reshape([b, -1])),
        _ => None,
    }
}

/// A batch of per-example gradients.
#[derive(Debug, Clone)]
pub struct GradientBatch {
    /// Row-major `rows × p`: row `r` is the gradient of target `r`'s output.
    pub grads: Vec<f32>,
    /// Row-major `rows × C`: the logits of target `r`'s point.
    pub logits: Vec<f32>,
    /// Number of rows.
    pub rows: usize,
}

/// Computes per-example gradients of one model (see the module docs).
pub struct PerExampleGradients<M> {
    stack: M,
    copies: usize,
    params: Vec<(ParamId, Vec<usize>)>,
    p: usize,
    dim: usize,
    classes: usize,
    device: Device,
}

impl<M: StackModel> PerExampleGradients<M> {
    /// Builds `copies` copies of `model` (a stack of one, on any device) on the autodiff version
    /// of `device`. `arch`, `input` and `seed` describe `model` (a template is built from them
    /// and its values replaced); `copies` must not exceed the architecture's `max_stack`.
    pub fn new<A: Architecture<Model = M>>(
        model: &M,
        arch: &A,
        input: &InputSpec,
        seed: u64,
        copies: usize,
        device: &Device,
    ) -> Result<Self> {
        if copies == 0 {
            return Err(AttributionError::InvalidParam {
                name: "copies",
                reason: "must be ≥ 1".into(),
            });
        }
        let ad = device.clone().autodiff();
        if arch.max_stack().is_some_and(|m| copies > m) {
            return Err(AttributionError::InvalidParam {
                name: "copies",
                reason: format!(
                    "the architecture builds stacks of at most {}",
                    copies.min(arch.max_stack().unwrap_or(1))
                ),
            });
        }
        let template =
            arch.init(input, &[seed], &ad)
                .map_err(|e| AttributionError::InvalidParam {
                    name: "model",
                    reason: e.to_string(),
                })?;
        let single = stacking::concat(template, std::slice::from_ref(model));
        // freeze() turns batch norm to inference mode; then gradients are switched back on.
        let stack = single
            .map(&mut Repeat { copies })
            .freeze()
            .set_require_grad(true);
        let mut visitor = Trainable(Vec::new());
        stack.visit(&mut visitor);
        let params = visitor.0;
        let p = params
            .iter()
            .map(|(_, s)| s.iter().product::<usize>() / copies)
            .sum();
        Ok(Self {
            stack,
            copies,
            params,
            p,
            dim: input.dim,
            classes: input.classes,
            device: ad,
        })
    }

    /// Number of parameters `p` of one model (the width of a gradient row).
    pub fn params(&self) -> usize {
        self.p
    }

    /// Examples per backward pass.
    pub fn copies(&self) -> usize {
        self.copies
    }

    /// Gradients of `output` for `targets` (at most [`copies`](Self::copies)), the points' features
    /// taken from `features` (row-major, `dim` per row).
    pub fn batch(
        &self,
        features: &[f32],
        targets: &[Target],
        output: &dyn ModelOutput,
    ) -> Result<GradientBatch> {
        let rows = targets.len();
        if rows == 0 || rows > self.copies {
            return Err(AttributionError::InvalidParam {
                name: "targets",
                reason: format!("{rows} rows for {} copies", self.copies),
            });
        }
        let d = self.dim;
        if !features.len().is_multiple_of(d) {
            return Err(AttributionError::BufferLength {
                what: "features",
                len: features.len(),
                rows: features.len() / d,
                cols: d,
            });
        }
        let points = features.len() / d;
        if let Some(t) = targets.iter().find(|t| {
            t.point >= points
                || t.label as usize >= self.classes
                || t.class as usize >= self.classes
        }) {
            return Err(AttributionError::InvalidParam {
                name: "targets",
                reason: format!(
                    "{t:?} out of range ({points} points, {} classes)",
                    self.classes
                ),
            });
        }
        // Pad to the stack size with the first target; the padded rows are dropped.
        let padded: Vec<Target> = (0..self.copies)
            .map(|b| targets[if b < rows { b } else { 0 }])
            .collect();
        let mut x = Vec::with_capacity(self.copies * d);
        for t in &padded {
            x.extend_from_slice(&features[t.point * d..(t.point + 1) * d]);
        }
        let x = Tensor::<3>::from_data(TensorData::new(x, [self.copies, 1, d]), &self.device);
        let logits = self.stack.forward(x).reshape([self.copies, self.classes]);
        let out = output.outputs(logits.clone(), &padded);
        let grads = GradientsParams::from_grads(out.sum().backward(), &self.stack);
        let parts: Vec<Tensor<2>> = self
            .params
            .iter()
            .map(|(id, shape)| {
                grad_rows(&grads, *id, shape.len(), self.copies).unwrap_or_else(|| {
                    // A parameter the output does not depend on: zero gradient.
                    let width = shape.iter().product::<usize>() / self.copies;
                    Tensor::zeros([self.copies, width], &self.device)
                })
            })
            .collect();
        let g = Tensor::cat(parts, 1).narrow(0, 0, rows);
        let grads = g
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| AttributionError::Numerical(format!("{e:?}")))?;
        let logits = logits
            .narrow(0, 0, rows)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| AttributionError::Numerical(format!("{e:?}")))?;
        Ok(GradientBatch {
            grads,
            logits,
            rows,
        })
    }
}
