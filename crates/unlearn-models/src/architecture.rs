//! The open architecture interface: what training, zoos, methods, TRAK and the bench need from a
//! model, implemented by the built-ins ([`crate::ModelConfig`]) and by any user architecture.
//!
//! Two ways in:
//! - [`Architecture`] + [`StackModel`]: a *stack* of `K` models in one module (inputs
//!   `[K, batch, features]`), as the built-ins do, so a zoo trains many models per tensor op;
//! - [`SingleArchitecture`] + [`SingleModel`]: an ordinary burn module (inputs `[batch,
//!   features]`), wrapped by [`Single`] as a stack of one; its zoos train one model at a time, in
//!   parallel workers.

use crate::input::{InputSpec, ModelError};
use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A stack of `K` independent models evaluated in the same tensor operations.
///
/// Every parameter must be model-major along its first axis (model `k` owns the `k`-th of `K`
/// equal chunks), which is what lets zoos cut single models out of a stack
/// ([`crate::stacking::extract`]) and join them ([`crate::stacking::concat`]).
pub trait StackModel: Module + 'static {
    /// Logits `[K, batch, classes]` for inputs `[K, batch, features]`.
    fn forward(&self, x: Tensor<3>) -> Tensor<3>;

    /// Parameter ids of the classifier head (the last linear layer): localised methods (DEL,
    /// SalUn) keep them trainable.
    fn head_param_ids(&self) -> Vec<ParamId>;

    /// Whether a training forward pass draws random numbers (dropout). Then every such pass
    /// draws from a stream seeded by the stack's model seeds, the epoch and the step
    /// ([`crate::draws`]), one stack at a time: per model for single-model architectures
    /// (stacks of one), per stack for a stacked one. The default, `true`, is safe for any module; one that draws nothing
    /// returns `false` so its stacks' forward passes run in parallel freely.
    fn draws_randomness(&self) -> bool {
        true
    }

    /// Logits of every model for the same inputs `[batch, features]`: `[K, batch, classes]`.
    fn forward_shared(&self, x: Tensor<2>, models: usize) -> Tensor<3> {
        let [batch, dim] = x.dims();
        self.forward(x.unsqueeze::<3>().expand([models, batch, dim]))
    }
}

/// Name and configuration of an architecture as recorded in a zoo's manifest (and so in its
/// configuration hash): a JSON object whose `kind` names the architecture, e.g.
/// `{"kind": "mlp", "hidden": [64]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArchSpec(serde_json::Value);

impl ArchSpec {
    /// A spec of kind `kind` with the fields of `config` (a struct or map serialising to a JSON
    /// object; `()` for none).
    pub fn new<C: Serialize>(kind: &str, config: &C) -> Self {
        let mut value = serde_json::to_value(config).unwrap_or(serde_json::Value::Null);
        if !value.is_object() {
            value = serde_json::Value::Object(Default::default());
        }
        value
            .as_object_mut()
            .expect("an object")
            .insert("kind".into(), kind.into());
        Self(value)
    }

    /// The architecture's name (`kind`), or `"?"` for a malformed spec.
    pub fn kind(&self) -> &str {
        self.0.get("kind").and_then(|k| k.as_str()).unwrap_or("?")
    }

    /// The whole spec as JSON.
    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }

    /// Reads the spec into a typed configuration (`kind` included in the object).
    pub fn to_config<C: for<'de> Deserialize<'de>>(&self) -> Result<C, ModelError> {
        serde_json::from_value(self.0.clone()).map_err(|e| ModelError::Spec {
            kind: self.kind().to_string(),
            what: e.to_string(),
        })
    }
}

/// An architecture: builds stacks of models from seeds and reads and writes their checkpoints.
///
/// Only [`Architecture::spec`] and [`Architecture::init`] are required; checkpoints default to
/// burn's own format (burnpack), which every `Module` supports.
pub trait Architecture: Send + Sync {
    /// The stacked module this architecture builds.
    type Model: StackModel;

    /// Name and configuration, recorded in manifests; two architectures with equal specs must
    /// build the same models from the same seeds.
    fn spec(&self) -> ArchSpec;

    /// Checks that the architecture can be built for `input`, before any training starts.
    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        let _ = input;
        Ok(())
    }

    /// A stack of `seeds.len()` models, model `k` initialised from `seeds[k]` alone.
    fn init(
        &self,
        input: &InputSpec,
        seeds: &[u64],
        device: &Device,
    ) -> Result<Self::Model, ModelError>;

    /// The largest stack this architecture can build (`Some(1)` for single-model adapters).
    fn max_stack(&self) -> Option<usize> {
        None
    }

    /// Writes one model (a stack of one) to `path`; the same values give the same bytes
    /// ([`PositionalIds`]).
    fn save(&self, model: &Self::Model, path: &Path) -> Result<(), ModelError> {
        model
            .clone()
            .map(&mut PositionalIds::default())
            .save_file(path)
            .map_err(|e| ModelError::Checkpoint {
                path: path.display().to_string(),
                what: e.to_string(),
            })
    }

    /// Reads one model (a stack of one) written by [`Architecture::save`]; `seed` builds the
    /// template whose values the file replaces.
    fn load(
        &self,
        input: &InputSpec,
        seed: u64,
        path: &Path,
        device: &Device,
    ) -> Result<Self::Model, ModelError> {
        self.init(input, &[seed], device)?
            .try_load_file(path)
            .map_err(|e| ModelError::Checkpoint {
                path: path.display().to_string(),
                what: e.to_string(),
            })
    }
}

/// An ordinary single-model burn module: `[batch, features]` → `[batch, classes]`.
pub trait SingleModel: Module + 'static {
    /// Logits `[batch, classes]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2>;

    /// Parameter ids of the classifier head (see [`StackModel::head_param_ids`]).
    fn head_param_ids(&self) -> Vec<ParamId>;

    /// Whether a training forward pass draws random numbers (see
    /// [`StackModel::draws_randomness`]); `true` unless the module says otherwise.
    fn draws_randomness(&self) -> bool {
        true
    }
}

/// Every single model is a stack of one.
impl<M: SingleModel> StackModel for M {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [models, batch, dim] = x.dims();
        assert_eq!(
            models, 1,
            "a single-model architecture runs in stacks of one (got {models})"
        );
        SingleModel::forward(self, x.reshape([batch, dim])).unsqueeze::<3>()
    }

    fn head_param_ids(&self) -> Vec<ParamId> {
        SingleModel::head_param_ids(self)
    }

    fn draws_randomness(&self) -> bool {
        SingleModel::draws_randomness(self)
    }
}

/// An architecture of single models (see [`Single`]).
pub trait SingleArchitecture: Send + Sync {
    /// The module it builds.
    type Model: SingleModel;

    /// Name and configuration (see [`Architecture::spec`]).
    fn spec(&self) -> ArchSpec;

    /// Checks that the architecture can be built for `input`.
    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        let _ = input;
        Ok(())
    }

    /// One model initialised from `seed` alone (for instance with [`crate::init::reseed`]).
    fn init(
        &self,
        input: &InputSpec,
        seed: u64,
        device: &Device,
    ) -> Result<Self::Model, ModelError>;
}

/// Adapter: a [`SingleArchitecture`] as an [`Architecture`] of stacks of one.
#[derive(Debug, Clone)]
pub struct Single<A>(pub A);

impl<A: SingleArchitecture> Architecture for Single<A> {
    type Model = A::Model;

    fn spec(&self) -> ArchSpec {
        self.0.spec()
    }

    fn validate(&self, input: &InputSpec) -> Result<(), ModelError> {
        self.0.validate(input)
    }

    fn init(
        &self,
        input: &InputSpec,
        seeds: &[u64],
        device: &Device,
    ) -> Result<Self::Model, ModelError> {
        match seeds {
            // Under the draws' lock: a user's initialisers draw from the device's shared
            // generator, and a draw here must not land between another model's seeded forward
            // pass and its dropout masks ([`crate::draws`]).
            [seed] => {
                crate::draws::with_seeded_draws(device, *seed, || self.0.init(input, *seed, device))
            }
            _ => Err(ModelError::Invalid {
                model: self.spec().kind().to_string(),
                what: format!(
                    "a single-model architecture builds stacks of one, not {}",
                    seeds.len()
                ),
            }),
        }
    }

    fn max_stack(&self) -> Option<usize> {
        Some(1)
    }
}

/// Renumbers a module's parameters 1, 2, … in the order burn visits them. A checkpoint records
/// each parameter's id, which burn draws at random when a parameter is made, so two runs that
/// train identical models would otherwise write checkpoints differing in those bytes alone.
/// Ids only tell a model's own parameters apart, and positions do.
#[derive(Debug, Default)]
pub struct PositionalIds(u64);

impl PositionalIds {
    fn next(&mut self) -> ParamId {
        self.0 += 1;
        ParamId::from(self.0)
    }
}

impl ModuleMapper for PositionalIds {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (_, value, mapper) = param.consume();
        Param::from_mapped_value(self.next(), value, mapper)
    }

    fn map_int<const D: usize>(&mut self, param: Param<Tensor<D, Int>>) -> Param<Tensor<D, Int>> {
        let (_, value, mapper) = param.consume();
        Param::from_mapped_value(self.next(), value, mapper)
    }

    fn map_bool<const D: usize>(
        &mut self,
        param: Param<Tensor<D, Bool>>,
    ) -> Param<Tensor<D, Bool>> {
        let (_, value, mapper) = param.consume();
        Param::from_mapped_value(self.next(), value, mapper)
    }
}
