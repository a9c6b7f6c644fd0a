//! Bring your own model and method: an architecture the crates do not ship (a residual MLP,
//! written as a plain single-model burn `Module`) and an unlearning method of its own (fine-tune
//! on R while pushing F towards uniform predictions by label smoothing), run through the whole
//! pipeline on the embedded digits without changing any crate:
//!
//! 1. train originals, two oracle zoos (evaluation and noise floor) and subset models;
//! 2. attribute: datamodels (ridge, on the subset models) and TRAK (on two originals'
//!    checkpoints, its scale calibrated on the subset models);
//! 3. forget: DMM with each attribution, GD (a baseline) and the method of its own;
//! 4. eval: KLoM against the oracles, printed as a table;
//! 5. a small bench through the library, the method of its own beside the built-ins, its
//!    DM-Direct and DMM on datamodels from an estimator of its own (difference of means shrunk
//!    towards zero), registered beside the built-in estimators.
//!
//! ```text
//! cargo run --release -p unlearn-bench --example own_model            # digits, small sizes
//! cargo run --release -p unlearn-bench --example own_model -- tiny    # what the test runs
//! ```
//!
//! The test `crates/unlearn-bench/tests/own_model.rs` runs it at tiny sizes.

use burn::module::{Module, ParamId};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::error::Error;
use std::path::Path;
use unlearn_attribution::trak::{ClassLogit, Points, ScoreRequest, Target, Trak, TrakConfig};
use unlearn_attribution::{
    AttributionError, Datamodel, DiffOfMeans, Estimator, EstimatorRegistry, Masks, Outputs,
    RidgeParams, calibrate,
};
use unlearn_bench::{Bench, BenchSettings, MethodSpec, NamedForgetSet};
use unlearn_data::{ForgetSet, SubsetMasks};
use unlearn_eval::SplitSummary;
use unlearn_methods::finetune::{Batch, engine, sgd};
use unlearn_methods::methods::losses::{cross_entropy, gather_labels};
use unlearn_methods::methods::{autodiff, finished};
use unlearn_methods::{
    Context, MethodError, MethodRegistry, StackOutput, UnlearnMethod, unlearn_zoo,
};
use unlearn_models::init::reseed;
use unlearn_models::{
    ArchSpec, Architecture, InputSpec, ModelError, Single, SingleArchitecture, SingleModel,
    StackModel,
};
use unlearn_train::manifest::InputRef;
use unlearn_train::{DataSource, Recipe, Zoo, ZooKind, ZooSpec, train_zoo};

// ---------------------------------------------------------------------------------------------
// The estimator: difference-of-means datamodels shrunk towards zero. With few subset models the
// means are noisy, and shrinking trades some bias for less variance.

/// Hyper-parameters of [`ShrunkMeans`] (its registry entry's defaults).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ShrunkMeansParams {
    /// Factor on every effect, in (0, 1].
    pub shrink: f64,
}

/// [`DiffOfMeans`] with every effect multiplied by `shrink`, the intercept moved so that the
/// prediction at the average subset stays where it was.
pub struct ShrunkMeans {
    shrink: f64,
}

impl ShrunkMeansParams {
    /// params → check → estimator, as the built-ins do.
    pub fn check(self) -> unlearn_attribution::Result<ShrunkMeans> {
        if !(self.shrink > 0.0 && self.shrink <= 1.0) {
            return Err(AttributionError::InvalidParam {
                name: "shrink",
                reason: format!("{} is not in (0, 1]", self.shrink),
            });
        }
        Ok(ShrunkMeans {
            shrink: self.shrink,
        })
    }
}

impl Estimator for ShrunkMeans {
    fn fit(
        &self,
        masks: &Masks<'_>,
        outputs: &Outputs<'_>,
    ) -> unlearn_attribution::Result<Datamodel> {
        let full = DiffOfMeans.fit(masks, outputs)?;
        let (n, t, m) = (full.points(), full.targets(), masks.models());
        // Share of the models holding each point: the average subset.
        let mut share = vec![0.0f64; n];
        for row in masks.as_slice().chunks(n) {
            share
                .iter_mut()
                .zip(row)
                .for_each(|(s, &x)| *s += x as f64 / m as f64);
        }
        let mut intercept: Vec<f64> = full.intercept().iter().map(|&b| b as f64).collect();
        for (i, &s) in share.iter().enumerate() {
            for (b, &beta) in intercept.iter_mut().zip(full.beta_row(i)) {
                *b += (1.0 - self.shrink) * s * beta as f64;
            }
        }
        let beta = full
            .beta()
            .iter()
            .map(|&b| (b as f64 * self.shrink) as f32)
            .collect();
        Datamodel::new(
            n,
            t,
            beta,
            intercept.into_iter().map(|b| b as f32).collect(),
        )
    }

    /// Each target's effects are its own differences of means.
    fn independent_targets(&self) -> bool {
        true
    }
}

/// The built-in estimators and the one of this example.
pub fn estimators() -> EstimatorRegistry {
    let mut registry = EstimatorRegistry::builtin();
    registry.register(
        "shrunk-means",
        "difference of means, every effect shrunk towards zero",
        ShrunkMeansParams { shrink: 0.5 },
        ShrunkMeansParams::check,
    );
    registry
}

// ---------------------------------------------------------------------------------------------
// The architecture: an ordinary burn module, one model, `[batch, features] → [batch, classes]`.

/// input → width → (width + residual block) → classes.
#[derive(Module, Debug)]
pub struct ResMlp {
    stem: Linear,
    block_in: Linear,
    block_out: Linear,
    head: Linear,
}

impl SingleModel for ResMlp {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let h = relu(self.stem.forward(x));
        let r = self
            .block_out
            .forward(relu(self.block_in.forward(h.clone())));
        self.head.forward(relu(h + r))
    }

    fn head_param_ids(&self) -> Vec<ParamId> {
        let mut ids = vec![self.head.weight.id];
        ids.extend(self.head.bias.as_ref().map(|b| b.id));
        ids
    }
}

/// Its configuration: what manifests record (`{"kind": "res-mlp", "width": 32}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResMlpConfig {
    /// Width of the hidden layers.
    pub width: usize,
}

impl SingleArchitecture for ResMlpConfig {
    type Model = ResMlp;

    fn spec(&self) -> ArchSpec {
        ArchSpec::new("res-mlp", self)
    }

    fn init(&self, input: &InputSpec, seed: u64, device: &Device) -> Result<ResMlp, ModelError> {
        let w = self.width;
        let model = ResMlp {
            stem: LinearConfig::new(input.dim, w).init(device),
            block_in: LinearConfig::new(w, w).init(device),
            block_out: LinearConfig::new(w, w).init(device),
            head: LinearConfig::new(w, input.classes).init(device),
        };
        // burn's initialisers draw from the device's shared random state: redraw from the seed.
        Ok(reseed(model, seed))
    }
}

// ---------------------------------------------------------------------------------------------
// The method: fine-tune on R with cross-entropy, and on F with heavy label smoothing.

/// Hyper-parameters of [`SmoothForget`], with their defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmoothParams {
    /// Epochs (each: a pass over F, then over R).
    pub epochs: usize,
    /// SGD learning rate.
    pub lr: f64,
    /// Label smoothing ε on F (1 − ε on the label, the rest spread over the classes).
    pub smoothing: f32,
    /// Batch size.
    pub batch_size: usize,
}

impl Default for SmoothParams {
    fn default() -> Self {
        Self {
            epochs: 2,
            lr: 0.01,
            smoothing: 0.9,
            batch_size: 64,
        }
    }
}

/// The validated method.
pub struct SmoothForget(pub SmoothParams);

impl SmoothParams {
    /// Validates the parameters into the method.
    pub fn check(self) -> Result<SmoothForget, MethodError> {
        let bad = |what: &str| MethodError::Config {
            method: "smooth-forget".into(),
            what: what.into(),
        };
        if !(0.0..1.0).contains(&self.smoothing) {
            return Err(bad("smoothing must be in [0, 1)"));
        }
        if !(self.lr > 0.0) || self.epochs == 0 || self.batch_size == 0 {
            return Err(bad("lr, epochs and batch_size must be positive"));
        }
        Ok(SmoothForget(self))
    }
}

impl<A: Architecture> UnlearnMethod<A> for SmoothForget {
    fn name(&self) -> &str {
        "smooth-forget"
    }

    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).expect("parameters serialise")
    }

    fn run(
        &self,
        ctx: &Context<'_, A>,
        indices: &[usize],
    ) -> Result<StackOutput<A::Model>, MethodError> {
        let p = &self.0;
        let ad = autodiff(&ctx.device);
        let k = indices.len();
        let mut model = ctx.load_stack(indices, &ad)?;
        let labels = ctx.train_labels(&ad);
        let (forget, retain) = (vec![ctx.forget.indices.clone(); k], vec![ctx.retain(); k]);
        let mut optim = sgd(0.9, 5e-4);
        let mut engine = engine(ctx, indices, &ad, 0x5330_4f54);
        let loss = |smoothing: f32| {
            let labels = labels.clone();
            move |m: &A::Model, b: &Batch| {
                let targets = gather_labels(&labels, b.points.clone(), k, b.len);
                cross_entropy(m.forward(b.x.clone()), targets, smoothing)
            }
        };
        let (mut on_forget, mut on_retain) = (loss(p.smoothing), loss(0.0));
        for _ in 0..p.epochs {
            model = engine.epoch(
                model,
                &mut optim,
                &forget,
                p.batch_size,
                p.lr,
                &mut on_forget,
                None,
            )?;
            model = engine.epoch(
                model,
                &mut optim,
                &retain,
                p.batch_size,
                p.lr,
                &mut on_retain,
                None,
            )?;
        }
        Ok(finished(ctx, &model, k, engine.examples))
    }
}

/// The built-in methods and this one, by name.
pub fn registry<A: Architecture>() -> MethodRegistry<A> {
    let mut registry = MethodRegistry::builtin();
    registry.register(
        "smooth-forget",
        "fine-tune on R, label smoothing on F",
        SmoothParams::default(),
        SmoothParams::check,
    );
    registry
}

// ---------------------------------------------------------------------------------------------
// The pipeline.

/// How big a run is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Digits points used (0 = all 1 797).
    pub points: usize,
    /// Originals and oracles per zoo.
    pub models: usize,
    /// Subset models for the datamodels.
    pub subset_models: usize,
    /// Epochs of every trained model.
    pub epochs: usize,
    /// Forget set size.
    pub forget: usize,
}

impl Sizes {
    /// Seconds on two cores: shows the API, not the methods' quality.
    pub const TINY: Sizes = Sizes {
        points: 400,
        models: 3,
        subset_models: 24,
        epochs: 15,
        forget: 8,
    };
    /// A minute or two on two cores.
    pub const SMALL: Sizes = Sizes {
        points: 0,
        models: 12,
        subset_models: 200,
        epochs: 10,
        forget: 20,
    };
}

/// One row of the KLoM table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Method (and attribution).
    pub method: String,
    /// P95 KLoM on forget, retain and validation points.
    pub summary: SplitSummary,
    /// Cost as a fraction of retraining.
    pub cost: f64,
}

/// Runs steps 1–5 under `root`; returns the KLoM table of step 4 and the bench's rows.
pub fn run(
    sizes: Sizes,
    root: &Path,
) -> Result<(Vec<Row>, Vec<unlearn_bench::ReportRow>), Box<dyn Error>> {
    let device = Device::flex();
    let (data, info) = DataSource {
        limit: sizes.points,
        ..DataSource::named("digits")
    }
    .load()?;
    let n_train = data.train.len();
    let arch = Single(ResMlpConfig { width: 32 });
    let mut recipe = Recipe::for_model(arch.spec());
    recipe.epochs = sizes.epochs;
    let registry = registry();

    // 1. Zoos (a single-model architecture trains one model at a time, one per worker).
    let forget = ForgetSet::random(n_train, sizes.forget, 1)?;
    std::fs::create_dir_all(root)?;
    let forget_path = root.join("forget.txt");
    forget.save(&forget_path)?;
    let forget_ref = InputRef::of_file(&forget_path)?;
    let train = |kind: ZooKind, models: usize, first_seed: u64, dir: &str| {
        let spec = ZooSpec::new(recipe.clone(), kind, models).first_seed(first_seed);
        train_zoo(
            &arch,
            &spec,
            &data,
            info.clone(),
            &root.join(dir),
            &device,
            &(),
        )
    };
    let retain = || ZooKind::Retain {
        forget: forget.clone(),
        source: forget_ref.clone(),
    };
    let originals = train(ZooKind::Full, sizes.models, 0, "originals")?;
    let oracles = train(retain(), sizes.models, 1000, "oracles")?;
    let floor = train(retain(), sizes.models, 2000, "floor")?;
    let masks = SubsetMasks::random(sizes.subset_models, n_train, 0.5, 2)?;
    let masks_path = root.join("masks.npy");
    masks.save_npy(&masks_path)?;
    let subsets = train(
        ZooKind::Subsets {
            masks: masks.clone(),
            source: InputRef::of_file(&masks_path)?,
        },
        sizes.subset_models,
        100_000,
        "subsets",
    )?;

    // 2a. Datamodels: ridge on the subset models, Σ_{i∈F} β.
    let targets = subsets.points * subsets.classes;
    let mask_view = Masks::new(&masks.data, sizes.subset_models, n_train)?;
    let outputs = Outputs::new(&subsets.logits, sizes.subset_models, targets)?;
    let beta_datamodels =
        RidgeParams::default()
            .check()?
            .fit_rows_sum(&mask_view, &outputs, &forget.indices)?;

    // 2b. TRAK on two originals' checkpoints, scale calibrated on the subset models.
    let (all_x, all_y) = (data.all_features(), data.all_labels());
    let classes = data.train.classes;
    let mut trak = Trak::new(
        TrakConfig::default(),
        Points::new(&data.train.features, &data.train.labels, data.train.dim)?,
        Points::new(&all_x, &all_y, data.train.dim)?,
        Target::class_logits(&all_y, classes),
        &ClassLogit,
        vec![ScoreRequest::all(n_train, targets)],
    )?;
    for i in 0..2.min(originals.models) {
        let model = originals.load_model(&arch, i, &device)?;
        trak.add_model(
            &model,
            &arch,
            &originals.input(),
            originals.manifest.seeds[i],
            &device,
        )?;
    }
    let tau = trak.finish()?.swap_remove(0);
    let scale = calibrate(&tau, n_train, targets, &mask_view, &outputs)?.scale;
    let beta_trak = unlearn_bench::beta_store::sum_rows(&tau, &forget.indices, targets)
        .into_iter()
        .map(|v| (v as f64 * scale) as f32)
        .collect::<Vec<_>>();

    // 3 + 4. Forget with each method, score with KLoM against the oracles.
    let score = |zoo: &Zoo| unlearn_bench::score(zoo, &oracles, Some(&floor), &forget.indices);
    let mut rows = Vec::new();
    let runs: [(&str, &str, &[f32]); 5] = [
        ("do-nothing", "do nothing", &beta_datamodels),
        ("dmm", "DMM (datamodels)", &beta_datamodels),
        ("dmm", "DMM (TRAK)", &beta_trak),
        ("gd", "GD", &beta_datamodels),
        ("smooth-forget", "smooth-forget (own)", &beta_datamodels),
    ];
    let mut floor_summary = None;
    for (i, (name, label, beta)) in runs.into_iter().enumerate() {
        let ctx = Context {
            arch: &arch,
            originals: &originals,
            data: &data,
            forget: &forget,
            target_oracles: None,
            beta_forget: Some(beta),
            root: None,
            device: device.clone(),
        };
        let method = registry.build(name, &Default::default())?;
        let out = root.join(format!("unlearned-{i}-{name}"));
        let inputs = serde_json::json!({ "attribution": label });
        let summary = unlearn_zoo(
            method.as_ref(),
            &ctx,
            &forget_ref,
            inputs,
            &out,
            1,
            None,
            &(),
        )?;
        let eval = score(&Zoo::load(&out)?)?;
        floor_summary = eval.floor_summary;
        rows.push(Row {
            method: label.to_string(),
            summary: eval.summary,
            cost: summary.cost,
        });
    }
    if let Some(summary) = floor_summary {
        rows.push(Row {
            method: "retrain (floor)".into(),
            summary,
            cost: 1.0,
        });
    }

    // 5. A small bench through the library: the method of its own beside built-ins.
    let mut bench = Bench::new(&arch, &registry, &data, info.clone(), device.clone());
    bench.recipe = recipe.clone();
    bench.settings = BenchSettings {
        models: sizes.models,
        subset_models: sizes.subset_models,
        alpha: 0.5.into(),
        subset_groups: None,
        neighbourhood_term: None,
        attribution: "shrunk-means".into(),
        attribution_params: serde_json::json!({ "shrink": 0.8 })
            .as_object()
            .cloned()
            .unwrap_or_default(),
        stack: 1,
    };
    bench.estimators = estimators();
    bench.forget_sets = vec![NamedForgetSet::new("random", forget.clone())];
    bench.methods = ["do-nothing", "dm-direct", "dmm", "gd", "smooth-forget"]
        .map(MethodSpec::new)
        .to_vec();
    bench.out = root.join("bench");
    let outcome = bench.run(&())?;
    Ok((rows, outcome.rows))
}

/// The KLoM table as text.
pub fn table(rows: &[Row]) -> String {
    let mut text = format!(
        "{:<22} {:>8} {:>8} {:>8} {:>8}\n",
        "method", "forget", "retain", "val", "cost"
    );
    for r in rows {
        let s = &r.summary;
        text.push_str(&format!(
            "{:<22} {:>8.3} {:>8.3} {:>8.3} {:>8.4}\n",
            r.method, s.forget.p95, s.retain.p95, s.validation.p95, r.cost
        ));
    }
    text
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn Error>> {
    let sizes = match std::env::args().nth(1).as_deref() {
        Some("tiny") => Sizes::TINY,
        _ => Sizes::SMALL,
    };
    let dir = tempfile::tempdir()?;
    let (rows, bench) = run(sizes, dir.path())?;
    println!("P95 KLoM against the oracles (res-mlp, a user architecture):");
    print!("{}", table(&rows));
    println!("\nbench (library), forget P95 per method:");
    for r in &bench {
        println!(
            "  {:<28} {:>8.3}  cost {:.4}",
            r.label, r.forget_p95, r.cost
        );
    }
    Ok(())
}
