//! A training recipe: architecture, optimiser, schedule, epochs, batch size.

use crate::TrainError;
use crate::schedule::Schedule;
use serde::{Deserialize, Serialize};
use unlearn_models::{ArchSpec, MlpConfig, ModelConfig};

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

impl Recipe {
    /// The recipe of a built-in architecture by name ([`ModelConfig::names`]): its default
    /// configuration with the training settings of [`Recipe::for_built_in`].
    pub fn named(name: &str) -> Result<Self, TrainError> {
        let config = ModelConfig::from_name(name).ok_or_else(|| {
            TrainError::UnknownRecipe(name.to_string(), ModelConfig::built_in_names())
        })?;
        Ok(Self::for_built_in(&config))
    }

    /// Training settings for a built-in architecture, sized for the embedded digits dataset
    /// except the ResNet-9s (CIFAR-10, §13).
    pub fn for_built_in(config: &ModelConfig) -> Self {
        let (epochs, batch_size, lr, schedule) = match config {
            ModelConfig::Logistic(_) => (
                20,
                64,
                0.05,
                Schedule::Cosine {
                    final_fraction: 0.0,
                },
            ),
            // An ONNX graph is the user's own: the MLP's settings, a starting point to override.
            ModelConfig::Mlp(_) | ModelConfig::Onnx(_) => {
                (20, 64, 0.05, Schedule::Triangular { peak_epoch: 4.0 })
            }
            ModelConfig::Cnn(_) => (15, 64, 0.05, Schedule::Triangular { peak_epoch: 3.0 }),
            ModelConfig::ResNet9(_) | ModelConfig::ResNet9Easydub(_) => {
                (24, 512, 0.4, Schedule::Triangular { peak_epoch: 5.0 })
            }
        };
        Recipe {
            model: config.spec(),
            epochs,
            batch_size,
            last_batch: LastBatch::Mean,
            lr,
            optimizer: OptimizerConfig::sgd_default(),
            schedule,
            label_smoothing: 0.0,
        }
    }

    /// The `mlp` recipe's training settings (20 epochs, batch 64, SGD at 0.05 with momentum 0.9
    /// and weight decay 5e−4, triangular schedule peaking at epoch 4) for the architecture `model`
    /// (`arch.spec()`); change any field afterwards.
    pub fn for_model(model: ArchSpec) -> Self {
        Recipe {
            model,
            ..Self::for_built_in(&MlpConfig::default().into())
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
