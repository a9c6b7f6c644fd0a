//! `unlearn eval`: score unlearned models against oracles.

use crate::common::logits_view;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use unlearn_data::ForgetSet;
use unlearn_eval::{Direction, EvalPoints, KLOM_STABLE_MODELS, evaluate, plot_klom_histograms};
use unlearn_train::Zoo;

/// Compare the unlearned models' outputs with retrained oracles: per-point KLoM (P95 / P99 /
/// mean on forget, retain and validation), accuracies and their gap to the oracles, MIA
/// efficacy and a U-LiRA attack. Writes eval.csv, eval.md, eval.json and klom_hist.png/.svg.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Zoo of unlearned models (from `unlearn forget`, or originals from `unlearn train` to see
    /// what doing nothing scores).
    #[arg(long, required_unless_present = "published")]
    pub unlearned: Option<PathBuf>,
    /// Zoo of oracles: models retrained without the forget set (`unlearn train --forget-set`).
    #[arg(long, required_unless_present = "published")]
    pub oracles: Option<PathBuf>,
    /// A second, disjoint zoo of oracles: scored against --oracles it gives the retrain noise floor.
    #[arg(long)]
    pub floor_oracles: Option<PathBuf>,
    /// The forget set the oracles were trained without.
    #[arg(long, required_unless_present = "published")]
    pub forget_set: Option<PathBuf>,
    /// Use D_KL(oracle ‖ unlearned) instead of the default D_KL(unlearned ‖ oracle).
    #[arg(long)]
    pub reverse: bool,
    #[command(flatten)]
    pub published: super::eval_published::PublishedArgs,
    /// Output directory.
    #[arg(long, default_value = "runs/eval")]
    pub out: PathBuf,
}

/// Checks that two zoos were made from the same data and split.
pub fn same_data(a: &Zoo, b: &Zoo) -> Result<()> {
    let (x, y) = (&a.manifest.dataset, &b.manifest.dataset);
    if x.hash != y.hash
        || x.n_train != y.n_train
        || x.n_val != y.n_val
        || x.split_seed != y.split_seed
    {
        bail!(
            "{} and {} were made from different data or splits ({} / {} train points, dataset {} / {}); train both with the same --dataset, --val-fraction and --split-seed",
            a.dir.display(),
            b.dir.display(),
            x.n_train,
            y.n_train,
            &x.hash[..12.min(x.hash.len())],
            &y.hash[..12.min(y.hash.len())]
        );
    }
    // The same points in the same roles and the same normalisation (paths aside).
    let conventions = |c: &unlearn_train::manifest::DataConventions| {
        (
            c.normalise,
            c.channel_mean.clone(),
            c.channel_std.clone(),
            c.validation_hash.clone(),
            c.val_indices.as_ref().map(|f| f.sha256.clone()),
        )
    };
    if conventions(&x.conventions) != conventions(&y.conventions) {
        bail!(
            "{} and {} were made with different data conventions (normalisation or validation points); train both with the same --normalise, --channel-mean/--channel-std and --validation or --val-indices",
            a.dir.display(),
            b.dir.display()
        );
    }
    Ok(())
}

/// Checks that an oracle zoo was trained without this forget set.
pub fn oracles_match(oracles: &Zoo, forget_path: &Path) -> Result<()> {
    let sha = unlearn_data::sha256_file(forget_path)?;
    match &oracles.manifest.forget_set {
        Some(f) if f.sha256 == sha => Ok(()),
        Some(f) => bail!(
            "{} were trained without the forget set {}, a different file from {}; use oracles trained without that same forget set (`unlearn train --forget-set FILE`)",
            oracles.dir.display(),
            f.path,
            forget_path.display()
        ),
        None => bail!(
            "{} is not an oracle zoo (trained on the full set); train oracles with `unlearn train --forget-set`",
            oracles.dir.display()
        ),
    }
}

/// Refuses oracles that the unlearned zoo's method matched (Oracle Matching's targets, recorded
/// by their configuration hash): scored against its own targets a method looks perfect.
fn not_its_targets(unlearned: &Zoo, oracles: &Zoo, flag: &str) -> Result<()> {
    let inputs = unlearned
        .manifest
        .unlearning
        .as_ref()
        .and_then(|u| u.get("inputs"));
    let matched = ["oracles", "targets"]
        .iter()
        .filter_map(|k| inputs.and_then(|i| i.get(*k)).and_then(|v| v.as_str()))
        .any(|hash| hash == oracles.manifest.config_hash);
    if matched {
        bail!(
            "{flag} {} are the oracles {} matched (its targets); evaluate against oracles trained with another --first-seed",
            oracles.dir.display(),
            unlearned.dir.display()
        );
    }
    Ok(())
}

pub fn run(args: EvalArgs) -> Result<()> {
    let direction = if args.reverse {
        Direction::OracleUnlearned
    } else {
        Direction::UnlearnedOracle
    };
    if args.published.published.is_some() {
        return super::eval_published::run(&args.published, direction, &args.out);
    }
    let (Some(unlearned), Some(oracles), Some(forget_path)) =
        (&args.unlearned, &args.oracles, &args.forget_set)
    else {
        bail!("--unlearned, --oracles and --forget-set are required (or --published)");
    };
    let unlearned = Zoo::load(unlearned).with_context(|| "loading --unlearned")?;
    let oracles = Zoo::load(oracles).with_context(|| "loading --oracles")?;
    same_data(&unlearned, &oracles)?;
    oracles_match(&oracles, forget_path)?;
    not_its_targets(&unlearned, &oracles, "--oracles")?;
    let floor = match &args.floor_oracles {
        Some(dir) => {
            let z = Zoo::load(dir).with_context(|| "loading --floor-oracles")?;
            same_data(&z, &oracles)?;
            oracles_match(&z, forget_path)?;
            not_its_targets(&unlearned, &z, "--floor-oracles")?;
            if z.manifest
                .seeds
                .iter()
                .any(|s| oracles.manifest.seeds.contains(s))
            {
                bail!(
                    "--floor-oracles share seeds with --oracles; train them with a disjoint --first-seed"
                );
            }
            Some(z)
        }
        None => None,
    };
    for (name, zoo) in [
        ("--unlearned", Some(&unlearned)),
        ("--floor-oracles", floor.as_ref()),
    ] {
        if let Some(z) = zoo
            && z.models != oracles.models
        {
            bail!(
                "{name} has {} models but --oracles has {}; KLoM compares equally many unlearned and oracle models",
                z.models,
                oracles.models
            );
        }
    }
    let n_train = oracles.manifest.dataset.n_train;
    let forget = ForgetSet::load(forget_path, n_train)?;
    let points = EvalPoints {
        labels: &oracles.labels,
        n_train,
        forget: &forget.indices,
    };
    let result = evaluate(
        logits_view(&unlearned),
        logits_view(&oracles),
        floor.as_ref().map(logits_view),
        &points,
        direction,
    )?;
    if oracles.models < KLOM_STABLE_MODELS {
        eprintln!(
            "warning: KLoM over {} models per side is noisy: even two sets of retrained models score far apart at few models (P95 about 5 at 20 models, 0.7 at 100 on digits), so compare with the floor (--floor-oracles) and use ≥ {KLOM_STABLE_MODELS} models for numbers to report",
            oracles.models
        );
    }
    println!("{}", result.table.to_text());
    println!(
        "ToW {:.4}   U-LiRA AUC on the forget set {:.3} (0.5 = indistinguishable from retraining)   {} unlearned vs {} oracle models",
        result.tow, result.ulira_auc, unlearned.models, oracles.models
    );
    let c = &result.challenge;
    println!(
        "NeurIPS 2023 challenge score {:.4} (1 best) = forgetting quality {:.4} × retain accuracy ratio {:.4} × test accuracy ratio {:.4}",
        c.score, c.forget_quality, c.retain_ratio, c.test_ratio
    );
    println!(
        "two-sided variant {:.4} (forgetting quality {:.4}; every threshold attack's complement added, which catches a model that still remembers: docs/algorithms.md §10)",
        c.two_sided_score, c.two_sided_quality
    );
    // Below the competition's 512 models per side even retraining scores under 1: the floor's
    // score is the yardstick.
    match &floor {
        Some(f) => {
            let floor_score = evaluate(
                logits_view(f),
                logits_view(&oracles),
                None,
                &points,
                direction,
            )?;
            println!(
                "challenge scores of the retrain floor {:.4} (two-sided {:.4}): compare the method's with them, not with 1",
                floor_score.challenge.score, floor_score.challenge.two_sided_score
            );
        }
        None => println!(
            "(with {} models per side even retraining scores below 1; pass --floor-oracles to see its score)",
            oracles.models
        ),
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    result.table.write_csv(&args.out.join("eval.csv"))?;
    result.table.write_markdown(&args.out.join("eval.md"))?;
    let json = serde_json::to_string_pretty(&result)?;
    unlearn_data::atomic_write_bytes(args.out.join("eval.json"), json.as_bytes())?;
    let (retain, validation) = points.splits();
    let pick = |idx: &[usize]| idx.iter().map(|&i| result.klom[i]).collect::<Vec<f32>>();
    let (f, r, v) = (pick(&forget.indices), pick(&retain), pick(&validation));
    let files = plot_klom_histograms(
        &args.out.join("klom_hist"),
        &[("forget", &f), ("retain", &r), ("validation", &v)],
    )?;
    println!(
        "wrote eval.csv, eval.md, eval.json, {} and {} in {}",
        files.png.display(),
        files.svg.display(),
        args.out.display()
    );
    Ok(())
}
