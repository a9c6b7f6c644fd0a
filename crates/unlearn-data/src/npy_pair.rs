//! Loader for a data set saved from numpy as two `.npy` files: a float
//! feature array and an integer label vector.

use std::path::Path;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::npy::{parse_header, read_bytes, read_ints, read_npy_f32};

/// Loads features (`f32`, or `f64` converted; shape `n×d`, `n×h×w` or
/// `n×c×h×w`, the latter two giving an `image_shape`) and labels (any
/// integer dtype, shape `n` or `n×1`, non-negative). `classes` is the
/// largest label + 1.
pub fn load_npy_pair(
    features_path: impl AsRef<Path>,
    labels_path: impl AsRef<Path>,
) -> Result<Dataset> {
    let fpath = features_path.as_ref();
    let lpath = labels_path.as_ref();

    let (fshape, features) = read_npy_f32(fpath)?;
    // Checked first: with no data the shape's product is unbounded.
    if features.is_empty() {
        return Err(DataError::format(
            fpath,
            format!("features have shape {fshape:?}, which holds no data"),
        ));
    }
    let (n, dim, image_shape) = match fshape[..] {
        [n, d] => (n, d, None),
        [n, h, w] => (n, h * w, Some([1, h, w])),
        [n, c, h, w] => (n, c * h * w, Some([c, h, w])),
        _ => {
            return Err(DataError::format(
                fpath,
                format!(
                    "features have shape {fshape:?}; expected n×d, n×h×w or n×c×h×w \
                     (reshape with features.reshape(len(features), -1))"
                ),
            ));
        }
    };
    if let Some(i) = features.iter().position(|x| !x.is_finite()) {
        // dim > 0 here: a non-finite value exists, so the rows are not empty.
        let (row, col) = (i / dim, i % dim);
        return Err(DataError::record(
            fpath,
            "row",
            row,
            format!("feature {col} is {} (rows count from 0)", features[i]),
        ));
    }

    let bytes = read_bytes(lpath)?;
    let npy = parse_header(lpath, &bytes)?;
    let (lshape, raw) = read_ints(lpath, npy, false)?;
    match lshape[..] {
        [m] | [m, 1] if m == n => {}
        [m] | [m, 1] => {
            return Err(DataError::format(
                lpath,
                format!(
                    "holds {m} labels but {} holds {n} rows; the files do not belong together",
                    fpath.display()
                ),
            ));
        }
        _ => {
            return Err(DataError::format(
                lpath,
                format!("labels have shape {lshape:?}; expected a vector of {n} integers"),
            ));
        }
    }
    let mut labels = Vec::with_capacity(raw.len());
    for (i, &v) in raw.iter().enumerate() {
        let label = u32::try_from(v).map_err(|_| {
            let why = if v < 0 { "is negative" } else { "is too large" };
            DataError::record(
                lpath,
                "element",
                i,
                format!("label {v} {why} (elements count from 0)"),
            )
        })?;
        labels.push(label);
    }
    let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let name = fpath
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "npy".to_string());
    Dataset::new(name, features, labels, dim, classes, image_shape)
}
