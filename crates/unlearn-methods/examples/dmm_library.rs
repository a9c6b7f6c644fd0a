//! Datamodel Matching end to end through the libraries, without the `unlearn` command line.
//!
//! 1. load and prepare the embedded digits (train/validation split, standardised);
//! 2. train small zoos: originals on S, oracles on S \ F, and subset models on random halves;
//! 3. fit ridge datamodels (λ chosen on held-out subset models) and take Σ_{i∈F} β
//!    (docs/algorithms.md §6; `DiffOfMeans` has the same `Estimator` interface but needs many more
//!    subset models than there are train points to be useful);
//! 4. run DMM (and, for comparison, do-nothing and DM-Direct) on every original (§4, §5);
//! 5. score each against the oracles with KLoM (§2), next to the retraining noise floor (a
//!    second, disjoint set of oracles scored the same way).
//!
//! ```text
//! cargo run --release -p unlearn-methods --example dmm_library            # flex (default)
//! cargo run --release -p unlearn-methods --example dmm_library -- ndarray
//! cargo run --release -p unlearn-methods --example dmm_library --features unlearn-train/wgpu -- wgpu
//! ```
//!
//! An optional second argument is a directory to keep the zoos in (re-running then reuses them);
//! by default everything goes to a temporary directory.
//!
//! Sized to run in seconds on two cores, this shows the API, not DMM's quality: with 32 models
//! per side KLoM has a noise floor around 3, and 400 subset models for 1438 train points give
//! noisy datamodels (the published setting uses 100 models per side and many thousands of
//! subset models).

use burn::tensor::Device;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;
use unlearn_attribution::{Estimator, Masks, Outputs, RidgeParams};
use unlearn_data::{ForgetSet, SubsetMasks};
use unlearn_eval::{Direction, EvalPoints, LogitsView, SplitSummary, evaluate};
use unlearn_methods::{Context, MethodRegistry, unlearn_zoo};
use unlearn_models::MlpConfig;
use unlearn_models::ModelConfig;
use unlearn_train::manifest::InputRef;
use unlearn_train::{Backend, DataSource, Recipe, Zoo, ZooKind, ZooSpec, train_zoo};

/// Originals, and oracles per set (evaluation and noise floor).
const MODELS: usize = 32;
const SUBSET_MODELS: usize = 400;
const FORGET: usize = 50;
const VAL_FRACTION: f64 = 0.2;
const SPLIT_SEED: u64 = 0;

fn main() -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    // The backend is a run-time choice: parse its name and ask it for a device.
    let backend: Backend = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("flex")
        .parse()?;
    let device: Device = backend.device()?;
    let temp = tempfile::tempdir()?;
    let root: PathBuf = std::env::args()
        .nth(2)
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&root)?;
    println!("backend {backend}, working directory {}", root.display());

    // 1. Data, split and standardised; the info is what zoos record about them.
    let source = DataSource {
        val_fraction: VAL_FRACTION,
        split_seed: SPLIT_SEED,
        ..DataSource::named("digits")
    };
    let (data, info) = source.load()?;
    let n_train = data.train.len();
    println!(
        "digits: {n_train} train + {} validation points, {} classes",
        data.val.len(),
        data.train.classes
    );

    // A random forget set, saved so that the manifests of the oracles and of the unlearned zoos
    // can name it.
    let forget = ForgetSet::random(n_train, FORGET, 1)?;
    let forget_path = root.join("forget.txt");
    forget.save(&forget_path)?;
    let forget_ref = file_ref(&forget_path)?;

    // 2. Zoos of a small MLP trained for few epochs; seeds of different zoos are disjoint.
    let arch = ModelConfig::Mlp(MlpConfig { hidden: vec![32] });
    let mut recipe = Recipe::for_model(arch.spec());
    recipe.epochs = 8;
    let train =
        |kind: ZooKind, models: usize, first_seed: u64, dir: &str| -> Result<Zoo, Box<dyn Error>> {
            let t = Instant::now();
            let spec = ZooSpec::new(recipe.clone(), kind, models)
                .first_seed(first_seed)
                .stack(25);
            let zoo = train_zoo(
                &arch,
                &spec,
                &data,
                info.clone(),
                &root.join(dir),
                &device,
                &(),
            )?;
            println!(
                "  {dir}: {models} models in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            Ok(zoo)
        };
    let retain = || ZooKind::Retain {
        forget: forget.clone(),
        source: forget_ref.clone(),
    };
    println!("training zoos:");
    let originals = train(ZooKind::Full, MODELS, 0, "originals")?;
    let oracles = train(retain(), MODELS, 10_000, "oracles")?;
    let floor = train(retain(), MODELS, 20_000, "floor-oracles")?;
    let masks = SubsetMasks::random(SUBSET_MODELS, n_train, 0.5, 2)?;
    let masks_path = root.join("masks.npy");
    masks.save_npy(&masks_path)?;
    let subset_kind = ZooKind::Subsets {
        masks: masks.clone(),
        source: file_ref(&masks_path)?,
    };
    let subsets = train(subset_kind, SUBSET_MODELS, 30_000, "subsets")?;

    // 3. Datamodels of every logit of every evaluated point; only the F rows are summed.
    let t = Instant::now();
    let targets = subsets.points * subsets.classes;
    let mask_view = Masks::new(&masks.data, SUBSET_MODELS, n_train)?;
    let outputs = Outputs::new(&subsets.logits, SUBSET_MODELS, targets)?;
    let beta_forget =
        RidgeParams::default()
            .check()?
            .fit_rows_sum(&mask_view, &outputs, &forget.indices)?;
    println!(
        "ridge datamodels, Σ over {FORGET} forget rows of {targets} targets in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // 4. Unlearning requests against the originals, each written as a zoo.
    let ctx = Context {
        arch: &arch,
        originals: &originals,
        data: &data,
        forget: &forget,
        target_oracles: None,
        beta_forget: Some(&beta_forget),
        root: None,
        device: device.clone(),
    };
    let points = EvalPoints {
        labels: &originals.labels,
        n_train,
        forget: &forget.indices,
    };
    println!("KLoM against {MODELS} oracles, P95 per split (lower is better):");
    println!(
        "  {:<16} {:>8} {:>8} {:>8} {:>8}",
        "method", "forget", "retain", "val", "cost"
    );
    let row = |name: &str, s: &SplitSummary, cost: f64| {
        println!(
            "  {name:<16} {:>8.3} {:>8.3} {:>8.3} {:>8.4}",
            s.forget.p95, s.retain.p95, s.validation.p95, cost
        )
    };
    let mut floor_summary = None;
    let registry = MethodRegistry::builtin();
    for name in ["do-nothing", "dm-direct", "dmm"] {
        let method = registry.build(name, &Default::default())?;
        let out = root.join(format!("unlearned-{name}"));
        let inputs = serde_json::json!({ "attribution": "ridge datamodels of the subset zoo" });
        let summary = unlearn_zoo(
            method.as_ref(),
            &ctx,
            &forget_ref,
            inputs,
            &out,
            MODELS,
            None,
            &(),
        )?;
        let unlearned = Zoo::load(&out)?;
        // 5. KLoM of the unlearned models' margins against the oracles' (and the floor's).
        let eval = evaluate(
            view(&unlearned),
            view(&oracles),
            Some(view(&floor)),
            &points,
            Direction::UnlearnedOracle,
        )?;
        row(name, &eval.summary, summary.cost);
        floor_summary = eval.floor_summary;
    }
    if let Some(s) = floor_summary {
        row("retrain (floor)", &s, 1.0);
    }
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn view(zoo: &Zoo) -> LogitsView<'_> {
    LogitsView {
        logits: &zoo.logits,
        models: zoo.models,
        points: zoo.points,
        classes: zoo.classes,
    }
}

fn file_ref(path: &Path) -> Result<InputRef, Box<dyn Error>> {
    Ok(InputRef {
        path: path.display().to_string(),
        sha256: unlearn_data::sha256_file(path)?,
    })
}
