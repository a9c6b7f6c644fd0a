//! Any classifier exported to ONNX as an architecture (`--model onnx:PATH`): the graph runs on
//! burn tensors on every backend, its float initializers are the model's parameters (trained,
//! unlearned, differentiated by TRAK and re-initialised from a seed like a built-in's), and its
//! torch state dicts come in and go out by their initializer names (docs/onnx.md).
//!
//! An ONNX model runs in stacks of one: a zoo trains its models in parallel workers.

pub mod graph;
pub mod model;
pub mod op;
pub mod ops;
pub mod tensor;
pub mod value;

pub use graph::OnnxGraph;
pub use model::OnnxModel;

use crate::architecture::{ArchSpec, Architecture};
use crate::input::{InputSpec, ModelError};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// The ONNX architecture's configuration: the file, and the hash of its bytes that a zoo's
/// manifest records (so a zoo never reloads a changed file as its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxConfig {
    /// Path of the `.onnx` file (relative paths from the working directory).
    pub path: String,
    /// SHA-256 of the file (hex); filled in when the file is opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Whether fresh models start from the file's own values instead of a seeded draw (the
    /// model as exported, e.g. to fine-tune or unlearn it directly).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub file_values: bool,
}

/// Graphs read so far, by file hash: every model of a zoo shares one.
fn graphs() -> &'static Mutex<HashMap<String, Arc<OnnxGraph>>> {
    static GRAPHS: OnceLock<Mutex<HashMap<String, Arc<OnnxGraph>>>> = OnceLock::new();
    GRAPHS.get_or_init(Default::default)
}

impl OnnxConfig {
    /// The name used on the command line and as `kind` in JSON.
    pub const NAME: &'static str = "onnx";

    /// Opens and checks the file at `path` (any unsupported operation or attribute is an error
    /// here, naming the node); the configuration records its hash.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let path = path.as_ref().display().to_string();
        let mut config = Self {
            path,
            sha256: None,
            file_values: false,
        };
        let (sha, _) = config.load()?;
        config.sha256 = Some(sha);
        Ok(config)
    }

    /// This configuration with its hash filled in from the file (a spec written by hand).
    pub fn resolved(mut self) -> Result<Self, ModelError> {
        let (sha, _) = self.load()?;
        self.sha256 = Some(sha);
        Ok(self)
    }

    fn error(&self, what: impl Into<String>) -> ModelError {
        ModelError::Onnx {
            file: self.path.clone(),
            what: what.into(),
        }
    }

    /// The file's hash and graph, read once per process.
    fn load(&self) -> Result<(String, Arc<OnnxGraph>), ModelError> {
        if let Some(sha) = &self.sha256
            && let Some(graph) = graphs().lock().expect("graph cache").get(sha)
        {
            return Ok((sha.clone(), graph.clone()));
        }
        let bytes = std::fs::read(&self.path).map_err(|e| {
            self.error(format!(
                "cannot be read ({e}); check the path given to --model onnx:PATH"
            ))
        })?;
        let sha = hex::encode(Sha256::digest(&bytes));
        if let Some(expected) = &self.sha256
            && *expected != sha
        {
            return Err(self.error(format!(
                "has changed since the zoo was made (sha256 {sha}, recorded {expected}); restore the file or start a new zoo"
            )));
        }
        let graph = Arc::new(OnnxGraph::parse(&bytes).map_err(|why| self.error(why))?);
        graphs()
            .lock()
            .expect("graph cache")
            .insert(sha.clone(), graph.clone());
        Ok((sha, graph))
    }

    /// The parsed graph.
    pub fn graph(&self) -> Result<Arc<OnnxGraph>, ModelError> {
        self.load().map(|(_, graph)| graph)
    }

    /// Checks the graph against the data: its input takes `input.dim` features, and one
    /// evaluation pass on zeros gives `input.classes` logits per example.
    pub fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        let graph = self.graph()?;
        let features: usize = graph.input_dims.iter().product();
        if features != input.dim {
            return Err(self.error(format!(
                "its input '{}' takes {:?} = {features} values per example, the data have {} features; check the export's example shape",
                graph.input,
                graph.input_dims,
                input.dim
            )));
        }
        let device = Device::default();
        let model = OnnxModel::init(graph, 0, true, &device);
        let logits = model
            .run(Tensor::zeros([2, input.dim], &device))
            .map_err(|why| self.error(why))?;
        let classes = logits.dims()[1];
        if classes != input.classes {
            return Err(self.error(format!(
                "gives {classes} outputs per example, the data have {} classes",
                input.classes
            )));
        }
        Ok(())
    }

    /// One model from `seed` (see [`OnnxModel::init`]).
    pub fn init(&self, seed: u64, device: &Device) -> Result<OnnxModel, ModelError> {
        Ok(OnnxModel::init(
            self.graph()?,
            seed,
            self.file_values,
            device,
        ))
    }
}

/// The ONNX architecture on its own (without [`crate::ModelConfig`]): the same spec, so zoos
/// of either read as the other's.
impl Architecture for OnnxConfig {
    type Model = OnnxModel;

    fn spec(&self) -> ArchSpec {
        ArchSpec::new(Self::NAME, self)
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        OnnxConfig::validate(self, input)
    }

    fn init(&self, _: &InputSpec, seeds: &[u64], device: &Device) -> Result<OnnxModel, ModelError> {
        match seeds {
            [seed] => OnnxConfig::init(self, *seed, device),
            _ => Err(self.error(format!(
                "an ONNX graph builds stacks of one, not {}",
                seeds.len()
            ))),
        }
    }

    fn max_stack(&self) -> Option<usize> {
        Some(1)
    }
}
