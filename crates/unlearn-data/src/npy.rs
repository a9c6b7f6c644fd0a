//! `.npy` array I/O on top of the `npyz` crate.
//!
//! Readers accept the dtypes numpy users actually produce (f64 where f32 is
//! wanted, any integer width where i64 is wanted), return the data in C order
//! whatever the file's order, and report the file and element on failure.
//! Writers are atomic (see [`crate::atomic_write`]).

use std::path::Path;

use npyz::{DType, Deserialize, NpyFile, Order, TypeChar, WriterBuilder};

use crate::error::{DataError, Result};
use crate::fileio::atomic_write;

/// Writes a C-order f32 array of the given shape.
pub fn write_npy_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<()> {
    write_npy(path.as_ref(), shape, data)
}

/// Writes a C-order i64 array of the given shape.
pub fn write_npy_i64(path: impl AsRef<Path>, shape: &[usize], data: &[i64]) -> Result<()> {
    write_npy(path.as_ref(), shape, data)
}

/// Writes a C-order u8 array of the given shape.
pub fn write_npy_u8(path: impl AsRef<Path>, shape: &[usize], data: &[u8]) -> Result<()> {
    write_npy(path.as_ref(), shape, data)
}

/// Writes a C-order i32 array of the given shape.
pub fn write_npy_i32(path: impl AsRef<Path>, shape: &[usize], data: &[i32]) -> Result<()> {
    write_npy(path.as_ref(), shape, data)
}

/// Reads only the given rows (indices along the first axis) of a float array, in the order
/// asked: `(shape of the whole array, rows × row length values)`. A little-endian f32 C-order
/// file is read row by row with seeks, so a large β costs only the rows asked for; any other
/// float file is read whole, then selected.
pub fn read_npy_f32_rows(path: impl AsRef<Path>, rows: &[usize]) -> Result<(Vec<usize>, Vec<f32>)> {
    use std::io::{Read, Seek, SeekFrom};
    let path = path.as_ref();
    let io = |e| DataError::io(path, "cannot read", e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut prefix = [0u8; 12];
    let got = file.read(&mut prefix).map_err(io)?;
    let header_end = match prefix.get(6) {
        Some(1) if got >= 10 => 10 + u16::from_le_bytes([prefix[8], prefix[9]]) as u64,
        Some(2 | 3) if got >= 12 => {
            12 + u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as u64
        }
        _ => u64::MAX,
    };
    let file_len = file.metadata().map_err(io)?.len();
    let mut header = Vec::new();
    if header_end <= file_len.min(1 << 20) {
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        header.resize(header_end as usize, 0);
        file.read_exact(&mut header).map_err(io)?;
    }
    let plain = NpyFile::new(&header[..]).ok().filter(|npy| {
        npy.order() == Order::C
            && matches!(npy.dtype(), DType::Plain(ts) if ts.type_char() == TypeChar::Float && ts.size_field() == 4 && ts.to_string().starts_with('<'))
    });
    let select = |shape: &[usize], data: &[f32]| -> Result<Vec<f32>> {
        let (n, per) = row_layout(path, shape, rows)?;
        debug_assert!(data.len() >= n * per);
        Ok(rows
            .iter()
            .flat_map(|&r| data[r * per..(r + 1) * per].iter().copied())
            .collect())
    };
    let Some(npy) = plain else {
        let (shape, data) = read_npy_f32(path)?;
        let picked = select(&shape, &data)?;
        return Ok((shape, picked));
    };
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let (n, per) = row_layout(path, &shape, rows)?;
    if header_end + (n * per * 4) as u64 > file_len {
        return Err(DataError::format(
            path,
            format!(
                "shape {shape:?} needs more data than the file holds; the file is truncated or corrupt"
            ),
        ));
    }
    let mut out = vec![0.0f32; rows.len() * per];
    let mut buf = vec![0u8; per * 4];
    for (k, &r) in rows.iter().enumerate() {
        file.seek(SeekFrom::Start(header_end + (r * per * 4) as u64))
            .map_err(io)?;
        file.read_exact(&mut buf).map_err(io)?;
        for (o, b) in out[k * per..(k + 1) * per]
            .iter_mut()
            .zip(buf.chunks_exact(4))
        {
            *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        }
    }
    Ok((shape, out))
}

/// (rows, values per row) of an array whose first axis is indexed by `rows`; every row must exist.
fn row_layout(path: &Path, shape: &[usize], rows: &[usize]) -> Result<(usize, usize)> {
    let Some((&n, rest)) = shape.split_first() else {
        return Err(DataError::format(path, "a 0-d array has no rows"));
    };
    if let Some(&bad) = rows.iter().find(|&&r| r >= n) {
        return Err(DataError::invalid(format!(
            "{}: row {bad} asked for, but the array has {n} rows",
            path.display()
        )));
    }
    Ok((n, rest.iter().product()))
}

/// Reads a float array (`f32` or `f64`, converted) as `(shape, C-order data)`.
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<(Vec<usize>, Vec<f32>)> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let npy = parse_header(path, &bytes)?;
    let (kind, size) = scalar_kind(path, &npy)?;
    let data = match (kind, size) {
        (TypeChar::Float, 4) => read_all::<f32>(path, npy)?,
        (TypeChar::Float, 8) => convert(read_all::<f64>(path, npy)?, |x| x as f32),
        _ => {
            return Err(wrong_dtype(path, &npy, "a float array (f32 or f64)"));
        }
    };
    Ok(data)
}

/// Reads an integer array of any width and signedness as i64
/// `(shape, C-order data)`. Unsigned 64-bit values above `i64::MAX` are an error.
pub fn read_npy_i64(path: impl AsRef<Path>) -> Result<(Vec<usize>, Vec<i64>)> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let npy = parse_header(path, &bytes)?;
    read_ints(path, npy, false)
}

/// Reads a u8 array. `bool` files are accepted (as 0/1), and so is any integer
/// dtype whose values all fit in 0..=255.
pub fn read_npy_u8(path: impl AsRef<Path>) -> Result<(Vec<usize>, Vec<u8>)> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let npy = parse_header(path, &bytes)?;
    let (shape, wide) = read_ints(path, npy, true)?;
    let mut out = Vec::with_capacity(wide.len());
    for (i, v) in wide.into_iter().enumerate() {
        let byte = u8::try_from(v).map_err(|_| {
            DataError::record(path, "element", i, format!("value {v} does not fit in u8"))
        })?;
        out.push(byte);
    }
    Ok((shape, out))
}

/// Reads an integer or (when `allow_bool`) boolean array as i64.
pub(crate) fn read_ints(
    path: &Path,
    npy: NpyFile<&[u8]>,
    allow_bool: bool,
) -> Result<(Vec<usize>, Vec<i64>)> {
    let (kind, size) = scalar_kind(path, &npy)?;
    let (shape, data) = match (kind, size) {
        (TypeChar::Int, 1) => convert(read_all::<i8>(path, npy)?, i64::from),
        (TypeChar::Int, 2) => convert(read_all::<i16>(path, npy)?, i64::from),
        (TypeChar::Int, 4) => convert(read_all::<i32>(path, npy)?, i64::from),
        (TypeChar::Int, 8) => read_all::<i64>(path, npy)?,
        (TypeChar::Uint, 1) => convert(read_all::<u8>(path, npy)?, i64::from),
        (TypeChar::Uint, 2) => convert(read_all::<u16>(path, npy)?, i64::from),
        (TypeChar::Uint, 4) => convert(read_all::<u32>(path, npy)?, i64::from),
        (TypeChar::Uint, 8) => {
            let (shape, data) = read_all::<u64>(path, npy)?;
            let mut out = Vec::with_capacity(data.len());
            for (i, v) in data.into_iter().enumerate() {
                out.push(i64::try_from(v).map_err(|_| {
                    DataError::record(path, "element", i, format!("value {v} is too large"))
                })?);
            }
            (shape, out)
        }
        (TypeChar::Bool, 1) if allow_bool => convert(read_all::<bool>(path, npy)?, i64::from),
        _ => {
            let wanted = if allow_bool {
                "an integer or bool array"
            } else {
                "an integer array"
            };
            return Err(wrong_dtype(path, &npy, wanted));
        }
    };
    Ok((shape, data))
}

/// Reads the whole file; arrays here are small enough, and parsing from a
/// slice is much faster than element-wise reads through a `BufReader`.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| DataError::io(path, "cannot read", e))
}

pub(crate) fn parse_header<'a>(path: &Path, bytes: &'a [u8]) -> Result<NpyFile<&'a [u8]>> {
    check_header_length(path, bytes)?;
    let npy = NpyFile::new(bytes).map_err(|e| {
        DataError::format(
            path,
            format!("not a valid .npy file ({})", one_line(&e.to_string())),
        )
    })?;
    // The reader allocates what the header promises: a corrupt shape must not ask for gigabytes.
    if let DType::Plain(ts) = npy.dtype() {
        let claimed = npy
            .shape()
            .iter()
            .try_fold(ts.size_field().max(1), |acc, &d| acc.checked_mul(d));
        if claimed.is_none_or(|c| c > bytes.len() as u64) {
            return Err(DataError::format(
                path,
                format!(
                    "the header's shape {:?} needs more data than the file's {} bytes; the file is truncated or corrupt",
                    npy.shape(),
                    bytes.len()
                ),
            ));
        }
    }
    Ok(npy)
}

/// The reader allocates the header length the file states before reading it (up to 4 GiB in
/// format 2 and 3): check it against the file first.
fn check_header_length(path: &Path, bytes: &[u8]) -> Result<()> {
    let (prefix, stated) = match bytes.get(6) {
        Some(1) if bytes.len() >= 10 => (10, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        Some(2 | 3) if bytes.len() >= 12 => (
            12,
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
        ),
        _ => return Ok(()), // too short or an unknown version: the parser reports it
    };
    let header = &bytes[prefix.min(bytes.len())..(prefix + stated).min(bytes.len())];
    // npyz's header parser backtracks exponentially in the nesting depth (a 49-byte header of
    // brackets took minutes, found by cargo fuzz); numpy writes a few levels at most.
    let depth = nesting_depth(header);
    if depth > MAX_HEADER_NESTING {
        return Err(DataError::format(
            path,
            format!(
                "not a valid .npy file (its header nests brackets {depth} deep; numpy writes at most a few levels); the file is corrupt"
            ),
        ));
    }
    // npyz multiplies the shape's dimensions unchecked (a panic in builds with overflow checks).
    if shape_overflows(header) {
        return Err(DataError::format(
            path,
            "not a valid .npy file (its shape holds more elements than fit in 64 bits); the file is corrupt",
        ));
    }
    if prefix + stated > bytes.len() {
        return Err(DataError::format(
            path,
            format!(
                "not a valid .npy file (the header claims {stated} bytes but the file has {}); the file is truncated or corrupt",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// Deepest bracket nesting accepted in a header: a structured dtype of sub-arrays needs ~4.
const MAX_HEADER_NESTING: usize = 8;

/// Deepest nesting of `(`, `[` and `{` in a header.
fn nesting_depth(header: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for &b in header {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// True when the `'shape': (…)` tuple of a header dict has a product beyond u64.
fn shape_overflows(header: &[u8]) -> bool {
    let text = String::from_utf8_lossy(header);
    let after_key = text
        .split_once("'shape'")
        .or_else(|| text.split_once("\"shape\""))
        .map(|(_, rest)| rest);
    // A tuple or a list: the dimensions end at the first closing bracket.
    let Some(tuple) = after_key
        .and_then(|rest| rest.split_once(['(', '[']))
        .and_then(|(_, rest)| rest.split_once([')', ']']))
        .map(|(inside, _)| inside)
    else {
        return false;
    };
    let mut product: u64 = 1;
    for dim in tuple.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match dim.parse::<u64>().ok().and_then(|d| product.checked_mul(d)) {
            Some(p) => product = p,
            // A number too large for u64 overflows too; anything else is the parser's to report.
            None if dim.bytes().all(|b| b.is_ascii_digit()) => return true,
            None => return false,
        }
    }
    false
}

fn scalar_kind(path: &Path, npy: &NpyFile<&[u8]>) -> Result<(TypeChar, u64)> {
    match npy.dtype() {
        DType::Plain(ts) => Ok((ts.type_char(), ts.size_field())),
        other => Err(DataError::format(
            path,
            format!(
                "structured dtype {} is not supported; save a plain numeric array",
                other.descr()
            ),
        )),
    }
}

fn wrong_dtype(path: &Path, npy: &NpyFile<&[u8]>, wanted: &str) -> DataError {
    DataError::format(
        path,
        format!(
            "wrong dtype {}: expected {wanted}",
            npy.dtype().descr().trim_matches('\'')
        ),
    )
}

fn convert<A, B>((shape, data): (Vec<usize>, Vec<A>), f: impl Fn(A) -> B) -> (Vec<usize>, Vec<B>) {
    (shape, data.into_iter().map(f).collect())
}

/// Reads every element as `T` and reorders Fortran-order data into C order.
fn read_all<T: Deserialize + Copy>(
    path: &Path,
    npy: NpyFile<&[u8]>,
) -> Result<(Vec<usize>, Vec<T>)> {
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let order = npy.order();
    let expected = npy.len();
    let data = npy.into_vec::<T>().map_err(|e| {
        DataError::format(
            path,
            format!("data truncated or unreadable ({e}); the header promises {expected} elements"),
        )
    })?;
    let data = match order {
        Order::C => data,
        Order::Fortran => fortran_to_c(&data, &shape),
    };
    Ok((shape, data))
}

/// Reorders column-major data into row-major order.
fn fortran_to_c<T: Copy>(data: &[T], shape: &[usize]) -> Vec<T> {
    if shape.len() < 2 {
        return data.to_vec();
    }
    // Fortran strides: the first axis varies fastest.
    let mut f_strides = vec![1usize; shape.len()];
    for axis in 1..shape.len() {
        f_strides[axis] = f_strides[axis - 1] * shape[axis - 1];
    }
    let mut index = vec![0usize; shape.len()];
    let mut out = Vec::with_capacity(data.len());
    for _ in 0..data.len() {
        let offset: usize = index.iter().zip(&f_strides).map(|(i, s)| i * s).sum();
        out.push(data[offset]);
        // Advance the C-order multi-index: the last axis varies fastest.
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            if index[axis] < shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

fn write_npy<T>(path: &Path, shape: &[usize], data: &[T]) -> Result<()>
where
    T: npyz::AutoSerialize + Copy,
{
    let expected: usize = shape.iter().product();
    if expected != data.len() {
        return Err(DataError::invalid(format!(
            "{}: shape {shape:?} holds {expected} elements but {} were given",
            path.display(),
            data.len()
        )));
    }
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    atomic_write(path, |w| {
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(&shape)
            .writer(w)
            .begin_nd()?;
        writer.extend(data.iter().copied())?;
        writer.finish()
    })
}

/// npyz reports header syntax errors over several lines with a drawing of the position: keep the
/// first line (what and where) and the last (what was expected).
fn one_line(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        [first, .., last] => {
            let first = first.split_whitespace().collect::<Vec<_>>().join(" ");
            format!("{first}; {}", last.trim_start_matches("= "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fortran_order_is_reordered() {
        // 2x3 matrix [[1,2,3],[4,5,6]] stored column-major.
        let f = [1, 4, 2, 5, 3, 6];
        assert_eq!(fortran_to_c(&f, &[2, 3]), vec![1, 2, 3, 4, 5, 6]);
        // 2x2x2 array a[i][j][k] = 100i + 10j + k, column-major.
        let f = [0, 100, 10, 110, 1, 101, 11, 111];
        assert_eq!(
            fortran_to_c(&f, &[2, 2, 2]),
            vec![0, 1, 10, 11, 100, 101, 110, 111]
        );
    }
}
