//! Each supported operation on burn tensors, with ONNX's semantics (numpy broadcasting, negative
//! axes, PyTorch's padding and pooling conventions).

use super::op::{Op, Window};
use super::value::{Value, axis, float_map};
use burn::nn::{BatchNorm, Dropout};
use burn::tensor::activation;
use burn::tensor::module::{avg_pool2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Tensor};

/// Result of an operation: an error names what went wrong, the caller adds the node.
pub type Run<T> = Result<T, String>;

/// Elementwise arithmetic.
#[derive(Debug, Clone, Copy)]
pub enum Arith {
    /// `a + b`.
    Add,
    /// `a − b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b`.
    Div,
}

/// Applies `$body` to two float tensors of the same rank bound as `$x` and `$y`.
macro_rules! zip_same_rank {
    ($a:expr, $b:expr, $x:ident, $y:ident => $body:expr) => {
        match ($a, $b) {
            (Value::R1($x), Value::R1($y)) => Value::R1($body),
            (Value::R2($x), Value::R2($y)) => Value::R2($body),
            (Value::R3($x), Value::R3($y)) => Value::R3($body),
            (Value::R4($x), Value::R4($y)) => Value::R4($body),
            (Value::R5($x), Value::R5($y)) => Value::R5($body),
            (a, b) => {
                return Err(format!(
                    "operands of shapes {:?} and {:?} do not combine",
                    a.dims(),
                    b.dims()
                ));
            }
        }
    };
}

/// `a op b` with numpy broadcasting; integers (shape arithmetic) stay integers.
pub fn arith(op: Arith, a: Value, b: Value) -> Run<Value> {
    if let (Value::Ints { dims, values: x }, Value::Ints { values: y, .. }) = (&a, &b) {
        let len = x.len().max(y.len());
        let at = |v: &[i64], i: usize| v[if v.len() == 1 { 0 } else { i }];
        let values = (0..len)
            .map(|i| match op {
                Arith::Add => at(x, i) + at(y, i),
                Arith::Sub => at(x, i) - at(y, i),
                Arith::Mul => at(x, i) * at(y, i),
                Arith::Div => at(x, i) / at(y, i).max(1),
            })
            .collect::<Vec<_>>();
        let dims = if dims.is_empty() && len == 1 {
            vec![]
        } else {
            vec![len]
        };
        return Ok(Value::Ints { dims, values });
    }
    let rank = a.rank().max(b.rank());
    let (a, b) = (a.lift(rank)?, b.lift(rank)?);
    Ok(match op {
        Arith::Add => zip_same_rank!(a, b, x, y => x + y),
        Arith::Sub => zip_same_rank!(a, b, x, y => x - y),
        Arith::Mul => zip_same_rank!(a, b, x, y => x * y),
        Arith::Div => zip_same_rank!(a, b, x, y => x / y),
    })
}

/// `alpha·A'·B' + beta·C`.
pub fn gemm(
    a: Value,
    b: Value,
    c: Option<Value>,
    (alpha, beta, trans_a, trans_b): (f32, f32, bool, bool),
) -> Run<Value> {
    let mut a = a.rank2()?;
    let mut b = b.rank2()?;
    if trans_a {
        a = a.transpose();
    }
    if trans_b {
        b = b.transpose();
    }
    let mut y = a.matmul(b);
    if alpha != 1.0 {
        y = y.mul_scalar(alpha);
    }
    let y = Value::R2(y);
    match c {
        None => Ok(y),
        Some(c) => {
            let c = if beta != 1.0 {
                float_map!(c, t => t.mul_scalar(beta), return Err("an integer C".into()))
            } else {
                c
            };
            arith(Arith::Add, y, c)
        }
    }
}

/// Matrix product with broadcast batch axes.
pub fn matmul(a: Value, b: Value) -> Run<Value> {
    if a.rank() < 2 || b.rank() < 2 {
        return Err("MatMul of a vector is not supported; export with a batch axis".into());
    }
    let rank = a.rank().max(b.rank());
    let (a, b) = (a.lift(rank)?, b.lift(rank)?);
    Ok(zip_same_rank!(a, b, x, y => x.matmul(y)))
}

/// A 2-D convolution; unlearn's CPU kernels where they apply (square stride, even padding,
/// dilation 1), burn's otherwise.
pub fn conv(x: Value, w: Value, b: Option<Value>, window: &Window, group: usize) -> Run<Value> {
    let x = x.rank4()?;
    let w = w.rank4()?;
    let b = match b {
        None => None,
        Some(Value::R1(b)) => Some(b),
        Some(other) => return Err(format!("a bias of shape {:?}", other.dims())),
    };
    let [c_in, wc] = [x.dims()[1], w.dims()[1]];
    if c_in != wc * group {
        return Err(format!(
            "input has {c_in} channels but the weight takes {wc} per group × {group} groups"
        ));
    }
    let [(t, bo), (l, r)] = window.pads;
    let square = window.strides[0] == window.strides[1] && t == bo && l == r && t == l;
    Ok(Value::R4(if square && window.dilations == [1, 1] {
        crate::cpu_kernels::conv2d(x, w, b, window.strides[0], t, group)
    } else {
        conv2d(
            x,
            w,
            b,
            ConvOptions::new_with_padding(window.strides, window.pads, window.dilations, group),
        )
    }))
}

/// Batch normalisation by burn's layer: batch statistics (and running-statistics updates) in
/// training, running statistics in evaluation.
pub fn batch_norm(norm: &BatchNorm, x: Value) -> Run<Value> {
    Ok(match x {
        Value::R4(t) => Value::R4(crate::cpu_kernels::batch_norm(norm, t)),
        Value::R2(t) => Value::R2(norm.forward(t)),
        Value::R3(t) => Value::R3(norm.forward(t)),
        Value::R5(t) => Value::R5(norm.forward(t)),
        other => return Err(format!("an input of shape {:?}", other.dims())),
    })
}

/// An activation (Relu, Gelu, Sigmoid or Tanh) applied to any float rank.
pub fn activate(x: Value, op: &Op) -> Run<Value> {
    let bad = || Err::<Value, String>("integer input".into());
    Ok(match op {
        Op::Relu => float_map!(x, t => activation::relu(t), return bad()),
        Op::Gelu { tanh: false } => float_map!(x, t => activation::gelu(t), return bad()),
        Op::Gelu { tanh: true } => {
            float_map!(x, t => activation::gelu_approximate(t), return bad())
        }
        Op::Sigmoid => float_map!(x, t => activation::sigmoid(t), return bad()),
        Op::Tanh => float_map!(x, t => t.tanh(), return bad()),
        other => return Err(format!("{other:?} is not an activation")),
    })
}

/// Dropout by burn's layer (identity in evaluation; masks from the model's seeded stream).
pub fn dropout(layer: &Dropout, x: Value) -> Run<Value> {
    Ok(float_map!(x, t => layer.forward(t), return Err("integer input".into())))
}

/// 2-D max pooling.
pub fn max_pool(x: Value, window: &Window) -> Run<Value> {
    let options = MaxPoolOptions {
        kernel_size: window.kernel,
        stride: window.strides,
        padding: window.pads,
        dilation: window.dilations,
        ceil_mode: window.ceil_mode,
    };
    Ok(Value::R4(max_pool2d(x.rank4()?, options)))
}

/// 2-D average pooling.
pub fn average_pool(x: Value, window: &Window, count_include_pad: bool) -> Run<Value> {
    if window.dilations != [1, 1] {
        return Err("dilated average pooling is not supported".into());
    }
    let mut options = AvgPoolOptions::new(window.kernel);
    options.stride = window.strides;
    options.padding = window.pads;
    options.count_include_pad = count_include_pad;
    options.ceil_mode = window.ceil_mode;
    Ok(Value::R4(avg_pool2d(x.rank4()?, options)))
}

/// Mean over `axes` (every axis when empty, unless `noop`).
pub fn reduce_mean(x: Value, axes: &[i64], keepdims: bool, noop: bool) -> Run<Value> {
    let dims = x.dims();
    if axes.is_empty() && noop {
        return Ok(x);
    }
    let axes: Vec<usize> = if axes.is_empty() {
        (0..dims.len()).collect()
    } else {
        axes.iter()
            .map(|&a| axis(a, dims.len()))
            .collect::<Run<_>>()?
    };
    let mut y = x;
    for &a in &axes {
        y = float_map!(y, t => t.mean_dim(a), return Err("integer input".into()));
    }
    if keepdims {
        return Ok(y);
    }
    let kept: Vec<usize> = (0..dims.len())
        .filter(|a| !axes.contains(a))
        .map(|a| dims[a])
        .collect();
    y.reshape(if kept.is_empty() { &[1] } else { &kept })
}

/// Reshape to `shape` with ONNX's 0 (copy the input's axis) and −1 (infer).
pub fn reshape(x: Value, shape: &[i64], allow_zero: bool) -> Run<Value> {
    let dims = x.dims();
    let count: usize = dims.iter().product();
    let mut out: Vec<usize> = Vec::with_capacity(shape.len());
    let mut infer = None;
    for (i, &s) in shape.iter().enumerate() {
        match s {
            0 if !allow_zero => out.push(
                *dims
                    .get(i)
                    .ok_or_else(|| format!("shape {shape:?} copies a missing axis {i}"))?,
            ),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            s if s >= 0 => out.push(s as usize),
            _ => return Err(format!("shape {shape:?} is not a valid target")),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        if known == 0 || !count.is_multiple_of(known) {
            return Err(format!("cannot reshape {dims:?} to {shape:?}"));
        }
        out[i] = count / known;
    }
    if out.iter().product::<usize>() != count {
        return Err(format!("cannot reshape {dims:?} to {shape:?}"));
    }
    x.reshape(&out)
}

/// Axis permutation (`None`: reversed).
pub fn transpose(x: Value, perm: Option<&[usize]>) -> Run<Value> {
    let rank = x.rank();
    let perm: Vec<usize> = perm.map_or_else(|| (0..rank).rev().collect(), <[usize]>::to_vec);
    if perm.len() != rank {
        return Err(format!("perm {perm:?} for rank {rank}"));
    }
    let p = &perm;
    Ok(match x {
        Value::R1(t) => Value::R1(t),
        Value::R2(t) => Value::R2(t.permute([p[0], p[1]])),
        Value::R3(t) => Value::R3(t.permute([p[0], p[1], p[2]])),
        Value::R4(t) => Value::R4(t.permute([p[0], p[1], p[2], p[3]])),
        Value::R5(t) => Value::R5(t.permute([p[0], p[1], p[2], p[3], p[4]])),
        Value::Ints { .. } => return Err("transposing integers".into()),
    })
}

/// Concatenation along `axis`.
pub fn concat(values: Vec<Value>, at: i64) -> Run<Value> {
    if values.iter().all(|v| matches!(v, Value::Ints { .. })) {
        let mut all = Vec::new();
        for v in &values {
            all.extend_from_slice(v.ints()?);
        }
        return Ok(Value::Ints {
            dims: vec![all.len()],
            values: all,
        });
    }
    let rank = values.first().map_or(1, Value::rank);
    let a = axis(at, rank)?;
    macro_rules! cat {
        ($variant:ident) => {{
            let mut parts = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    Value::$variant(t) => parts.push(t),
                    other => {
                        return Err(format!("concatenating shape {:?}", other.dims()));
                    }
                }
            }
            Value::$variant(Tensor::cat(parts, a))
        }};
    }
    Ok(match rank {
        1 => cat!(R1),
        2 => cat!(R2),
        3 => cat!(R3),
        4 => cat!(R4),
        _ => cat!(R5),
    })
}

/// Constant padding: `pads` lists every axis's begins, then every axis's ends; negative pads
/// crop.
pub fn pad(x: Value, pads: &[i64], fill: f32, device: &Device) -> Run<Value> {
    let rank = x.rank();
    if pads.len() != 2 * rank {
        return Err(format!("{} pads for rank {rank}", pads.len()));
    }
    let mut y = x;
    for a in 0..rank {
        for (begin, amount) in [(true, pads[a]), (false, pads[a + rank])] {
            let dims = y.dims();
            if amount > 0 {
                let mut side = dims.clone();
                side[a] = amount as usize;
                let count: usize = side.iter().product();
                let block = Value::floats(&vec![fill; count], &side, device)?;
                let parts = if begin {
                    vec![block, y]
                } else {
                    vec![y, block]
                };
                y = concat(parts, a as i64)?;
            } else if amount < 0 {
                let cut = (-amount) as usize;
                let keep = dims[a]
                    .checked_sub(cut)
                    .ok_or_else(|| format!("pad {amount} crops more than axis {a} holds"))?;
                let start = if begin { cut } else { 0 };
                y = float_map!(y, t => t.narrow(a, start, keep), return Err("integer input".into()));
            }
        }
    }
    Ok(y)
}

/// Inserts axes of size 1 (floats or integers).
pub fn unsqueeze(x: Value, axes: &[i64]) -> Run<Value> {
    let dims = x.dims();
    let rank = dims.len() + axes.len();
    let mut at: Vec<usize> = axes.iter().map(|&a| axis(a, rank)).collect::<Run<_>>()?;
    at.sort_unstable();
    let mut out = dims.clone();
    for a in at {
        out.insert(a, 1);
    }
    x.reshape(&out)
}

/// Removes axes of size 1 (all of them when `axes` is empty).
pub fn squeeze(x: Value, axes: &[i64]) -> Run<Value> {
    let dims = x.dims();
    let at: Vec<usize> = if axes.is_empty() {
        (0..dims.len()).filter(|&a| dims[a] == 1).collect()
    } else {
        axes.iter()
            .map(|&a| axis(a, dims.len()))
            .collect::<Run<_>>()?
    };
    let kept: Vec<usize> = (0..dims.len())
        .filter(|a| !at.contains(a))
        .map(|a| dims[a])
        .collect();
    if matches!(x, Value::Ints { .. }) || !kept.is_empty() {
        x.reshape(&kept)
    } else {
        x.reshape(&[1])
    }
}

/// Entries of an integer vector at `indices` (scalar index: a scalar).
pub fn gather(x: Value, indices: Value) -> Run<Value> {
    let values = x
        .ints()
        .map_err(|_| "Gather on float tensors is not supported (only on shapes)".to_string())?;
    let scalar = indices.dims().is_empty();
    let picked = indices
        .ints()?
        .iter()
        .map(|&i| {
            let i = axis(i, values.len())?;
            Ok(values[i])
        })
        .collect::<Run<Vec<_>>>()?;
    Ok(Value::Ints {
        dims: if scalar { vec![] } else { vec![picked.len()] },
        values: picked,
    })
}
