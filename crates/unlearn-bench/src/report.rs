//! The bench's report: one table per forget set (Markdown and CSV) and a KLoM-versus-cost plot.

use crate::error::{BenchError, Result};
use crate::settings::BenchSettings;
use std::fmt::Write as _;
use std::path::Path;
use unlearn_eval::{AttackSplits, Evaluation, SplitSummary};

/// The challenge regression attack's splits, beside report.csv.
pub const CHALLENGE_SPLITS_FILE: &str = "challenge-splits.json";

/// One line of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportRow {
    /// Forget set name.
    pub forget_set: String,
    /// Method and grid point.
    pub label: String,
    /// Method name (plot series).
    pub method: String,
    /// Per-request cost, fraction of retraining.
    pub cost: f64,
    /// P95 KLoM on F, R, V.
    pub forget_p95: f64,
    /// ″
    pub retain_p95: f64,
    /// ″
    pub val_p95: f64,
    /// P99 KLoM on F, R, V (the paper's Figure 2 plots their average against cost).
    pub forget_p99: f64,
    /// ″
    pub retain_p99: f64,
    /// ″
    pub val_p99: f64,
    /// Oracle − method accuracy on F and V.
    pub delta_forget: f64,
    /// ″
    pub delta_val: f64,
    /// MIA efficacy.
    pub mia: f64,
    /// U-LiRA AUC.
    pub ulira: f64,
    /// The NeurIPS 2023 unlearning challenge's score as the competition computes it (1 best).
    pub challenge: f64,
    /// unlearn's two-sided variant of it (every threshold attack's complement added).
    pub challenge_two_sided: f64,
    /// KLoM per split under the public benchmark's histogram rules (report.csv only).
    pub benchmark_klom: Option<SplitSummary>,
    /// The scored zoo and its oracles, relative to the run directory (report.csv only), so
    /// that an independent reference can recompute every column from their logits.
    pub zoos: Option<(String, String)>,
    /// The splits of the challenge's regression attack (written to `challenge-splits.json`).
    #[serde(skip)]
    pub challenge_splits: Option<AttackSplits>,
    /// A one-time precomputation line rather than a method.
    pub one_time: bool,
    /// Why this run failed (its numbers are then empty); the rest of the bench went on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl ReportRow {
    /// A method's row.
    pub fn new(forget_set: &str, label: &str, method: &str, cost: f64, e: &Evaluation) -> Self {
        Self {
            forget_set: forget_set.into(),
            label: label.into(),
            method: method.into(),
            cost,
            forget_p95: e.summary.forget.p95,
            retain_p95: e.summary.retain.p95,
            val_p95: e.summary.validation.p95,
            forget_p99: e.summary.forget.p99,
            retain_p99: e.summary.retain.p99,
            val_p99: e.summary.validation.p99,
            delta_forget: e.oracle_accuracy.forget - e.accuracy.forget,
            delta_val: e.oracle_accuracy.validation - e.accuracy.validation,
            mia: e.mia_efficacy,
            ulira: e.ulira_auc,
            challenge: e.challenge.score,
            challenge_two_sided: e.challenge.two_sided_score,
            benchmark_klom: Some(e.benchmark_summary),
            zoos: None,
            challenge_splits: Some(e.challenge.splits.clone()),
            one_time: false,
            failure: None,
        }
    }

    /// Records which zoo was scored against which oracles (paths relative to the run
    /// directory).
    pub fn with_zoos(mut self, zoo: String, oracles: String) -> Self {
        self.zoos = Some((zoo, oracles));
        self
    }

    /// A run that failed: its label and the error, no numbers.
    pub fn failed(forget_set: &str, label: &str, method: &str, error: &str) -> Self {
        Self {
            label: label.into(),
            method: method.into(),
            one_time: false,
            failure: Some(error.lines().next().unwrap_or_default().to_string()),
            ..Self::attribution(forget_set, "", f64::NAN)
        }
    }

    /// The attribution precomputation, in the same cost unit, on its own line.
    pub fn attribution(forget_set: &str, estimator: &str, cost: f64) -> Self {
        Self {
            forget_set: forget_set.into(),
            label: format!("one-time: subset models for {estimator}"),
            method: "attribution".into(),
            cost,
            forget_p95: f64::NAN,
            retain_p95: f64::NAN,
            val_p95: f64::NAN,
            forget_p99: f64::NAN,
            retain_p99: f64::NAN,
            val_p99: f64::NAN,
            delta_forget: f64::NAN,
            delta_val: f64::NAN,
            mia: f64::NAN,
            ulira: f64::NAN,
            challenge: f64::NAN,
            challenge_two_sided: f64::NAN,
            benchmark_klom: None,
            zoos: None,
            challenge_splits: None,
            one_time: true,
            failure: None,
        }
    }
}

impl ReportRow {
    /// The average over forget, retain and validation of the P99 KLoM: one number that a
    /// method damaging the retain set cannot hide behind a good forget score.
    pub fn p99_split_average(&self) -> f64 {
        (self.forget_p99 + self.retain_p99 + self.val_p99) / 3.0
    }
}

fn cell(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        String::new()
    }
}

/// One method's line of a forget set's Markdown table.
fn write_row(md: &mut String, r: &ReportRow) -> std::fmt::Result {
    let p99 = if r.forget_p99.is_finite() {
        format!(
            "{:.2} / {:.2} / {:.2}",
            r.forget_p99, r.retain_p99, r.val_p99
        )
    } else {
        String::new()
    };
    writeln!(
        md,
        "| {} | {} | {} | {} | {} | {p99} | {} | {} | {} | {} | {} | {} | {} |",
        r.label,
        cell(r.cost, 4),
        cell(r.forget_p95, 3),
        cell(r.retain_p95, 3),
        cell(r.val_p95, 3),
        cell(r.p99_split_average(), 3),
        cell(r.delta_forget, 4),
        cell(r.delta_val, 4),
        cell(r.mia, 3),
        cell(r.ulira, 3),
        cell(r.challenge, 3),
        cell(r.challenge_two_sided, 3)
    )
}

/// What a report says about the run above its tables.
#[derive(Debug, Clone)]
pub struct ReportHeader {
    /// Dataset name.
    pub dataset: String,
    /// The recipe, as JSON or a name.
    pub recipe: String,
    /// The bench's sizes and estimator.
    pub settings: BenchSettings,
    /// The datamodels' LDS on held-out subset models.
    pub lds: f64,
    /// Forget sets in report order: (name, description such as "10 points, classes [3]").
    pub forget_sets: Vec<(String, String)>,
}

/// The report's title and the paragraph on what was run.
fn intro(header: &ReportHeader) -> std::result::Result<String, std::fmt::Error> {
    let mut md = String::from("# unlearn bench\n\n");
    writeln!(
        md,
        "Dataset `{}`, recipe `{}`, {} models per zoo, {} subset models (α = {}{}) for `{}` (LDS {:.3}){}. P95 KLoM against {} oracles; cost = examples forward+backward / one retraining. `challenge` is the NeurIPS 2023 unlearning challenge's score as its scorer computes it (1 best; threshold and logistic-regression attacks on the loss), `challenge 2-sided` the same with each threshold attack's complement added, which catches a model whose loss stays lower than retraining's (one that remembers F: the competition's attacks can miss it, docs/algorithms.md §10); with {} models per side (the competition drew 512) even retraining scores below 1, so read each method's against the `retrain (floor)` row.\n",
        header.dataset,
        header.recipe,
        header.settings.models,
        header.settings.subset_models,
        header.settings.alpha,
        header.settings.subset_groups.as_ref().map_or(String::new(), |g| format!(
            "; left out in groups of {}: {:.0} % as neighbourhoods, {:.0} % as same-class points",
            g.group_size,
            100.0 * g.neighbourhoods,
            100.0 * g.classes
        )),
        match header.settings.attribution_params.is_empty() {
            true => header.settings.attribution.clone(),
            false => format!(
                "{} {}",
                header.settings.attribution,
                serde_json::Value::Object(header.settings.attribution_params.clone())
            ),
        },
        header.lds,
        header.settings.neighbourhood_term.as_ref().map_or(String::new(), |t| format!(
            " with a neighbourhood term ({} nearest points; fitted on {} more subset models, left out in groups of {}: {:.0} % as neighbourhoods, {:.0} % as same-class points)",
            t.neighbours,
            t.subset_models,
            t.groups.group_size,
            100.0 * t.groups.neighbourhoods,
            100.0 * t.groups.classes
        )),
        header.settings.models,
        header.settings.models
    )?;
    Ok(md)
}

/// The columns of report.csv.
const CSV_COLUMNS: [&str; 26] = [
    "forget_set",
    "method",
    "label",
    "cost",
    "klom_p95_forget",
    "klom_p95_retain",
    "klom_p95_validation",
    "klom_p99_forget",
    "klom_p99_retain",
    "klom_p99_validation",
    "klom_p99_split_average",
    "delta_acc_forget",
    "delta_acc_validation",
    "mia_efficacy",
    "ulira_auc",
    "challenge_score",
    "challenge_score_two_sided",
    "klom_benchmark_p95_forget",
    "klom_benchmark_p95_retain",
    "klom_benchmark_p95_validation",
    "klom_benchmark_p99_forget",
    "klom_benchmark_p99_retain",
    "klom_benchmark_p99_validation",
    "zoo",
    "oracles",
    "failure",
];

/// One row of report.csv, in [`CSV_COLUMNS`]' order.
fn csv_record(r: &ReportRow) -> Vec<String> {
    let bench_cell = |f: fn(&SplitSummary) -> f64| {
        r.benchmark_klom
            .as_ref()
            .map_or(String::new(), |b| cell(f(b), 6))
    };
    vec![
        r.forget_set.clone(),
        r.method.clone(),
        r.label.clone(),
        r.cost.to_string(),
        cell(r.forget_p95, 6),
        cell(r.retain_p95, 6),
        cell(r.val_p95, 6),
        cell(r.forget_p99, 6),
        cell(r.retain_p99, 6),
        cell(r.val_p99, 6),
        cell(r.p99_split_average(), 6),
        cell(r.delta_forget, 6),
        cell(r.delta_val, 6),
        cell(r.mia, 6),
        cell(r.ulira, 6),
        cell(r.challenge, 6),
        cell(r.challenge_two_sided, 6),
        bench_cell(|b| b.forget.p95),
        bench_cell(|b| b.retain.p95),
        bench_cell(|b| b.validation.p95),
        bench_cell(|b| b.forget.p99),
        bench_cell(|b| b.retain.p99),
        bench_cell(|b| b.validation.p99),
        r.zoos.as_ref().map(|z| z.0.clone()).unwrap_or_default(),
        r.zoos.as_ref().map(|z| z.1.clone()).unwrap_or_default(),
        r.failure.clone().unwrap_or_default(),
    ]
}

/// The challenge regression attack's splits, one per pair of zoo sizes among `rows`, to
/// [`CHALLENGE_SPLITS_FILE`] (for the independent reference check).
fn write_challenge_splits(out: &Path, rows: &[ReportRow]) -> Result<()> {
    let mut splits: Vec<&AttackSplits> = Vec::new();
    for s in rows.iter().filter_map(|r| r.challenge_splits.as_ref()) {
        if !splits.contains(&s) {
            splits.push(s);
        }
    }
    let splits_json = serde_json::json!({
        "seed": unlearn_eval::CHALLENGE_SEED,
        "test_fraction": unlearn_eval::CHALLENGE_TEST_FRACTION,
        "splits": splits,
    });
    unlearn_data::atomic_write_bytes(
        out.join(CHALLENGE_SPLITS_FILE),
        serde_json::to_string(&splits_json)?.as_bytes(),
    )?;
    Ok(())
}

/// Writes report.md, report.csv and one klom_vs_cost plot per forget set; returns the paths.
pub fn write_report(out: &Path, rows: &[ReportRow], header: &ReportHeader) -> Result<Vec<String>> {
    let fmt = |e: std::fmt::Error| BenchError::Report(e.to_string());
    let mut md = intro(header).map_err(fmt)?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| BenchError::Report(format!("report.csv: {e}"));
    csv.write_record(CSV_COLUMNS).map_err(csv_err)?;
    let mut files = Vec::new();
    let mut recorded: Vec<String> = Vec::new();
    for (name, description) in &header.forget_sets {
        let set: Vec<&ReportRow> = rows.iter().filter(|r| &r.forget_set == name).collect();
        writeln!(md, "## Forget set `{name}` ({description})\n").map_err(fmt)?;
        md.push_str("| method | cost | P95 forget | P95 retain | P95 val | P99 F / R / V | P99 avg | ΔAcc forget | ΔAcc val | MIA | U-LiRA AUC | challenge | challenge 2-sided |\n");
        md.push_str(
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for r in &set {
            if let Some(why) = &r.failure {
                let why = why.replace('|', "/");
                writeln!(md, "| {} | failed: {why} | | | | | | | | | | | |", r.label)
                    .map_err(fmt)?;
            } else {
                write_row(&mut md, r).map_err(fmt)?;
            }
            csv.write_record(csv_record(r)).map_err(csv_err)?;
        }
        md.push('\n');
        // As the paper's Figure 2: the P99 averaged over the three splits, so damage to the
        // retain or validation set shows. Cost 0 (do nothing, DM-Direct) cannot sit on a log
        // axis: drawn at 1e-4 and said so.
        let points: Vec<(String, f64, f64)> = set
            .iter()
            .filter(|r| !r.one_time && r.p99_split_average().is_finite())
            .map(|r| (r.method.clone(), r.cost.max(1e-4), r.p99_split_average()))
            .collect();
        // Plot files are named after the forget set: keep them to safe characters.
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let stem = out.join(format!("klom_vs_cost-{safe}"));
        let plot = unlearn_eval::plot_scatter(
            &stem,
            &format!("Forget set {name}: KLoM vs cost (cost 0 drawn at 1e-4)"),
            "cost (fraction of retraining, log)",
            "P99 KLoM, mean of forget, retain, validation",
            &points,
            true,
            false,
        )?;
        writeln!(
            md,
            "![KLoM vs cost]({})\n",
            plot.png
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
        )
        .map_err(fmt)?;
        files.push(plot.png.display().to_string());
        for path in [&plot.png, &plot.svg] {
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                recorded.push(name.to_string());
            }
        }
    }
    let csv = csv
        .into_inner()
        .map_err(|e| BenchError::Report(format!("report.csv: {e}")))?;
    unlearn_data::atomic_write_bytes(out.join("report.md"), md.as_bytes())?;
    unlearn_data::atomic_write_bytes(out.join("report.csv"), &csv)?;
    files.insert(0, out.join("report.csv").display().to_string());
    write_challenge_splits(out, rows)?;
    recorded.push(CHALLENGE_SPLITS_FILE.to_string());
    files.insert(0, out.join("report.md").display().to_string());
    // The report's files with their sha256 and size, for `unlearn verify` (the zoos and the
    // datamodels below record their own).
    recorded.extend(["report.md".to_string(), "report.csv".to_string()]);
    let names: Vec<&str> = recorded.iter().map(String::as_str).collect();
    let record =
        serde_json::json!({ "files": unlearn_train::integrity::record_named(out, &names)? });
    unlearn_data::atomic_write_bytes(
        out.join(unlearn_train::integrity::REPORT_FILE),
        serde_json::to_string_pretty(&record)?.as_bytes(),
    )?;
    Ok(files)
}
