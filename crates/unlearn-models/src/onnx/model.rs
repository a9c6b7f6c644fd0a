//! The burn module an ONNX graph becomes: its float initializers as parameters (batch norms'
//! as burn batch norms, dropouts as burn dropouts), run node by node.

use super::graph::{NormField, OnnxGraph, Role};
use super::op::Op;
use super::ops::{self, Arith};
use super::tensor::Constant;
use super::value::Value;
use crate::init::StackRng;
use burn::module::{Module, Param, ParamId, RunningState};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig};
use burn::tensor::{Device, Tensor, TensorData};
use std::collections::HashMap;
use std::sync::Arc;

/// One model of an ONNX architecture (a stack of one): `[1, batch, features]` inputs, features
/// in the graph input's order (images channel-major, as PyTorch's NCHW).
#[derive(Module, Debug)]
pub struct OnnxModel {
    /// The trainable initializers in file order ([`OnnxGraph::parameters`]), each flattened
    /// (its ONNX shape is the graph's).
    pub params: Vec<Param<Tensor<1>>>,
    /// One burn batch norm per `BatchNormalization` node, in graph order.
    pub norms: Vec<BatchNorm>,
    /// One burn dropout per `Dropout` node, in graph order.
    pub dropouts: Vec<Dropout>,
    #[module(skip)]
    graph: Arc<OnnxGraph>,
}

/// Where the model keeps an initializer: its burn path (for checkpoints and state dicts).
pub fn burn_path(graph: &OnnxGraph, name: &str) -> Option<String> {
    let mut param = 0;
    for init in &graph.initializers {
        let path = match init.role {
            Role::Norm { norm, field } => format!(
                "norms.{norm}.{}",
                match field {
                    NormField::Scale => "gamma",
                    NormField::Shift => "beta",
                    NormField::Mean => "running_mean",
                    NormField::Var => "running_var",
                }
            ),
            _ => {
                param += 1;
                format!("params.{}", param - 1)
            }
        };
        if init.name == name {
            return Some(path);
        }
    }
    None
}

impl OnnxModel {
    /// A model of `graph` with parameters drawn from `seed` as PyTorch initialises its layers
    /// (weights and biases uniform in ±1/√fan_in, batch norms at γ = 1, β = 0 and unit running
    /// statistics); `file_values` keeps the file's values instead (the model as exported).
    pub fn init(graph: Arc<OnnxGraph>, seed: u64, file_values: bool, device: &Device) -> Self {
        let mut rng = StackRng::new(&[seed]);
        let params = graph
            .parameters()
            .map(|init| {
                let n = init.values.len();
                match init.role {
                    Role::Weight { fan_in } | Role::Bias { fan_in } if !file_values => {
                        rng.uniform([n], 1.0 / (fan_in.max(1) as f32).sqrt(), device)
                    }
                    _ => Param::from_tensor(Tensor::from_data(
                        TensorData::new(init.values.clone(), [n]),
                        device,
                    )),
                }
            })
            .collect();
        let norms = graph
            .norms
            .iter()
            .enumerate()
            .map(|(index, &(epsilon, momentum, channels))| {
                let mut norm = BatchNormConfig::new(channels)
                    .with_epsilon(epsilon)
                    .with_momentum(momentum)
                    .init(device);
                let value = |field: NormField| {
                    graph
                        .initializers
                        .iter()
                        .find(|i| i.role == Role::Norm { norm: index, field })
                        .map(|i| {
                            Tensor::<1>::from_data(
                                TensorData::new(i.values.clone(), [channels]),
                                device,
                            )
                        })
                };
                if file_values {
                    if let Some(t) = value(NormField::Scale) {
                        norm.gamma = Param::from_tensor(t);
                    }
                    if let Some(t) = value(NormField::Shift) {
                        norm.beta = Param::from_tensor(t);
                    }
                    if let Some(t) = value(NormField::Mean) {
                        norm.running_mean = RunningState::new(t);
                    }
                    if let Some(t) = value(NormField::Var) {
                        norm.running_var = RunningState::new(t);
                    }
                }
                // Fixed ids: a checkpoint records them, and drawn ones would differ run to run.
                norm.running_mean =
                    RunningState::with_id(rng.running_id(), norm.running_mean.value());
                norm.running_var =
                    RunningState::with_id(rng.running_id(), norm.running_var.value());
                norm
            })
            .collect();
        let dropouts = graph
            .dropouts
            .iter()
            .map(|&ratio| DropoutConfig::new(ratio).init())
            .collect();
        Self {
            params,
            norms,
            dropouts,
            graph,
        }
    }

    /// The graph it runs.
    pub fn graph(&self) -> &OnnxGraph {
        &self.graph
    }

    /// Ids of the last Gemm or MatMul's weight and the bias added to it (the classifier head).
    pub fn head_param_ids(&self) -> Vec<ParamId> {
        let index_of = |name: &str| self.graph.parameters().position(|p| p.name == name);
        let head = self
            .graph
            .nodes
            .iter()
            .rev()
            .find_map(|node| match node.op {
                Op::Gemm { .. } | Op::MatMul => index_of(&node.inputs[1]).map(|w| {
                    let mut ids = vec![w];
                    ids.extend(node.inputs.get(2).and_then(|b| index_of(b)));
                    ids
                }),
                _ => None,
            });
        head.unwrap_or_default()
            .into_iter()
            .map(|i| self.params[i].id)
            .collect()
    }

    /// Logits `[batch, outputs]` for inputs `[batch, features]`, or the failing node and why.
    pub fn run(&self, x: Tensor<2>) -> Result<Tensor<2>, String> {
        let graph = &*self.graph;
        let device = x.device();
        let [batch, features] = x.dims();
        let expected: usize = graph.input_dims.iter().product();
        if features != expected {
            return Err(format!(
                "the graph takes {:?} = {expected} features per example, the data have {features}",
                graph.input_dims
            ));
        }
        let mut shape = vec![batch];
        shape.extend(&graph.input_dims);
        let mut values: HashMap<&str, Value> = HashMap::new();
        values.insert(&graph.input, Value::R2(x).reshape(&shape)?);
        for (param, init) in self.params.iter().zip(graph.parameters()) {
            values.insert(&init.name, Value::R1(param.val()).reshape(&init.dims)?);
        }
        let (mut norm, mut drop) = (0, 0);
        for node in &graph.nodes {
            let fail = |why: String| format!("node '{}' ({}): {why}", node.name, node.op_type);
            let mut inputs = Vec::with_capacity(node.inputs.len());
            for name in &node.inputs {
                inputs.push(if name.is_empty() {
                    None
                } else if let Some(v) = values.get(name.as_str()) {
                    Some(v.clone())
                } else if let Some(c) = graph.constants.get(name) {
                    Some(constant(c, &device).map_err(fail)?)
                } else if matches!(node.op, Op::BatchNorm { .. }) {
                    None
                } else {
                    return Err(fail(format!(
                        "reads '{name}', which no earlier node produces"
                    )));
                });
            }
            let output = self
                .step(node, inputs, &mut norm, &mut drop, &device)
                .map_err(fail)?;
            values.insert(&node.outputs[0], output);
        }
        let logits = values
            .remove(graph.output.as_str())
            .ok_or_else(|| format!("the output '{}' is never computed", graph.output))?;
        let dims = logits.dims();
        let classes = dims[1..].iter().product();
        match logits.reshape(&[batch, classes])? {
            Value::R2(t) => Ok(t),
            _ => unreachable!("reshaped to rank 2"),
        }
    }

    fn step(
        &self,
        node: &super::graph::Node,
        mut inputs: Vec<Option<Value>>,
        norm: &mut usize,
        drop: &mut usize,
        device: &Device,
    ) -> Result<Value, String> {
        let mut take = |i: usize| -> Result<Value, String> {
            inputs
                .get_mut(i)
                .and_then(Option::take)
                .ok_or_else(|| format!("input {i} is missing"))
        };
        let ints = |v: Value| v.ints().map(<[i64]>::to_vec);
        Ok(match &node.op {
            Op::Gemm {
                alpha,
                beta,
                trans_a,
                trans_b,
            } => {
                let (a, b) = (take(0)?, take(1)?);
                ops::gemm(a, b, take(2).ok(), (*alpha, *beta, *trans_a, *trans_b))?
            }
            Op::MatMul => ops::matmul(take(0)?, take(1)?)?,
            Op::Conv { window, group } => {
                let (x, w) = (take(0)?, take(1)?);
                ops::conv(x, w, take(2).ok(), window, *group)?
            }
            Op::BatchNorm { .. } => {
                *norm += 1;
                ops::batch_norm(&self.norms[*norm - 1], take(0)?)?
            }
            Op::Dropout { .. } => {
                *drop += 1;
                ops::dropout(&self.dropouts[*drop - 1], take(0)?)?
            }
            Op::Relu | Op::Gelu { .. } | Op::Sigmoid | Op::Tanh => {
                ops::activate(take(0)?, &node.op)?
            }
            Op::MaxPool(window) => ops::max_pool(take(0)?, window)?,
            Op::AveragePool {
                window,
                count_include_pad,
            } => ops::average_pool(take(0)?, window, *count_include_pad)?,
            Op::GlobalAveragePool => ops::reduce_mean(take(0)?, &[2, 3], true, false)?,
            Op::ReduceMean {
                axes,
                keepdims,
                noop_with_empty_axes,
            } => {
                let x = take(0)?;
                let axes = match axes {
                    Some(a) => a.clone(),
                    None => take(1).map(ints).unwrap_or(Ok(Vec::new()))?,
                };
                ops::reduce_mean(x, &axes, *keepdims, *noop_with_empty_axes)?
            }
            Op::Flatten { axis } => {
                let x = take(0)?;
                let dims = x.dims();
                let a = if *axis < 0 {
                    *axis + dims.len() as i64
                } else {
                    *axis
                } as usize;
                let outer: usize = dims[..a.min(dims.len())].iter().product();
                let inner: usize = dims[a.min(dims.len())..].iter().product();
                x.reshape(&[outer, inner])?
            }
            Op::Reshape { allow_zero } => {
                let x = take(0)?;
                ops::reshape(x, &ints(take(1)?)?, *allow_zero)?
            }
            Op::Transpose { perm } => ops::transpose(take(0)?, perm.as_deref())?,
            Op::Concat { axis } => {
                let parts = inputs.into_iter().flatten().collect();
                ops::concat(parts, *axis)?
            }
            Op::Pad { pads, value } => {
                let x = take(0)?;
                let pads = match pads {
                    Some(p) => p.clone(),
                    None => ints(take(1)?)?,
                };
                let fill = match take(2) {
                    Ok(Value::R1(t)) => t
                        .into_data()
                        .try_to_vec::<f32>()
                        .map_err(|e| format!("{e:?}"))?[0],
                    _ => *value,
                };
                ops::pad(x, &pads, fill, device)?
            }
            Op::Add => ops::arith(Arith::Add, take(0)?, take(1)?)?,
            Op::Sub => ops::arith(Arith::Sub, take(0)?, take(1)?)?,
            Op::Mul => ops::arith(Arith::Mul, take(0)?, take(1)?)?,
            Op::Div => ops::arith(Arith::Div, take(0)?, take(1)?)?,
            Op::Identity | Op::Cast => take(0)?,
            Op::Constant(c) => constant(c, device)?,
            Op::Shape { start, end } => {
                let dims = take(0)?.dims();
                let rank = dims.len() as i64;
                let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
                let (s, e) = (clamp(*start), clamp(end.unwrap_or(rank)));
                let values: Vec<i64> = dims[s..e.max(s)].iter().map(|&d| d as i64).collect();
                Value::Ints {
                    dims: vec![values.len()],
                    values,
                }
            }
            Op::Gather { .. } => {
                let x = take(0)?;
                ops::gather(x, take(1)?)?
            }
            Op::Unsqueeze { axes } => {
                let x = take(0)?;
                let axes = match axes {
                    Some(a) => a.clone(),
                    None => ints(take(1)?)?,
                };
                ops::unsqueeze(x, &axes)?
            }
            Op::Squeeze { axes } => {
                let x = take(0)?;
                let axes = match axes {
                    Some(a) => a.clone(),
                    None => take(1).map(ints).unwrap_or(Ok(Vec::new()))?,
                };
                ops::squeeze(x, &axes)?
            }
        })
    }
}

impl crate::SingleModel for OnnxModel {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        // The graph ran once on zeros when its architecture was validated, so a failure here is
        // a shape the data bring that the export did not (named with its node).
        self.run(x)
            .unwrap_or_else(|why| panic!("ONNX model: {why}"))
    }

    fn head_param_ids(&self) -> Vec<ParamId> {
        OnnxModel::head_param_ids(self)
    }

    fn draws_randomness(&self) -> bool {
        self.graph.draws_randomness()
    }
}

/// A constant as a value on `device`.
fn constant(c: &Constant, device: &Device) -> Result<Value, String> {
    match c {
        Constant::Float { dims, values } => Value::floats(values, dims, device),
        Constant::Int { dims, values } => Ok(Value::Ints {
            dims: if dims.is_empty() {
                vec![]
            } else {
                vec![values.len()]
            },
            values: values.clone(),
        }),
    }
}
