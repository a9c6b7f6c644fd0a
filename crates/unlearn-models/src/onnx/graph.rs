//! An ONNX file read into what the interpreter runs: the nodes with their attributes checked,
//! the float initializers with the role each plays (a layer's weight or bias, a batch norm's
//! scale, shift or running statistics, or a constant), and the graph's input and output.
//!
//! The file is read with the protobuf types onnx-ir exports (`ModelProto`): onnx-ir's own graph
//! renames initializers, and their torch names are the keys of the user's state dicts.

use super::op::{Op, parse_op};
use super::tensor::{Constant, Why, read_tensor};
use onnx_ir::{Message, ModelProto};
use std::collections::HashMap;
use std::path::Path;

/// What a float initializer is to the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Role {
    /// A layer's weight, re-initialised uniform in ±1/√fan_in as PyTorch does.
    Weight {
        /// Inputs per output of its layer.
        fan_in: usize,
    },
    /// A layer's bias, uniform in ±1/√fan_in of its layer.
    Bias {
        /// Inputs per output of its layer.
        fan_in: usize,
    },
    /// Any other trainable tensor: it starts from the file's values.
    Free,
    /// A batch norm's `(node, field)`: scale, shift, running mean or variance.
    Norm {
        /// Which batch norm, in graph order.
        norm: usize,
        /// Which of its tensors.
        field: NormField,
    },
}

/// The four tensors of a batch normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormField {
    /// γ (`bn.weight` in torch).
    Scale,
    /// β (`bn.bias`).
    Shift,
    /// Running mean.
    Mean,
    /// Running variance.
    Var,
}

/// A float initializer.
#[derive(Debug, Clone)]
pub struct Initializer {
    /// Its name: the torch state-dict key for parameters and buffers.
    pub name: String,
    /// Its shape.
    pub dims: Vec<usize>,
    /// Its values in the file.
    pub values: Vec<f32>,
    /// What it is.
    pub role: Role,
}

/// One node of the graph.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name in the file (or `#index` when unnamed), for messages.
    pub name: String,
    /// Its ONNX operation's name (`Conv`), for messages.
    pub op_type: String,
    /// The operation with its attributes.
    pub op: Op,
    /// Input value names (`""` for an omitted optional input).
    pub inputs: Vec<String>,
    /// Output value names.
    pub outputs: Vec<String>,
}

/// A parsed, checked ONNX classifier.
#[derive(Debug, Clone)]
pub struct OnnxGraph {
    /// The graph's one input.
    pub input: String,
    /// Its shape without the batch axis.
    pub input_dims: Vec<usize>,
    /// The graph's (first) output: the logits.
    pub output: String,
    /// The nodes in execution order.
    pub nodes: Vec<Node>,
    /// Float initializers that are parameters or batch-norm buffers, in file order.
    pub initializers: Vec<Initializer>,
    /// Every other constant (integer initializers, folded float constants, `Constant` nodes'
    /// values are computed when run), by name.
    pub constants: HashMap<String, Constant>,
    /// Batch normalisations: `(epsilon, momentum as PyTorch counts it, channels)`.
    pub norms: Vec<(f64, f64, usize)>,
    /// Dropout ratios, one per `Dropout` node.
    pub dropouts: Vec<f64>,
}

impl OnnxGraph {
    /// Reads and checks the ONNX file at `path`.
    pub fn read(path: &Path) -> Result<Self, Why> {
        let bytes = std::fs::read(path).map_err(|e| format!("cannot be read ({e})"))?;
        Self::parse(&bytes)
    }

    /// Parses and checks an ONNX model.
    pub fn parse(bytes: &[u8]) -> Result<Self, Why> {
        let model = ModelProto::parse_from_bytes(bytes)
            .map_err(|e| format!("is not an ONNX model ({e}); export it with torch.onnx.export"))?;
        let graph = model.graph.as_ref().ok_or("holds no graph")?;
        let mut constants = HashMap::new();
        let mut floats = Vec::new();
        for tensor in &graph.initializer {
            match read_tensor(tensor)? {
                Constant::Float { dims, values } => {
                    floats.push((tensor.name.clone(), dims, values))
                }
                int => {
                    constants.insert(tensor.name.clone(), int);
                }
            }
        }
        let initializer_names: Vec<&str> = floats.iter().map(|(n, _, _)| n.as_str()).collect();
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !initializer_names.contains(&i.name.as_str()))
            .collect();
        let [input] = inputs.as_slice() else {
            return Err(format!(
                "has {} graph inputs; a classifier takes one (the batch of examples)",
                inputs.len()
            ));
        };
        let shape = input.type_.tensor_type().shape.dim.clone();
        if shape.len() < 2 {
            return Err(format!(
                "input '{}' has rank {}; expected [batch, features…]",
                input.name,
                shape.len()
            ));
        }
        let input_dims = shape[1..]
            .iter()
            .map(|d| {
                (d.has_dim_value() && d.dim_value() > 0)
                    .then(|| d.dim_value() as usize)
                    .ok_or_else(|| {
                        format!(
                            "input '{}' has a dynamic dimension other than the batch; export with a fixed example shape",
                            input.name
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = graph
            .output
            .first()
            .ok_or("has no graph output")?
            .name
            .clone();
        let mut nodes = Vec::with_capacity(graph.node.len());
        let (mut norms, mut dropouts) = (Vec::new(), Vec::new());
        for (index, proto) in graph.node.iter().enumerate() {
            let name = if proto.name.is_empty() {
                format!("#{index}")
            } else {
                proto.name.clone()
            };
            let op = parse_op(proto, &constants)
                .map_err(|why| format!("node '{name}' ({}): {why}", proto.op_type))?;
            match &op {
                Op::BatchNorm { epsilon, momentum } => {
                    let channels = floats
                        .iter()
                        .find(|(n, _, _)| Some(n) == proto.input.get(1))
                        .map_or(0, |(_, d, _)| d.iter().product());
                    norms.push((*epsilon, 1.0 - *momentum, channels));
                }
                Op::Dropout { ratio } => dropouts.push(*ratio),
                Op::Constant(value) => {
                    // Later nodes may read it as an attribute would be (a dropout's ratio).
                    if let Some(out) = proto.output.first() {
                        constants.insert(out.clone(), value.clone());
                    }
                }
                _ => {}
            }
            nodes.push(Node {
                name,
                op_type: proto.op_type.clone(),
                op,
                inputs: proto.input.to_vec(),
                outputs: proto.output.to_vec(),
            });
        }
        let initializers = assign_roles(&nodes, floats, &mut constants)?;
        Ok(Self {
            input: input.name.clone(),
            input_dims,
            output,
            nodes,
            initializers,
            constants,
            norms,
            dropouts,
        })
    }

    /// Whether a training pass draws random numbers (a dropout with a non-zero ratio).
    pub fn draws_randomness(&self) -> bool {
        self.dropouts.iter().any(|&r| r > 0.0)
    }

    /// The trainable tensors (every initializer but the batch norms').
    pub fn parameters(&self) -> impl Iterator<Item = &Initializer> {
        self.initializers
            .iter()
            .filter(|i| !matches!(i.role, Role::Norm { .. }))
    }
}

/// Gives every float initializer its role from the first node that reads it: a Gemm's,
/// MatMul's or Conv's weight, the bias added to one, a batch norm's tensors. Folded constants
/// (names torch gives as `onnx::…` or `/…`, not state-dict keys) stay constants.
fn assign_roles(
    nodes: &[Node],
    floats: Vec<(String, Vec<usize>, Vec<f32>)>,
    constants: &mut HashMap<String, Constant>,
) -> Result<Vec<Initializer>, Why> {
    let produced_by: HashMap<&str, &Node> = nodes
        .iter()
        .flat_map(|n| n.outputs.iter().map(move |o| (o.as_str(), n)))
        .collect();
    let mut roles: HashMap<String, Role> = HashMap::new();
    let mut norm = 0;
    let dims_of = |name: &str| -> Option<Vec<usize>> {
        floats
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, d, _)| d.clone())
    };
    for node in nodes {
        let input = |i: usize| node.inputs.get(i).map(String::as_str).unwrap_or("");
        macro_rules! set {
            ($name:expr, $role:expr) => {
                if dims_of($name).is_some() {
                    roles.entry($name.to_string()).or_insert($role);
                }
            };
        }
        match &node.op {
            Op::Gemm { trans_b, .. } => {
                if let Some(d) = dims_of(input(1)) {
                    let fan_in = if *trans_b { d[1] } else { d[0] };
                    set!(input(1), Role::Weight { fan_in });
                    set!(input(2), Role::Bias { fan_in });
                }
            }
            Op::MatMul => {
                if let Some(d) = dims_of(input(1)).filter(|d| d.len() >= 2) {
                    set!(
                        input(1),
                        Role::Weight {
                            fan_in: d[d.len() - 2]
                        }
                    );
                }
            }
            Op::Conv { .. } => {
                if let Some(d) = dims_of(input(1)) {
                    let fan_in = d[1..].iter().product();
                    set!(input(1), Role::Weight { fan_in });
                    set!(input(2), Role::Bias { fan_in });
                }
            }
            Op::BatchNorm { .. } => {
                let fields = [
                    NormField::Scale,
                    NormField::Shift,
                    NormField::Mean,
                    NormField::Var,
                ];
                for (slot, field) in fields.into_iter().enumerate() {
                    let name = input(slot + 1);
                    if dims_of(name).is_none() {
                        return Err(format!(
                            "node '{}' (BatchNormalization): its {field:?} '{name}' is not an initializer; export with do_constant_folding=False and training=TrainingMode.TRAINING",
                            node.name
                        ));
                    }
                    if roles.contains_key(name) {
                        return Err(format!(
                            "node '{}' (BatchNormalization): '{name}' is shared with another node; every batch norm needs its own tensors",
                            node.name
                        ));
                    }
                    set!(name, Role::Norm { norm, field });
                }
                norm += 1;
            }
            Op::Add => {
                // A bias added after a MatMul (torch's Linear on inputs of rank > 2).
                let from_matmul = |i: usize| {
                    produced_by
                        .get(input(i))
                        .is_some_and(|n| matches!(n.op, Op::MatMul))
                };
                for (value, other) in [(0, 1), (1, 0)] {
                    if from_matmul(other)
                        && let Some(weight) = produced_by.get(input(other)).map(|n| &n.inputs[1])
                        && let Some(Role::Weight { fan_in }) = roles.get(weight).copied()
                    {
                        set!(input(value), Role::Bias { fan_in });
                    }
                }
            }
            _ => {}
        }
    }
    let mut initializers = Vec::new();
    for (name, dims, values) in floats {
        let role = match roles.get(&name) {
            Some(role) => *role,
            None if name.starts_with("onnx::") || name.starts_with('/') => {
                constants.insert(name, Constant::Float { dims, values });
                continue;
            }
            None => Role::Free,
        };
        initializers.push(Initializer {
            name,
            dims,
            values,
            role,
        });
    }
    Ok(initializers)
}
