//! TRAK in `unlearn attribute`.
//!
//! TRAK scores come from checkpoints, not from masks: `--zoo` may be a subset zoo (checkpoints,
//! calibration and LDS all from it, on disjoint models) or an originals zoo (checkpoints from it,
//! calibration and LDS from `--trak-calibration SUBSET_ZOO`, or unscaled without one).

use super::*;
use crate::common::{BackendArgs, DataArgs, progress_bar};
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use unlearn_attribution::{ProjectionKind, TrakConfig};
use unlearn_bench::trak::{TrakOptions, TrakOutcome};
use unlearn_data::ForgetSet;
use unlearn_models::ModelConfig;
use unlearn_train::Zoo;

/// TRAK's options (`attribute --method trak` and the TRAK row of `attribute lds`).
#[derive(Args, Debug, Clone)]
pub struct TrakArgs {
    /// TRAK: number of checkpoints averaged over. From a subset zoo: the first N models that are
    /// not held out (the other fit models calibrate the scale, the held-out ones give the LDS);
    /// from an originals zoo: its first N models. 0 skips TRAK in `attribute lds`.
    #[arg(long, default_value_t = 5)]
    pub trak_models: usize,
    /// TRAK: projection dimension k (default min(2048, parameters, train points / 2), a
    /// multiple of 32).
    #[arg(long)]
    pub trak_k: Option<usize>,
    /// TRAK: relative ridge r of the kernel (ΦᵀΦ + λI)⁻¹, λ = r · tr(ΦᵀΦ)/k. Several values
    /// (comma-separated) are all computed and the one whose calibrated predictions correlate
    /// best with the calibration models' outputs is kept (never the held-out models).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub trak_ridge: Vec<f64>,
    /// TRAK: random projection, rademacher or gaussian.
    #[arg(long, default_value = "rademacher")]
    pub trak_projection: String,
    /// TRAK: seed of the projections (mixed with each checkpoint's seed).
    #[arg(long, default_value_t = 0)]
    pub trak_seed: u64,
    /// TRAK: examples per backward pass (0 = automatic).
    #[arg(long, default_value_t = 0)]
    pub trak_batch: usize,
    /// TRAK from an originals zoo: a subset zoo of the same data whose fit models calibrate the
    /// scale and whose held-out models give the LDS. Without it the scores stay unscaled.
    #[arg(long)]
    pub trak_calibration: Option<PathBuf>,
    #[command(flatten)]
    pub backend: BackendArgs,
}

impl TrakArgs {
    fn config(&self) -> Result<TrakConfig> {
        let config = TrakConfig {
            k: self.trak_k,
            ridges: self.trak_ridge.clone(),
            projection: self.trak_projection.parse::<ProjectionKind>()?,
            seed: self.trak_seed,
            batch: self.trak_batch,
            ..TrakConfig::default()
        };
        config.check()?;
        Ok(config)
    }
}

/// TRAK scores for `rows` (all when `None`) of `zoo`, calibrated on `subsets` (when the zoo is
/// one) or on `--trak-calibration` (see `unlearn_bench::trak::trak_scores`).
pub fn trak_scores(
    zoo: &Zoo,
    subsets: Option<&SubsetZoo>,
    common: &AttributeCommon,
    trak: &TrakArgs,
    rows: Option<&[usize]>,
) -> Result<TrakOutcome> {
    let loaded;
    let calibration = match (subsets, &trak.trak_calibration) {
        (Some(s), _) => Some(s),
        (None, Some(dir)) => {
            loaded = SubsetZoo::load(dir).context("loading --trak-calibration")?;
            Some(&loaded)
        }
        (None, None) => None,
    };
    let options = TrakOptions {
        models: trak.trak_models,
        config: trak.config()?,
        fit: common.options(),
    };
    let arch = ModelConfig::from_spec(&zoo.manifest.recipe.model)?;
    let data = DataArgs::of_zoo(zoo)?;
    let device = trak.backend.backend.device()?;
    let bar = progress_bar(0, "trak");
    let mut outcome = unlearn_bench::trak::trak_scores(
        &arch,
        zoo,
        &data,
        calibration,
        &options,
        rows,
        &device,
        &bar,
    )
    .context("TRAK (--trak-models, --trak-ridge, --trak-calibration)")?;
    bar.finish_and_clear();
    outcome.info["backend"] = trak.backend.backend.to_string().into();
    Ok(outcome)
}

/// `unlearn attribute --method trak`.
pub(super) fn run_trak(args: &AttributeArgs) -> Result<()> {
    if !args.sets.is_empty() {
        bail!("--set sets a datamodel estimator's parameters; TRAK takes its own --trak-* flags");
    }
    let Some(dir) = &args.common.zoo else {
        bail!("--zoo DIR (originals or subset models) is required")
    };
    let manifest = unlearn_train::manifest::Manifest::load(dir).context("loading --zoo")?;
    let (sz, plain) = if manifest.masks.is_some() {
        (Some(load(&args.common)?), None)
    } else {
        (None, Some(Zoo::load(dir).context("loading --zoo")?))
    };
    let zoo = match (&sz, &plain) {
        (Some(s), _) => &s.zoo,
        (None, Some(z)) => z,
        _ => unreachable!(),
    };
    if sz.is_none() && args.trak.trak_calibration.is_none() {
        eprintln!(
            "warning: {} holds no subset models and no --trak-calibration was given: TRAK's scores are left unscaled (scale 1), which DMM and DM-Direct may not like",
            dir.display()
        );
    }
    let n = zoo.manifest.dataset.n_train;
    let forget = args
        .forget_set
        .as_ref()
        .map(|p| ForgetSet::load(p, n))
        .transpose()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let outcome = trak_scores(
        zoo,
        sz.as_ref(),
        &args.common,
        &args.trak,
        forget.as_ref().map(|f| f.indices.as_slice()),
    )?;
    let (points, classes) = (zoo.points, zoo.classes);
    let mut info = outcome.info.clone();
    match (&forget, &args.forget_set) {
        (Some(f), Some(path)) => {
            if outcome.rows != f.indices {
                bail!("TRAK scored other rows than the forget set");
            }
            let per = points * classes;
            let mut rows = vec![0.0f64; per];
            for row in outcome.beta.chunks(per) {
                rows.iter_mut().zip(row).for_each(|(s, &b)| *s += b as f64);
            }
            let rows: Vec<f32> = rows.into_iter().map(|v| v as f32).collect();
            unlearn_data::write_npy_f32(
                args.out.join("forget_rows.npy"),
                &[points, classes],
                &rows,
            )?;
            info["forget_set"] = serde_json::json!({ "path": path.display().to_string(), "sha256": unlearn_data::sha256_file(path)? });
            println!(
                "trak: Σ_F β over {} forget points in {:.2} s → {}",
                f.len(),
                outcome.seconds,
                args.out.join("forget_rows.npy").display()
            );
        }
        _ => {
            unlearn_data::write_npy_f32(
                args.out.join("beta.npy"),
                &[n, points, classes],
                &outcome.beta,
            )?;
            if let (Some(c), true) = (&outcome.calibration, outcome.calibration_complete) {
                unlearn_data::write_npy_f32(
                    args.out.join("intercept.npy"),
                    &[points, classes],
                    &c.intercept,
                )?;
            }
            let lds = outcome
                .lds
                .map_or("n/a (no subset models)".to_string(), |l| format!("{l:.4}"));
            println!(
                "trak: β of {n} × {points} × {classes} in {:.2} s; LDS {lds} on held-out subset models → {}",
                outcome.seconds,
                args.out.display()
            );
        }
    }
    println!("{}", outcome.summary());
    // TRAK writes its intercept only when calibration gave one: record what is there.
    let outputs: Vec<&str> = ["forget_rows.npy", "beta.npy", "intercept.npy"]
        .into_iter()
        .filter(|name| args.out.join(name).is_file())
        .collect();
    unlearn_bench::record::write(&args.out, &mut info, &outputs)?;
    Ok(())
}
