//! TRAK from a zoo's checkpoints, for any architecture: scores of train rows on every (evaluated
//! point, class), calibrated to output units on a subset zoo (docs/algorithms.md §7), with the
//! LDS on its held-out models.
//!
//! The checkpoints come from `zoo`: a subset zoo (checkpoints, calibration and LDS all from it,
//! on disjoint models) or an originals zoo (checkpoints from it, calibration and LDS from a
//! separate subset zoo, or unscaled without one).

use crate::datamodels::{FitOptions, SubsetZoo};
use crate::error::{BenchError, Result};
use burn::tensor::Device;
use std::borrow::Cow;
use std::time::Instant;
use unlearn_attribution::trak::{ClassLogit, Target};
use unlearn_attribution::{
    Calibration, Masks, Outputs, Points, ScoreRequest, Trak, TrakConfig, calibrate,
    lds_from_predictions, split_models,
};
use unlearn_data::Prepared;
use unlearn_models::{Architecture, InputSpec};
use unlearn_train::{Progress, Zoo};

/// Evaluated points the calibration (and the LDS of `--forget-set` runs) looks at, at most.
const TRAK_CALIBRATION_POINTS: usize = 2048;

/// TRAK's calibrated scores for some train rows, and what they cost.
pub struct TrakOutcome {
    /// Train rows scored.
    pub rows: Vec<usize>,
    /// β = s · τ, row-major `rows × (points · classes)`.
    pub beta: Vec<f32>,
    /// The fitted scale and intercepts (None: unscaled).
    pub calibration: Option<Calibration>,
    /// Whether the calibration covers every evaluated point (then its intercepts are complete).
    pub calibration_complete: bool,
    /// LDS on held-out subset models (true-class logits).
    pub lds: Option<f64>,
    /// Wall-clock seconds: checkpoints, gradients, projections, kernels, scores, calibration.
    pub seconds: f64,
    /// What was done, for attribution.json.
    pub info: serde_json::Value,
}

impl TrakOutcome {
    /// One line on where the time went and what the calibration found.
    pub fn summary(&self) -> String {
        let i = &self.info;
        format!(
            "  trak: {} checkpoints, k = {}, p = {}, ridge {}; gradients {:.1} s, projections {:.1} s, kernels {:.1} s, scores {:.1} s, calibration {:.1} s; scale {}",
            i["checkpoints"].as_array().map_or(0, |a| a.len()),
            i["k"],
            i["params"],
            i["ridge"],
            i["seconds"]["gradients"].as_f64().unwrap_or(0.0),
            i["seconds"]["projections"].as_f64().unwrap_or(0.0),
            i["seconds"]["kernels"].as_f64().unwrap_or(0.0),
            i["seconds"]["scores"].as_f64().unwrap_or(0.0),
            i["seconds"]["calibration"].as_f64().unwrap_or(0.0),
            match &self.calibration {
                Some(c) => format!(
                    "{:.4} (pooled r {:.3} on {} subset models)",
                    c.scale, c.correlation, c.models
                ),
                None => "1 (uncalibrated)".into(),
            }
        )
    }
}

/// How TRAK runs.
#[derive(Debug, Clone)]
pub struct TrakOptions {
    /// Checkpoints averaged over: from a subset zoo the first N models that are not held out
    /// (the other fit models calibrate the scale, the held-out ones give the LDS), from an
    /// originals zoo its first N models.
    pub models: usize,
    /// Projection, ridges, seeds, batch.
    pub config: TrakConfig,
    /// The held-out split of the calibration zoo.
    pub fit: FitOptions,
}

impl Default for TrakOptions {
    /// 5 checkpoints, TRAK's defaults, 10 % held out.
    fn default() -> Self {
        Self {
            models: 5,
            config: TrakConfig::default(),
            fit: FitOptions::default(),
        }
    }
}

/// Which checkpoints TRAK averages over, and which subset models calibrate it.
struct CheckpointPlan {
    /// The calibration zoo's fit/held-out split.
    split: Option<unlearn_attribution::ModelSplit>,
    /// Models of the scored zoo whose gradients TRAK takes.
    checkpoints: Vec<usize>,
    /// Fit models of the calibration zoo that are not checkpoints.
    calibration_models: Vec<usize>,
}

impl CheckpointPlan {
    /// From a subset zoo (`same_zoo`): its first fit models, the rest of the fit models
    /// calibrating; from an originals zoo: its first models.
    fn new(
        zoo: &Zoo,
        calibration_zoo: Option<&SubsetZoo>,
        same_zoo: bool,
        options: &TrakOptions,
    ) -> Result<Self> {
        let models = options.models;
        if models == 0 {
            return Err(BenchError::out_of_range(
                "trak models",
                models,
                "≥ 1 (TRAK needs a checkpoint)",
            ));
        }
        let split = calibration_zoo
            .map(|s| split_models(s.zoo.models, options.fit.held_out, options.fit.seed))
            .transpose()?;
        let checkpoints: Vec<usize> = if same_zoo {
            let fit = &split.as_ref().expect("a subset zoo").fit;
            if models >= fit.len() {
                return Err(BenchError::invalid(
                    &zoo.dir,
                    format!(
                        "{models} TRAK checkpoints leave no fit model to calibrate on ({} fit models)",
                        fit.len()
                    ),
                ));
            }
            fit[..models].to_vec()
        } else {
            if models > zoo.models {
                return Err(BenchError::invalid(
                    &zoo.dir,
                    format!(
                        "{models} TRAK checkpoints asked for but the zoo has {} models",
                        zoo.models
                    ),
                ));
            }
            (0..models).collect()
        };
        let calibration_models = match &split {
            Some(s) => s
                .fit
                .iter()
                .copied()
                .filter(|m| !(same_zoo && checkpoints.contains(m)))
                .collect(),
            None => Vec::new(),
        };
        Ok(Self {
            split,
            checkpoints,
            calibration_models,
        })
    }
}

/// The (point, class) targets the calibration looks at: every class of evenly spaced points.
struct CalibrationTargets {
    points: Vec<usize>,
    /// Point-major columns `point · classes + class`, as in β.
    targets: Vec<usize>,
    /// Whether they are every evaluated point.
    complete: bool,
}

impl CalibrationTargets {
    fn new(points: usize, classes: usize) -> Self {
        let chosen: Vec<usize> = if points <= TRAK_CALIBRATION_POINTS {
            (0..points).collect()
        } else {
            (0..TRAK_CALIBRATION_POINTS)
                .map(|i| i * points / TRAK_CALIBRATION_POINTS)
                .collect()
        };
        let targets = chosen
            .iter()
            .flat_map(|&j| (0..classes).map(move |c| j * classes + c))
            .collect();
        Self {
            complete: chosen.len() == points,
            points: chosen,
            targets,
        }
    }

    /// The scores on these targets (`n × targets`), borrowed when they exist as such:
    /// request 1 when it was scored `separate`ly, request 0 when complete, else cut out of it.
    fn view<'s>(
        &self,
        scores: &'s [Vec<f32>],
        separate: bool,
        n: usize,
        width: usize,
    ) -> Cow<'s, [f32]> {
        if separate {
            Cow::Borrowed(&scores[1])
        } else if self.complete {
            Cow::Borrowed(&scores[0])
        } else {
            let tau = &scores[0];
            Cow::Owned(
                (0..n)
                    .flat_map(|i| self.targets.iter().map(move |&t| tau[i * width + t]))
                    .collect(),
            )
        }
    }
}

/// What the calibration found: the ridge kept, its scale and intercepts, the LDS.
#[derive(Default)]
struct Calibrated {
    chosen: usize,
    calibration: Option<Calibration>,
    lds: Option<f64>,
    ridge_report: Vec<serde_json::Value>,
}

/// Scores per ridge, per request (`rows × targets`, row-major).
type ScoresPerRidge = Vec<Vec<Vec<f32>>>;

/// The checkpoints' gradients through TRAK: per-checkpoint reports and the scores.
#[allow(clippy::too_many_arguments)]
fn score_checkpoints<A: Architecture>(
    arch: &A,
    zoo: &Zoo,
    data: &Prepared,
    checkpoints: &[usize],
    config: &TrakConfig,
    requests: Vec<ScoreRequest>,
    device: &Device,
    progress: &dyn Progress,
) -> Result<(Vec<unlearn_attribution::ModelReport>, ScoresPerRidge)> {
    let d = &zoo.manifest.dataset;
    let (n, points, classes) = (d.n_train, zoo.points, zoo.classes);
    if data.train.len() != n || data.train.len() + data.val.len() != points {
        return Err(BenchError::invalid(
            &zoo.dir,
            "its data do not match its manifest",
        ));
    }
    let dim = data.train.dim;
    let (all_x, all_y) = (data.all_features(), data.all_labels());
    if all_y != zoo.labels {
        return Err(BenchError::invalid(
            &zoo.dir,
            "its labels differ from its data",
        ));
    }
    let input = InputSpec {
        dim,
        image_shape: d.image_shape,
        classes,
    };
    let mut engine = Trak::new(
        config.clone(),
        Points::new(&data.train.features, &data.train.labels, dim)?,
        Points::new(&all_x, &all_y, dim)?,
        Target::class_logits(&all_y, classes),
        &ClassLogit,
        requests,
    )?;
    progress.phase("trak", checkpoints.len() as u64);
    for &i in checkpoints {
        progress.message(format!("checkpoint {i}"));
        let model = zoo.load_model(arch, i, device)?;
        engine.add_model(&model, arch, &input, zoo.manifest.seeds[i], device)?;
        progress.inc(1);
    }
    let reports = engine.reports().to_vec();
    Ok((reports, engine.finish_all()?))
}

/// For each ridge, the scale fitted on the calibration models; the ridge whose calibrated
/// predictions correlate best there is kept, and its LDS taken on the held-out models.
#[allow(clippy::too_many_arguments)]
fn calibrate_ridges(
    s: &SubsetZoo,
    split: &unlearn_attribution::ModelSplit,
    plan: &CheckpointPlan,
    targets: &CalibrationTargets,
    per_ridge: &[Vec<Vec<f32>>],
    ridges: &[f64],
    separate: bool,
    labels: &[u32],
    n: usize,
) -> Result<Calibrated> {
    let (classes, width) = (s.zoo.classes, s.zoo.points * s.zoo.classes);
    let tc = targets.targets.len();
    let select = |models: &[usize], columns: &[usize]| -> (Vec<u8>, Vec<f32>) {
        let masks = models
            .iter()
            .flat_map(|&m| s.masks.row(m).iter().copied())
            .collect();
        let outputs = models
            .iter()
            .flat_map(|&m| columns.iter().map(move |&t| s.zoo.model_logits(m)[t]))
            .collect();
        (masks, outputs)
    };
    let cal_models = &plan.calibration_models;
    let (masks, outputs) = select(cal_models, &targets.targets);
    let masks = Masks::new(&masks, cal_models.len(), n)?;
    let outputs = Outputs::new(&outputs, cal_models.len(), tc)?;
    let mut fits = Vec::new();
    let mut ridge_report = Vec::new();
    for (ridge, scores) in ridges.iter().zip(per_ridge) {
        let cal = calibrate(
            &targets.view(scores, separate, n, width),
            n,
            tc,
            &masks,
            &outputs,
        )?;
        ridge_report.push(serde_json::json!({ "ridge": ridge, "scale": cal.scale, "correlation": cal.correlation }));
        fits.push(cal);
    }
    let chosen = (0..fits.len())
        .max_by(|&a, &b| fits[a].correlation.total_cmp(&fits[b].correlation))
        .expect("one ridge at least");
    let cal = fits.swap_remove(chosen);
    let cal_tau = targets.view(&per_ridge[chosen], separate, n, width);
    // LDS: each calibration point's true-class logit over the held-out models.
    let true_cols: Vec<usize> = targets
        .points
        .iter()
        .enumerate()
        .map(|(q, &j)| q * classes + labels[j] as usize)
        .collect();
    let tau_true: Vec<f32> = (0..n)
        .flat_map(|i| true_cols.iter().map(move |&c| (i, c)))
        .map(|(i, c)| cal_tau[i * tc + c])
        .collect();
    let held = &split.held_out;
    let true_targets: Vec<usize> = true_cols.iter().map(|&c| targets.targets[c]).collect();
    let (held_masks, actual) = select(held, &true_targets);
    let sums = unlearn_attribution::trak::predict_sums(
        &tau_true,
        n,
        true_cols.len(),
        &Masks::new(&held_masks, held.len(), n)?,
    )?;
    let pred: Vec<f32> = sums
        .chunks(true_cols.len())
        .flat_map(|row| {
            row.iter()
                .zip(&true_cols)
                .map(|(&p, &c)| cal.intercept[c] + (cal.scale * p as f64) as f32)
        })
        .collect();
    let score = lds_from_predictions(
        &Outputs::new(&pred, held.len(), true_cols.len())?,
        &Outputs::new(&actual, held.len(), true_cols.len())?,
    )?;
    Ok(Calibrated {
        chosen,
        calibration: Some(cal),
        lds: Some(score.mean),
        ridge_report,
    })
}

/// TRAK scores of train `rows` (all when `None`) on every (evaluated point, class) of `zoo` (of
/// architecture `arch`, trained on `data`), calibrated on the subset zoo `calibration` (which
/// may be `zoo` itself) with the held-out split of `options.fit`; unscaled without one.
#[allow(clippy::too_many_arguments)]
pub fn trak_scores<A: Architecture>(
    arch: &A,
    zoo: &Zoo,
    data: &Prepared,
    calibration_zoo: Option<&SubsetZoo>,
    options: &TrakOptions,
    rows: Option<&[usize]>,
    device: &Device,
    progress: &dyn Progress,
) -> Result<TrakOutcome> {
    let started = Instant::now();
    options.config.check()?;
    let config = &options.config;
    let d = &zoo.manifest.dataset;
    let (n, points, classes) = (d.n_train, zoo.points, zoo.classes);
    let targets_total = points * classes;
    if let Some(s) = calibration_zoo {
        let c = &s.zoo.manifest.dataset;
        if c.hash != d.hash || c.n_train != n || c.n_val != d.n_val || s.zoo.classes != classes {
            return Err(BenchError::invalid(
                &s.zoo.dir,
                format!(
                    "was trained on other data than {} (dataset hash or split differ)",
                    zoo.dir.display()
                ),
            ));
        }
    }
    if config.ridges.len() > 1 && calibration_zoo.is_none() {
        return Err(BenchError::Config(
            "several TRAK ridges need subset models to choose among them (a calibration zoo)"
                .into(),
        ));
    }
    let same_zoo = calibration_zoo.is_some_and(|s| s.zoo.dir == zoo.dir);
    let plan = CheckpointPlan::new(zoo, calibration_zoo, same_zoo, options)?;

    // Request 0: the rows asked for on every target; request 1 (only when rows are given):
    // every row on the calibration targets.
    let cal_targets = CalibrationTargets::new(points, classes);
    let row_list: Vec<usize> = rows.map_or_else(|| (0..n).collect(), <[usize]>::to_vec);
    let mut requests = vec![ScoreRequest {
        rows: row_list.clone(),
        targets: (0..targets_total).collect(),
    }];
    let separate = calibration_zoo.is_some() && rows.is_some();
    if separate {
        requests.push(ScoreRequest {
            rows: (0..n).collect(),
            targets: cal_targets.targets.clone(),
        });
    }
    let (reports, mut per_ridge) = score_checkpoints(
        arch,
        zoo,
        data,
        &plan.checkpoints,
        config,
        requests,
        device,
        progress,
    )?;

    let cal_started = Instant::now();
    let calibrated = match (calibration_zoo, &plan.split) {
        (Some(s), Some(split)) => calibrate_ridges(
            s,
            split,
            &plan,
            &cal_targets,
            &per_ridge,
            &config.ridges,
            separate,
            &zoo.labels,
            n,
        )?,
        _ => Calibrated::default(),
    };
    let tau = per_ridge.swap_remove(calibrated.chosen).swap_remove(0);
    let calibration_seconds = cal_started.elapsed().as_secs_f64();
    let scale = calibrated.calibration.as_ref().map_or(1.0, |c| c.scale);
    let beta: Vec<f32> = tau.iter().map(|&v| (v as f64 * scale) as f32).collect();
    let seconds = started.elapsed().as_secs_f64();

    let sum = |f: fn(&unlearn_attribution::ModelReport) -> f64| reports.iter().map(f).sum::<f64>();
    let examples: u64 = reports.iter().map(|r| r.examples).sum();
    let retraining = (n * zoo.manifest.recipe.epochs) as f64;
    let chosen = calibrated.chosen;
    let checkpoints = &plan.checkpoints;
    let info = serde_json::json!({
        "estimator": "trak",
        "zoo": zoo.dir.display().to_string(),
        "zoo_config_hash": zoo.manifest.config_hash,
        "checkpoints": checkpoints,
        "checkpoint_seeds": checkpoints.iter().map(|&i| zoo.manifest.seeds[i]).collect::<Vec<_>>(),
        "output": { "train": "margin", "targets": "class logit (β[i, x, c])" },
        "k": reports.first().map(|r| r.k),
        "params": reports.first().map(|r| r.params),
        "ridge": config.ridges[chosen],
        "ridges": calibrated.ridge_report,
        "lambda": reports.iter().map(|r| r.lambdas[chosen]).collect::<Vec<_>>(),
        "projection": config.projection,
        "projection_seed": config.seed,
        "batch": reports.first().map(|r| r.batch),
        "device": format!("{device:?}"),
        "examples_forward_backward": examples,
        "cost_in_retrainings": examples as f64 / retraining,
        "calibration": calibrated.calibration.as_ref().map(|c| serde_json::json!({
            "zoo": calibration_zoo.map(|s| s.zoo.dir.display().to_string()),
            "scale": c.scale, "correlation": c.correlation, "models": c.models,
            "points": cal_targets.points.len(), "complete": cal_targets.complete,
            "fit": "least squares of logit − intercept_t on s · Σ_{i∈S_m} τ(i, t) over the fit models that are not checkpoints, one s for every (point, class)",
        })),
        "held_out": options.fit.held_out,
        "seed": options.fit.seed,
        "lds": calibrated.lds,
        "lds_points": calibrated.lds.map(|_| cal_targets.points.len()),
        "fit_seconds": seconds,
        "seconds": {
            "gradients": sum(|r| r.gradient_seconds), "projections": sum(|r| r.projection_seconds),
            "kernels": sum(|r| r.kernel_seconds), "scores": sum(|r| r.score_seconds), "calibration": calibration_seconds,
        },
        "per_checkpoint": reports,
    });
    Ok(TrakOutcome {
        rows: row_list,
        beta,
        calibration: calibrated.calibration,
        calibration_complete: cal_targets.complete,
        lds: calibrated.lds,
        seconds,
        info,
    })
}
