//! A tensor stored in an ONNX file (an initializer, a `Constant` node's value) read into
//! floats or integers, and the one-line reason a file cannot be used.

use onnx_ir::TensorProto;

/// Why a file cannot be used, in one line.
pub type Why = String;

/// ONNX's element types the reader accepts.
const FLOAT: i32 = 1;
const INT32: i32 = 6;
const INT64: i32 = 7;
const BOOL: i32 = 9;
const DOUBLE: i32 = 11;

/// A constant tensor as stored in the file.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    /// Float values (f32, or f64 narrowed) in the given shape.
    Float {
        /// Shape.
        dims: Vec<usize>,
        /// Values, row-major.
        values: Vec<f32>,
    },
    /// Integer values (shapes, axes, pads), rank 0 or 1.
    Int {
        /// Shape.
        dims: Vec<usize>,
        /// Values.
        values: Vec<i64>,
    },
}

/// One tensor's values: floats (f32, f64) or integers (i64, i32).
pub fn read_tensor(tensor: &TensorProto) -> Result<Constant, Why> {
    let dims: Vec<usize> = tensor.dims.iter().map(|&d| d.max(0) as usize).collect();
    let count: usize = dims.iter().product();
    let raw = &tensor.raw_data;
    let fixed = |width: usize| -> Result<Vec<[u8; 8]>, Why> {
        if raw.len() != count * width {
            return Err(format!(
                "tensor '{}' holds {} bytes, not {count} values of {width} bytes (external data is not read; export without it)",
                tensor.name,
                raw.len()
            ));
        }
        Ok(raw
            .chunks_exact(width)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..width].copy_from_slice(c);
                b
            })
            .collect())
    };
    let from_raw = !raw.is_empty() || count == 0;
    match tensor.data_type {
        FLOAT => {
            let values = if from_raw {
                fixed(4)?
                    .iter()
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            } else {
                tensor.float_data.clone()
            };
            Ok(Constant::Float { dims, values })
        }
        DOUBLE => {
            let values = if from_raw {
                fixed(8)?
                    .iter()
                    .map(|b| f64::from_le_bytes(*b) as f32)
                    .collect()
            } else {
                tensor.double_data.iter().map(|&v| v as f32).collect()
            };
            Ok(Constant::Float { dims, values })
        }
        INT64 => {
            let values = if from_raw {
                fixed(8)?.iter().map(|b| i64::from_le_bytes(*b)).collect()
            } else {
                tensor.int64_data.clone()
            };
            Ok(Constant::Int { dims, values })
        }
        BOOL => {
            let values = if from_raw {
                if raw.len() != count {
                    return Err(format!(
                        "tensor '{}' holds {} bytes, not {count} booleans",
                        tensor.name,
                        raw.len()
                    ));
                }
                raw.iter().map(|&b| i64::from(b != 0)).collect()
            } else {
                tensor
                    .int32_data
                    .iter()
                    .map(|&v| i64::from(v != 0))
                    .collect()
            };
            Ok(Constant::Int { dims, values })
        }
        INT32 => {
            let values = if from_raw {
                fixed(4)?
                    .iter()
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64)
                    .collect()
            } else {
                tensor.int32_data.iter().map(|&v| v as i64).collect()
            };
            Ok(Constant::Int { dims, values })
        }
        other => Err(format!(
            "tensor '{}' has ONNX element type {other}; only float and integer tensors are read",
            tensor.name
        )),
    }
}
