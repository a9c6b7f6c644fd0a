//! The built-in architectures' configurations under one serde enum, and their registration.

use crate::architecture::{ArchSpec, Architecture};
use crate::cnn::CnnConfig;
use crate::input::{InputSpec, ModelError};
use crate::mlp::{LogisticConfig, MlpConfig};
use crate::onnx::OnnxConfig;
use crate::resnet9::ResNet9Config;
use crate::resnet9_easydub::EasydubResNet9Config;
use serde::{Deserialize, Serialize};

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
    /// A classifier exported to ONNX (`onnx:PATH` on the command line).
    #[serde(rename = "onnx")]
    Onnx(OnnxConfig),
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
            ModelConfig::Onnx(_) => OnnxConfig::NAME,
        }
    }

    /// The default configuration of a named built-in.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::built_ins().into_iter().find(|c| c.name() == name)
    }

    /// A built-in by name, or `onnx:PATH` (the file opened and checked): what `--model` takes.
    pub fn parse(text: &str) -> Result<Self, ModelError> {
        if let Some(path) = text.strip_prefix("onnx:") {
            return OnnxConfig::open(path).map(ModelConfig::Onnx);
        }
        Self::from_name(text).ok_or_else(|| ModelError::NotBuiltIn {
            kind: text.to_string(),
            built_in: format!("{}, or onnx:PATH", Self::built_in_names()),
        })
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
        if spec.kind() == OnnxConfig::NAME {
            // A spec written by hand (a bench config) names the file; its hash is filled in.
            return match spec.to_config()? {
                ModelConfig::Onnx(c) => c.resolved().map(ModelConfig::Onnx),
                other => Ok(other),
            };
        }
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
            ModelConfig::Onnx(c) => c.validate(input),
        }
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
