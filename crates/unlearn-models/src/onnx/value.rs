//! A value flowing through the graph: a float tensor of rank 1 to 5 (burn's tensors carry their
//! rank in the type, ONNX values at run time) or a small integer vector (shapes, axes, pads).

use burn::tensor::{Device, Tensor, TensorData};

/// A value of the graph.
#[derive(Debug, Clone)]
pub enum Value {
    /// Rank 1.
    R1(Tensor<1>),
    /// Rank 2.
    R2(Tensor<2>),
    /// Rank 3.
    R3(Tensor<3>),
    /// Rank 4.
    R4(Tensor<4>),
    /// Rank 5.
    R5(Tensor<5>),
    /// Integers of rank 0 (`dims` empty) or 1.
    Ints {
        /// The shape: `[]` or `[len]`.
        dims: Vec<usize>,
        /// The values.
        values: Vec<i64>,
    },
}

/// Applies `$body` to the tensor of any float rank, binding it as `$t` and the rank's literal
/// as the const generic where needed; integer values give `$ints`.
macro_rules! float_map {
    ($value:expr, $t:ident => $body:expr, $ints:expr) => {
        match $value {
            Value::R1($t) => Value::R1($body),
            Value::R2($t) => Value::R2($body),
            Value::R3($t) => Value::R3($body),
            Value::R4($t) => Value::R4($body),
            Value::R5($t) => Value::R5($body),
            Value::Ints { .. } => $ints,
        }
    };
}
pub(crate) use float_map;

/// Rebuilds any rank's tensor in the shape `$dims` (a `&[usize]` of rank 1–5).
macro_rules! reshape_any {
    ($t:expr, $dims:expr) => {{
        let d: &[usize] = $dims;
        match d.len() {
            1 => Value::R1($t.reshape([d[0]])),
            2 => Value::R2($t.reshape([d[0], d[1]])),
            3 => Value::R3($t.reshape([d[0], d[1], d[2]])),
            4 => Value::R4($t.reshape([d[0], d[1], d[2], d[3]])),
            5 => Value::R5($t.reshape([d[0], d[1], d[2], d[3], d[4]])),
            r => return Err(format!("a tensor of rank {r} (ranks 1 to 5 are supported)")),
        }
    }};
}

impl Value {
    /// A float tensor of shape `dims` (rank 0 is kept as `[1]`).
    pub fn floats(values: &[f32], dims: &[usize], device: &Device) -> Result<Self, String> {
        let dims = if dims.is_empty() { &[1][..] } else { dims };
        Value::R1(Tensor::from_data(
            TensorData::new(values.to_vec(), [values.len()]),
            device,
        ))
        .reshape(dims)
    }

    /// Its shape.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Value::R1(t) => t.dims().to_vec(),
            Value::R2(t) => t.dims().to_vec(),
            Value::R3(t) => t.dims().to_vec(),
            Value::R4(t) => t.dims().to_vec(),
            Value::R5(t) => t.dims().to_vec(),
            Value::Ints { dims, .. } => dims.clone(),
        }
    }

    /// Its rank.
    pub fn rank(&self) -> usize {
        self.dims().len()
    }

    /// The same values in shape `dims` (float tensors of rank 1–5, or integers of rank ≤ 1).
    pub fn reshape(self, dims: &[usize]) -> Result<Self, String> {
        let count: usize = dims.iter().product();
        Ok(match self {
            Value::Ints { values, .. } if dims.len() <= 1 && count == values.len() => Value::Ints {
                dims: dims.to_vec(),
                values,
            },
            Value::Ints { dims: from, .. } => {
                return Err(format!("integers of shape {from:?} reshaped to {dims:?}"));
            }
            Value::R1(t) => reshape_any!(t, dims),
            Value::R2(t) => reshape_any!(t, dims),
            Value::R3(t) => reshape_any!(t, dims),
            Value::R4(t) => reshape_any!(t, dims),
            Value::R5(t) => reshape_any!(t, dims),
        })
    }

    /// The integers of an integer value.
    pub fn ints(&self) -> Result<&[i64], String> {
        match self {
            Value::Ints { values, .. } => Ok(values),
            other => Err(format!(
                "a float tensor of shape {:?} where integers (a shape, axes) are expected",
                other.dims()
            )),
        }
    }

    /// The tensor of a rank-2 value.
    pub fn rank2(self) -> Result<Tensor<2>, String> {
        match self {
            Value::R2(t) => Ok(t),
            other => Err(format!("expected a matrix, got shape {:?}", other.dims())),
        }
    }

    /// The tensor of a rank-4 value (images `[batch, channels, h, w]`).
    pub fn rank4(self) -> Result<Tensor<4>, String> {
        match self {
            Value::R4(t) => Ok(t),
            other => Err(format!(
                "expected images [batch, channels, height, width], got shape {:?}",
                other.dims()
            )),
        }
    }

    /// The value with axes of size 1 added in front up to `rank` (numpy broadcasting).
    pub fn lift(self, rank: usize) -> Result<Self, String> {
        let dims = self.dims();
        if dims.len() >= rank || matches!(self, Value::Ints { .. }) {
            return Ok(self);
        }
        let mut lifted = vec![1; rank - dims.len()];
        lifted.extend(dims);
        self.reshape(&lifted)
    }
}

/// Normalises a possibly negative axis against `rank`.
pub fn axis(axis: i64, rank: usize) -> Result<usize, String> {
    let a = if axis < 0 { axis + rank as i64 } else { axis };
    if (0..rank as i64).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} out of range for rank {rank}"))
    }
}
