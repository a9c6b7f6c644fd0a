//! Serde configuration of an architecture and the input it is built for.

use crate::architecture::{ArchSpec, Architecture};
use crate::model::Model;
use crate::resnet9_easydub::EasydubResNet9;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// What the data look like: flattened feature count, optional image shape, class count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    /// Number of input features (for images: channels·height·width).
    pub dim: usize,
    /// `(channels, height, width)` when the features are an image.
    pub image_shape: Option<[usize; 3]>,
    /// Number of classes (width of the logits).
    pub classes: usize,
}

/// An architecture, chosen by `kind` in JSON (`{"kind": "mlp", "hidden": [64]}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelConfig {
    /// Multinomial logistic regression (one linear layer).
    Logistic,
    /// Fully connected network with ReLU between the hidden layers.
    Mlp {
        /// Widths of the hidden layers, input side first.
        hidden: Vec<usize>,
    },
    /// Small CNN: per entry of `channels` a 3×3 convolution, ReLU and 2×2 max-pool, then a
    /// linear classifier on the flattened features.
    Cnn {
        /// Output channels of each convolution block.
        channels: Vec<usize>,
    },
    /// ResNet-9 in the fast "KakaoBrain" layout (docs/algorithms.md §13), widths `width·{1,2,4,8}`
    /// (64 gives the published 64-128-256-512) and logits scaled by `scale`.
    #[serde(rename = "resnet9")]
    ResNet9 {
        /// Channels of the prep layer (published: 64).
        width: usize,
        /// Output multiplier (published: 0.125).
        #[serde(serialize_with = "crate::as_written::f32")]
        scale: f32,
    },
    /// The ResNet-9 of the public CIFAR-10 unlearning benchmark (docs/algorithms.md §13), whose
    /// published checkpoints `unlearn import` reads: widths `width·{1,2,4,2}` (64 gives the
    /// published 64-128-256-128), logits scaled by `scale` (published: 0.2).
    #[serde(rename = "resnet9-easydub")]
    ResNet9Easydub {
        /// Channels of the first block (published: 64).
        width: usize,
        /// Output multiplier (published: 0.2).
        #[serde(serialize_with = "crate::as_written::f32")]
        scale: f32,
    },
}

/// Errors building a model for a given input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    /// The architecture needs image inputs but the dataset has none.
    #[error(
        "model '{model}' needs image inputs but the dataset is flat ({dim} features); use an architecture for flat features (mlp, logistic) or an image dataset"
    )]
    NeedsImages {
        /// The architecture.
        model: String,
        /// Features per row of the flat dataset.
        dim: usize,
    },
    /// The image shape does not account for the features.
    #[error("image shape {shape:?} has {product} values but the data have {dim} features per row")]
    ShapeMismatch {
        /// The stated image shape (channels, height, width).
        shape: [usize; 3],
        /// Its number of values.
        product: usize,
        /// Features per row of the data.
        dim: usize,
    },
    /// The image is too small for the pooling layers.
    #[error(
        "model '{model}' pools {pools} times, which needs height and width ≥ {need} (got {h}×{w}); use fewer layers or bigger images"
    )]
    TooSmall {
        /// The architecture.
        model: String,
        /// How many times it halves the image.
        pools: usize,
        /// The smallest height and width that survive the pooling.
        need: usize,
        /// The image's height.
        h: usize,
        /// The image's width.
        w: usize,
    },
    /// A zero width or empty layer list.
    #[error("model '{model}': {what}")]
    Invalid {
        /// The architecture.
        model: String,
        /// What is wrong.
        what: String,
    },
    /// Input batch does not match the model.
    #[error("input has {got} features per row but the model was built for {expected}")]
    InputWidth {
        /// Features per row the model was built for.
        expected: usize,
        /// Features per row given.
        got: usize,
    },
    /// An architecture spec that does not parse as that architecture's configuration.
    #[error("architecture '{kind}': {what}")]
    Spec {
        /// The architecture's name.
        kind: String,
        /// Why the spec does not parse.
        what: String,
    },
    /// Not one of the built-in architectures.
    #[error(
        "architecture '{0}' is not built in (built in: logistic, mlp, cnn, resnet9, resnet9-easydub); a zoo of a user architecture is read from Rust with that architecture"
    )]
    NotBuiltIn(String),
    /// A checkpoint that cannot be written or read.
    #[error("checkpoint {path}: {what}")]
    Checkpoint {
        /// The checkpoint file.
        path: String,
        /// What went wrong.
        what: String,
    },
}

/// The built-ins' registry: every built-in architecture is a [`ModelConfig`], and this is the one
/// place that matches on the closed list.
impl Architecture for ModelConfig {
    type Model = Model;

    fn spec(&self) -> ArchSpec {
        ModelConfig::spec(self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        ModelConfig::validate(self, input)
    }

    fn init(&self, input: &InputSpec, seeds: &[u64], device: &Device) -> Result<Model, ModelError> {
        Model::init(self, input, seeds, device)
    }
}

impl ModelConfig {
    /// The spec recorded in manifests: this configuration as JSON, `kind` naming it.
    pub fn spec(&self) -> ArchSpec {
        ArchSpec::new(
            self.name(),
            &serde_json::to_value(self).expect("configs serialise"),
        )
    }

    /// The built-in architecture a spec names, with its configuration.
    pub fn from_spec(spec: &ArchSpec) -> Result<Self, ModelError> {
        if Self::from_name(spec.kind()).is_none() {
            return Err(ModelError::NotBuiltIn(spec.kind().to_string()));
        }
        spec.to_config()
    }

    /// Short name used on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Logistic => "logistic",
            ModelConfig::Mlp { .. } => "mlp",
            ModelConfig::Cnn { .. } => "cnn",
            ModelConfig::ResNet9 { .. } => "resnet9",
            ModelConfig::ResNet9Easydub { .. } => "resnet9-easydub",
        }
    }

    /// The default configuration of a named architecture.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "logistic" => ModelConfig::Logistic,
            "mlp" => ModelConfig::Mlp { hidden: vec![64] },
            "cnn" => ModelConfig::Cnn {
                channels: vec![16, 32],
            },
            "resnet9" => ModelConfig::ResNet9 {
                width: 64,
                scale: 0.125,
            },
            "resnet9-easydub" => ModelConfig::ResNet9Easydub {
                width: 64,
                scale: 0.2,
            },
            _ => return None,
        })
    }

    /// Checks that this architecture can be built for `input`, before any training starts.
    pub fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        let model = self.name().to_string();
        if input.classes < 2 {
            return Err(ModelError::Invalid {
                model,
                what: format!("needs at least 2 classes, the data have {}", input.classes),
            });
        }
        let pools = match self {
            ModelConfig::Logistic => return Ok(()),
            ModelConfig::Mlp { hidden } => {
                if hidden.contains(&0) {
                    return Err(ModelError::Invalid {
                        model,
                        what: "hidden widths must be > 0".into(),
                    });
                }
                return Ok(());
            }
            ModelConfig::Cnn { channels } => {
                if channels.is_empty() || channels.contains(&0) {
                    return Err(ModelError::Invalid {
                        model,
                        what: "channels must be a non-empty list of widths > 0".into(),
                    });
                }
                channels.len()
            }
            ModelConfig::ResNet9 { width, .. } | ModelConfig::ResNet9Easydub { width, .. } => {
                if *width == 0 {
                    return Err(ModelError::Invalid {
                        model,
                        what: "width must be > 0".into(),
                    });
                }
                3
            }
        };
        let min_side = match self {
            ModelConfig::ResNet9Easydub { .. } => Some(EasydubResNet9::min_side()),
            _ => None,
        };
        let Some(shape) = input.image_shape else {
            return Err(ModelError::NeedsImages {
                model,
                dim: input.dim,
            });
        };
        let product = shape.iter().product::<usize>();
        if product != input.dim {
            return Err(ModelError::ShapeMismatch {
                shape,
                product,
                dim: input.dim,
            });
        }
        if let Some(side) = min_side.filter(|&s| shape[1] < s || shape[2] < s) {
            return Err(ModelError::Invalid {
                model,
                what: format!(
                    "its strided and unpadded convolutions need images of at least {side}×{side} (got {}×{})",
                    shape[1], shape[2]
                ),
            });
        }
        let need = if min_side.is_some() { 1 } else { 1 << pools };
        if shape[1] < need || shape[2] < need {
            return Err(ModelError::TooSmall {
                model,
                pools,
                need,
                h: shape[1],
                w: shape[2],
            });
        }
        Ok(())
    }
}
