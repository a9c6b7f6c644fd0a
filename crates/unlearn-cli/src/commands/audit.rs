//! `unlearn audit`: what a deletion request achieved, measured without oracles.

use crate::common::logits_view;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use unlearn_bench::datamodels::attribution_rows;
use unlearn_data::ForgetSet;
use unlearn_eval::{EvalPoints, audit};
use unlearn_methods::methods::direct::predicted_logits;
use unlearn_train::Zoo;
use unlearn_train::integrity::ATTRIBUTION_FILE;

/// Audit an unlearned zoo against the models it came from, with no oracles: accuracy on the
/// forget, retain and validation sets before and after, membership-inference efficacy before and
/// after, the mean margin on F before / predicted / achieved beside the validation margin, the
/// distance of the achieved outputs on F from the attribution's prediction, and the cost.
/// Writes audit.json.
#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Zoo of unlearned models (from `unlearn forget`).
    #[arg(long)]
    pub unlearned: PathBuf,
    /// Zoo the unlearned models were made from (from `unlearn train` or `unlearn import`).
    #[arg(long)]
    pub originals: PathBuf,
    /// The forget set of the request.
    #[arg(long)]
    pub forget_set: PathBuf,
    /// Attribution the method used (`unlearn attribute`): compares the achieved outputs on F
    /// with the predicted ones, z − s·Σβ.
    #[arg(long)]
    pub attribution: Option<PathBuf>,
    /// Scale s of the prediction (default: the unlearned run's own `scale`, else 1).
    #[arg(long)]
    pub scale: Option<f64>,
    /// Output directory.
    #[arg(long, default_value = "runs/audit")]
    pub out: PathBuf,
}

pub fn run(args: AuditArgs) -> Result<()> {
    let unlearned = Zoo::load(&args.unlearned).context("loading --unlearned")?;
    let originals = Zoo::load(&args.originals).context("loading --originals")?;
    super::eval::same_data(&unlearned, &originals)?;
    if unlearned.models != originals.models {
        bail!(
            "--unlearned holds {} models but --originals {}; pass the zoo the unlearned models were made from",
            unlearned.models,
            originals.models
        );
    }
    let n_train = originals.manifest.dataset.n_train;
    let forget = ForgetSet::load(&args.forget_set, n_train)?;
    let record = unlearned.manifest.unlearning.as_ref();
    let scale = args
        .scale
        .or_else(|| record.and_then(|u| u["params"]["scale"].as_f64()))
        .unwrap_or(1.0);
    let predicted = match &args.attribution {
        Some(dir) => {
            let beta = attribution_rows(
                dir,
                &forget,
                &args.forget_set,
                originals.points,
                originals.classes,
            )?;
            Some(predicted_logits(&originals.logits, &beta, scale))
        }
        None => None,
    };
    let points = EvalPoints {
        labels: &originals.labels,
        n_train,
        forget: &forget.indices,
    };
    let a = audit(
        logits_view(&originals),
        logits_view(&unlearned),
        predicted.as_deref(),
        &points,
    )?;
    let cost = record.and_then(|u| u["cost"].as_f64());
    println!(
        "{:<24} {:>8} {:>8} {:>8}",
        "accuracy", "forget", "retain", "val"
    );
    for (name, s) in [("before", &a.before), ("after", &a.after)] {
        println!(
            "{name:<24} {:>8.4} {:>8.4} {:>8.4}",
            s.forget, s.retain, s.validation
        );
    }
    println!(
        "MIA efficacy on F        {:.3} before, {:.3} after (higher: F looks more like unseen data)",
        a.mia_before, a.mia_after
    );
    let [before, predicted_margin, achieved] = a.forget_margin;
    println!(
        "mean margin on F         {before:.3} before, {} predicted, {achieved:.3} achieved (validation: {:.3})",
        if predicted_margin.is_finite() {
            format!("{predicted_margin:.3}")
        } else {
            "–".into()
        },
        a.validation_margin
    );
    if let (Some(err), Some(asked)) = (a.forget_rms_error, a.forget_rms_asked) {
        // TRAK calibrated on subset models scales β itself; s multiplies on top of that.
        let calibrated = args
            .attribution
            .as_ref()
            .and_then(|dir| std::fs::read_to_string(dir.join(ATTRIBUTION_FILE)).ok())
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|record| record["calibration"]["scale"].as_f64());
        let scaled = match calibrated {
            Some(c) => format!("s = {scale} on β calibrated ×{c:.4}"),
            None => format!("s = {scale}"),
        };
        println!(
            "logits on F              {err:.3} RMS from the prediction ({scaled}), which asked for a change of {asked:.3} RMS"
        );
    }
    match cost {
        Some(c) => println!("cost                     {c:.4} of one retraining"),
        None => println!(
            "cost                     not recorded (the unlearned zoo has no unlearning record)"
        ),
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let json = serde_json::json!({ "audit": a, "cost": cost, "scale": scale });
    unlearn_data::atomic_write_bytes(
        args.out.join("audit.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    println!("wrote {}", args.out.join("audit.json").display());
    Ok(())
}
