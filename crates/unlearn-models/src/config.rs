//! Serde configuration of an architecture and the input it is built for.

use crate::architecture::{ArchSpec, Architecture};
use crate::cnn::CnnConfig;
use crate::mlp::{LogisticConfig, MlpConfig};
use crate::model::Model;
use crate::resnet9::ResNet9Config;
use crate::resnet9_easydub::EasydubResNet9Config;
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

/// A built-in architecture, chosen by `kind` in JSON (`{"kind": "mlp", "hidden": [64]}`). Each
/// variant holds its architecture's own configuration, which builds the model
/// ([`Architecture::init`]); the enum only dispatches to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum ModelConfig {
    /// Multinomial logistic regression (one linear layer).
    #[serde(rename = "logistic")]
    Logistic(LogisticConfig),
    /// Fully connected network with ReLU between the hidden layers.
    #[serde(rename = "mlp")]
    Mlp(MlpConfig),
    /// Small CNN.
    #[serde(rename = "cnn")]
    Cnn(CnnConfig),
    /// ResNet-9 in the fast "KakaoBrain" layout.
    #[serde(rename = "resnet9")]
    ResNet9(ResNet9Config),
    /// The ResNet-9 of the public CIFAR-10 unlearning benchmark.
    #[serde(rename = "resnet9-easydub")]
    ResNet9Easydub(EasydubResNet9Config),
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
        "architecture '{kind}' is not built in (built in: {built_in}); a zoo of a user architecture is read from Rust with that architecture"
    )]
    NotBuiltIn {
        /// The name asked for.
        kind: String,
        /// The built-ins' names, comma-separated.
        built_in: String,
    },
    /// A checkpoint that cannot be written or read.
    #[error("checkpoint {path}: {what}")]
    Checkpoint {
        /// The checkpoint file.
        path: String,
        /// What went wrong.
        what: String,
    },
}

/// The built-ins' registration: the one place that lists them. Everything else dispatches on
/// the variant.
impl ModelConfig {
    /// Every built-in architecture at its default configuration.
    pub fn built_ins() -> Vec<ModelConfig> {
        vec![
            ModelConfig::Logistic(LogisticConfig::default()),
            ModelConfig::Mlp(MlpConfig::default()),
            ModelConfig::Cnn(CnnConfig::default()),
            ModelConfig::ResNet9(ResNet9Config::default()),
            ModelConfig::ResNet9Easydub(EasydubResNet9Config::default()),
        ]
    }

    /// The built-ins' names, in registration order.
    pub fn names() -> Vec<&'static str> {
        Self::built_ins().iter().map(|c| c.name()).collect()
    }

    /// The built-ins' names, comma-separated (for messages).
    pub fn built_in_names() -> String {
        Self::names().join(", ")
    }

    /// Short name used on the command line and as `kind` in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Logistic(_) => LogisticConfig::NAME,
            ModelConfig::Mlp(_) => MlpConfig::NAME,
            ModelConfig::Cnn(_) => CnnConfig::NAME,
            ModelConfig::ResNet9(_) => ResNet9Config::NAME,
            ModelConfig::ResNet9Easydub(_) => EasydubResNet9Config::NAME,
        }
    }

    /// The default configuration of a named built-in.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::built_ins().into_iter().find(|c| c.name() == name)
    }

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
            return Err(ModelError::NotBuiltIn {
                kind: spec.kind().to_string(),
                built_in: Self::built_in_names(),
            });
        }
        spec.to_config()
    }

    /// Checks that this architecture can be built for `input`, before any training starts.
    pub fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        match self {
            ModelConfig::Logistic(c) => c.validate(input),
            ModelConfig::Mlp(c) => c.validate(input),
            ModelConfig::Cnn(c) => c.validate(input),
            ModelConfig::ResNet9(c) => c.validate(input),
            ModelConfig::ResNet9Easydub(c) => c.validate(input),
        }
    }
}

impl Architecture for ModelConfig {
    type Model = Model;

    fn spec(&self) -> ArchSpec {
        ModelConfig::spec(self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        ModelConfig::validate(self, input)
    }

    fn init(&self, input: &InputSpec, seeds: &[u64], device: &Device) -> Result<Model, ModelError> {
        Ok(match self {
            ModelConfig::Logistic(c) => Model::Mlp(c.init(input, seeds, device)?),
            ModelConfig::Mlp(c) => Model::Mlp(c.init(input, seeds, device)?),
            ModelConfig::Cnn(c) => Model::Cnn(c.init(input, seeds, device)?),
            ModelConfig::ResNet9(c) => Model::ResNet9(c.init(input, seeds, device)?),
            ModelConfig::ResNet9Easydub(c) => Model::ResNet9Easydub(c.init(input, seeds, device)?),
        })
    }
}

macro_rules! into_model_config {
    ($($config:ident => $variant:ident),*) => {$(
        impl From<$config> for ModelConfig {
            fn from(config: $config) -> Self {
                ModelConfig::$variant(config)
            }
        }
    )*};
}

into_model_config!(
    LogisticConfig => Logistic,
    MlpConfig => Mlp,
    CnnConfig => Cnn,
    ResNet9Config => ResNet9,
    EasydubResNet9Config => ResNet9Easydub
);

/// Checks shared by the built-ins' `validate`.
pub(crate) mod checks {
    use super::{InputSpec, ModelError};

    /// A model needs at least two classes.
    pub(crate) fn classes(model: &str, input: &InputSpec) -> Result<(), ModelError> {
        if input.classes < 2 {
            return Err(invalid(
                model,
                format!("needs at least 2 classes, the data have {}", input.classes),
            ));
        }
        Ok(())
    }

    /// The input's image shape, which must account for its features.
    pub(crate) fn image(model: &str, input: &InputSpec) -> Result<[usize; 3], ModelError> {
        let Some(shape) = input.image_shape else {
            return Err(ModelError::NeedsImages {
                model: model.to_string(),
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
        Ok(shape)
    }

    /// An image that survives `pools` 2×2 poolings.
    pub(crate) fn pools(model: &str, shape: [usize; 3], pools: usize) -> Result<(), ModelError> {
        let need = 1 << pools;
        if shape[1] < need || shape[2] < need {
            return Err(ModelError::TooSmall {
                model: model.to_string(),
                pools,
                need,
                h: shape[1],
                w: shape[2],
            });
        }
        Ok(())
    }

    /// A configuration value out of range.
    pub(crate) fn invalid(model: &str, what: impl Into<String>) -> ModelError {
        ModelError::Invalid {
            model: model.to_string(),
            what: what.into(),
        }
    }
}
