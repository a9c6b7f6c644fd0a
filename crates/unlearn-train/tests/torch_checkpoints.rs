//! PyTorch interop against PyTorch itself: the fixtures in `tests/fixtures/torch` were written by
//! `scripts/torch_reference/make_fixtures.py` (state dicts as `.pt` and `.safetensors`, fixed
//! inputs and the logits PyTorch computed on them, batch norms in eval mode with random running
//! statistics). Imported models must give PyTorch's logits; export then import must give the
//! same parameters bit for bit; bad checkpoints must be one-line errors naming the key or file.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use std::path::{Path, PathBuf};
use unlearn_models::{ArchSpec, Architecture, InputSpec, Model, ModelConfig, StackModel};
use unlearn_train::torch_checkpoint::{ImportOptions, export_checkpoint, import_checkpoint};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch")
}

struct Case {
    name: String,
    config: ModelConfig,
    input: InputSpec,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixtures().join("cases.json")).unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    list.iter()
        .map(|c| {
            let spec: ArchSpec = serde_json::from_value(c["model"].clone()).unwrap();
            let image_shape = c["image_shape"].as_array().map(|s| {
                let s: Vec<usize> = s.iter().map(|v| v.as_u64().unwrap() as usize).collect();
                [s[0], s[1], s[2]]
            });
            Case {
                name: c["name"].as_str().unwrap().to_string(),
                config: ModelConfig::from_spec(&spec).unwrap(),
                input: InputSpec {
                    dim: c["dim"].as_u64().unwrap() as usize,
                    image_shape,
                    classes: c["classes"].as_u64().unwrap() as usize,
                },
            }
        })
        .collect()
}

fn npy(path: &Path) -> (Vec<usize>, Vec<f32>) {
    unlearn_data::read_npy_f32(path).unwrap()
}

/// The model's logits on the case's fixed inputs, row-major `[rows, classes]`.
fn logits(model: &Model, case: &Case, device: &Device) -> Vec<f32> {
    let (shape, x) = npy(&fixtures().join(format!("{}.inputs.npy", case.name)));
    let x = Tensor::<3>::from_data(TensorData::new(x, [1, shape[0], shape[1]]), device);
    model.forward(x).into_data().try_to_vec::<f32>().unwrap()
}

fn import(case: &Case, file: &Path, device: &Device) -> Model {
    import_checkpoint(
        &case.config,
        &case.input,
        file,
        &ImportOptions::default(),
        device,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

#[test]
fn imported_models_give_pytorchs_logits() {
    let device = Device::flex();
    let all = cases();
    assert_eq!(all.len(), 5, "logistic, mlp, cnn, resnet9, resnet9-easydub");
    for case in &all {
        let (_, want) = npy(&fixtures().join(format!("{}.logits.npy", case.name)));
        for ext in ["pt", "safetensors"] {
            let file = fixtures().join(format!("{}.{ext}", case.name));
            let got = logits(&import(case, &file, &device), case, &device);
            assert_eq!(got.len(), want.len());
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            println!(
                "{} ({ext}): max |Δlogit| against PyTorch {worst:.2e}",
                case.name
            );
            assert!(
                worst < 1e-4,
                "{} ({ext}): max |Δlogit| {worst:e}",
                case.name
            );
            // A model that ignored the checkpoint would not come close.
            assert!(
                want.iter().any(|v| v.abs() > 1e-3),
                "{}: degenerate fixture",
                case.name
            );
        }
    }
}

/// Every parameter of a model, by path, as bits.
fn parameter_bits(model: &Model) -> Vec<(String, Vec<u32>)> {
    use burn_store::ModuleSnapshot;
    let mut params: Vec<(String, Vec<u32>)> = model
        .collect(None, None, true)
        .into_iter()
        .map(|t| {
            let name = t.name.clone();
            let data = burn_store::bridge::into_data(t).unwrap();
            (
                name,
                data.try_to_vec::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
            )
        })
        .collect();
    params.sort();
    params
}

#[test]
fn export_then_import_is_bit_identical() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    for case in &cases() {
        let original = import(case, &fixtures().join(format!("{}.pt", case.name)), &device);
        let file = dir.path().join(format!("{}.safetensors", case.name));
        export_checkpoint(&case.config, &case.input, &original, &file).unwrap();
        let back = import(case, &file, &device);
        assert_eq!(
            parameter_bits(&back),
            parameter_bits(&original),
            "{}",
            case.name
        );
        // The running statistics travel too (they are not parameters but decide eval outputs).
        assert_eq!(
            logits(&back, case, &device),
            logits(&original, case, &device),
            "{}",
            case.name
        );
    }
    // What `make_fixtures.py check DIR` loads into PyTorch with strict=True.
    if let Some(out) = std::env::var_os("UNLEARN_EXPORT_FIXTURES") {
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), Path::new(&out).join(entry.file_name())).unwrap();
        }
    }
}

/// A freshly initialised model of every case exported and imported again: the layout covers
/// every parameter, whatever its values.
#[test]
fn every_parameter_of_a_fresh_model_round_trips() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    for case in &cases() {
        let model = case.config.init(&case.input, &[42], &device).unwrap();
        let file = dir.path().join("m.safetensors");
        export_checkpoint(&case.config, &case.input, &model, &file).unwrap();
        let back = import(case, &file, &device);
        assert_eq!(
            parameter_bits(&back),
            parameter_bits(&model),
            "{}",
            case.name
        );
        assert_eq!(model.num_params(), back.num_params());
    }
}

fn import_error(file: &Path) -> String {
    let mlp = cases().into_iter().find(|c| c.name == "mlp").unwrap();
    let err = import_checkpoint(
        &mlp.config,
        &mlp.input,
        file,
        &ImportOptions::default(),
        &Device::flex(),
    )
    .err()
    .unwrap_or_else(|| panic!("{} was accepted", file.display()))
    .to_string();
    assert!(!err.contains('\n'), "one line: {err}");
    assert!(
        err.contains(&file.display().to_string()),
        "names the file: {err}"
    );
    err
}

#[test]
fn bad_checkpoints_are_one_line_errors_naming_the_key() {
    let f = fixtures();
    let err = import_error(&f.join("bad-missing.pt"));
    assert!(err.contains("missing key '2.bias'"), "{err}");
    let err = import_error(&f.join("bad-extra.safetensors"));
    assert!(
        err.contains("unexpected key '9.weight'") && err.contains("--key-map"),
        "{err}"
    );
    let err = import_error(&f.join("bad-shape.pt"));
    assert!(
        err.contains("'2.weight'") && err.contains("[3, 5], expected [4, 5]"),
        "{err}"
    );
    let err = import_error(&f.join("bad-dtype.safetensors"));
    assert!(
        err.contains("not float32") && err.contains("float()"),
        "{err}"
    );
    let err = import_error(&f.join("no-such-file.pt"));
    assert!(err.contains("no such file"), "{err}");
    // A checkpoint cut short, in both formats.
    let dir = tempfile::tempdir().unwrap();
    for ext in ["pt", "safetensors"] {
        let bytes = std::fs::read(f.join(format!("mlp.{ext}"))).unwrap();
        let cut = dir.path().join(format!("cut.{ext}"));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let err = import_error(&cut);
        assert!(err.contains("cannot be read"), "{err}");
    }
}

#[test]
fn other_key_names_are_mapped_with_regexes() {
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let mlp = cases().into_iter().find(|c| c.name == "mlp").unwrap();
    let model = import(&mlp, &fixtures().join("mlp.pt"), &device);
    let plain = dir.path().join("plain.safetensors");
    export_checkpoint(&mlp.config, &mlp.input, &model, &plain).unwrap();
    // The same tensors under `module.net.` (a DataParallel-wrapped submodule's keys).
    let renamed = dir.path().join("renamed.safetensors");
    let bytes = std::fs::read(&plain).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .tensors()
        .into_iter()
        .map(|(k, v)| (format!("module.net.{k}"), v))
        .collect();
    std::fs::write(&renamed, safetensors::serialize(views, None).unwrap()).unwrap();
    let err = import_error(&renamed);
    assert!(err.contains("missing key '0.weight'"), "{err}");
    let options = ImportOptions {
        top_level_key: None,
        key_map: vec![(r"^module\.net\.".into(), String::new())],
    };
    let back = import_checkpoint(&mlp.config, &mlp.input, &renamed, &options, &device).unwrap();
    assert_eq!(parameter_bits(&back), parameter_bits(&model));
}
