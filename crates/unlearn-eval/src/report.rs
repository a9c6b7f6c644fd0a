//! The evaluation table of one unlearning result: rows forget / retain / validation, columns
//! KLoM P95 / P99 / mean, method accuracy, Δacc (oracle − method), MIA efficacy (forget row
//! only) and optionally the retrain noise floor's P95. Renders to an aligned text table,
//! CSV and Markdown, and writes files atomically.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::accuracy::{SplitAccuracy, accuracy_delta};
use crate::error::{EvalError, Result};
use crate::io::atomic_write;
use crate::summary::{SplitSummary, Summary};

/// One row (split) of an [`EvalTable`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRow {
    /// Split name: `forget`, `retain` or `validation`.
    pub split: String,
    /// 95th percentile of per-point KLoM.
    pub klom_p95: f64,
    /// 99th percentile of per-point KLoM.
    pub klom_p99: f64,
    /// Mean per-point KLoM.
    pub klom_mean: f64,
    /// Accuracy of the method (mean over its models), fraction in `[0, 1]`.
    pub accuracy: f64,
    /// Oracle accuracy − method accuracy.
    pub delta_accuracy: f64,
    /// MIA efficacy (forget row only).
    pub mia_efficacy: Option<f64>,
    /// P95 KLoM of the retrain noise floor on this split, if computed.
    pub floor_p95: Option<f64>,
}

/// The evaluation table; see the module docs. The floor column is shown iff any row has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalTable {
    /// Rows in the order forget, retain, validation.
    pub rows: Vec<EvalRow>,
}

/// Column headers for the text and Markdown renderings (floor column last, optional).
const TEXT_HEADERS: [&str; 8] = [
    "Split",
    "P95 KLoM",
    "P99 KLoM",
    "Mean KLoM",
    "Acc",
    "ΔAcc (oracle−method)",
    "MIA eff.",
    "Floor P95",
];

/// Column headers for the CSV rendering.
const CSV_HEADERS: [&str; 8] = [
    "split",
    "klom_p95",
    "klom_p99",
    "klom_mean",
    "accuracy",
    "delta_accuracy",
    "mia_efficacy",
    "floor_p95",
];

impl EvalTable {
    /// Builds the table from the method's KLoM summary, the method's and the oracles'
    /// accuracies, the method's MIA efficacy (forget row) and optionally the noise-floor
    /// KLoM summary.
    pub fn new(
        klom: &SplitSummary,
        method_accuracy: &SplitAccuracy,
        oracle_accuracy: &SplitAccuracy,
        mia_efficacy: Option<f64>,
        floor: Option<&SplitSummary>,
    ) -> EvalTable {
        let delta = accuracy_delta(oracle_accuracy, method_accuracy);
        let row =
            |split: &str, s: &Summary, acc: f64, d: f64, mia: Option<f64>, fl: Option<&Summary>| {
                EvalRow {
                    split: split.to_string(),
                    klom_p95: s.p95,
                    klom_p99: s.p99,
                    klom_mean: s.mean,
                    accuracy: acc,
                    delta_accuracy: d,
                    mia_efficacy: mia,
                    floor_p95: fl.map(|f| f.p95),
                }
            };
        EvalTable {
            rows: vec![
                row(
                    "forget",
                    &klom.forget,
                    method_accuracy.forget,
                    delta.forget,
                    mia_efficacy,
                    floor.map(|f| &f.forget),
                ),
                row(
                    "retain",
                    &klom.retain,
                    method_accuracy.retain,
                    delta.retain,
                    None,
                    floor.map(|f| &f.retain),
                ),
                row(
                    "validation",
                    &klom.validation,
                    method_accuracy.validation,
                    delta.validation,
                    None,
                    floor.map(|f| &f.validation),
                ),
            ],
        }
    }

    fn has_floor(&self) -> bool {
        self.rows.iter().any(|r| r.floor_p95.is_some())
    }

    fn n_cols(&self) -> usize {
        if self.has_floor() { 8 } else { 7 }
    }

    /// Human-readable cells (rounded), one `Vec` per row, matching [`Self::headers`].
    pub fn cells(&self) -> Vec<Vec<String>> {
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.4}")).unwrap_or_default();
        self.rows
            .iter()
            .map(|r| {
                let mut c = vec![
                    r.split.clone(),
                    format!("{:.3}", r.klom_p95),
                    format!("{:.3}", r.klom_p99),
                    format!("{:.3}", r.klom_mean),
                    format!("{:.4}", r.accuracy),
                    format!("{:+.4}", r.delta_accuracy),
                    opt(r.mia_efficacy),
                ];
                if self.has_floor() {
                    c.push(r.floor_p95.map(|x| format!("{x:.3}")).unwrap_or_default());
                }
                c
            })
            .collect()
    }

    /// Headers of the text and Markdown renderings.
    pub fn headers(&self) -> Vec<&'static str> {
        TEXT_HEADERS[..self.n_cols()].to_vec()
    }

    /// Aligned plain-text table for the terminal (split left-aligned, numbers right-aligned).
    pub fn to_text(&self) -> String {
        let headers = self.headers();
        let cells = self.cells();
        let width = |s: &str| s.chars().count();
        let widths: Vec<usize> = (0..headers.len())
            .map(|c| {
                cells
                    .iter()
                    .map(|r| width(&r[c]))
                    .chain([width(headers[c])])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |row: &[String]| -> String {
            let parts: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, s)| {
                    let pad = " ".repeat(widths[c] - width(s));
                    if c == 0 {
                        format!("{s}{pad}")
                    } else {
                        format!("{pad}{s}")
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        let header_row: Vec<String> = headers.iter().map(|s| s.to_string()).collect();
        let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
        let mut out = line(&header_row);
        out.push('\n');
        out.push_str(&"-".repeat(total));
        out.push('\n');
        for r in &cells {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }

    /// GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let headers = self.headers();
        let mut out = format!("| {} |\n", headers.join(" | "));
        let align: Vec<&str> = (0..headers.len())
            .map(|c| if c == 0 { ":---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", align.join(" | ")));
        for r in self.cells() {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        out
    }

    /// CSV with machine-friendly headers and full-precision numbers (empty cell = not
    /// applicable).
    pub fn to_csv(&self) -> String {
        let n = self.n_cols();
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let mut out = csv::Writer::from_writer(Vec::new());
        // Writing records to memory cannot fail; the split names are quoted where needed.
        out.write_record(&CSV_HEADERS[..n]).expect("in memory");
        for r in &self.rows {
            let mut c = vec![
                r.split.clone(),
                r.klom_p95.to_string(),
                r.klom_p99.to_string(),
                r.klom_mean.to_string(),
                r.accuracy.to_string(),
                r.delta_accuracy.to_string(),
                opt(r.mia_efficacy),
            ];
            if n == 8 {
                c.push(opt(r.floor_p95));
            }
            out.write_record(&c).expect("in memory");
        }
        String::from_utf8(out.into_inner().expect("in memory")).expect("UTF-8 fields")
    }

    /// Pretty-printed JSON of the table.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| EvalError::arg("table", e.to_string()))
    }

    /// Writes [`Self::to_text`] atomically.
    pub fn write_text(&self, path: &Path) -> Result<()> {
        atomic_write(path, self.to_text().as_bytes())
    }

    /// Writes [`Self::to_csv`] atomically.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        atomic_write(path, self.to_csv().as_bytes())
    }

    /// Writes [`Self::to_markdown`] atomically.
    pub fn write_markdown(&self, path: &Path) -> Result<()> {
        atomic_write(path, self.to_markdown().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(with_floor: bool) -> EvalTable {
        let s = |p95, p99, mean| Summary { p95, p99, mean };
        let klom = SplitSummary {
            forget: s(9.26, 10.5, 4.25),
            retain: s(0.32, 0.5, 0.1),
            validation: s(0.26, 0.4, 0.125),
        };
        let floor = SplitSummary {
            forget: s(0.5, 0.6, 0.2),
            retain: s(0.25, 0.3, 0.1),
            validation: s(0.125, 0.2, 0.05),
        };
        let method = SplitAccuracy {
            forget: 1.0,
            retain: 1.0,
            validation: 0.875,
        };
        let oracle = SplitAccuracy {
            forget: 0.75,
            retain: 1.0,
            validation: 0.875,
        };
        EvalTable::new(
            &klom,
            &method,
            &oracle,
            Some(0.125),
            with_floor.then_some(&floor),
        )
    }

    #[test]
    fn csv_has_expected_header_and_rows() {
        let csv = table(false).to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines,
            vec![
                "split,klom_p95,klom_p99,klom_mean,accuracy,delta_accuracy,mia_efficacy",
                "forget,9.26,10.5,4.25,1,-0.25,0.125",
                "retain,0.32,0.5,0.1,1,0,",
                "validation,0.26,0.4,0.125,0.875,0,",
            ]
        );
        let csv = table(true).to_csv();
        assert!(csv.starts_with(
            "split,klom_p95,klom_p99,klom_mean,accuracy,delta_accuracy,mia_efficacy,floor_p95\n"
        ));
        assert!(csv.contains("\nretain,0.32,0.5,0.1,1,0,,0.25\n"));
    }

    #[test]
    fn markdown_and_text_render() {
        let md = table(true).to_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[0],
            "| Split | P95 KLoM | P99 KLoM | Mean KLoM | Acc | ΔAcc (oracle−method) | MIA eff. | Floor P95 |"
        );
        assert_eq!(
            lines[1],
            "| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        assert_eq!(
            lines[2],
            "| forget | 9.260 | 10.500 | 4.250 | 1.0000 | -0.2500 | 0.1250 | 0.500 |"
        );
        assert_eq!(
            lines[3],
            "| retain | 0.320 | 0.500 | 0.100 | 1.0000 | +0.0000 |  | 0.250 |"
        );
        assert_eq!(lines.len(), 5);

        let text = table(false).to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with("Split       P95 KLoM"));
        assert!(lines[1].chars().all(|c| c == '-'));
        // Right-aligned numbers: the P95 column ends at the same character offset in each row.
        let end_of = |l: &str, pat: &str| {
            l.find(pat)
                .map(|i| l[..i].chars().count() + pat.chars().count())
        };
        assert_eq!(end_of(lines[0], "P95 KLoM"), end_of(lines[2], "9.260"));
        assert_eq!(end_of(lines[0], "P95 KLoM"), end_of(lines[3], "0.320"));
        assert!(lines[2].ends_with("0.1250"));
        assert!(lines[3].ends_with("+0.0000"));
    }

    #[test]
    fn writes_files() {
        let dir = tempfile::tempdir().unwrap();
        let t = table(true);
        t.write_csv(&dir.path().join("t.csv")).unwrap();
        t.write_markdown(&dir.path().join("t.md")).unwrap();
        t.write_text(&dir.path().join("t.txt")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("t.csv")).unwrap(),
            t.to_csv()
        );
        let back: EvalTable = serde_json::from_str(&t.to_json().unwrap()).unwrap();
        assert_eq!(back, t);
    }
}
