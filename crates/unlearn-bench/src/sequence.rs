//! Deletion requests one after another, measured (docs/algorithms.md §14): a sequence of
//! requests honoured by chaining a method (each step on the zoo the last one made), scored
//! after every step with KLoM against oracles retrained without every point forgotten so far,
//! beside the same method given the whole union in one request and beside the floor.

use crate::error::{BenchError, Result};
use crate::pipeline::{Bench, Foundations, logits_view, score};
use crate::settings::{MethodSpec, key};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use std::path::Path;
use unlearn_data::{Dataset, ForgetSet};
use unlearn_eval::ChainRule;
use unlearn_methods::{Chain, Context, unlearn_zoo};
use unlearn_models::Architecture;
use unlearn_train::manifest::InputRef;
use unlearn_train::{Progress, Zoo, ZooKind};

/// A sequence of requests (bench config `sequences`): `steps` disjoint requests of `size`
/// training points, drawn at random or from `classes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceSpec {
    /// Name in reports and paths.
    pub name: String,
    /// Requests.
    pub steps: usize,
    /// Points per request.
    pub size: usize,
    /// Draw from these classes (default: from every point).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<u32>>,
    /// Seed of the draw.
    #[serde(default)]
    pub seed: u64,
    /// Methods chained, by name; the parameters of the bench's method entry of that name
    /// (its first grid point) when there is one, else the method's defaults.
    pub methods: Vec<String>,
}

impl SequenceSpec {
    /// The requests: `steps` disjoint sets of `size` training points, in order.
    pub fn draw(&self, train: &Dataset) -> Result<Vec<ForgetSet>> {
        if self.steps == 0 || self.size == 0 || self.methods.is_empty() {
            return Err(BenchError::Config(format!(
                "sequence '{}': needs steps ≥ 1, size ≥ 1 and at least one method",
                self.name
            )));
        }
        let total = self.steps * self.size;
        let all = match &self.classes {
            Some(classes) => ForgetSet::class_restricted(&train.labels, classes, total, self.seed)?,
            None => ForgetSet::random(train.len(), total, self.seed)?,
        };
        // The drawn points in a seeded order, cut into requests.
        let mut order = all.indices.clone();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(
            self.seed ^ 0x0053_4551,
        ));
        Ok(order
            .chunks(self.size)
            .map(|c| ForgetSet::from_indices(c.to_vec(), train.len()))
            .collect::<std::result::Result<_, _>>()?)
    }
}

/// KLoM after one step of a sequence.
#[derive(Debug, Clone, Serialize)]
pub struct SequenceRow {
    /// The sequence.
    pub sequence: String,
    /// Requests honoured (1-based).
    pub step: usize,
    /// Points forgotten after it.
    pub forgotten: usize,
    /// The method, or `retrain` for the floor.
    pub method: String,
    /// `chained`, `one request` (the union at once) or `floor` (a second oracle zoo).
    pub how: String,
    /// Cost: the chain's so far, the one request's, or 1 per retraining.
    pub cost: f64,
    /// P95 KLoM on the union, on R and on V.
    pub forget_p95: f64,
    /// ″
    pub retain_p95: f64,
    /// ″
    pub val_p95: f64,
    /// How much the step's request holds itself up ([`unlearn_eval::coupling`]).
    pub coupling: f64,
    /// Chained rows: the operator's rule from oracle-free measures ([`ChainRule`]).
    pub verdict: String,
    /// Chained rows: what KLoM says ([`KLOM_FORGET_TOLERANCE`], [`KLOM_RETAIN_TOLERANCE`]).
    pub klom_verdict: String,
}

/// KLoM's verdict, to count how often the rule agrees with it: a chain is within tolerance while
/// its forget P95 stays within this factor of the floor's...
pub const KLOM_FORGET_TOLERANCE: f64 = 1.5;
/// ... and its retain P95 within this factor.
pub const KLOM_RETAIN_TOLERANCE: f64 = 1.25;

fn save_set(set: &ForgetSet, path: &Path) -> Result<InputRef> {
    let parent = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(parent).map_err(BenchError::io(parent))?;
    set.save(path)?;
    Ok(InputRef::of_file(path)?)
}

impl<A: Architecture> Bench<'_, A> {
    /// Runs every sequence: per step the oracles and floor of the union so far, then each
    /// method chained from the last step's zoo and given the union in one request.
    pub fn run_sequences(
        &self,
        sequences: &[SequenceSpec],
        progress: &dyn Progress,
    ) -> Result<Vec<SequenceRow>> {
        self.check_foundations()?;
        // Every sequence draws and every method builds before anything trains.
        for (k, spec) in sequences.iter().enumerate() {
            if sequences[..k].iter().any(|s| s.name == spec.name) {
                return Err(BenchError::Config(format!(
                    "two sequences are named '{}'; give each its own name",
                    spec.name
                )));
            }
            spec.draw(&self.data.train)?;
            for name in &spec.methods {
                self.registry.build(name, &self.sequence_params(name))?;
            }
        }
        let found = self.foundations(progress)?;
        let mut rows = Vec::new();
        for spec in sequences {
            rows.extend(self.sequence_rows(spec, &found, progress)?);
        }
        Ok(rows)
    }

    /// A sequence's parameters for `method`: the bench's entry of that name (its first grid
    /// point), else the defaults.
    fn sequence_params(&self, method: &str) -> serde_json::Map<String, serde_json::Value> {
        self.methods
            .iter()
            .find(|m| m.method == method)
            .map_or_else(|| MethodSpec::new(method).points(), MethodSpec::points)
            .swap_remove(0)
            .1
    }

    fn sequence_rows(
        &self,
        spec: &SequenceSpec,
        found: &Foundations,
        progress: &dyn Progress,
    ) -> Result<Vec<SequenceRow>> {
        let s = &self.settings;
        let (originals, n_train) = (&found.originals, self.data.train.len());
        // The coupling of each request reads every row of β.
        let dense_beta = found.beta.dense()?;
        let requests = spec.draw(&self.data.train)?;
        let dir = self.out.join("sequences").join(&spec.name);
        let mut rows = Vec::new();
        let mut heads: Vec<Option<Zoo>> = vec![None; spec.methods.len()];
        let mut chain_cost = vec![0.0; spec.methods.len()];
        let rule = ChainRule::default();
        for step in 1..=requests.len() {
            let request = &requests[step - 1];
            let all: Vec<usize> = requests[..step]
                .iter()
                .flat_map(|r| r.indices.clone())
                .collect();
            let union = ForgetSet::from_indices(all, n_train)?;
            let union_ref = save_set(&union, &dir.join(format!("forgotten-{step}.txt")))?;
            let coupling = unlearn_eval::coupling(
                &dense_beta,
                originals.points,
                originals.classes,
                &originals.labels,
                &request.indices,
            );
            let request_ref = save_set(request, &dir.join(format!("request-{step}.txt")))?;
            let retain = || ZooKind::Retain {
                forget: union.clone(),
                source: union_ref.clone(),
            };
            let oracle = |role: &str, first_seed: u64| {
                let k = serde_json::json!({ "common": found.common, "models": s.models, "forget": union_ref.sha256, "role": role });
                self.zoo(
                    &format!("{role}-{}-{step}", spec.name),
                    retain(),
                    s.models,
                    first_seed,
                    k,
                    progress,
                )
            };
            let oracles = oracle("eval", 1000)?;
            let floor = oracle("floor", 2000)?;
            let row = |method: &str, how: &str, cost: f64, zoo: &Zoo| -> Result<SequenceRow> {
                let e = score(zoo, &oracles, None, &union.indices)?;
                Ok(SequenceRow {
                    sequence: spec.name.clone(),
                    step,
                    forgotten: union.len(),
                    method: method.into(),
                    how: how.into(),
                    cost,
                    forget_p95: e.summary.forget.p95,
                    retain_p95: e.summary.retain.p95,
                    val_p95: e.summary.validation.p95,
                    coupling,
                    verdict: String::new(),
                    klom_verdict: String::new(),
                })
            };
            let floor_row = row("retrain", "floor", 1.0, &floor)?;
            let (floor_forget, floor_retain) = (floor_row.forget_p95, floor_row.retain_p95);
            rows.push(floor_row);
            let mut beta_forget = found.beta.rows_sum(&union.indices)?;
            if let Some((term, _)) = &found.term {
                term.adjust(&mut beta_forget, &union.indices)?;
            }
            // What the datamodels predict of every original without U (the rule's yardstick).
            let predicted = unlearn_methods::methods::direct::predicted_logits(
                &originals.logits,
                &beta_forget,
                1.0,
            );
            let points = unlearn_eval::EvalPoints {
                labels: &originals.labels,
                n_train,
                forget: &union.indices,
            };
            for (m, name) in spec.methods.iter().enumerate() {
                let unlearner = self.registry.build(name, &self.sequence_params(name))?;
                let targets = if unlearner.inputs().oracles {
                    Some(oracle("targets-paired", 0)?)
                } else {
                    None
                };
                let method_key = serde_json::json!({ "method": unlearner.name(), "params": unlearner.params(), "originals": originals.manifest.config_hash, "attribution": found.attribution_dir.file_name().map(|f| f.to_string_lossy().into_owned()) });
                let run = |head: Option<&Zoo>,
                           forget_ref: &InputRef,
                           how: &str|
                 -> Result<(Zoo, f64)> {
                    let from = head.unwrap_or(originals);
                    let mut inputs = serde_json::json!({ "attribution": method_key["attribution"], "targets": targets.as_ref().map(|t| t.manifest.config_hash.clone()) });
                    if let Some(chain) = head.map(Chain::of).transpose()?.flatten() {
                        inputs["chain"] =
                            serde_json::to_value(chain.record(&union, request.len()))?;
                    }
                    let ctx = Context {
                        arch: self.arch,
                        originals: from,
                        data: self.data,
                        forget: &union,
                        target_oracles: targets.as_ref(),
                        beta_forget: Some(&beta_forget),
                        root: head.map(|_| originals),
                        device: self.device.clone(),
                    };
                    let out = dir.join(format!("{name}-{how}-{step}-{}", key(&serde_json::json!({ "method": method_key, "from": from.manifest.config_hash, "forget": forget_ref.sha256 }))));
                    progress.phase(
                        &format!("{} {name} {how} {step}", spec.name),
                        originals.models as u64,
                    );
                    let summary = unlearn_zoo(
                        unlearner.as_ref(),
                        &ctx,
                        forget_ref,
                        inputs,
                        &out,
                        s.stack,
                        None,
                        progress,
                    )?;
                    Ok((Zoo::load(&out)?, summary.cost))
                };
                let (chained, cost) = run(heads[m].as_ref(), &request_ref, "chained")?;
                chain_cost[m] += cost;
                let mut chained_row = row(name, "chained", chain_cost[m], &chained)?;
                let audit = unlearn_eval::audit(
                    logits_view(originals),
                    logits_view(&chained),
                    Some(&predicted),
                    &points,
                )?;
                chained_row.verdict = rule.judge(&audit, chain_cost[m]).line();
                let within = chained_row.forget_p95 <= KLOM_FORGET_TOLERANCE * floor_forget
                    && chained_row.retain_p95 <= KLOM_RETAIN_TOLERANCE * floor_retain;
                chained_row.klom_verdict = if within { "within" } else { "retrain due" }.into();
                rows.push(chained_row);
                let (once, cost) = run(None, &union_ref, "once")?;
                rows.push(row(name, "one request", cost, &once)?);
                heads[m] = Some(chained);
            }
            let first = rows.len() - 2 * spec.methods.len();
            progress.note(format!(
                "{} step {step}: {} forgotten; {} forget P95 chained {:.3}, one request {:.3}; floor {:.3}",
                spec.name,
                union.len(),
                spec.methods[0],
                rows[first].forget_p95,
                rows[first + 1].forget_p95,
                rows[first - 1].forget_p95,
            ));
        }
        Ok(rows)
    }
}

/// A plotted line: its label and its (step, P95) points.
type Series = (String, Vec<(f64, f64)>);

/// Writes `sequence.md` (a table per sequence), `sequence.csv` (every row) and a plot per
/// sequence of forget and retain P95 against the step (`sequence-NAME.png`/`.svg`); returns the
/// files written.
pub fn write_sequence_report(out: &Path, rows: &[SequenceRow]) -> Result<Vec<String>> {
    use std::fmt::Write as _;
    let mut md = String::from(
        "# Deletion requests one after another\n\nP95 KLoM after each request, against oracles retrained without every point forgotten so far: the method chained (each request on the zoo the last one made), the same method given the whole union in one request, and the floor (a second oracle zoo). Costs are shares of one retraining: the chain's summed over its requests.\n",
    );
    let mut csv = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| BenchError::Report(format!("sequence.csv: {e}"));
    let mut files = Vec::new();
    let mut names: Vec<&str> = rows.iter().map(|r| r.sequence.as_str()).collect();
    names.dedup();
    for name in names {
        let of: Vec<&SequenceRow> = rows.iter().filter(|r| r.sequence == name).collect();
        let fmt = |e: std::fmt::Error| BenchError::Report(e.to_string());
        write!(md, "\n## {name}\n\n| step | forgotten | coupling | method | chained forget | chained retain | one request forget | one request retain | floor forget | floor retain | chained cost | one request cost | rule (no oracles) | KLoM |\n|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n").map_err(fmt)?;
        let find = |step: usize, method: &str, how: &str| {
            of.iter()
                .find(|r| r.step == step && r.method == method && r.how == how)
        };
        // One plot per method: forget and retain P95 of the chain, the one request, the floor.
        let mut plots: Vec<(String, Vec<Series>)> = Vec::new();
        let mut push = |method: &str, label: String, step: usize, value: f64| {
            let series = match plots.iter_mut().find(|(m, _)| m == method) {
                Some((_, series)) => series,
                None => {
                    plots.push((method.to_string(), Vec::new()));
                    &mut plots.last_mut().expect("just pushed").1
                }
            };
            match series.iter_mut().find(|(l, _)| *l == label) {
                Some((_, points)) => points.push((step as f64, value)),
                None => series.push((label, vec![(step as f64, value)])),
            }
        };
        for r in of.iter().filter(|r| r.how == "chained") {
            let (Some(once), Some(floor)) = (
                find(r.step, &r.method, "one request"),
                find(r.step, "retrain", "floor"),
            ) else {
                continue;
            };
            writeln!(
                md,
                "| {} | {} | {:.2} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.4} | {:.4} | {} | {} |",
                r.step,
                r.forgotten,
                r.coupling,
                r.method,
                r.forget_p95,
                r.retain_p95,
                once.forget_p95,
                once.retain_p95,
                floor.forget_p95,
                floor.retain_p95,
                r.cost,
                once.cost,
                r.verdict,
                r.klom_verdict
            )
            .map_err(fmt)?;
            for (split, chained, single, fl) in [
                ("forget", r.forget_p95, once.forget_p95, floor.forget_p95),
                ("retain", r.retain_p95, once.retain_p95, floor.retain_p95),
            ] {
                push(&r.method, format!("{split}: chained"), r.step, chained);
                push(&r.method, format!("{split}: one request"), r.step, single);
                push(&r.method, format!("{split}: floor"), r.step, fl);
            }
        }
        let chained: Vec<&&SequenceRow> = of.iter().filter(|r| r.how == "chained").collect();
        let agree = chained
            .iter()
            .filter(|r| r.verdict.starts_with("retrain") == r.klom_verdict.starts_with("retrain"))
            .count();
        writeln!(
            md,
            "\nThe rule agreed with KLoM at {agree} of {} chained steps.",
            chained.len()
        )
        .map_err(fmt)?;
        for (method, series) in &plots {
            let file = format!("sequence-{name}-{method}");
            unlearn_eval::plot_curves(
                &out.join(&file),
                &format!("{name}, {method}: P95 KLoM after each request"),
                "requests honoured",
                "P95 KLoM",
                series,
                false,
                false,
            )?;
            files.push(format!("{file}.png"));
            writeln!(md, "\n![{name}, {method}]({file}.png)").map_err(fmt)?;
        }
    }
    for r in rows {
        csv.serialize(r).map_err(csv_err)?;
    }
    let csv = csv
        .into_inner()
        .map_err(|e| BenchError::Report(format!("sequence.csv: {e}")))?;
    unlearn_data::atomic_write_bytes(out.join("sequence.md"), md.as_bytes())?;
    unlearn_data::atomic_write_bytes(out.join("sequence.csv"), &csv)?;
    files.extend(["sequence.md".to_string(), "sequence.csv".to_string()]);
    Ok(files)
}
