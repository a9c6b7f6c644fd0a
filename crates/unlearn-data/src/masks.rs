//! Random subset masks: M rows of n zeros and ones, each row marking one
//! training subset (used by data-attribution methods such as datamodels).

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::npy::{parse_header, read_bytes, read_ints, write_npy_u8};

/// An `rows × n` matrix of 0/1 bytes, row-major; row `i` marks which of the
/// `n` training points belong to subset `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsetMasks {
    /// Number of subsets (rows).
    pub rows: usize,
    /// Number of training points (columns).
    pub n: usize,
    /// Row-major 0/1 entries, `rows × n`.
    pub data: Vec<u8>,
}

impl SubsetMasks {
    /// Wraps existing entries after checking their count and that each is 0 or 1.
    pub fn new(rows: usize, n: usize, data: Vec<u8>) -> Result<Self> {
        if data.len() != rows * n {
            return Err(DataError::invalid(format!(
                "{} mask entries do not make {rows} rows of {n}",
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|&v| v > 1) {
            return Err(DataError::invalid(format!(
                "mask entry at row {}, column {} is {}, not 0 or 1",
                i / n.max(1),
                i % n.max(1),
                data[i]
            )));
        }
        Ok(SubsetMasks { rows, n, data })
    }

    /// Size of every subset [`SubsetMasks::random`] draws: `round(alpha · n)`.
    pub fn subset_size(n: usize, alpha: f64) -> usize {
        (alpha * n as f64).round() as usize
    }

    /// `m` subsets of exactly `round(alpha · n)` points each, chosen uniformly.
    ///
    /// Row `i` is drawn from its own ChaCha8 stream (`seed` as key, `i` as
    /// stream number), so it is the same whatever `m` is: more rows can be
    /// added later without changing the earlier ones.
    pub fn random(m: usize, n: usize, alpha: f64, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&alpha) {
            return Err(DataError::invalid(format!(
                "subset fraction alpha = {alpha} is outside [0, 1]"
            )));
        }
        let k = Self::subset_size(n, alpha);
        let mut data = vec![0u8; m * n];
        for (i, row) in data.chunks_exact_mut(n.max(1)).take(m).enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64);
            for j in rand::seq::index::sample(&mut rng, n, k) {
                row[j] = 1;
            }
        }
        Ok(SubsetMasks { rows: m, n, data })
    }

    /// Entries of row `i`.
    ///
    /// # Panics
    /// If `i >= rows`.
    pub fn row(&self, i: usize) -> &[u8] {
        assert!(
            i < self.rows,
            "mask row {i} out of range ({} rows)",
            self.rows
        );
        &self.data[i * self.n..(i + 1) * self.n]
    }

    /// Indices of the ones in row `i`, ascending.
    ///
    /// # Panics
    /// If `i >= rows`.
    pub fn row_indices(&self, i: usize) -> Vec<usize> {
        self.row(i)
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v != 0)
            .map(|(j, _)| j)
            .collect()
    }

    /// Number of ones in row `i`.
    ///
    /// # Panics
    /// If `i >= rows`.
    pub fn row_sum(&self, i: usize) -> usize {
        self.row(i).iter().filter(|&&v| v != 0).count()
    }

    /// Writes the masks as a `rows × n` u8 `.npy` matrix, atomically.
    pub fn save_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        write_npy_u8(path, &[self.rows, self.n], &self.data)
    }

    /// Reads a 2-D `.npy` matrix of u8, bool or any integer dtype whose entries
    /// are all 0 or 1.
    pub fn load_npy(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = read_bytes(path)?;
        let npy = parse_header(path, &bytes)?;
        let (shape, values) = read_ints(path, npy, true)?;
        let [rows, n] = shape[..] else {
            return Err(DataError::format(
                path,
                format!("masks have shape {shape:?}; expected a 2-D matrix (subsets × points)"),
            ));
        };
        let mut data = Vec::with_capacity(values.len());
        for (i, v) in values.into_iter().enumerate() {
            if v != 0 && v != 1 {
                return Err(DataError::record(
                    path,
                    "row",
                    i / n,
                    format!(
                        "value {v} at column {} is not 0 or 1 (rows and columns count from 0)",
                        i % n
                    ),
                ));
            }
            data.push(v as u8);
        }
        Ok(SubsetMasks { rows, n, data })
    }
}
