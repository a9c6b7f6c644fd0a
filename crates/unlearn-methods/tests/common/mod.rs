//! Helpers shared by the method tests: the digits split, small zoos trained once per test
//! binary, contexts, and parameter comparisons.
#![allow(dead_code)]

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Tensor};
use std::path::Path;
use std::sync::OnceLock;
use tempfile::TempDir;
use unlearn_data::{ForgetSet, Prepared, digits, prepare};
use unlearn_methods::Context;
use unlearn_models::MlpConfig;
use unlearn_models::{Model, ModelConfig};
use unlearn_train::manifest::{DatasetInfo, InputRef};
use unlearn_train::{Recipe, Zoo, ZooKind, ZooSpec, train_zoo};

/// Points in the forget set of every test.
pub const FORGET: usize = 20;

/// Digits, 20 % validation, split seed 0 (1438 training and 359 validation points).
pub fn digits_split() -> Prepared {
    prepare(&digits(), 0.2, 0).expect("digits split")
}

/// What `unlearn train` records about the dataset.
pub fn info(data: &Prepared) -> DatasetInfo {
    DatasetInfo {
        name: "digits".into(),
        hash: digits().content_hash(),
        n_train: data.train.len(),
        n_val: data.val.len(),
        dim: data.train.dim,
        classes: data.train.classes,
        image_shape: data.train.image_shape,
        val_fraction: 0.2,
        split_seed: 0,
        limit: 0,
        label_column: "label".into(),
        conventions: Default::default(),
    }
}

/// The mlp recipe cut down to one 32-unit hidden layer and 4 epochs.
pub fn small_mlp() -> Recipe {
    let mut r = Recipe::named("mlp").unwrap();
    r.model = small_mlp_arch().spec();
    r.epochs = 4;
    r
}

/// The architecture of [`small_mlp`].
pub fn small_mlp_arch() -> ModelConfig {
    ModelConfig::Mlp(MlpConfig { hidden: vec![32] })
}

/// The built-in architecture a zoo was trained with.
pub fn arch_of(zoo: &Zoo) -> ModelConfig {
    ModelConfig::from_spec(&zoo.manifest.recipe.model).unwrap()
}

/// Trains `models` models of `recipe` into `dir`.
pub fn zoo(
    recipe: Recipe,
    kind: ZooKind,
    models: usize,
    first_seed: u64,
    data: &Prepared,
    dir: &Path,
) -> Zoo {
    let spec = ZooSpec {
        recipe,
        kind,
        models,
        first_seed,
        stack: models,
        workers: unlearn_train::zoo::default_workers(),
        shard: None,
    };
    let arch = ModelConfig::from_spec(&spec.recipe.model).unwrap();
    train_zoo(&arch, &spec, data, info(data), dir, &Device::flex(), &()).expect("zoo trains")
}

/// A retain zoo's kind for `forget`, with the forget set saved under `dir`.
pub fn retain_kind(forget: &ForgetSet, dir: &Path) -> ZooKind {
    ZooKind::Retain {
        forget: forget.clone(),
        source: forget_ref(forget, dir),
    }
}

/// Saves `forget` as `dir/forget.txt` and returns its reference.
pub fn forget_ref(forget: &ForgetSet, dir: &Path) -> InputRef {
    let path = dir.join("forget.txt");
    forget.save(&path).unwrap();
    InputRef {
        path: path.display().to_string(),
        sha256: unlearn_data::sha256_file(&path).unwrap(),
    }
}

/// Three small MLP originals on digits and a random forget set of [`FORGET`] points, trained
/// once per test binary (tests only read them).
pub struct Fixture {
    pub arch: ModelConfig,
    pub dir: TempDir,
    pub data: Prepared,
    pub originals: Zoo,
    pub forget: ForgetSet,
    pub forget_ref: InputRef,
}

impl Fixture {
    pub fn ctx(&self) -> Context<'_, ModelConfig> {
        Context {
            arch: &self.arch,
            originals: &self.originals,
            data: &self.data,
            forget: &self.forget,
            target_oracles: None,
            beta_forget: None,
            root: None,
            device: Device::flex(),
        }
    }
}

pub fn mlp_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| fixture(small_mlp(), small_mlp_arch()))
}

/// Three originals of `recipe` (architecture `arch`) on digits and a seeded random forget set.
pub fn fixture(recipe: Recipe, arch: ModelConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = digits_split();
    let originals = zoo(
        recipe,
        ZooKind::Full,
        3,
        0,
        &data,
        &dir.path().join("originals"),
    );
    let forget = ForgetSet::random(data.train.len(), FORGET, 7).unwrap();
    let forget_ref = forget_ref(&forget, dir.path());
    Fixture {
        arch,
        dir,
        data,
        originals,
        forget,
        forget_ref,
    }
}

/// A deterministic, hand-made `points × classes` attribution table.
pub fn fake_beta(points: usize, classes: usize) -> Vec<f32> {
    (0..points * classes)
        .map(|j| 0.25 * ((j as f32) * 0.37).sin() + 0.125 * (j % classes) as f32)
        .collect()
}

/// Every float parameter of a module in visiting order: id, shape and values.
pub fn params(model: &Model) -> Vec<(ParamId, Vec<usize>, Vec<f32>)> {
    struct Collect(Vec<(ParamId, Vec<usize>, Vec<f32>)>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().try_into_vec::<f32>().unwrap();
            self.0.push((param.id, param.val().dims().to_vec(), values));
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

/// True when both slices hold the same bits.
pub fn bit_identical(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Mean over the given points (and classes, and models) of the squared difference of two
/// `K × P × C` logit tables.
pub fn mean_sq_on(
    a: &[f32],
    b: &[f32],
    models: usize,
    points: usize,
    classes: usize,
    on: &[usize],
) -> f64 {
    let mut sum = 0.0f64;
    for k in 0..models {
        for &p in on {
            for c in 0..classes {
                let j = (k * points + p) * classes + c;
                sum += f64::from(a[j] - b[j]).powi(2);
            }
        }
    }
    sum / (models * on.len() * classes) as f64
}

/// Share of `points` whose arg-max in model `k`'s rows of a `K × P × C` table is `want(point)`.
pub fn argmax_share(
    logits: &[f32],
    points: usize,
    classes: usize,
    on: &[usize],
    want: impl Fn(usize) -> usize,
) -> f64 {
    let models = logits.len() / (points * classes);
    let mut hits = 0usize;
    for k in 0..models {
        for &p in on {
            let row = &logits[(k * points + p) * classes..(k * points + p + 1) * classes];
            let best = (0..classes)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            hits += usize::from(best == want(p));
        }
    }
    hits as f64 / (models * on.len()) as f64
}
