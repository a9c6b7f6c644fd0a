//! ONNX architectures against PyTorch itself: `tests/fixtures/onnx` was written by
//! `scripts/torch_reference/make_onnx_fixtures.py` (three user architectures: a CNN, an MLP and
//! a torchvision-style ResNet in miniature trained in PyTorch on
//! their own per-channel normalisation, exported to ONNX, with their state dicts, PyTorch's
//! logits and one training step's loss and gradients). Imported state dicts must give PyTorch's
//! logits (1e-5) and its training step (1e-4); export must write torch's own keys; an
//! unsupported operation must be a one-line error naming the node before anything runs.

use burn::module::{Module, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use unlearn_models::{Architecture, InputSpec, Model, ModelConfig, OnnxConfig, StackModel};
use unlearn_train::loss::cross_entropy_per_model;
use unlearn_train::torch_checkpoint::{ImportOptions, export_checkpoint, import_checkpoint};

const MEAN: f32 = 0.4;
const STD: f32 = 0.25;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx")
}

fn npy(name: &str) -> (Vec<usize>, Vec<f32>) {
    unlearn_data::read_npy_f32(fixtures().join(name)).unwrap()
}

/// Training then test images, normalised as the user trained on them.
fn inputs() -> (usize, Vec<f32>) {
    let (train_shape, mut x) = npy("data/train_x.npy");
    let (test_shape, test) = npy("data/test_x.npy");
    x.extend(test);
    let x = x.into_iter().map(|v| (v - MEAN) / STD).collect();
    (train_shape[0] + test_shape[0], x)
}

fn input_spec() -> InputSpec {
    InputSpec {
        dim: 64,
        image_shape: Some([1, 8, 8]),
        classes: 3,
    }
}

fn config(case: &str) -> ModelConfig {
    ModelConfig::parse(&format!(
        "onnx:{}",
        fixtures().join(format!("{case}.onnx")).display()
    ))
    .unwrap()
}

fn import(case: &str, device: &Device) -> Model {
    import_checkpoint(
        &config(case),
        &input_spec(),
        &fixtures().join(format!("{case}.safetensors")),
        &ImportOptions::default(),
        device,
    )
    .unwrap()
}

fn logits(model: &Model, rows: usize, x: &[f32], device: &Device) -> Vec<f32> {
    let x = Tensor::<3>::from_data(TensorData::new(x.to_vec(), [1, rows, 64]), device);
    model.forward(x).into_data().try_to_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn imported_state_dicts_give_pytorchs_logits_in_eval_mode() {
    let device = Device::default();
    let (rows, x) = inputs();
    for case in ["cnn", "mlp", "resnet"] {
        let model = import(case, &device);
        let (_, expected) = npy(&format!("{case}_logits.npy"));
        let got = logits(&model, rows, &x, &device);
        let diff = max_diff(&got, &expected);
        eprintln!("{case}: max |logit − PyTorch's| = {diff:.2e} over {rows} points");
        assert!(
            diff < 1e-5,
            "{case}: logits differ from PyTorch's by {diff}"
        );
    }
}

#[test]
fn the_onnx_file_itself_imports_as_its_exported_weights() {
    let device = Device::default();
    let (rows, x) = inputs();
    for case in ["cnn", "mlp", "resnet"] {
        let from_onnx = import_checkpoint(
            &config(case),
            &input_spec(),
            &fixtures().join(format!("{case}.onnx")),
            &ImportOptions::default(),
            &device,
        )
        .unwrap();
        let (_, expected) = npy(&format!("{case}_logits.npy"));
        let diff = max_diff(&logits(&from_onnx, rows, &x, &device), &expected);
        eprintln!("{case}.onnx's own weights: max |logit − PyTorch's| = {diff:.2e}");
        assert!(
            diff < 1e-5,
            "{case}: logits differ from PyTorch's by {diff}"
        );
    }
}

#[test]
fn one_training_step_matches_pytorchs_loss_and_gradients() {
    let ad = Device::default().autodiff();
    let (_, x) = inputs();
    let train = unlearn_data::load_npy_pair(
        fixtures().join("data/train_x.npy"),
        fixtures().join("data/train_y.npy"),
    )
    .unwrap();
    let labels: Vec<i64> = train.labels[..12].iter().map(|&v| v as i64).collect();
    for case in ["cnn", "mlp", "resnet"] {
        let Model::Onnx(mut model) = import(case, &ad) else {
            panic!("an ONNX model");
        };
        // The fixture's step ran with dropout off (its masks differ between frameworks) and
        // batch norm on batch statistics.
        for dropout in &mut model.dropouts {
            dropout.training = Param::from_bool(false);
        }
        let xb = Tensor::<3>::from_data(TensorData::new(x[..12 * 64].to_vec(), [1, 12, 64]), &ad);
        let yb = Tensor::<2, Int>::from_data(TensorData::new(labels.clone(), [1, 12]), &ad);
        let loss = cross_entropy_per_model(StackModel::forward(&model, xb), yb, 0.0).sum();
        let loss_value = loss.clone().into_data().try_to_vec::<f32>().unwrap()[0];
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let step = read_safetensors(&fixtures().join(format!("{case}_step.safetensors")));
        let expected_loss = step["loss"].1[0];
        assert!(
            (loss_value - expected_loss).abs() < 1e-4,
            "{case}: loss {loss_value} vs PyTorch's {expected_loss}"
        );
        let graph = model.graph();
        let mut compared = 0;
        let mut worst = 0f32;
        for (name, (_, expected)) in step.iter().filter(|(k, _)| k.starts_with("grad.")) {
            let name = &name["grad.".len()..];
            let id = match unlearn_models::onnx::model::burn_path(graph, name).as_deref() {
                Some(p) if p.starts_with("params.") => {
                    model.params[p["params.".len()..].parse::<usize>().unwrap()].id
                }
                Some(p) => {
                    let norm: usize = p["norms.".len()..]
                        .split('.')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    if p.ends_with("gamma") {
                        model.norms[norm].gamma.id
                    } else {
                        model.norms[norm].beta.id
                    }
                }
                None => panic!("{case}: PyTorch parameter {name} is not in the graph"),
            };
            let got = grads
                .get::<1>(id)
                .unwrap_or_else(|| panic!("{case}: no gradient for {name}"))
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            let diff = max_diff(&got, expected);
            assert!(diff < 1e-4, "{case}: gradient of {name} differs by {diff}");
            worst = worst.max(diff);
            compared += 1;
        }
        assert!(compared >= 6, "{case}: only {compared} gradients compared");
        eprintln!(
            "{case}: loss {loss_value} (PyTorch {expected_loss}); {compared} gradients, max difference {worst:.2e}"
        );
    }
}

/// Every tensor of a safetensors file as f32 (int64 counters converted), by key.
fn read_safetensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    file.tensors()
        .into_iter()
        .map(|(key, view)| {
            let values = match view.dtype() {
                safetensors::Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                _ => view
                    .data()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32)
                    .collect(),
            };
            (key, (view.shape().to_vec(), values))
        })
        .collect()
}

#[test]
fn export_writes_torchs_own_keys_and_values() {
    let device = Device::default();
    let dir = tempfile::tempdir().unwrap();
    for case in ["cnn", "mlp", "resnet"] {
        let model = import(case, &device);
        let out = dir.path().join(format!("{case}.safetensors"));
        export_checkpoint(&config(case), &input_spec(), &model, &out).unwrap();
        let torch = read_safetensors(&fixtures().join(format!("{case}.safetensors")));
        let ours = read_safetensors(&out);
        assert_eq!(
            torch.keys().collect::<Vec<_>>(),
            ours.keys().collect::<Vec<_>>(),
            "{case}: the exported keys must be the torch state dict's"
        );
        for (key, (shape, values)) in &torch {
            if key.ends_with("num_batches_tracked") {
                continue;
            }
            assert_eq!(&ours[key].0, shape, "{case}: shape of {key}");
            assert_eq!(&ours[key].1, values, "{case}: values of {key}");
        }
        let again = import_checkpoint(
            &config(case),
            &input_spec(),
            &out,
            &ImportOptions::default(),
            &device,
        )
        .unwrap();
        let (rows, x) = inputs();
        assert_eq!(
            logits(&model, rows, &x, &device),
            logits(&again, rows, &x, &device)
        );
    }
}

#[test]
fn fresh_models_are_seeded_and_draw_pytorchs_initialisation_bounds() {
    let device = Device::default();
    let config = config("cnn");
    let input = input_spec();
    let a = config.init(&input, &[3], &device).unwrap();
    let b = config.init(&input, &[3], &device).unwrap();
    let c = config.init(&input, &[4], &device).unwrap();
    let values = |m: &Model| -> Vec<Vec<f32>> {
        let Model::Onnx(m) = m else { panic!() };
        m.params
            .iter()
            .map(|p| p.val().into_data().try_to_vec::<f32>().unwrap())
            .collect()
    };
    assert_eq!(values(&a), values(&b), "same seed, same parameters");
    assert_ne!(values(&a), values(&c), "another seed, other parameters");
    // conv1.weight [4, 1, 3, 3]: fan-in 9, bound 1/3; fc.weight [3, 8]: fan-in 8.
    let v = values(&a);
    assert!(v[0].iter().all(|w| w.abs() <= 1.0 / 3.0 + 1e-6));
    assert!(v[0].iter().any(|w| w.abs() > 0.25));
    let fc = v.iter().find(|p| p.len() == 24).unwrap();
    assert!(fc.iter().all(|w| w.abs() <= 1.0 / 8f32.sqrt() + 1e-6));
    let Model::Onnx(m) = &a else { panic!() };
    let gamma = m.norms[0]
        .gamma
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(gamma, vec![1.0; 4], "batch norms start at γ = 1");
    assert_eq!(
        m.head_param_ids().len(),
        2,
        "the head is fc.weight and fc.bias"
    );
    let _ = a.valid().num_params();
}

#[test]
fn an_unsupported_operation_is_one_line_naming_the_node() {
    let path = fixtures().join("unsupported.onnx");
    let err = OnnxConfig::open(&path).unwrap_err().to_string();
    assert!(!err.contains('\n'), "{err}");
    assert!(
        err.contains("LeakyRelu") && err.contains("/2/LeakyRelu"),
        "{err}"
    );
    assert!(err.contains("not supported"), "{err}");
    let missing = OnnxConfig::open(fixtures().join("absent.onnx"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("absent.onnx") && missing.contains("cannot be read"),
        "{missing}"
    );
    let not_onnx = OnnxConfig::open(fixtures().join("cnn_logits.npy"))
        .unwrap_err()
        .to_string();
    assert!(not_onnx.contains("not an ONNX model"), "{not_onnx}");
}

#[test]
fn a_graph_for_other_data_is_refused_before_training() {
    let wrong = InputSpec {
        dim: 100,
        image_shape: Some([1, 10, 10]),
        classes: 3,
    };
    let err = config("cnn").validate(&wrong).unwrap_err().to_string();
    assert!(err.contains("64") && err.contains("100"), "{err}");
    let classes = InputSpec {
        classes: 10,
        ..input_spec()
    };
    let err = config("mlp").validate(&classes).unwrap_err().to_string();
    assert!(
        err.contains("3 outputs") && err.contains("10 classes"),
        "{err}"
    );
}
