//! The in-memory data set every loader produces.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// A labelled data set held in memory: `len()` rows of `dim` features each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    /// Human-readable name (file stem or built-in name), used in logs and manifests.
    pub name: String,
    /// Row-major `len() × dim` feature matrix.
    pub features: Vec<f32>,
    /// One class label per row, each `< classes`.
    pub labels: Vec<u32>,
    /// Number of features per row.
    pub dim: usize,
    /// Number of classes; labels lie in `0..classes`.
    pub classes: usize,
    /// `(channels, height, width)` when the rows are images stored channel-major,
    /// so that convolutional models can reshape them; `None` for tabular data.
    pub image_shape: Option<[usize; 3]>,
}

impl Dataset {
    /// Builds a data set after checking that the parts agree with each other:
    /// `features.len() == labels.len() * dim`, every label `< classes`, and the
    /// image shape (if any) multiplies out to `dim`.
    pub fn new(
        name: impl Into<String>,
        features: Vec<f32>,
        labels: Vec<u32>,
        dim: usize,
        classes: usize,
        image_shape: Option<[usize; 3]>,
    ) -> Result<Self> {
        let name = name.into();
        if features.len() != labels.len() * dim {
            return Err(DataError::invalid(format!(
                "data set '{name}': {} feature values do not make {} rows of {dim}",
                features.len(),
                labels.len()
            )));
        }
        if let Some(i) = labels.iter().position(|&l| l as usize >= classes) {
            return Err(DataError::invalid(format!(
                "data set '{name}': row {i} has label {} but there are only {classes} classes",
                labels[i]
            )));
        }
        if let Some(shape) = image_shape
            && shape.iter().product::<usize>() != dim
        {
            return Err(DataError::invalid(format!(
                "data set '{name}': image shape {shape:?} does not hold {dim} features"
            )));
        }
        Ok(Dataset {
            name,
            features,
            labels,
            dim,
            classes,
            image_shape,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the data set has no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features of row `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.dim..(i + 1) * self.dim]
    }

    /// Label of row `i`.
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn label(&self, i: usize) -> u32 {
        self.labels[i]
    }

    /// The rows at `indices`, in that order (repeats allowed). The name, `dim`,
    /// `classes` and `image_shape` are kept.
    ///
    /// # Panics
    /// If an index is `>= len()`; indices come from this crate's splits and
    /// forget sets, which are validated against the data set size.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut features = Vec::with_capacity(indices.len() * self.dim);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            assert!(
                i < self.len(),
                "subset index {i} out of range for data set '{}' of {} rows",
                self.name,
                self.len()
            );
            features.extend_from_slice(self.row(i));
            labels.push(self.labels[i]);
        }
        Dataset {
            name: self.name.clone(),
            features,
            labels,
            dim: self.dim,
            classes: self.classes,
            image_shape: self.image_shape,
        }
    }

    /// Number of rows of each class, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }

    /// SHA-256 (lowercase hex) of the features as little-endian f32 bytes
    /// followed by the labels as little-endian u32 bytes. Identifies the exact
    /// data a model was trained on, independent of file format and name.
    pub fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        for x in &self.features {
            hasher.update(x.to_le_bytes());
        }
        for l in &self.labels {
            hasher.update(l.to_le_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset::new(
            "t",
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            vec![0, 2, 1],
            2,
            3,
            None,
        )
        .unwrap()
    }

    #[test]
    fn rows_and_subset() {
        let d = tiny();
        assert_eq!(d.len(), 3);
        assert_eq!(d.row(1), &[3.0, 4.0]);
        let s = d.subset(&[2, 0]);
        assert_eq!(s.features, vec![5.0, 6.0, 1.0, 2.0]);
        assert_eq!(s.labels, vec![1, 0]);
        assert_eq!(s.classes, 3);
        assert_eq!(d.class_counts(), vec![1, 1, 1]);
    }

    #[test]
    fn new_rejects_inconsistent_parts() {
        assert!(Dataset::new("x", vec![1.0; 5], vec![0, 0], 2, 1, None).is_err());
        let e = Dataset::new("x", vec![1.0; 4], vec![0, 3], 2, 3, None).unwrap_err();
        assert!(e.to_string().contains("row 1 has label 3"), "{e}");
        assert!(Dataset::new("x", vec![1.0; 4], vec![0, 0], 2, 1, Some([1, 2, 2])).is_err());
    }

    #[test]
    fn content_hash_matches_independent_sha256() {
        let d = Dataset::new("h", vec![1.0], vec![2], 1, 3, None).unwrap();
        // sha256 of 00 00 80 3f (1.0f32 LE) 02 00 00 00 (2u32 LE), computed
        // with `printf ... | sha256sum`.
        assert_eq!(
            d.content_hash(),
            "65d229f36587ca000f33f3467842da4f0b5fadc614a4449b76151f0931471873"
        );
        // Names do not matter; content does.
        let mut other = d.clone();
        other.name = "other".into();
        assert_eq!(other.content_hash(), d.content_hash());
        other.labels[0] = 1;
        assert_ne!(other.content_hash(), d.content_hash());
    }
}
