//! Helpers shared by the training tests: the digits split, small recipes, zoo runs.
#![allow(dead_code)]

use burn::tensor::Device;
use std::path::Path;
use unlearn_data::{Prepared, digits, prepare};
use unlearn_models::MlpConfig;
use unlearn_models::ModelConfig;
use unlearn_train::manifest::DatasetInfo;
use unlearn_train::{Recipe, TrainError, Zoo, ZooKind, ZooSpec, train_zoo};

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

/// The mlp recipe cut down to a 32-unit hidden layer and `epochs` epochs: fast, still learns.
pub fn small_mlp(epochs: usize) -> Recipe {
    let mut r = Recipe::named("mlp").unwrap();
    r.model = ModelConfig::Mlp(MlpConfig { hidden: vec![32] }).spec();
    r.epochs = epochs;
    r
}

pub fn spec(recipe: Recipe, kind: ZooKind, models: usize, stack: usize) -> ZooSpec {
    ZooSpec {
        recipe,
        kind,
        models,
        first_seed: 0,
        stack,
        workers: unlearn_train::zoo::default_workers(),
        shard: None,
    }
}

pub fn run_zoo(
    spec: &ZooSpec,
    data: &Prepared,
    out: &Path,
    device: &Device,
) -> Result<Zoo, TrainError> {
    train_zoo(
        &arch(&spec.recipe),
        spec,
        data,
        info(data),
        out,
        device,
        &(),
    )
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Share of rows whose arg-max equals the label.
pub fn accuracy(logits: &[f32], labels: &[u32], classes: usize) -> f64 {
    assert_eq!(logits.len(), labels.len() * classes);
    let correct = logits
        .chunks_exact(classes)
        .zip(labels)
        .filter(|&(row, &l)| {
            let best = (0..classes)
                .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                .unwrap();
            best as u32 == l
        })
        .count();
    correct as f64 / labels.len() as f64
}

/// The built-in architecture a recipe names.
#[allow(dead_code)]
pub fn arch(recipe: &Recipe) -> ModelConfig {
    ModelConfig::from_spec(&recipe.model).expect("a built-in architecture")
}
