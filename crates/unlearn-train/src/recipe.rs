//! A training recipe: architecture, optimiser, schedule, epochs, batch size.

use crate::TrainError;
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use unlearn_models::{ArchSpec, ModelConfig};

/// The optimiser of a recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// SGD with (PyTorch-style, undampened) momentum and L2 weight decay added to the gradient.
    Sgd {
        /// Momentum (0 for plain SGD).
        momentum: f64,
        /// Nesterov momentum.
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient.
        #[serde(serialize_with = "unlearn_models::as_written::f32")]
        weight_decay: f32,
    },
    /// Adam (PyTorch's defaults; weight decay as L2 added to the gradient).
    Adam {
        /// First-moment decay.
        #[serde(default = "beta1")]
        #[serde(serialize_with = "unlearn_models::as_written::f32")]
        beta1: f32,
        /// Second-moment decay.
        #[serde(default = "beta2")]
        #[serde(serialize_with = "unlearn_models::as_written::f32")]
        beta2: f32,
        /// Denominator epsilon.
        #[serde(default = "epsilon")]
        #[serde(serialize_with = "unlearn_models::as_written::f32")]
        epsilon: f32,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        #[serde(serialize_with = "unlearn_models::as_written::f32")]
        weight_decay: f32,
    },
}

/// How the last batch of an epoch, smaller when the batch size does not divide the training set,
/// weighs its examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastBatch {
    /// Its loss is the mean over its own examples (PyTorch's default), so each of them weighs
    /// `batch_size / len` times as much as an example of a full batch.
    #[default]
    Mean,
    /// Its loss is summed and divided by `batch_size`: every example weighs the same in every
    /// step. A model trained without a few points then differs from one trained with them by
    /// those points' terms, not by how full the last batch is (docs/algorithms.md §2).
    Weighted,
}

impl LastBatch {
    /// The factor of a batch of `len` examples' mean loss, for batches of `batch_size`.
    pub fn loss_scale(self, len: usize, batch_size: usize) -> f32 {
        match self {
            LastBatch::Mean => 1.0,
            LastBatch::Weighted => len as f32 / batch_size as f32,
        }
    }

    fn is_mean(&self) -> bool {
        *self == LastBatch::Mean
    }
}

fn beta1() -> f32 {
    0.9
}
fn beta2() -> f32 {
    0.999
}
fn epsilon() -> f32 {
    1e-8
}

impl OptimizerConfig {
    /// SGD with momentum 0.9 and weight decay 5e−4, the published baselines' optimiser.
    pub fn sgd_default() -> Self {
        OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay: 5e-4,
        }
    }

    /// Adam with PyTorch's defaults and no weight decay.
    pub fn adam_default() -> Self {
        OptimizerConfig::Adam {
            beta1: beta1(),
            beta2: beta2(),
            epsilon: epsilon(),
            weight_decay: 0.0,
        }
    }
}

/// Everything needed to train one model from a seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Architecture (a built-in's configuration, or a user architecture's spec).
    pub model: ArchSpec,
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// How the smaller last batch of an epoch weighs its examples. Left out of the JSON when
    /// `mean`, so recipes written before the field existed keep their hash.
    #[serde(default, skip_serializing_if = "LastBatch::is_mean")]
    pub last_batch: LastBatch,
    /// Peak learning rate.
    pub lr: f64,
    /// Optimiser.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Label smoothing ε (0 = off).
    #[serde(default)]
    #[serde(serialize_with = "unlearn_models::as_written::f32")]
    pub label_smoothing: f32,
}

/// Names accepted by [`Recipe::named`].
pub const RECIPE_NAMES: &str = "logistic, mlp, cnn, resnet9, resnet9-easydub";

impl Recipe {
    /// A named recipe, sized for the embedded digits dataset except the ResNet-9s (CIFAR-10, §13).
    pub fn named(name: &str) -> Result<Self, TrainError> {
        let sgd = OptimizerConfig::sgd_default();
        let model = ModelConfig::from_name(name)
            .ok_or_else(|| TrainError::UnknownRecipe(name.to_string(), RECIPE_NAMES.to_string()))?
            .spec();
        Ok(match name {
            "logistic" => Recipe {
                model,
                epochs: 20,
                batch_size: 64,
                last_batch: LastBatch::Mean,
                lr: 0.05,
                optimizer: sgd,
                schedule: Schedule::Cosine {
                    final_fraction: 0.0,
                },
                label_smoothing: 0.0,
            },
            "mlp" => Recipe {
                model,
                epochs: 20,
                batch_size: 64,
                last_batch: LastBatch::Mean,
                lr: 0.05,
                optimizer: sgd,
                schedule: Schedule::Triangular { peak_epoch: 4.0 },
                label_smoothing: 0.0,
            },
            "cnn" => Recipe {
                model,
                epochs: 15,
                batch_size: 64,
                last_batch: LastBatch::Mean,
                lr: 0.05,
                optimizer: sgd,
                schedule: Schedule::Triangular { peak_epoch: 3.0 },
                label_smoothing: 0.0,
            },
            _ => Recipe {
                model,
                epochs: 24,
                batch_size: 512,
                last_batch: LastBatch::Mean,
                lr: 0.4,
                optimizer: sgd,
                schedule: Schedule::Triangular { peak_epoch: 5.0 },
                label_smoothing: 0.0,
            },
        })
    }

    /// The `mlp` recipe's training settings (20 epochs, batch 64, SGD at 0.05 with momentum 0.9
    /// and weight decay 5e−4, triangular schedule peaking at epoch 4) for the architecture `model`
    /// (`arch.spec()`); change any field afterwards.
    pub fn for_model(model: ArchSpec) -> Self {
        Recipe {
            model,
            ..Self::named("mlp").expect("a built-in recipe")
        }
    }

    /// Checks the numbers before any training starts.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |s: &str| Err(TrainError::Recipe(s.to_string()));
        if self.epochs == 0 {
            return bad("epochs must be ≥ 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size must be ≥ 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr must be a positive number");
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad("label_smoothing must be in [0, 1)");
        }
        self.schedule.validate().map_err(TrainError::Recipe)
    }
}
