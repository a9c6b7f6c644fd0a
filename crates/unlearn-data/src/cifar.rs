//! Loader for the CIFAR-10 binary version (`cifar-10-binary.tar.gz`): each
//! record is 1 label byte followed by 3072 pixel bytes, 3×32×32 channel-major.

use std::path::{Path, PathBuf};

use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::partition::Partition;

/// Pixels per CIFAR-10 image (3 channels × 32 × 32).
pub const CIFAR10_PIXELS: usize = 3 * 32 * 32;
/// Bytes per record: the label byte and the pixels.
const RECORD: usize = 1 + CIFAR10_PIXELS;
/// Number of CIFAR-10 classes.
const CLASSES: usize = 10;
/// Folder name the official archive unpacks to.
const ARCHIVE_DIR: &str = "cifar-10-batches-bin";

/// The batch files of a partition that exist in `dir`, in canonical order.
/// `dir` may also be the folder that contains `cifar-10-batches-bin/`.
pub fn cifar10_files(dir: impl AsRef<Path>, partition: Partition) -> Vec<PathBuf> {
    let dir = dir.as_ref();
    let names: Vec<String> = match partition {
        Partition::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Partition::Test => vec!["test_batch.bin".to_string()],
    };
    for base in [dir.to_path_buf(), dir.join(ARCHIVE_DIR)] {
        let found: Vec<PathBuf> = names
            .iter()
            .map(|n| base.join(n))
            .filter(|p| p.is_file())
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// Loads the CIFAR-10 training batches (`data_batch_1.bin` ..
/// `data_batch_5.bin`, those present, at least one) or the test batch
/// (`test_batch.bin`) from `dir`. Pixels are scaled to [0, 1];
/// `image_shape = [3, 32, 32]`.
pub fn load_cifar10_dir(dir: impl AsRef<Path>, partition: Partition) -> Result<Dataset> {
    let dir = dir.as_ref();
    let files = cifar10_files(dir, partition);
    if files.is_empty() {
        let wanted = match partition {
            Partition::Train => "data_batch_1.bin .. data_batch_5.bin",
            Partition::Test => "test_batch.bin",
        };
        return Err(DataError::Missing {
            what: format!("CIFAR-10 {partition} files"),
            hint: format!(
                "no {wanted} in {} (or its {ARCHIVE_DIR}/); unpack the binary version \
                 of CIFAR-10 (cifar-10-binary.tar.gz) there",
                dir.display()
            ),
        });
    }
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for file in &files {
        read_cifar10_file(file, &mut features, &mut labels)?;
    }
    Dataset::new(
        format!("cifar10-{partition}"),
        features,
        labels,
        CIFAR10_PIXELS,
        CLASSES,
        Some([3, 32, 32]),
    )
}

/// Appends one batch file's records. Record numbers in errors count from 1.
pub fn read_cifar10_file(
    path: impl AsRef<Path>,
    features: &mut Vec<f32>,
    labels: &mut Vec<u32>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, "cannot read", e))?;
    if bytes.is_empty() {
        return Err(DataError::format(
            path,
            "the file is empty; expected CIFAR-10 records",
        ));
    }
    let whole = bytes.len() / RECORD;
    let rest = bytes.len() % RECORD;
    if rest != 0 {
        return Err(DataError::record(
            path,
            "record",
            whole + 1,
            format!(
                "truncated: {rest} of {RECORD} bytes present (file size {} is not a multiple of \
                 {RECORD}); the file is incomplete or not a CIFAR-10 binary batch",
                bytes.len()
            ),
        ));
    }
    features.reserve(whole * CIFAR10_PIXELS);
    labels.reserve(whole);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        let label = rec[0];
        if label as usize >= CLASSES {
            return Err(DataError::record(
                path,
                "record",
                i + 1,
                format!(
                    "label {label} is not a CIFAR-10 class (0..=9); \
                     CIFAR-100 files have two label bytes and are not supported"
                ),
            ));
        }
        labels.push(u32::from(label));
        features.extend(rec[1..].iter().map(|&b| f32::from(b) / 255.0));
    }
    Ok(())
}
