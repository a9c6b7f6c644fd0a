//! Loader for tabular data in CSV: a header row, numeric feature columns and
//! one integer label column chosen by name.

use std::io::Read;
use std::path::Path;

use crate::dataset::Dataset;
use crate::error::{DataError, Result};

/// Label column used when the caller does not name one.
pub const DEFAULT_LABEL_COLUMN: &str = "label";

/// Loads a CSV file whose header names the columns; every column except
/// `label_column` is a numeric feature, and `label_column` holds non-negative
/// integer labels. `classes` is the largest label plus one.
pub fn load_csv(path: impl AsRef<Path>, label_column: &str) -> Result<Dataset> {
    load_csv_with_classes(path, label_column, None)
}

/// Like [`load_csv`] but with a fixed number of classes (useful when a small
/// file happens to miss the highest class); labels `>= classes` are an error.
pub fn load_csv_with_classes(
    path: impl AsRef<Path>,
    label_column: &str,
    classes: Option<usize>,
) -> Result<Dataset> {
    let path = path.as_ref();
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, "cannot open", e))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "csv".to_string());
    parse_csv(file, path, &name, label_column, classes)
}

/// Parses CSV from any reader; `source` is only used in error messages.
pub(crate) fn parse_csv(
    reader: impl Read,
    source: &Path,
    name: &str,
    label_column: &str,
    classes: Option<usize>,
) -> Result<Dataset> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        // Ragged rows are reported by us, with the expected count, not by csv.
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);

    let header = rdr
        .headers()
        .map_err(|e| csv_error(source, e))?
        .iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    if header.iter().all(|h| h.is_empty()) {
        return Err(DataError::format(
            source,
            "the file is empty; expected a header row naming the columns",
        ));
    }
    let label_idx = header
        .iter()
        .position(|h| h == label_column)
        .ok_or_else(|| {
            DataError::line(
                source,
                1,
                format!(
                    "no column named '{label_column}' in the header (columns: {}); \
                 name the label column explicitly",
                    abbreviate(&header)
                ),
            )
        })?;
    let dim = header.len() - 1;

    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(source, e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.len() != header.len() {
            return Err(DataError::line(
                source,
                line,
                format!(
                    "expected {} fields as in the header, found {}",
                    header.len(),
                    record.len()
                ),
            ));
        }
        for (col, field) in record.iter().enumerate() {
            if col == label_idx {
                labels.push(parse_label(field).ok_or_else(|| {
                    DataError::line(
                        source,
                        line,
                        format!(
                            "column '{label_column}': '{field}' is not a non-negative integer label"
                        ),
                    )
                })?);
            } else {
                let value = field.parse::<f32>().ok().filter(|v| v.is_finite());
                features.push(value.ok_or_else(|| {
                    DataError::line(
                        source,
                        line,
                        format!("column '{}': '{field}' is not a finite number", header[col]),
                    )
                })?);
            }
        }
    }

    if labels.is_empty() {
        return Err(DataError::format(
            source,
            "no data rows after the header; the data set is empty",
        ));
    }
    let max_label = labels.iter().copied().max().unwrap_or(0) as usize;
    let classes = match classes {
        Some(c) if max_label >= c => {
            let row = labels.iter().position(|&l| l as usize >= c).unwrap_or(0);
            return Err(DataError::format(
                source,
                format!(
                    "data row {}: label {} is not below the {c} classes requested",
                    row + 1,
                    labels[row]
                ),
            ));
        }
        Some(c) => c,
        None => max_label + 1,
    };
    Dataset::new(name, features, labels, dim, classes, None)
}

/// Accepts "3" and also "3.0", which spreadsheet exports often produce.
fn parse_label(field: &str) -> Option<u32> {
    if let Ok(v) = field.parse::<u32>() {
        return Some(v);
    }
    let v = field.parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64).then_some(v as u32)
}

fn csv_error(source: &Path, e: csv::Error) -> DataError {
    match e.position() {
        Some(p) => DataError::line(source, p.line(), format!("unreadable CSV: {e}")),
        None => DataError::format(source, format!("unreadable CSV: {e}")),
    }
}

/// Keeps error messages one readable line even for 3072-column headers.
fn abbreviate(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut s = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(", ... ({} in all)", names.len()));
    }
    s
}
