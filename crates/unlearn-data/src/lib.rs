//! Data for the `unlearn` framework: data sets and their loaders, train/validation
//! splits, feature standardisation, random subset masks, forget sets and the
//! `.npy`/file helpers the other crates use to store arrays. Pure Rust; no
//! tensor library.
//!
//! # Data sets
//! * [`Dataset`]: row-major `f32` features, `u32` labels, `dim`, `classes`,
//!   optional `image_shape` (channels, height, width); [`Dataset::len`],
//!   [`Dataset::row`], [`Dataset::subset`], [`Dataset::content_hash`].
//! * [`digits()`]: the embedded 8×8 digits (1797 × 64, 10 classes), the default.
//! * [`load_csv`]`(path, label_column)`: header row, numeric features, integer labels.
//! * [`load_cifar10_dir`]`(dir, Partition)`: CIFAR-10 binary batches.
//! * [`load_idx`]`(images, labels)`, [`load_idx_dir`], [`load_fashion_mnist`]:
//!   MNIST-style IDX files, plain or gzipped.
//! * [`load_npy_pair`]`(features.npy, labels.npy)`.
//! * [`synthetic_images`]`(n, shape, classes, seed)`: seeded, learnable images;
//!   `synthetic-cifar10[:N]` names a CIFAR-shaped set of them.
//! * [`resolve_dataset`]`(spec)`: one string naming any of the above.
//!
//! # Preparing data
//! * [`train_val_split`]`(n, val_fraction, seed) -> Split`.
//! * [`Standardizer::fit`] / [`Standardizer::apply`]; [`prepare`] does split +
//!   standardise with training statistics in one call.
//!
//! # Unlearning inputs
//! * [`SubsetMasks::random`]`(m, n, alpha, seed)`, `.npy` save/load;
//!   [`SubsetMasks::grouped`] leaves points out partly in groups ([`GroupedRemoval`]).
//! * [`ForgetSet::random`], [`ForgetSet::class_restricted`], save/load as
//!   `.npy` or text, [`ForgetSet::retain_indices`].
//! * Structured sets: [`ForgetSet::by_score`] (top k, or top and bottom halves, [`Ends`]) and
//!   [`ForgetSet::nearest_neighbours`] of one example.
//!
//! # Files
//! * [`atomic_write`], [`atomic_write_bytes`], [`sha256_file`], [`read_maybe_gz`].
//! * [`write_npy_f32`], [`write_npy_i64`], [`write_npy_u8`] and the matching
//!   `read_npy_*` functions.
//!
//! Every random choice takes a seed (ChaCha8); the same seed gives the same
//! result on every platform. Every failure is a [`DataError`] whose message is
//! one line naming the file, the line or record, and the cause.

mod cifar;
mod conventions;
mod csv_loader;
mod dataset;
mod digits;
mod error;
mod fileio;
mod forget;
pub mod fuzz;
mod grouped_masks;
mod idx;
mod masks;
mod npy;
mod npy_pair;
mod params;
mod partition;
mod resolve;
mod split;
mod structured;
mod synthetic;

pub use cifar::{CIFAR10_PIXELS, cifar10_files, load_cifar10_dir, read_cifar10_file};
pub use conventions::{ChannelStats, Normalise, Validation, prepare_with};
pub use csv_loader::{DEFAULT_LABEL_COLUMN, load_csv, load_csv_with_classes};
pub use dataset::Dataset;
pub use digits::{DIGITS_NAME, digits};
pub use error::{DataError, Result};
pub use fileio::{
    atomic_copy, atomic_write, atomic_write_bytes, persist, read_maybe_gz, read_maybe_gz_bounded,
    sha256_file, temp_path_next_to,
};
pub use forget::{ForgetSet, read_index_file};
pub use grouped_masks::{GroupSource, GroupedRemoval};
pub use idx::{
    FASHION_MNIST_DIR, FASHION_MNIST_PACKAGE, idx_files, load_fashion_mnist, load_idx, load_idx_dir,
};
pub use masks::{SubsetFraction, SubsetMasks};
pub use npy::{
    read_npy_f32, read_npy_f32_rows, read_npy_i64, read_npy_u8, write_npy_f32, write_npy_i32,
    write_npy_i64, write_npy_u8,
};
pub use npy_pair::load_npy_pair;
pub use params::{ParamsError, merge_params, parse_overrides, register_entry};
pub use partition::Partition;
pub use resolve::{ACCEPTED_SPECS, is_named_dataset, resolve_dataset, resolve_test_partition};
pub use split::{Prepared, Split, Standardizer, prepare, train_val_split};
pub use structured::{Ends, neighbour_table, squared_distance};
pub use synthetic::{SYNTHETIC_CIFAR10, synthetic_images};
