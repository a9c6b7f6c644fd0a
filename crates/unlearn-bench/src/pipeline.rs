//! The bench pipeline: originals, datamodels, three oracle zoos per forget set (evaluation,
//! noise floor, Oracle Matching targets), every method of a registry over its grid, KLoM, and a
//! report. Every artifact lives under the run directory, named by the hash of what determines
//! it, so a re-run (or a run interrupted and started again) reuses what is finished.

use crate::beta_store::StoredBeta;
use crate::datamodels::{FitOptions, SubsetZoo, fit_or_read};
use crate::error::{BenchError, Result};
use crate::neighbourhood::{FittedTerm, TERM_ALPHA};
use crate::report::{ReportHeader, ReportRow, write_report};
use crate::settings::{
    BenchSettings, ForgetDraw, MethodSpec, NamedForgetSet, NeighbourhoodSpec, key,
};
use burn::tensor::Device;
use std::path::{Path, PathBuf};
use std::time::Instant;
use unlearn_attribution::{Estimator, EstimatorRegistry};
use unlearn_data::{ForgetSet, GroupedRemoval, Prepared, SubsetMasks};
use unlearn_eval::{Direction, EvalPoints, LogitsView, evaluate};
use unlearn_methods::{Context, MethodRegistry, unlearn_zoo};
use unlearn_models::Architecture;
use unlearn_train::manifest::{DatasetInfo, InputRef};
use unlearn_train::{Progress, Recipe, Zoo, ZooKind, ZooSpec, train_zoo};

/// The points of `draw`, given the datamodels `beta` (read whole only for a drawn set).
fn draw_points(
    draw: &ForgetDraw,
    beta: &StoredBeta,
    originals: &Zoo,
    data: &Prepared,
) -> Result<ForgetSet> {
    Ok(match draw {
        ForgetDraw::Fixed(set) => set.clone(),
        ForgetDraw::Principal {
            size,
            component,
            ends,
        } => {
            let n = data.train.len();
            let matrix = unlearn_attribution::margin_effects(
                &beta.dense()?,
                n,
                originals.points,
                originals.classes,
                &data.train.labels,
            )?;
            let scores = unlearn_attribution::principal_coordinates(&matrix, *component)?;
            ForgetSet::by_score(&scores, *size, *ends)?
        }
    })
}

/// What a bench produced.
#[derive(Debug, Clone)]
pub struct BenchOutcome {
    /// Every report row, in order.
    pub rows: Vec<ReportRow>,
    /// LDS of the datamodels on held-out subset models.
    pub lds: f64,
    /// The report's files (report.md, report.csv, plots).
    pub files: Vec<String>,
    /// Runs that failed (rows with a `failure`); the report holds the rest.
    pub failures: usize,
}

/// What a bench's requests start from ([`Bench::foundations`]).
pub(crate) struct Foundations {
    pub(crate) originals: Zoo,
    pub(crate) beta: StoredBeta,
    pub(crate) attribution_dir: PathBuf,
    pub(crate) lds: f64,
    pub(crate) term: Option<(FittedTerm, PathBuf)>,
    pub(crate) subset_examples: u64,
    pub(crate) common: serde_json::Value,
}

/// One comparison: an architecture, its recipe, the data, forget sets and methods.
pub struct Bench<'a, A: Architecture> {
    /// The architecture of every model.
    pub arch: &'a A,
    /// Methods by name (built-ins and the user's own).
    pub registry: &'a MethodRegistry<A>,
    /// Datamodel estimators by name ([`EstimatorRegistry::builtin`] unless the user registers
    /// more); [`BenchSettings::attribution`] names one.
    pub estimators: EstimatorRegistry,
    /// Recipe of every trained model (`recipe.model` = `arch.spec()`).
    pub recipe: Recipe,
    /// The data, split and standardised.
    pub data: &'a Prepared,
    /// Their record in manifests.
    pub info: DatasetInfo,
    /// Sizes.
    pub settings: BenchSettings,
    /// Forget sets.
    pub forget_sets: Vec<NamedForgetSet>,
    /// Methods with their grids.
    pub methods: Vec<MethodSpec>,
    /// Run directory.
    pub out: PathBuf,
    /// Device the tensors run on.
    pub device: Device,
}

/// The logits of a zoo as the evaluation library reads them.
pub fn logits_view(zoo: &Zoo) -> LogitsView<'_> {
    LogitsView {
        logits: &zoo.logits,
        models: zoo.models,
        points: zoo.points,
        classes: zoo.classes,
    }
}

/// KLoM and the other metrics of `unlearned` against `oracles` (and of a second oracle set
/// `floor`, the retraining noise floor, when given), for the forget set `forget`.
pub fn score(
    unlearned: &Zoo,
    oracles: &Zoo,
    floor: Option<&Zoo>,
    forget: &[usize],
) -> Result<unlearn_eval::Evaluation> {
    let points = EvalPoints {
        labels: &oracles.labels,
        n_train: oracles.manifest.dataset.n_train,
        forget,
    };
    Ok(evaluate(
        logits_view(unlearned),
        logits_view(oracles),
        floor.map(logits_view),
        &points,
        Direction::UnlearnedOracle,
    )?)
}

impl<'a, A: Architecture> Bench<'a, A> {
    /// A bench of `arch` on `data` with the default sizes and no forget set or method yet; the
    /// recipe is `Recipe::for_model(arch.spec())` and the run directory `runs/bench`.
    pub fn new(
        arch: &'a A,
        registry: &'a MethodRegistry<A>,
        data: &'a Prepared,
        info: DatasetInfo,
        device: Device,
    ) -> Self {
        Self {
            arch,
            registry,
            estimators: EstimatorRegistry::builtin(),
            recipe: Recipe::for_model(arch.spec()),
            data,
            info,
            settings: BenchSettings::default(),
            forget_sets: Vec::new(),
            methods: Vec::new(),
            out: PathBuf::from("runs/bench"),
            device,
        }
    }

    /// Checks everything that can be checked before training: sizes, the recipe against the
    /// architecture and data, forget sets in range, every method and grid point.
    pub fn check(&self) -> Result<()> {
        if self.forget_sets.is_empty() || self.methods.is_empty() {
            return Err(BenchError::Config(
                "the bench needs at least one forget set and one method".into(),
            ));
        }
        self.check_foundations()?;
        let n_train = self.data.train.len();
        for f in &self.forget_sets {
            let bad = match &f.draw {
                ForgetDraw::Fixed(set) => set.indices.iter().find(|&&i| i >= n_train).map(|bad| {
                    format!("index {bad} is out of range for {n_train} training points")
                }),
                ForgetDraw::Principal {
                    size, component, ..
                } => (*size == 0 || *size > n_train || !(1..=2).contains(component)).then(|| {
                    format!(
                        "a principal-component set needs 1 <= size <= {n_train} (got {size}) \
                         and component 1 or 2 (got {component})"
                    )
                }),
            };
            if let Some(why) = bad {
                return Err(BenchError::Config(format!(
                    "forget set '{}': {why}",
                    f.name
                )));
            }
        }
        for method in &self.methods {
            method.check(self.registry)?;
        }
        Ok(())
    }

    /// Checks what every request starts from: the sizes, the estimator, the neighbourhood term,
    /// the recipe against the architecture and the data.
    pub(crate) fn check_foundations(&self) -> Result<()> {
        let s = &self.settings;
        if s.models < 2 {
            return Err(BenchError::out_of_range(
                "models",
                s.models,
                "≥ 2 (KLoM compares distributions over models)",
            ));
        }
        if s.subset_models < 2 {
            return Err(BenchError::out_of_range(
                "subset_models",
                s.subset_models,
                "≥ 2",
            ));
        }
        self.estimator()?;
        if let Some(term) = &s.neighbourhood_term {
            term.check(self.data.train.len())?;
        }
        self.recipe.validate()?;
        unlearn_train::zoo::check_architecture(self.arch, &self.recipe)?;
        self.arch
            .validate(&self.info.input())
            .map_err(unlearn_train::TrainError::from)?;
        Ok(())
    }

    /// The estimator [`BenchSettings::attribution`] names, with its overrides.
    pub fn estimator(&self) -> Result<Box<dyn Estimator>> {
        let s = &self.settings;
        Ok(self
            .estimators
            .build(&s.attribution, &s.attribution_params, FitOptions::default())?)
    }

    pub(crate) fn zoo(
        &self,
        name: &str,
        kind: ZooKind,
        models: usize,
        first_seed: u64,
        key_value: serde_json::Value,
        progress: &dyn Progress,
    ) -> Result<Zoo> {
        let dir = self
            .out
            .join("zoos")
            .join(format!("{name}-{}", key(&key_value)));
        let spec = ZooSpec::new(self.recipe.clone(), kind, models)
            .first_seed(first_seed)
            .stack(self.settings.stack);
        progress.phase(name, models as u64);
        Ok(train_zoo(
            self.arch,
            &spec,
            self.data,
            self.info.clone(),
            &dir,
            &self.device,
            progress,
        )?)
    }

    /// `m` subset models on masks drawn at the bench's α (left out partly in `groups` when
    /// given), with their masks; both named by what determines them, so two runs asking for the
    /// same subsets share them.
    pub(crate) fn subset_zoo(
        &self,
        m: usize,
        groups: Option<&GroupedRemoval>,
        common: &serde_json::Value,
        progress: &dyn Progress,
    ) -> Result<SubsetZoo> {
        let s = &self.settings;
        let n_train = self.data.train.len();
        let mut masks_key = serde_json::json!({ "n": n_train, "m": m, "alpha": s.alpha });
        if let Some(groups) = groups {
            masks_key["groups"] = serde_json::to_value(groups)?;
        }
        let masks_path = self.out.join(format!("masks-{}.npy", key(&masks_key)));
        if !masks_path.is_file() {
            let masks = SubsetMasks::draw(m, &self.data.train, &s.alpha, groups, 0)?;
            masks.save_npy(&masks_path)?;
        }
        let masks = SubsetMasks::load_npy(&masks_path)?;
        let source = InputRef::of_file(&masks_path)?;
        let zoo = self.zoo(
            "subsets",
            ZooKind::Subsets {
                masks: masks.clone(),
                source,
            },
            m,
            100_000,
            serde_json::json!({ "common": common, "masks": key(&masks_key) }),
            progress,
        )?;
        SubsetZoo::new(zoo, masks)
    }

    /// What every request of a bench starts from: the originals, the datamodels (β and their
    /// LDS) and the neighbourhood term; each trained or fitted once and read back after.
    pub(crate) fn foundations(&self, progress: &dyn Progress) -> Result<Foundations> {
        let s = &self.settings;
        std::fs::create_dir_all(&self.out).map_err(BenchError::io(&self.out))?;
        let common = serde_json::json!({ "dataset": self.info, "recipe": self.recipe });

        let stage = Instant::now();
        let originals = self.zoo(
            "originals",
            ZooKind::Full,
            s.models,
            0,
            serde_json::json!({ "common": common, "models": s.models }),
            progress,
        )?;
        progress.note(format!(
            "originals: {} models ({:.1} s)",
            originals.models,
            stage.elapsed().as_secs_f64()
        ));

        // Datamodels: subset masks, subset models, one full fit of β.
        let stage = Instant::now();
        let subsets =
            self.subset_zoo(s.subset_models, s.subset_groups.as_ref(), &common, progress)?;
        let mut subset_examples =
            subsets.zoo.manifest.examples_per_model * subsets.zoo.models as u64;
        let subset_seconds = stage.elapsed().as_secs_f64();
        let mut attribution_key = serde_json::json!({ "zoo": subsets.zoo.manifest.config_hash, "estimator": s.attribution });
        // Added with the registry: absent when empty, so earlier runs keep their β.
        if !s.attribution_params.is_empty() {
            attribution_key["params"] = s.attribution_params.clone().into();
        }
        let attribution_dir = self
            .out
            .join(format!("attribution-{}", key(&attribution_key)));
        progress.phase(&format!("fitting {}", s.attribution), 1);
        let (beta, lds, fit_seconds) = fit_or_read(
            &attribution_dir,
            subsets,
            &s.attribution,
            self.estimator()?.as_ref(),
        )?;
        progress.note(format!(
            "datamodels ({}): LDS {lds:.4}, fit {fit_seconds:.1} s; subset zoo {subset_seconds:.1} s",
            s.attribution
        ));
        let term = match &s.neighbourhood_term {
            None => None,
            Some(spec) => {
                let (term, dir, examples) = self.neighbourhood_stage(
                    spec,
                    &beta.dense()?,
                    &attribution_dir,
                    &common,
                    progress,
                )?;
                subset_examples += examples;
                Some((term, dir))
            }
        };

        Ok(Foundations {
            originals,
            beta,
            attribution_dir,
            lds,
            term,
            subset_examples,
            common,
        })
    }

    /// Runs the whole comparison (resuming whatever an earlier run finished) and writes the
    /// report under the run directory.
    pub fn run(&self, progress: &dyn Progress) -> Result<BenchOutcome> {
        self.check()?;
        let s = &self.settings;
        let Foundations {
            originals,
            beta,
            attribution_dir,
            lds,
            term,
            subset_examples,
            common,
        } = self.foundations(progress)?;

        // A forget set (its oracles) or a method run that fails is a row of the report, and
        // the bench goes on with the rest.
        let mut rows = Vec::new();
        for named in &self.forget_sets {
            match self.forget_set_rows(
                named,
                &originals,
                &common,
                &beta,
                &attribution_dir,
                term.as_ref(),
                subset_examples,
                progress,
            ) {
                Ok(set_rows) => rows.extend(set_rows),
                Err(e) => {
                    progress.warn(format!("forget set {}: {e}", named.name));
                    rows.push(ReportRow::failed(
                        &named.name,
                        "(oracles)",
                        "retrain",
                        &e.to_string(),
                    ));
                }
            }
        }
        let header = ReportHeader {
            dataset: self.info.name.clone(),
            recipe: serde_json::to_string(&self.recipe)?,
            settings: s.clone(),
            lds,
            forget_sets: self
                .forget_sets
                .iter()
                .map(|f| (f.name.clone(), f.description.clone()))
                .collect(),
        };
        let files = write_report(&self.out, &rows, &header)?;
        let failures = rows.iter().filter(|r| r.failure.is_some()).count();
        Ok(BenchOutcome {
            rows,
            lds,
            files,
            failures,
        })
    }

    /// The term's stage of a bench: its grouped subset zoo, then the term fitted against the
    /// datamodels `beta` of `attribution_dir`; with the term's directory and the zoo's examples
    /// (part of the attribution's cost).
    pub(crate) fn neighbourhood_stage(
        &self,
        spec: &NeighbourhoodSpec,
        beta: &[f32],
        attribution_dir: &Path,
        common: &serde_json::Value,
        progress: &dyn Progress,
    ) -> Result<(FittedTerm, PathBuf, u64)> {
        let smallest = self
            .settings
            .alpha
            .values()
            .iter()
            .copied()
            .fold(1.0, f64::min);
        if smallest < TERM_ALPHA {
            progress.warn(format!(
                "neighbourhood term with α = {smallest}: far from the full set β already holds much of a neighbourhood's effect and the term can count it twice (docs/algorithms.md §6: digits neighbours-20 at α = 0.5 went from 1.25 to 5.51); it is meant for α ≥ {TERM_ALPHA}"
            ));
        }
        let stage = Instant::now();
        let grouped = self.subset_zoo(spec.subset_models, Some(&spec.groups), common, progress)?;
        let examples = grouped.zoo.manifest.examples_per_model * grouped.zoo.models as u64;
        let dir = self.out.join(format!(
            "neighbourhood-{}",
            key(&serde_json::json!({
                "zoo": grouped.zoo.manifest.config_hash,
                "attribution": attribution_dir.file_name().map(|n| n.to_string_lossy().into_owned()),
                "neighbours": spec.neighbours,
            }))
        ));
        progress.phase("fitting the neighbourhood term", 1);
        let term = FittedTerm::fit_or_load(&dir, spec.neighbours, beta, &grouped, self.data)?;
        progress.note(format!(
            "neighbourhood term ({} neighbours, {} grouped subset models): {:.1} s",
            spec.neighbours,
            grouped.zoo.models,
            stage.elapsed().as_secs_f64()
        ));
        Ok((term, dir, examples))
    }

    /// The oracle zoos of one forget set, then every method over its grid, scored.
    #[allow(clippy::too_many_arguments)]
    fn forget_set_rows(
        &self,
        named: &NamedForgetSet,
        originals: &Zoo,
        common: &serde_json::Value,
        beta: &StoredBeta,
        attribution_dir: &Path,
        term: Option<&(FittedTerm, PathBuf)>,
        subset_examples: u64,
        progress: &dyn Progress,
    ) -> Result<Vec<ReportRow>> {
        let s = &self.settings;
        let forget = &draw_points(&named.draw, beta, originals, self.data)?;
        let name = &named.name;
        let n_train = self.data.train.len();
        let forget_path = self.out.join("forget").join(format!("{name}.txt"));
        let parent = forget_path.parent().expect("has a parent");
        std::fs::create_dir_all(parent).map_err(BenchError::io(parent))?;
        forget.save(&forget_path)?;
        let forget_ref = InputRef::of_file(&forget_path)?;
        let retain_kind = || ZooKind::Retain {
            forget: forget.clone(),
            source: forget_ref.clone(),
        };
        let oracle_key = |role: &str| serde_json::json!({ "common": common, "models": s.models, "forget": forget_ref.sha256, "role": role });
        let stage = Instant::now();
        let oracle_zoo = |role: &str, first_seed: u64| {
            self.zoo(
                &format!("{role}-{name}"),
                retain_kind(),
                s.models,
                first_seed,
                oracle_key(match role {
                    "oracles" => "eval",
                    "targets" => "targets-paired",
                    r => r,
                }),
                progress,
            )
        };
        let oracles = oracle_zoo("oracles", 1000)?;
        let floor = oracle_zoo("floor", 2000)?;
        // OM's targets share the originals' seeds (0..): target i is original i retrained
        // without F, so matching it moves the forget set without blending in another network.
        let targets = oracle_zoo("targets", 0)?;
        progress.note(format!(
            "{name}: three oracle zoos ({:.1} s)",
            stage.elapsed().as_secs_f64()
        ));
        let retrain_examples = (self.recipe.epochs * forget.retain_indices(n_train).len()) as u64;
        let attribution_cost = subset_examples as f64 / retrain_examples.max(1) as f64;
        let mut beta_forget = beta.rows_sum(&forget.indices)?;
        if let Some((term, _)) = term {
            term.adjust(&mut beta_forget, &forget.indices)?;
        }
        let ctx = Context {
            arch: self.arch,
            originals,
            data: self.data,
            forget,
            target_oracles: Some(&targets),
            beta_forget: Some(&beta_forget),
            root: None,
            device: self.device.clone(),
        };
        // Paths relative to the run directory, as report.csv records them.
        let relative = |zoo: &Zoo| {
            zoo.dir
                .strip_prefix(&self.out)
                .unwrap_or(&zoo.dir)
                .to_string_lossy()
                .into_owned()
        };
        let scored = |zoo: &Zoo, label: &str, method: &str, cost: f64| -> Result<ReportRow> {
            let e = score(zoo, &oracles, None, &forget.indices)?;
            Ok(ReportRow::new(name, label, method, cost, &e)
                .with_zoos(relative(zoo), relative(&oracles)))
        };
        let mut rows = vec![scored(&floor, "retrain (floor)", "retrain", 1.0)?];
        for method in &self.methods {
            for (label, params) in method.points() {
                let unlearner = self.registry.build(&method.method, &params)?;
                let dir_name =
                    |dir: &Path| dir.file_name().map(|n| n.to_string_lossy().into_owned());
                let mut inputs = serde_json::json!({ "targets": targets.manifest.config_hash, "attribution": dir_name(attribution_dir) });
                if let Some((_, dir)) = term {
                    inputs["neighbourhood"] = serde_json::json!(dir_name(dir));
                }
                let method_key = serde_json::json!({
                    "config": { "method": unlearner.name(), "params": unlearner.params() },
                    "inputs": inputs,
                    "originals": originals.manifest.config_hash,
                });
                let dir = self.out.join("methods").join(name).join(format!(
                    "{}-{}",
                    method.method,
                    key(&method_key)
                ));
                progress.phase(&method.method, originals.models as u64);
                progress.message(label.clone());
                let run = || -> Result<ReportRow> {
                    let summary = unlearn_zoo(
                        unlearner.as_ref(),
                        &ctx,
                        &forget_ref,
                        inputs,
                        &dir,
                        s.stack,
                        None,
                        progress,
                    )?;
                    let zoo = Zoo::load(&dir)?;
                    scored(&zoo, &label, &method.method, summary.cost)
                };
                let row = match run() {
                    Ok(row) => row,
                    Err(e) => {
                        progress.warn(format!("{name}: {label}: {e}"));
                        rows.push(ReportRow::failed(
                            name,
                            &label,
                            &method.method,
                            &e.to_string(),
                        ));
                        continue;
                    }
                };
                progress.note(format!(
                    "{:>12} {:<32} cost {:>7.4}  P95 KLoM forget {:>6.3} retain {:>6.3} val {:>6.3}",
                    name, label, row.cost, row.forget_p95, row.retain_p95, row.val_p95
                ));
                rows.push(row);
            }
        }
        rows.push(ReportRow::attribution(
            name,
            &s.attribution,
            attribution_cost,
        ));
        Ok(rows)
    }
}
