//! Forget sets: the training points a model must unlearn.

use std::collections::HashMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};
use crate::fileio::atomic_write;
use crate::npy::{parse_header, read_bytes, read_ints, write_npy_i64};

/// A non-empty set of distinct training-point indices, sorted ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgetSet {
    /// The indices, sorted ascending and without repeats.
    pub indices: Vec<usize>,
}

impl ForgetSet {
    /// Validates indices against a data set of `n` points: non-empty, each
    /// `< n`, no repeats. The result is sorted.
    pub fn from_indices(mut indices: Vec<usize>, n: usize) -> Result<Self> {
        if indices.is_empty() {
            return Err(DataError::invalid("the forget set is empty"));
        }
        if let Some(&i) = indices.iter().find(|&&i| i >= n) {
            return Err(DataError::invalid(out_of_range(i, n)));
        }
        indices.sort_unstable();
        if let Some(w) = indices.windows(2).find(|w| w[0] == w[1]) {
            return Err(DataError::invalid(format!(
                "index {} appears more than once in the forget set",
                w[0]
            )));
        }
        Ok(ForgetSet { indices })
    }

    /// `k` distinct points of `0..n`, chosen uniformly with `seed`.
    pub fn random(n: usize, k: usize, seed: u64) -> Result<Self> {
        if k == 0 || k > n {
            return Err(DataError::invalid(format!(
                "cannot draw a forget set of {k} points from {n}; need 1 <= k <= {n}"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut indices = rand::seq::index::sample(&mut rng, n, k).into_vec();
        indices.sort_unstable();
        Ok(ForgetSet { indices })
    }

    /// `k` distinct points chosen uniformly (with `seed`) among those whose
    /// label is in `classes`; an error if fewer than `k` such points exist.
    pub fn class_restricted(labels: &[u32], classes: &[u32], k: usize, seed: u64) -> Result<Self> {
        let pool: Vec<usize> = labels
            .iter()
            .enumerate()
            .filter(|(_, l)| classes.contains(l))
            .map(|(i, _)| i)
            .collect();
        if k == 0 || k > pool.len() {
            return Err(DataError::invalid(format!(
                "cannot draw a forget set of {k} points from classes {classes:?}: \
                 they hold {} of the {} points; need 1 <= k <= {}",
                pool.len(),
                labels.len(),
                pool.len()
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut indices: Vec<usize> = rand::seq::index::sample(&mut rng, pool.len(), k)
            .into_iter()
            .map(|j| pool[j])
            .collect();
        indices.sort_unstable();
        Ok(ForgetSet { indices })
    }

    /// Number of points to forget.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Always false for a validated set; provided for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Whether point `i` is to be forgotten.
    pub fn contains(&self, i: usize) -> bool {
        self.indices.binary_search(&i).is_ok()
    }

    /// The retain set S \ F: every index of `0..n` not in the forget set, ascending.
    pub fn retain_indices(&self, n: usize) -> Vec<usize> {
        (0..n).filter(|&i| !self.contains(i)).collect()
    }

    /// A length-`n` membership mask (indices `>= n` are ignored).
    pub fn mask(&self, n: usize) -> Vec<bool> {
        let mut mask = vec![false; n];
        for &i in self.indices.iter().filter(|&&i| i < n) {
            mask[i] = true;
        }
        mask
    }

    /// Writes the set atomically: an int64 vector when `path` ends in `.npy`,
    /// otherwise text with one index per line.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if is_npy(path) {
            let data: Vec<i64> = self.indices.iter().map(|&i| i as i64).collect();
            write_npy_i64(path, &[data.len()], &data)
        } else {
            atomic_write(path, |w| {
                for i in &self.indices {
                    writeln!(w, "{i}")?;
                }
                Ok(())
            })
        }
    }

    /// Reads a set saved by [`ForgetSet::save`] (or by hand) and validates it
    /// against a data set of `n` points. Text files may contain blank lines and
    /// `#` comments; `.npy` files may use any integer dtype.
    pub fn load(path: impl AsRef<Path>, n: usize) -> Result<Self> {
        let indices = read_index_file(path, n, "forget set")?;
        Ok(ForgetSet { indices })
    }
}

fn is_npy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

fn out_of_range(i: impl std::fmt::Display, n: usize) -> String {
    if n == 0 {
        format!("index {i} is out of range: the data set is empty")
    } else {
        format!(
            "index {i} is out of range for a data set of {n} points (valid: 0..={})",
            n - 1
        )
    }
}

/// Distinct indices into `0..n` from a file (`.npy` of any integer dtype, or text: one per
/// line, blank lines and `#` comments allowed), ascending; `what` names the file's role in
/// messages ("forget set", "validation index file").
pub fn read_index_file(path: impl AsRef<Path>, n: usize, what: &str) -> Result<Vec<usize>> {
    let path = path.as_ref();
    if is_npy(path) {
        load_npy(path, n, what)
    } else {
        load_text(path, n, what)
    }
}

fn empty(path: &Path, what: &str) -> DataError {
    DataError::format(
        path,
        format!("the {what} is empty; it must name at least one point"),
    )
}

fn load_text(path: &Path, n: usize, what: &str) -> Result<Vec<usize>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, "cannot read", e))?;
    let mut first_seen: HashMap<usize, u64> = HashMap::new();
    let mut indices = Vec::new();
    for (lineno, raw) in (1u64..).zip(text.lines()) {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let i: usize = line.parse().map_err(|_| {
            DataError::line(
                path,
                lineno,
                format!("'{line}' is not a non-negative integer index"),
            )
        })?;
        if i >= n {
            return Err(DataError::line(path, lineno, out_of_range(i, n)));
        }
        if let Some(first) = first_seen.insert(i, lineno) {
            return Err(DataError::line(
                path,
                lineno,
                format!("index {i} is repeated (first on line {first})"),
            ));
        }
        indices.push(i);
    }
    if indices.is_empty() {
        return Err(empty(path, what));
    }
    indices.sort_unstable();
    Ok(indices)
}

fn load_npy(path: &Path, n: usize, what: &str) -> Result<Vec<usize>> {
    let bytes = read_bytes(path)?;
    let npy = parse_header(path, &bytes)?;
    let (shape, values) = read_ints(path, npy, false)?;
    if !matches!(shape[..], [_] | [_, 1]) {
        return Err(DataError::format(
            path,
            format!("{what} has shape {shape:?}; expected a vector of indices"),
        ));
    }
    let mut first_seen: HashMap<usize, usize> = HashMap::new();
    let mut indices = Vec::with_capacity(values.len());
    for (pos, v) in values.into_iter().enumerate() {
        let i = usize::try_from(v)
            .ok()
            .filter(|&i| i < n)
            .ok_or_else(|| DataError::record(path, "element", pos, out_of_range(v, n)))?;
        if let Some(first) = first_seen.insert(i, pos) {
            return Err(DataError::record(
                path,
                "element",
                pos,
                format!("index {i} is repeated (first at element {first}; elements count from 0)"),
            ));
        }
        indices.push(i);
    }
    if indices.is_empty() {
        return Err(empty(path, what));
    }
    indices.sort_unstable();
    Ok(indices)
}
