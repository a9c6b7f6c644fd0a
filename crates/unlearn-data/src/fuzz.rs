//! Entry points for fuzzing the file loaders: the cargo-fuzz targets in `fuzz/` and the bounded
//! mutation test (`tests/fuzz_loaders.rs`) feed them arbitrary bytes. Whatever the bytes, a loader
//! must return an error or a consistent result, never panic or allocate without bound.

use crate::{Dataset, ForgetSet, Result, SubsetMasks};
use std::path::PathBuf;

/// The loaders that read files users hand us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// A CSV dataset with a `label` column.
    Csv,
    /// One CIFAR-10 binary batch.
    Cifar,
    /// An MNIST IDX image file and label file (the input is split in two by its first byte).
    Idx,
    /// A `.npy` array of any dtype read as f32.
    NpyF32,
    /// A pair of `.npy` files, features and labels (split like `Idx`).
    NpyPair,
    /// A forget-set file (text, one index per line) for 1 000 training points.
    ForgetText,
    /// A forget-set `.npy` file for 1 000 training points.
    ForgetNpy,
    /// A subset-mask `.npy` file.
    Masks,
}

impl Loader {
    /// Every loader.
    pub const ALL: [Loader; 8] = [
        Loader::Csv,
        Loader::Cifar,
        Loader::Idx,
        Loader::NpyF32,
        Loader::NpyPair,
        Loader::ForgetText,
        Loader::ForgetNpy,
        Loader::Masks,
    ];

    /// Name of its cargo-fuzz target (`fuzz/fuzz_targets/NAME.rs`).
    pub fn target(self) -> &'static str {
        match self {
            Loader::Csv => "csv",
            Loader::Cifar => "cifar",
            Loader::Idx => "idx",
            Loader::NpyF32 => "npy",
            Loader::NpyPair => "npy_pair",
            Loader::ForgetText => "forget_text",
            Loader::ForgetNpy => "forget_npy",
            Loader::Masks => "masks",
        }
    }
}

/// Points the forget-set loaders index into.
pub const FORGET_POINTS: usize = 1000;

/// A scratch file of this process (fuzzers run one input at a time per process).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("unlearn-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir.join(name)
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch(name);
    std::fs::write(&path, bytes).expect("writing a fuzz input to the temporary directory");
    path
}

/// Splits an input into two files' contents at a point chosen by its first byte.
fn split(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.split_first() {
        None => (&[], &[]),
        Some((&b, rest)) => rest.split_at(rest.len() * b as usize / 255),
    }
}

/// Checks what a dataset loader returned; panics when a loaded dataset contradicts itself.
fn check_dataset(data: &Dataset) {
    assert_eq!(
        data.features.len(),
        data.labels.len() * data.dim,
        "features are n × dim"
    );
    assert!(
        data.labels.iter().all(|&l| (l as usize) < data.classes),
        "label ≥ classes"
    );
    if let Some([c, h, w]) = data.image_shape {
        assert_eq!(c * h * w, data.dim, "image shape disagrees with dim");
    }
}

/// Runs `loader` on `bytes`: `Ok` when they load (after checking the result), the loader's
/// error otherwise. Panics only on a bug: a panic inside a loader or an inconsistent result.
pub fn load_bytes(loader: Loader, bytes: &[u8]) -> Result<()> {
    match loader {
        Loader::Csv => check_dataset(&crate::load_csv(write("data.csv", bytes), "label")?),
        Loader::Cifar => {
            let (mut features, mut labels) = (Vec::new(), Vec::new());
            crate::read_cifar10_file(write("data_batch_1.bin", bytes), &mut features, &mut labels)?;
            assert_eq!(features.len(), labels.len() * crate::CIFAR10_PIXELS);
            assert!(labels.iter().all(|&l| l < 10));
        }
        Loader::Idx => {
            let (images, labels) = split(bytes);
            let (i, l) = (
                write("images-idx3-ubyte", images),
                write("labels-idx1-ubyte", labels),
            );
            check_dataset(&crate::load_idx(i, l)?);
        }
        Loader::NpyF32 => {
            let (shape, values) = crate::read_npy_f32(write("array.npy", bytes))?;
            assert_eq!(
                shape.iter().product::<usize>(),
                values.len(),
                "shape × values"
            );
        }
        Loader::NpyPair => {
            let (features, labels) = split(bytes);
            let (f, l) = (write("x.npy", features), write("y.npy", labels));
            check_dataset(&crate::load_npy_pair(f, l)?);
        }
        Loader::ForgetText | Loader::ForgetNpy => {
            let name = if loader == Loader::ForgetText {
                "forget.txt"
            } else {
                "forget.npy"
            };
            let set = ForgetSet::load(write(name, bytes), FORGET_POINTS)?;
            assert!(!set.indices.is_empty(), "an empty forget set loaded");
            assert!(
                set.indices.windows(2).all(|w| w[0] < w[1]),
                "unsorted or duplicate indices"
            );
            assert!(
                set.indices.iter().all(|&i| i < FORGET_POINTS),
                "index out of range"
            );
        }
        Loader::Masks => {
            let masks = SubsetMasks::load_npy(write("masks.npy", bytes))?;
            assert_eq!(masks.data.len(), masks.rows * masks.n);
            assert!(
                masks.data.iter().all(|&v| v <= 1),
                "a mask value other than 0/1"
            );
        }
    }
    Ok(())
}

/// Small valid inputs for `loader`, written by this crate's writers: the starting points that
/// fuzzers mutate.
pub fn seed_inputs(loader: Loader) -> Vec<Vec<u8>> {
    let npy = |name: &str, write: &dyn Fn(&PathBuf) -> Result<()>| -> Vec<u8> {
        let path = scratch(name);
        write(&path).expect("writing a seed");
        std::fs::read(&path).expect("reading a seed back")
    };
    let joined = |a: Vec<u8>, b: Vec<u8>| -> Vec<u8> {
        // First byte: where `split` cuts (a.len() of a.len() + b.len(), rounded up).
        let total = a.len() + b.len();
        let cut = (a.len() * 255).div_ceil(total.max(1)).min(255) as u8;
        let mut out = vec![cut];
        out.extend(a);
        out.extend(b);
        out
    };
    match loader {
        Loader::Csv => vec![
            b"a,b,label\n0.5,1,0\n2,-3.25,1\n0,0,2\n".to_vec(),
            b"label,x\n1,0.1\n0,0.2\n".to_vec(),
        ],
        Loader::Cifar => {
            let mut record = vec![3u8];
            record.extend((0..crate::CIFAR10_PIXELS).map(|i| (i % 251) as u8));
            vec![record.repeat(2)]
        }
        Loader::Idx => {
            let mut images = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2];
            images.extend([0, 64, 128, 255, 1, 2, 3, 4]);
            let labels = vec![0, 0, 8, 1, 0, 0, 0, 2, 7, 1];
            vec![joined(images, labels)]
        }
        Loader::NpyF32 => vec![npy("seed.npy", &|p| {
            crate::write_npy_f32(p, &[2, 3], &[0.0, 1.0, -2.5, 3.0, 4.0, 5.5])
        })],
        Loader::NpyPair => {
            let x = npy("seed-x.npy", &|p| {
                crate::write_npy_f32(p, &[3, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
            });
            let y = npy("seed-y.npy", &|p| crate::write_npy_i64(p, &[3], &[0, 2, 1]));
            vec![joined(x, y)]
        }
        Loader::ForgetText => vec![b"3\n17\n999\n".to_vec(), b"0\n".to_vec()],
        Loader::ForgetNpy => vec![npy("seed-forget.npy", &|p| {
            crate::write_npy_i64(p, &[3], &[5, 1, 900])
        })],
        Loader::Masks => vec![npy("seed-masks.npy", &|p| {
            crate::write_npy_u8(p, &[2, 4], &[1, 0, 1, 0, 0, 1, 1, 0])
        })],
    }
}
