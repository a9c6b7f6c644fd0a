//! unlearn's CPU kernels as a burn backend extension: each operation on flex, and its backward
//! pass registered with burn's autodiff so a training step differentiates through it.

use super::conv;
use super::geometry::ConvShape;
use super::norm::{self, NormStats};
use super::pool;
use super::{f32_slice, flex_tensor};
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, ExtensionType, Flex, TensorMetadata, backend_extension,
};

/// Stride, padding and groups of a convolution, as plain numbers so they cross the dispatch
/// boundary.
pub type Geometry = ([usize; 2], [usize; 2], usize);

/// Batch normalisation's output with the batch statistics it used (`[channels]` each).
#[derive(ExtensionType)]
pub struct NormOutput<B: Backend> {
    /// The normalised input.
    pub output: FloatTensor<B>,
    /// Per channel batch mean.
    pub mean: FloatTensor<B>,
    /// Per channel biased batch variance.
    pub variance: FloatTensor<B>,
}

/// The operations unlearn computes with its own CPU kernels.
#[backend_extension(Flex, Autodiff)]
pub trait CpuKernelsBackend: Backend {
    /// Grouped 2-D convolution without bias, dilation 1.
    fn unfold_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        geometry: Geometry,
    ) -> FloatTensor<Self>;

    /// Batch normalisation with the batch's statistics, `x`: `[batch, channels, h, w]`.
    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> NormOutput<Self>;

    /// Max-pool over non-overlapping `kernel` windows, then a ReLU when `relu`.
    fn max_pool_relu(x: FloatTensor<Self>, kernel: [usize; 2], relu: bool) -> FloatTensor<Self>;
}

/// The kernel's view of a convolution of `x` (`[batch, channels, h, w]`) by `weight`.
fn conv_shape(x: &[usize], weight: &[usize], (stride, padding, groups): Geometry) -> ConvShape {
    ConvShape {
        batch: x[0],
        groups,
        c_in: weight[1],
        c_out: weight[0] / groups,
        input: [x[2], x[3]],
        kernel: [weight[2], weight[3]],
        stride,
        padding,
    }
}

fn dims(t: &FlexTensor) -> Vec<usize> {
    t.shape().to_vec()
}

/// `[batch, channels, h·w]` of a 4-D (or longer) tensor's dims.
fn planes(dims: &[usize]) -> [usize; 3] {
    [dims[0], dims[1], dims[2..].iter().product()]
}

impl CpuKernelsBackend for Flex {
    fn unfold_conv2d(x: FlexTensor, weight: FlexTensor, geometry: Geometry) -> FlexTensor {
        let shape = conv_shape(&dims(&x), &dims(&weight), geometry);
        let [oh, ow] = shape.output().expect("checked by conv2d");
        let out = conv::forward(&f32_slice(&x), &f32_slice(&weight), &shape);
        flex_tensor(out, [shape.batch, shape.groups * shape.c_out, oh, ow])
    }

    fn batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> NormOutput<Self> {
        let x_dims = dims(&x);
        let (out, stats) = norm::forward(
            &f32_slice(&x),
            &f32_slice(&gamma),
            &f32_slice(&beta),
            planes(&x_dims),
            epsilon,
        );
        let channels = stats.mean.len();
        NormOutput {
            output: flex_tensor(out, x_dims),
            mean: flex_tensor(stats.mean, [channels]),
            variance: flex_tensor(stats.variance, [channels]),
        }
    }

    fn max_pool_relu(x: FlexTensor, kernel: [usize; 2], relu: bool) -> FlexTensor {
        let x_dims = dims(&x);
        let [n, c, h, w] = [x_dims[0], x_dims[1], x_dims[2], x_dims[3]];
        let out = pool::forward(&f32_slice(&x), [n * c, h, w], kernel, relu);
        let [oh, ow] = pool::output([h, w], kernel);
        flex_tensor(out, [n, c, oh, ow])
    }
}

#[derive(Debug)]
struct UnfoldConvBackward;

impl Backward<Flex, 2> for UnfoldConvBackward {
    type State = (NodeId, NodeId, Geometry);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad: FlexTensor = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, geometry) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let (x_dims, w_dims) = (dims(&x), dims(&weight));
        let shape = conv_shape(&x_dims, &w_dims, geometry);
        let (dx, dw) = conv::backward(
            &f32_slice(&x),
            &f32_slice(&weight),
            &f32_slice(&grad),
            &shape,
            node_x.is_some(),
        );
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<Flex>(node.id, flex_tensor(dx, x_dims));
        }
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, flex_tensor(dw, w_dims));
        }
    }
}

impl<C: CheckpointStrategy> CpuKernelsBackend for Autodiff<Flex, C> {
    fn unfold_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        geometry: Geometry,
    ) -> FloatTensor<Self> {
        match UnfoldConvBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let out =
                    Flex::unfold_conv2d(x.into_primitive(), weight.into_primitive(), geometry);
                prep.finish((x_state, weight_state, geometry), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::unfold_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                geometry,
            )),
        }
    }

    fn batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> NormOutput<Self> {
        let statistics = |out: &NormOutput<Flex>| NormStats {
            mean: f32_slice(&out.mean).into_owned(),
            variance: f32_slice(&out.variance).into_owned(),
        };
        let detached = |out: NormOutput<Flex>, output| NormOutput {
            output,
            mean: <Self as AutodiffBackend>::from_inner(out.mean),
            variance: <Self as AutodiffBackend>::from_inner(out.variance),
        };
        match BatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let out = Flex::batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (x_state, gamma_state, statistics(&out), epsilon);
                let output = prep.finish(state, out.output.clone());
                detached(out, output)
            }
            OpsKind::UnTracked(prep) => {
                let out = Flex::batch_norm_train(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let output = prep.finish(out.output.clone());
                detached(out, output)
            }
        }
    }

    fn max_pool_relu(x: FloatTensor<Self>, kernel: [usize; 2], relu: bool) -> FloatTensor<Self> {
        match PoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let out = Flex::max_pool_relu(x.into_primitive(), kernel, relu);
                prep.finish((x_state, kernel, relu), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(Flex::max_pool_relu(x.into_primitive(), kernel, relu))
            }
        }
    }
}

#[derive(Debug)]
struct BatchNormBackward;

impl Backward<Flex, 3> for BatchNormBackward {
    type State = (NodeId, NodeId, NormStats, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad: FlexTensor = grads.consume::<Flex>(&ops.node);
        let (x_state, gamma_state, stats, epsilon) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let gamma = checkpointer.retrieve_node_output::<FlexTensor>(gamma_state);
        let x_dims = dims(&x);
        let (dx, dgamma, dbeta) = norm::backward(
            &f32_slice(&x),
            &f32_slice(&gamma),
            &stats,
            &f32_slice(&grad),
            planes(&x_dims),
            epsilon,
        );
        let channels = dgamma.len();
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, flex_tensor(dx, x_dims));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, flex_tensor(dgamma, [channels]));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, flex_tensor(dbeta, [channels]));
        }
    }
}

#[derive(Debug)]
struct PoolBackward;

impl Backward<Flex, 1> for PoolBackward {
    type State = (NodeId, [usize; 2], bool);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x] = ops.parents;
        let grad: FlexTensor = grads.consume::<Flex>(&ops.node);
        let (x_state, kernel, relu) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        if let Some(node) = node_x {
            let x_dims = dims(&x);
            let [n, c, h, w] = [x_dims[0], x_dims[1], x_dims[2], x_dims[3]];
            let dx = pool::backward(
                &f32_slice(&x),
                &f32_slice(&grad),
                [n * c, h, w],
                kernel,
                relu,
            );
            grads.register::<Flex>(node.id, flex_tensor(dx, x_dims));
        }
    }
}
