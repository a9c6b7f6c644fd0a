//! The ONNX operations the interpreter runs, with their attributes read and checked when the
//! file is read: an operation or attribute it cannot run is an error then, before any work.

use super::tensor::{Constant, Why, read_tensor};
use onnx_ir::NodeProto;
use std::collections::HashMap;

/// Kernel, stride, padding and dilation of a 2-D window (convolution or pooling).
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Kernel `[kh, kw]` (pooling only; a convolution's comes from its weight).
    pub kernel: [usize; 2],
    /// Strides `[sh, sw]`.
    pub strides: [usize; 2],
    /// Padding `[(top, bottom), (left, right)]`.
    pub pads: [(usize, usize); 2],
    /// Dilations `[dh, dw]`.
    pub dilations: [usize; 2],
    /// Output sides rounded up (pooling).
    pub ceil_mode: bool,
}

/// One supported operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `alpha·A'·B' + beta·C`.
    Gemm {
        /// Scale of the product.
        alpha: f32,
        /// Scale of C.
        beta: f32,
        /// Whether A is transposed.
        trans_a: bool,
        /// Whether B is transposed (torch's Linear: true).
        trans_b: bool,
    },
    /// Matrix product with numpy broadcasting.
    MatMul,
    /// 2-D convolution.
    Conv {
        /// Its window (the kernel from the weight).
        window: Window,
        /// Channel groups.
        group: usize,
    },
    /// Batch normalisation, run by burn's batch norm.
    BatchNorm {
        /// ε.
        epsilon: f64,
        /// ONNX's momentum (the running statistics' weight, 1 − torch's).
        momentum: f64,
    },
    /// max(x, 0).
    Relu,
    /// GELU, exact (erf) or with the tanh approximation.
    Gelu {
        /// The tanh approximation.
        tanh: bool,
    },
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// 2-D max pooling.
    MaxPool(Window),
    /// 2-D average pooling.
    AveragePool {
        /// Its window.
        window: Window,
        /// Whether padded zeros count in the mean.
        count_include_pad: bool,
    },
    /// Mean over the spatial axes, kept as 1×1.
    GlobalAveragePool,
    /// Mean over axes (from the attribute or the second input).
    ReduceMean {
        /// Axes from the attribute (opsets before 18).
        axes: Option<Vec<i64>>,
        /// Whether the reduced axes stay as size 1.
        keepdims: bool,
        /// With no axes: identity instead of reducing everything.
        noop_with_empty_axes: bool,
    },
    /// `[d0…d(axis−1)] × [d(axis)…]` as a matrix.
    Flatten {
        /// The split axis.
        axis: i64,
    },
    /// Reshape to the second input's shape (0 copies, −1 infers).
    Reshape {
        /// Whether 0 means an empty axis rather than "copy".
        allow_zero: bool,
    },
    /// Axis permutation.
    Transpose {
        /// The permutation (reversed when absent).
        perm: Option<Vec<usize>>,
    },
    /// Concatenation along an axis.
    Concat {
        /// The axis.
        axis: i64,
    },
    /// Constant padding (pads from the attribute or the second input).
    Pad {
        /// Pads from the attribute (opsets before 11).
        pads: Option<Vec<i64>>,
        /// Fill value from the attribute (opsets before 11).
        value: f32,
    },
    /// Dropout (identity in evaluation).
    Dropout {
        /// Probability of zeroing.
        ratio: f64,
    },
    /// Elementwise sum.
    Add,
    /// Elementwise difference.
    Sub,
    /// Elementwise product.
    Mul,
    /// Elementwise quotient.
    Div,
    /// The input unchanged.
    Identity,
    /// A constant value.
    Constant(Constant),
    /// The input's shape as integers (`start..end`).
    Shape {
        /// First axis.
        start: i64,
        /// One past the last axis.
        end: Option<i64>,
    },
    /// Picks entries of an integer vector.
    Gather {
        /// The axis (0 for integer vectors).
        axis: i64,
    },
    /// Inserts axes of size 1.
    Unsqueeze {
        /// Axes from the attribute (opsets before 13).
        axes: Option<Vec<i64>>,
    },
    /// Removes axes of size 1.
    Squeeze {
        /// Axes from the attribute (opsets before 13).
        axes: Option<Vec<i64>>,
    },
    /// A conversion that keeps values (float to float, integer to integer).
    Cast,
}

/// The names the interpreter runs, for messages.
pub const SUPPORTED: &str = "Gemm, MatMul, Conv, BatchNormalization, Relu, Gelu, Sigmoid, Tanh, MaxPool, AveragePool, GlobalAveragePool, ReduceMean, Flatten, Reshape, Transpose, Concat, Pad, Dropout, Add, Sub, Mul, Div, Identity, Constant, Shape, Gather, Unsqueeze, Squeeze, Cast";

/// A node's attributes by name, each read once; those left unread are errors.
struct Attributes<'a> {
    node: &'a NodeProto,
    read: Vec<&'a str>,
}

impl<'a> Attributes<'a> {
    fn find(&mut self, name: &'a str) -> Option<&'a onnx_ir::AttributeProto> {
        self.read.push(name);
        self.node.attribute.iter().find(|a| a.name == name)
    }
    fn int(&mut self, name: &'a str, default: i64) -> i64 {
        self.find(name).map_or(default, |a| a.i)
    }
    fn float(&mut self, name: &'a str, default: f32) -> f32 {
        self.find(name).map_or(default, |a| a.f)
    }
    fn ints(&mut self, name: &'a str) -> Option<Vec<i64>> {
        self.find(name).map(|a| a.ints.clone())
    }
    fn string(&mut self, name: &'a str) -> Option<String> {
        self.find(name)
            .map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }
    /// Fails on the first attribute the op does not read (one it would silently ignore).
    fn finish(self) -> Result<(), Why> {
        match self
            .node
            .attribute
            .iter()
            .find(|a| !self.read.contains(&a.name.as_str()))
        {
            Some(a) => Err(format!("attribute '{}' is not supported", a.name)),
            None => Ok(()),
        }
    }
}

fn pair(values: Option<Vec<i64>>, default: usize, what: &str) -> Result<[usize; 2], Why> {
    match values.as_deref() {
        None => Ok([default; 2]),
        Some([a, b]) if *a >= 1 && *b >= 1 => Ok([*a as usize, *b as usize]),
        Some(other) => Err(format!(
            "{what} {other:?}: only 2-D windows with positive values are supported"
        )),
    }
}

fn window(attrs: &mut Attributes, pooling: bool) -> Result<Window, Why> {
    if let Some(pad) = attrs.string("auto_pad")
        && pad != "NOTSET"
    {
        return Err(format!(
            "auto_pad {pad} is not supported; export with explicit padding"
        ));
    }
    let kernel = match (pooling, attrs.ints("kernel_shape")) {
        (true, None) => return Err("a pooling without kernel_shape".into()),
        (_, shape) => pair(shape, 1, "kernel_shape")?,
    };
    let strides = pair(attrs.ints("strides"), 1, "strides")?;
    let dilations = pair(attrs.ints("dilations"), 1, "dilations")?;
    let pads = match attrs.ints("pads").as_deref() {
        None => [(0, 0); 2],
        Some([t, l, b, r]) if [t, l, b, r].iter().all(|&&p| p >= 0) => {
            [(*t as usize, *b as usize), (*l as usize, *r as usize)]
        }
        Some(other) => return Err(format!("pads {other:?}: expected four non-negative values")),
    };
    let ceil_mode = pooling && attrs.int("ceil_mode", 0) != 0;
    Ok(Window {
        kernel,
        strides,
        pads,
        dilations,
        ceil_mode,
    })
}

/// Reads `node`'s operation and attributes; `constants` resolves a Dropout's ratio.
pub fn parse_op(node: &NodeProto, constants: &HashMap<String, Constant>) -> Result<Op, Why> {
    let mut attrs = Attributes {
        node,
        read: Vec::new(),
    };
    if !node.domain.is_empty() && node.domain != "ai.onnx" {
        return Err(format!("domain '{}' is not supported", node.domain));
    }
    let op = match node.op_type.as_str() {
        "Gemm" => Op::Gemm {
            alpha: attrs.float("alpha", 1.0),
            beta: attrs.float("beta", 1.0),
            trans_a: attrs.int("transA", 0) != 0,
            trans_b: attrs.int("transB", 0) != 0,
        },
        "MatMul" => Op::MatMul,
        "Conv" => {
            let window = window(&mut attrs, false)?;
            Op::Conv {
                window,
                group: attrs.int("group", 1).max(1) as usize,
            }
        }
        "BatchNormalization" => {
            // training_mode only says how torch exported it; train and evaluation follow the
            // model's mode here, as burn's batch norm does.
            attrs.int("training_mode", 0);
            if attrs.int("spatial", 1) != 1 {
                return Err("spatial=0 is not supported".into());
            }
            Op::BatchNorm {
                epsilon: attrs.float("epsilon", 1e-5) as f64,
                momentum: attrs.float("momentum", 0.9) as f64,
            }
        }
        "Relu" => Op::Relu,
        "Gelu" => match attrs.string("approximate").as_deref() {
            None | Some("none") => Op::Gelu { tanh: false },
            Some("tanh") => Op::Gelu { tanh: true },
            Some(other) => return Err(format!("approximate={other} is not supported")),
        },
        "Sigmoid" => Op::Sigmoid,
        "Tanh" => Op::Tanh,
        "MaxPool" => {
            if node.output.len() > 1 && !node.output[1].is_empty() {
                return Err("its indices output is not supported".into());
            }
            if attrs.int("storage_order", 0) != 0 {
                return Err("storage_order=1 is not supported".into());
            }
            Op::MaxPool(window(&mut attrs, true)?)
        }
        "AveragePool" => Op::AveragePool {
            window: window(&mut attrs, true)?,
            count_include_pad: attrs.int("count_include_pad", 0) != 0,
        },
        "GlobalAveragePool" => Op::GlobalAveragePool,
        "ReduceMean" => Op::ReduceMean {
            axes: attrs.ints("axes"),
            keepdims: attrs.int("keepdims", 1) != 0,
            noop_with_empty_axes: attrs.int("noop_with_empty_axes", 0) != 0,
        },
        "Flatten" => Op::Flatten {
            axis: attrs.int("axis", 1),
        },
        "Reshape" => Op::Reshape {
            allow_zero: attrs.int("allowzero", 0) != 0,
        },
        "Transpose" => Op::Transpose {
            perm: attrs
                .ints("perm")
                .map(|p| p.into_iter().map(|a| a as usize).collect()),
        },
        "Concat" => Op::Concat {
            axis: attrs.int("axis", 0),
        },
        "Pad" => {
            match attrs.string("mode").as_deref() {
                None | Some("constant") => {}
                Some(mode) => {
                    return Err(format!("mode '{mode}' is not supported (constant only)"));
                }
            }
            if node.input.len() > 3 && !node.input[3].is_empty() {
                return Err("its axes input is not supported".into());
            }
            Op::Pad {
                pads: attrs.ints("pads"),
                value: attrs.float("value", 0.0),
            }
        }
        "Dropout" => {
            // torch names the mask output even when nothing reads it; a node that does read it
            // fails the graph's check (its input is never produced).
            attrs.int("seed", 0);
            let ratio = match node.input.get(1).filter(|n| !n.is_empty()) {
                Some(name) => match constants.get(name) {
                    Some(Constant::Float { values, .. }) if values.len() == 1 => values[0] as f64,
                    _ => return Err("its ratio is not a constant".into()),
                },
                None => attrs.float("ratio", 0.5) as f64,
            };
            Op::Dropout { ratio }
        }
        "Add" => Op::Add,
        "Sub" => Op::Sub,
        "Mul" => Op::Mul,
        "Div" => Op::Div,
        "Identity" => Op::Identity,
        "Constant" => {
            let constant = if let Some(t) = attrs.find("value") {
                read_tensor(t.t.as_ref().ok_or("an empty value")?)?
            } else if let Some(f) = attrs.find("value_float") {
                Constant::Float {
                    dims: vec![],
                    values: vec![f.f],
                }
            } else if let Some(f) = attrs.find("value_floats") {
                Constant::Float {
                    dims: vec![f.floats.len()],
                    values: f.floats.clone(),
                }
            } else if let Some(i) = attrs.find("value_int") {
                Constant::Int {
                    dims: vec![],
                    values: vec![i.i],
                }
            } else if let Some(i) = attrs.find("value_ints") {
                Constant::Int {
                    dims: vec![i.ints.len()],
                    values: i.ints.clone(),
                }
            } else {
                return Err("a constant of a kind other than a tensor, floats or ints".into());
            };
            Op::Constant(constant)
        }
        "Shape" => Op::Shape {
            start: attrs.int("start", 0),
            end: attrs.find("end").map(|a| a.i),
        },
        "Gather" => Op::Gather {
            axis: attrs.int("axis", 0),
        },
        "Unsqueeze" => Op::Unsqueeze {
            axes: attrs.ints("axes"),
        },
        "Squeeze" => Op::Squeeze {
            axes: attrs.ints("axes"),
        },
        "Cast" => {
            attrs.int("to", 1);
            attrs.int("saturate", 1);
            Op::Cast
        }
        other => {
            return Err(format!(
                "operation {other} is not supported (supported: {SUPPORTED})"
            ));
        }
    };
    attrs.finish()?;
    Ok(op)
}
