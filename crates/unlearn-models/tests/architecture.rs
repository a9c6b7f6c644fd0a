//! The open architecture interface: the built-ins through it, a user's single-model module
//! through the `Single` adapter, and `reseed`.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use unlearn_models::MlpConfig;
use unlearn_models::init::reseed;
use unlearn_models::{
    ArchSpec, Architecture, InputSpec, Model, ModelConfig, ModelError, Single, SingleArchitecture,
    SingleModel, StackModel,
};

fn device() -> Device {
    Device::flex()
}

fn input() -> InputSpec {
    InputSpec {
        dim: 6,
        image_shape: None,
        classes: 3,
    }
}

#[derive(Module, Debug)]
struct Tiny {
    hidden: Linear,
    head: Linear,
}

impl SingleModel for Tiny {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.head
            .forward(burn::tensor::activation::relu(self.hidden.forward(x)))
    }
    fn head_param_ids(&self) -> Vec<ParamId> {
        vec![self.head.weight.id]
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TinyConfig {
    width: usize,
}

impl SingleArchitecture for TinyConfig {
    type Model = Tiny;
    fn spec(&self) -> ArchSpec {
        ArchSpec::new("tiny", self)
    }
    fn init(&self, input: &InputSpec, seed: u64, device: &Device) -> Result<Tiny, ModelError> {
        let model = Tiny {
            hidden: LinearConfig::new(input.dim, self.width).init(device),
            head: LinearConfig::new(self.width, input.classes).init(device),
        };
        Ok(reseed(model, seed))
    }
}

struct Values(Vec<(Vec<usize>, Vec<f32>)>);

impl ModuleVisitor for Values {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        self.0
            .push((t.dims().to_vec(), t.into_data().try_into_vec().unwrap()));
    }
}

fn values<M: Module>(m: &M) -> Vec<(Vec<usize>, Vec<f32>)> {
    let mut v = Values(Vec::new());
    m.visit(&mut v);
    v.0
}

#[test]
fn reseed_depends_on_the_seed_alone_with_pytorch_bounds() {
    let arch = TinyConfig { width: 5 };
    let a = values(&arch.init(&input(), 7, &device()).unwrap());
    let b = values(&arch.init(&input(), 7, &device()).unwrap());
    let c = values(&arch.init(&input(), 8, &device()).unwrap());
    assert_eq!(a, b, "the same seed gives the same parameters");
    assert_ne!(a, c, "another seed gives other parameters");
    // Visit order: hidden weight [6, 5], hidden bias [5], head weight [5, 3], head bias [3].
    let bounds = [
        1.0 / 6f32.sqrt(),
        1.0 / 6f32.sqrt(),
        1.0 / 5f32.sqrt(),
        1.0 / 5f32.sqrt(),
    ];
    assert_eq!(a.len(), 4);
    for ((dims, v), bound) in a.iter().zip(bounds) {
        let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!(max <= bound + 1e-6, "{dims:?}: |w| ≤ {bound}, got {max}");
        // 30 draws uniform on ±bound: the largest is well past half the bound.
        assert!(
            max > 0.5 * bound,
            "{dims:?}: values {v:?} not spread over ±{bound}"
        );
    }
}

#[test]
fn single_adapter_runs_the_module_as_a_stack_of_one() {
    let arch = Single(TinyConfig { width: 4 });
    assert_eq!(arch.max_stack(), Some(1));
    assert_eq!(arch.spec().kind(), "tiny");
    assert_eq!(arch.spec().as_json()["width"], 4);
    let model = arch.init(&input(), &[3], &device()).unwrap();
    let x: Vec<f32> = (0..12).map(|i| i as f32 / 10.0 - 0.5).collect();
    let flat = Tensor::<2>::from_data(TensorData::new(x.clone(), [2, 6]), &device());
    let stacked = Tensor::<3>::from_data(TensorData::new(x, [1, 2, 6]), &device());
    let direct: Vec<f32> = SingleModel::forward(&model, flat.clone())
        .into_data()
        .try_into_vec()
        .unwrap();
    let through: Vec<f32> = StackModel::forward(&model, stacked)
        .into_data()
        .try_into_vec()
        .unwrap();
    assert_eq!(direct, through);
    let shared: Vec<f32> = model
        .forward_shared(flat, 1)
        .into_data()
        .try_into_vec()
        .unwrap();
    assert_eq!(direct, shared);
    assert_eq!(
        StackModel::head_param_ids(&model),
        vec![model.head.weight.id]
    );
    let err = arch.init(&input(), &[1, 2], &device()).unwrap_err();
    assert!(err.to_string().contains("stacks of one"), "{err}");
}

#[test]
fn built_ins_go_through_the_registry_and_their_specs_round_trip() {
    for name in ["logistic", "mlp", "cnn", "resnet9"] {
        let config = ModelConfig::from_name(name).unwrap();
        let spec = config.spec();
        assert_eq!(spec.kind(), name);
        assert_eq!(ModelConfig::from_spec(&spec).unwrap(), config);
        // The spec is the JSON the recipes always had.
        assert_eq!(spec.as_json(), &serde_json::to_value(&config).unwrap());
    }
    let foreign = TinyConfig { width: 3 }.spec();
    let err = ModelConfig::from_spec(&foreign).unwrap_err();
    assert!(err.to_string().contains("'tiny' is not built in"), "{err}");
    let bad: ArchSpec = serde_json::from_str(r#"{"kind":"mlp","hidden":"wide"}"#).unwrap();
    let err = ModelConfig::from_spec(&bad).unwrap_err();
    assert!(err.to_string().contains("mlp"), "{err}");
}

#[test]
fn checkpoints_save_and_load_through_the_interface() {
    let dir = tempfile::tempdir().unwrap();
    let arch = ModelConfig::Mlp(MlpConfig { hidden: vec![4] });
    let model: Model = arch.init(&input(), &[5], &device()).unwrap();
    let path = dir.path().join("m.bpk");
    arch.save(&model, &path).unwrap();
    let loaded = arch.load(&input(), 99, &path, &device()).unwrap();
    assert_eq!(values(&model), values(&loaded));
    let user = Single(TinyConfig { width: 4 });
    let m = user.init(&input(), &[5], &device()).unwrap();
    let path = dir.path().join("u.bpk");
    user.save(&m, &path).unwrap();
    assert_eq!(
        values(&m),
        values(&user.load(&input(), 0, &path, &device()).unwrap())
    );
    std::fs::write(&path, b"not a checkpoint").unwrap();
    let err = user.load(&input(), 0, &path, &device()).unwrap_err();
    assert!(err.to_string().contains("u.bpk"), "{err}");
}
