//! Loader for the IDX format of MNIST and Fashion-MNIST (optionally gzipped):
//! a big-endian header (magic, counts, sizes) followed by unsigned bytes.

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::fileio::read_maybe_gz_bounded;
use crate::partition::Partition;

/// Where Debian's `dataset-fashion-mnist` package installs the data.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist/";
/// The Debian package that provides Fashion-MNIST.
pub const FASHION_MNIST_PACKAGE: &str = "dataset-fashion-mnist";

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Loads an IDX image file (magic `0x00000803`, `n × rows × cols` u8) and its
/// IDX label file (magic `0x00000801`, `n` u8). Either may be gzipped: a `.gz`
/// name or the gzip magic bytes trigger decompression. Pixels are scaled to
/// [0, 1]; `image_shape = [1, rows, cols]`; `classes` is the largest label + 1.
pub fn load_idx(images_path: impl AsRef<Path>, labels_path: impl AsRef<Path>) -> Result<Dataset> {
    let images_path = images_path.as_ref();
    let labels_path = labels_path.as_ref();
    let (n_images, rows, cols, pixels) = parse_images(images_path)?;
    let labels = parse_labels(labels_path)?;
    if labels.len() != n_images {
        return Err(DataError::format(
            images_path,
            format!(
                "holds {n_images} images but {} holds {} labels; the files do not belong together",
                labels_path.display(),
                labels.len()
            ),
        ));
    }
    let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let name = images_path
        .file_name()
        .map(|s| s.to_string_lossy().trim_end_matches(".gz").to_string())
        .unwrap_or_else(|| "idx".to_string());
    Dataset::new(
        name,
        pixels.iter().map(|&b| f32::from(b) / 255.0).collect(),
        labels.into_iter().map(u32::from).collect(),
        rows * cols,
        classes,
        Some([1, rows, cols]),
    )
}

/// Finds the image and label files of a partition in `dir`:
/// `train-images-idx3-ubyte` / `train-labels-idx1-ubyte` or the `t10k-` pair,
/// each plain or `.gz` (a `.` instead of the last `-` is accepted too).
pub fn idx_files(dir: impl AsRef<Path>, partition: Partition) -> Option<(PathBuf, PathBuf)> {
    let dir = dir.as_ref();
    let prefix = match partition {
        Partition::Train => "train",
        Partition::Test => "t10k",
    };
    let find = |kind: &str, idx: &str| {
        let stems = [
            format!("{prefix}-{kind}-{idx}-ubyte"),
            format!("{prefix}-{kind}.{idx}-ubyte"),
        ];
        stems
            .iter()
            .flat_map(|s| [dir.join(s), dir.join(format!("{s}.gz"))])
            .find(|p| p.is_file())
    };
    Some((find("images", "idx3")?, find("labels", "idx1")?))
}

/// Loads a partition from a directory of MNIST-style IDX files (see
/// [`idx_files`]). The data set is named after the directory.
pub fn load_idx_dir(dir: impl AsRef<Path>, partition: Partition) -> Result<Dataset> {
    let dir = dir.as_ref();
    let (images, labels) =
        idx_files(dir, partition).ok_or_else(|| missing(dir, partition, None))?;
    let mut d = load_idx(images, labels)?;
    let base = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "idx".to_string());
    d.name = format!("{base}-{partition}");
    Ok(d)
}

/// Loads Fashion-MNIST from `dir` (normally [`FASHION_MNIST_DIR`]); when the
/// files are absent the error says to install the Debian package
/// `dataset-fashion-mnist`.
pub fn load_fashion_mnist(dir: impl AsRef<Path>, partition: Partition) -> Result<Dataset> {
    let dir = dir.as_ref();
    let (images, labels) = idx_files(dir, partition)
        .ok_or_else(|| missing(dir, partition, Some(FASHION_MNIST_PACKAGE)))?;
    let mut d = load_idx(images, labels)?;
    d.name = format!("fashion-mnist-{partition}");
    Ok(d)
}

fn missing(dir: &Path, partition: Partition, package: Option<&str>) -> DataError {
    let prefix = match partition {
        Partition::Train => "train",
        Partition::Test => "t10k",
    };
    let mut hint = format!(
        "no {prefix}-images-idx3-ubyte(.gz) and {prefix}-labels-idx1-ubyte(.gz) in {}",
        dir.display()
    );
    if let Some(pkg) = package {
        hint.push_str(&format!(
            "; install the Debian package {pkg} (apt-get install {pkg}) or pass the directory \
             that holds the files"
        ));
    }
    let data_set = if package.is_some() {
        "Fashion-MNIST"
    } else {
        "IDX"
    };
    DataError::Missing {
        what: format!("{data_set} {partition} files"),
        hint,
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn check_magic(path: &Path, bytes: &[u8], want: u32, header_len: usize) -> Result<()> {
    if bytes.len() < 4 {
        return Err(DataError::format(
            path,
            "truncated header: the file is too short for IDX",
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != want {
        let what = match (want, magic) {
            (IMAGES_MAGIC, LABELS_MAGIC) => {
                "; this is a label file: are the image and label paths swapped?"
            }
            (LABELS_MAGIC, IMAGES_MAGIC) => {
                "; this is an image file: are the image and label paths swapped?"
            }
            _ => "; not an IDX file of the right kind",
        };
        return Err(DataError::format(
            path,
            format!("bad magic number 0x{magic:08x}, expected 0x{want:08x}{what}"),
        ));
    }
    if bytes.len() < header_len {
        return Err(DataError::format(
            path,
            format!(
                "truncated header: {} of {header_len} header bytes present",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// Returns `(n, rows, cols, pixels)`.
fn parse_images(path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    let mut bytes = read_maybe_gz_bounded(path, 16, |h| {
        (h.len() == 16).then(|| {
            [4, 8, 12]
                .iter()
                .try_fold(1usize, |acc, &at| acc.checked_mul(be_u32(h, at) as usize))
        })?
    })?;
    check_magic(path, &bytes, IMAGES_MAGIC, 16)?;
    let n = be_u32(&bytes, 4) as usize;
    let rows = be_u32(&bytes, 8) as usize;
    let cols = be_u32(&bytes, 12) as usize;
    let per_image = rows.checked_mul(cols).unwrap_or(0);
    if per_image == 0 {
        return Err(DataError::format(
            path,
            format!("images of {rows}×{cols} pixels in the header are not usable"),
        ));
    }
    let data_len = bytes.len() - 16;
    let expected = n.checked_mul(per_image).ok_or_else(|| {
        DataError::format(
            path,
            format!("header declares an impossible {n} images of {rows}×{cols}"),
        )
    })?;
    if data_len < expected {
        let complete = data_len / per_image;
        return Err(DataError::record(
            path,
            "image",
            complete + 1,
            format!(
                "truncated: the header promises {n} images of {rows}×{cols} but the data \
                 end after {complete} complete images ({data_len} of {expected} pixel bytes)"
            ),
        ));
    }
    if data_len > expected {
        return Err(DataError::format(
            path,
            format!(
                "{} bytes follow the {n} images the header declares; the file is corrupt",
                data_len - expected
            ),
        ));
    }
    bytes.drain(..16);
    Ok((n, rows, cols, bytes))
}

fn parse_labels(path: &Path) -> Result<Vec<u8>> {
    let mut bytes =
        read_maybe_gz_bounded(path, 8, |h| (h.len() == 8).then(|| be_u32(h, 4) as usize))?;
    check_magic(path, &bytes, LABELS_MAGIC, 8)?;
    let n = be_u32(&bytes, 4) as usize;
    let data_len = bytes.len() - 8;
    if data_len < n {
        return Err(DataError::record(
            path,
            "label",
            data_len + 1,
            format!("truncated: the header promises {n} labels but only {data_len} are present"),
        ));
    }
    if data_len > n {
        return Err(DataError::format(
            path,
            format!(
                "{} bytes follow the {n} labels the header declares; the file is corrupt",
                data_len - n
            ),
        ));
    }
    bytes.drain(..8);
    Ok(bytes)
}
