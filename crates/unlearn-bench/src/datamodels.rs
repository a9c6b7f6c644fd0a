//! Datamodels from a zoo of subset models: a fit (any [`Estimator`], built by name from an
//! [`unlearn_attribution::EstimatorRegistry`]) scored by LDS on held-out subset models, and
//! Σ_{i∈F} β read back from an attribution directory for DM-Direct and DMM.

use crate::beta_store::{BetaFormat, FittedBeta, StoredBeta};
use crate::error::{BenchError, Result};
use crate::record;
use std::ops::Range;
use std::path::Path;
use std::time::Instant;
pub use unlearn_attribution::FitOptions;
use unlearn_attribution::{Estimator, Lds, Masks, Outputs, lds_from_predictions, split_models};
use unlearn_data::{ForgetSet, SubsetMasks};
use unlearn_train::Zoo;
use unlearn_train::integrity::Finding;

/// A subset zoo and its masks, checked against each other.
pub struct SubsetZoo {
    /// The zoo of subset models.
    pub zoo: Zoo,
    /// Its masks.
    pub masks: SubsetMasks,
}

impl SubsetZoo {
    /// Loads the subset zoo in `dir` and the mask file its manifest records (unchanged since).
    pub fn load(dir: &Path) -> Result<Self> {
        let zoo = Zoo::load(dir)?;
        let Some(masks_ref) = &zoo.manifest.masks else {
            return Err(BenchError::invalid(
                dir,
                "not a subset zoo; train one on subset masks (ZooKind::Subsets)",
            ));
        };
        let path = Path::new(&masks_ref.path);
        let sha = unlearn_data::sha256_file(path)?;
        if sha != masks_ref.sha256 {
            return Err(BenchError::invalid(
                path,
                format!(
                    "has changed since {} was trained; retrain the zoo or restore the file",
                    dir.display()
                ),
            ));
        }
        let masks = SubsetMasks::load_npy(path)?;
        Self::new(zoo, masks)
    }

    /// A zoo with masks already in hand.
    pub fn new(zoo: Zoo, masks: SubsetMasks) -> Result<Self> {
        if masks.n != zoo.manifest.dataset.n_train || masks.rows < zoo.models {
            return Err(BenchError::invalid(
                &zoo.dir,
                format!(
                    "masks of {} × {} do not fit the zoo ({} models, {} training points)",
                    masks.rows, masks.n, zoo.models, zoo.manifest.dataset.n_train
                ),
            ));
        }
        Ok(Self { zoo, masks })
    }

    /// The masks of the zoo's models as the estimators take them.
    pub fn model_masks(&self) -> Result<Masks<'_>> {
        let n = self.masks.n;
        Ok(Masks::new(
            &self.masks.data[..self.zoo.models * n],
            self.zoo.models,
            n,
        )?)
    }

    /// The zoo's logits of the evaluated points `points` only (`models × points.len() × classes`).
    pub fn logits_of_points(&self, points: &Range<usize>) -> Vec<f32> {
        let zoo = &self.zoo;
        let (per, c) = (zoo.points * zoo.classes, zoo.classes);
        (0..zoo.models)
            .flat_map(|m| &zoo.logits[m * per + points.start * c..m * per + points.end * c])
            .copied()
            .collect()
    }
}

/// Fits the targets of the evaluated points `points` on the non-held-out models (those
/// `options` does not hold out), as each target's non-zeros when `sparse`; returns β, its LDS
/// on the held-out ones (true-class logits of `points`) and the fit's seconds.
pub fn fit_and_score(
    sz: &SubsetZoo,
    estimator: &dyn Estimator,
    options: FitOptions,
    points: Range<usize>,
    sparse: bool,
) -> Result<(FittedBeta, Lds, f64)> {
    let (zoo, n) = (&sz.zoo, sz.masks.n);
    let targets = points.len() * zoo.classes;
    let masks = sz.model_masks()?;
    let logits = sz.logits_of_points(&points);
    let outputs = Outputs::new(&logits, zoo.models, targets)?;
    let split = split_models(zoo.models, options.held_out, options.seed)?;
    let fit_masks = masks.select_models(&split.fit)?;
    let fit_outputs = outputs.select_models(&split.fit)?;
    let started = Instant::now();
    let model = FittedBeta::fit(
        estimator,
        &Masks::new(&fit_masks, split.fit.len(), n)?,
        &Outputs::new(&fit_outputs, split.fit.len(), targets)?,
        sparse,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    // LDS on each point's true-class logit, over the held-out models.
    let held_masks = masks.select_models(&split.held_out)?;
    let h = split.held_out.len();
    let predicted = model.predict(&Masks::new(&held_masks, h, n)?)?;
    let true_class = |all: &[f32]| -> Vec<f32> {
        (0..h)
            .flat_map(|m| {
                points
                    .clone()
                    .enumerate()
                    .map(move |(k, p)| all[m * targets + k * zoo.classes + zoo.labels[p] as usize])
            })
            .collect()
    };
    let pred = true_class(&predicted);
    let actual = true_class(&outputs.select_models(&split.held_out)?);
    let lds = lds_from_predictions(
        &Outputs::new(&pred, h, points.len())?,
        &Outputs::new(&actual, h, points.len())?,
    )?;
    Ok((model, lds, seconds))
}

/// Σ_{i∈F} β over every evaluated point, from an attribution directory: `forget_rows.npy` when
/// it was computed for this very forget set (the file `forget_path`), else the rows of β.
pub fn attribution_rows(
    dir: &Path,
    forget: &ForgetSet,
    forget_path: &Path,
    points: usize,
    classes: usize,
) -> Result<Vec<f32>> {
    let rows_file = dir.join("forget_rows.npy");
    if rows_file.is_file() {
        let record_path = dir.join(record::RECORD);
        let text = std::fs::read_to_string(&record_path).map_err(BenchError::io(&record_path))?;
        let info: serde_json::Value = serde_json::from_str(&text)?;
        let sha = unlearn_data::sha256_file(forget_path)?;
        if info["forget_set"]["sha256"].as_str() == Some(sha.as_str()) {
            check_recorded(dir)?;
            let (shape, rows) = unlearn_data::read_npy_f32(&rows_file)?;
            if shape != [points, classes] {
                return Err(BenchError::invalid(
                    &rows_file,
                    format!("shape {shape:?}, expected [{points}, {classes}]"),
                ));
            }
            return Ok(rows);
        }
        if !StoredBeta::exists(dir) {
            return Err(BenchError::invalid(
                dir,
                format!(
                    "holds Σβ for a different forget set; compute it for {} or compute all rows",
                    forget_path.display()
                ),
            ));
        }
    }
    beta_rows(dir, forget, points, classes)
}

/// Σ_{i∈F} β over every evaluated point from the full β of `dir` (dense or sparse), for any set
/// F (a chain's union of requests has no cached rows); reads only F's rows of a dense β.
pub fn beta_rows(
    dir: &Path,
    forget: &ForgetSet,
    points: usize,
    classes: usize,
) -> Result<Vec<f32>> {
    stored_beta(dir, points, classes)?.rows_sum(&forget.indices)
}

/// The β of a finished attribution directory, checked against `points × classes` evaluated
/// outputs.
pub fn stored_beta(dir: &Path, points: usize, classes: usize) -> Result<StoredBeta> {
    check_recorded(dir)?;
    let stored = StoredBeta::open(dir)?;
    let shape = stored.shape();
    if shape[1] != points || shape[2] != classes {
        return Err(BenchError::invalid(
            stored.shape_file(dir),
            format!("β of shape {shape:?}, expected [train points, {points}, {classes}]"),
        ));
    }
    Ok(stored)
}

/// Every row of β from a finished attribution directory, checked against `points × classes`
/// evaluated outputs: (training points, row-major `n × points × classes` values).
pub fn read_beta(dir: &Path, points: usize, classes: usize) -> Result<(usize, Vec<f32>)> {
    let stored = stored_beta(dir, points, classes)?;
    let rows = stored.shape()[0];
    Ok((rows, stored.dense()?))
}

/// `dir` must hold a finished attribution: attribution.json present (it is written last) and
/// the outputs it records unchanged since (the same re-hash as `unlearn verify`).
pub fn check_recorded(dir: &Path) -> Result<()> {
    if !dir.join(record::RECORD).is_file() {
        return Err(BenchError::invalid(
            dir,
            "no finished attribution here (attribution.json missing); run the attribution to the end",
        ));
    }
    let check = unlearn_train::integrity::verify_attribution(dir)?;
    let changed = check.findings.iter().find(|f| {
        matches!(
            f,
            Finding::Missing { .. }
                | Finding::Resized { .. }
                | Finding::Altered { .. }
                | Finding::Unreadable { .. }
        )
    });
    if let Some(finding) = changed {
        return Err(BenchError::invalid(
            dir,
            format!(
                "{finding}: differs from what attribution.json records (an interrupted or foreign write); compute the attribution again"
            ),
        ));
    }
    Ok(())
}

/// β, its LDS and fit seconds: read back from `dir` or fitted and written there (sparse for
/// the lassos, as `unlearn attribute` stores it; a dense β an earlier run wrote stays in use).
pub(crate) fn fit_or_read(
    dir: &Path,
    sz: SubsetZoo,
    name: &str,
    estimator: &dyn Estimator,
) -> Result<(StoredBeta, f64, f64)> {
    // Locked before looking: a run killed after writing its record but before releasing the lock
    // leaves the lock file, which taking the lock over removes (and a temporary β with it).
    let _lock = record::open(dir)?;
    let info_path = dir.join(record::RECORD);
    if info_path.is_file() && StoredBeta::exists(dir) {
        let text = std::fs::read_to_string(&info_path).map_err(BenchError::io(&info_path))?;
        let mut info: serde_json::Value = serde_json::from_str(&text)?;
        if info.get("files").is_none() {
            // Written before outputs were recorded: record them now, so `verify` can check them.
            record::write(dir, &mut info, &["beta.npy"])?;
        }
        return Ok((
            StoredBeta::open(dir)?,
            info["lds"].as_f64().unwrap_or(f64::NAN),
            info["fit_seconds"].as_f64().unwrap_or(0.0),
        ));
    }
    let sparse = BetaFormat::Auto.sparse_for(estimator);
    let (model, lds, seconds) = fit_and_score(
        &sz,
        estimator,
        FitOptions::default(),
        0..sz.zoo.points,
        sparse,
    )?;
    let lds = lds.mean;
    let (n, p, c) = (sz.masks.n, sz.zoo.points, sz.zoo.classes);
    let files = model.write(dir, [n, p, c])?;
    let mut info = serde_json::json!({ "estimator": name, "lds": lds, "fit_seconds": seconds, "models": sz.zoo.models });
    record::write(dir, &mut info, files)?;
    Ok((StoredBeta::open(dir)?, lds, seconds))
}
