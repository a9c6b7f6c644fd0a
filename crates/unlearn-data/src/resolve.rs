//! Turns a user's data-set spec (command-line argument or config value) into a
//! loaded [`Dataset`].

use std::path::Path;

use crate::cifar::{cifar10_files, load_cifar10_dir};
use crate::csv_loader::{DEFAULT_LABEL_COLUMN, load_csv};
use crate::dataset::Dataset;
use crate::digits::digits;
use crate::error::{DataError, Result};
use crate::idx::{FASHION_MNIST_DIR, idx_files, load_fashion_mnist, load_idx_dir};
use crate::npy_pair::load_npy_pair;
use crate::partition::Partition;
use crate::synthetic::resolve_synthetic;

/// What [`resolve_dataset`] accepts, for help texts and error messages.
pub const ACCEPTED_SPECS: &str = "accepted: 'digits' (built in), 'fashion-mnist' \
    (Debian package dataset-fashion-mnist), 'synthetic-cifar10' or 'synthetic-cifar10:N' \
    (seeded CIFAR-shaped stand-in, 50 000 or N images), a .csv file with a 'label' column, a directory \
    holding CIFAR-10 binary batches or MNIST-style IDX files, or 'FEATURES.npy,LABELS.npy'";

/// Names of the built-in data sets (no file path): `digits` and `fashion-mnist`.
const NAMED: [&str; 2] = ["digits", "fashion-mnist"];

/// True when `spec` names a built-in data set rather than files.
pub fn is_named_dataset(spec: &str) -> bool {
    let spec = spec.trim();
    NAMED.contains(&spec) || resolve_synthetic(spec).is_some()
}

/// Loads the data set a spec names:
///
/// * `digits`: the embedded 8×8 digits ([`digits`]);
/// * `fashion-mnist`: the training part from [`FASHION_MNIST_DIR`];
/// * `synthetic-cifar10[:N]`: seeded CIFAR-shaped images ([`crate::synthetic_images`]);
/// * `PATH.csv`: [`load_csv`] with the label column `label`;
/// * a directory with CIFAR-10 binary batches: their training part;
/// * a directory with `train-images-idx3-ubyte(.gz)` etc.: the training part;
/// * `FEATURES.npy,LABELS.npy`: [`load_npy_pair`].
///
/// Anything else is an error listing these forms.
pub fn resolve_dataset(spec: &str) -> Result<Dataset> {
    let spec_trimmed = spec.trim();
    if let Some(synthetic) = resolve_synthetic(spec_trimmed) {
        return synthetic;
    }
    match spec_trimmed {
        "digits" => return Ok(digits()),
        "fashion-mnist" => return load_fashion_mnist(FASHION_MNIST_DIR, Partition::Train),
        _ => {}
    }
    if let Some((features, labels)) = spec_trimmed.split_once(',') {
        let (features, labels) = (features.trim(), labels.trim());
        if is_npy(features) && is_npy(labels) {
            return load_npy_pair(features, labels);
        }
        return Err(unknown(spec, "a pair must name two .npy files"));
    }
    let path = Path::new(spec_trimmed);
    if has_ext(spec_trimmed, "csv") {
        return load_csv(path, DEFAULT_LABEL_COLUMN);
    }
    if path.is_dir() {
        if !cifar10_files(path, Partition::Train).is_empty() {
            return load_cifar10_dir(path, Partition::Train);
        }
        if idx_files(path, Partition::Train).is_some() {
            return load_idx_dir(path, Partition::Train);
        }
        return Err(unknown(
            spec,
            "the directory holds neither CIFAR-10 batches (data_batch_N.bin) nor IDX files \
             (train-images-idx3-ubyte)",
        ));
    }
    if path.exists() {
        return Err(unknown(spec, "the file is not of a recognised kind"));
    }
    Err(unknown(spec, "no such built-in name, file or directory"))
}

/// The official test part of the data set `spec` names: `fashion-mnist`'s t10k files, the
/// `test_batch` of a CIFAR-10 directory, the t10k files of an IDX directory. Other specs have
/// none (give the validation data as a dataset of their own).
pub fn resolve_test_partition(spec: &str) -> Result<Dataset> {
    let spec_trimmed = spec.trim();
    if spec_trimmed == "fashion-mnist" {
        return load_fashion_mnist(FASHION_MNIST_DIR, Partition::Test);
    }
    let path = Path::new(spec_trimmed);
    if path.is_dir() {
        if !cifar10_files(path, Partition::Test).is_empty() {
            return load_cifar10_dir(path, Partition::Test);
        }
        if idx_files(path, Partition::Test).is_some() {
            return load_idx_dir(path, Partition::Test);
        }
    }
    Err(DataError::Missing {
        what: format!("a test part of '{spec}'"),
        hint: "only fashion-mnist and directories of CIFAR-10 batches (test_batch.bin) or IDX files (t10k-images-idx3-ubyte) have one; give the validation data as a dataset of their own".into(),
    })
}

fn unknown(spec: &str, why: &str) -> DataError {
    DataError::UnknownSpec {
        spec: spec.to_string(),
        accepted: format!("{why}; {ACCEPTED_SPECS}"),
    }
}

fn has_ext(s: &str, ext: &str) -> bool {
    Path::new(s)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

fn is_npy(s: &str) -> bool {
    has_ext(s, "npy")
}
