//! Random subset masks: M rows of n zeros and ones, each row marking one
//! training subset (used by data-attribution methods such as datamodels).

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::npy::{parse_header, read_bytes, read_ints, write_npy_u8};

/// The fraction α of the training points a subset keeps: one value for every subset, or several
/// that the subsets take in turn (row `i` the value `i mod len`), so that one datamodel sees
/// both far and near removals (docs/algorithms.md §6). Written in JSON as a number or a list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SubsetFraction {
    /// The same α for every subset.
    One(f64),
    /// Subsets take these values in turn.
    Cycle(Vec<f64>),
}

impl From<f64> for SubsetFraction {
    fn from(alpha: f64) -> Self {
        SubsetFraction::One(alpha)
    }
}

impl SubsetFraction {
    /// The values, in turn order.
    pub fn values(&self) -> &[f64] {
        match self {
            SubsetFraction::One(a) => std::slice::from_ref(a),
            SubsetFraction::Cycle(v) => v,
        }
    }

    /// α of subset `row`.
    pub fn of_row(&self, row: usize) -> f64 {
        let values = self.values();
        values[row % values.len()]
    }

    /// Every value lies in [0, 1], and there is at least one.
    pub fn check(&self) -> Result<()> {
        let values = self.values();
        if values.is_empty() {
            return Err(DataError::invalid(
                "subset fraction alpha is an empty list; give a number or a list of numbers in [0, 1]",
            ));
        }
        if let Some(a) = values.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            return Err(DataError::invalid(format!(
                "subset fraction alpha = {a} is outside [0, 1]"
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for SubsetFraction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubsetFraction::One(a) => write!(f, "{a}"),
            SubsetFraction::Cycle(v) => {
                let list: Vec<String> = v.iter().map(f64::to_string).collect();
                write!(f, "{} in turn", list.join(", "))
            }
        }
    }
}

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
        Self::random_fractions(m, n, &alpha.into(), seed)
    }

    /// `m` subsets, row `i` of exactly `round(α_i · n)` points chosen uniformly, where `α_i`
    /// is `fractions`' value for row `i`; the same rows as [`SubsetMasks::random`] for one α.
    pub fn random_fractions(
        m: usize,
        n: usize,
        fractions: &SubsetFraction,
        seed: u64,
    ) -> Result<Self> {
        fractions.check()?;
        let mut data = vec![0u8; m * n];
        for (i, row) in data.chunks_exact_mut(n.max(1)).take(m).enumerate() {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64);
            let k = Self::subset_size(n, fractions.of_row(i));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_in_turn_size_each_row_and_one_fraction_matches_random() {
        let one = SubsetMasks::random_fractions(6, 40, &0.25.into(), 7).unwrap();
        assert_eq!(one, SubsetMasks::random(6, 40, 0.25, 7).unwrap());
        let cycle: SubsetFraction = serde_json::from_str("[0.25, 0.75]").unwrap();
        let masks = SubsetMasks::random_fractions(6, 40, &cycle, 7).unwrap();
        let sizes: Vec<usize> = (0..6).map(|i| masks.row_sum(i)).collect();
        assert_eq!(sizes, [10, 30, 10, 30, 10, 30]);
        assert_eq!(
            serde_json::from_str::<SubsetFraction>("0.5").unwrap(),
            0.5.into()
        );
        assert_eq!(cycle.to_string(), "0.25, 0.75 in turn");
        let empty = SubsetFraction::Cycle(vec![]);
        assert!(SubsetMasks::random_fractions(2, 4, &empty, 0).is_err());
        let out = SubsetFraction::Cycle(vec![0.5, 1.5]);
        assert!(SubsetMasks::random_fractions(2, 4, &out, 0).is_err());
    }
}
