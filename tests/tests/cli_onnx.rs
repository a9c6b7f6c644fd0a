//! A PyTorch user's path through the CLI with `--model onnx:PATH`: the fixtures of
//! `scripts/torch_reference/make_onnx_fixtures.py` (a CNN trained in PyTorch on its own
//! per-channel normalisation and test set) are imported with the user's conventions and give
//! PyTorch's logits; the zoo is unlearned and exported with torch's keys (loaded back into the
//! torch module by the script where a torch venv exists); fresh ONNX models with dropout train
//! to the same bits whatever the workers; an unsupported graph is refused in one line.

mod common;

use common::{assert_one_line_error, ok, s, unlearn};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/unlearn-train/tests/fixtures/onnx")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

fn read_f32(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let file = std::fs::File::open(path).unwrap();
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file)).unwrap();
    (npy.shape().to_vec(), npy.into_vec::<f32>().unwrap())
}

/// The user's data as they trained on it: their training images in their order, their test
/// set, CIFAR-style published per-channel statistics.
fn data_args() -> Vec<String> {
    [
        "--dataset",
        &format!(
            "{},{}",
            fixture("data/train_x.npy"),
            fixture("data/train_y.npy")
        ),
        "--validation",
        &format!(
            "{},{}",
            fixture("data/test_x.npy"),
            fixture("data/test_y.npy")
        ),
        "--normalise",
        "channel",
        "--channel-mean",
        "0.4",
        "--channel-std",
        "0.25",
    ]
    .map(String::from)
    .to_vec()
}

fn run(args: &[&str], data: bool) -> std::process::Output {
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if data {
        all.extend(data_args());
    }
    ok(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A python with torch: `UNLEARN_TORCH_PYTHON`, or the venv the scripts name.
fn torch_python() -> Option<PathBuf> {
    let candidate = std::env::var_os("UNLEARN_TORCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/torch-venv/bin/python"))
        })?;
    let works = std::process::Command::new(&candidate)
        .args(["-c", "import torch, onnx, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success());
    works.then_some(candidate)
}

#[test]
fn a_pytorch_checkpoint_imports_with_its_logits_unlearns_and_exports_with_torchs_keys() {
    let dir = tempfile::tempdir().unwrap();
    let zoo = dir.path().join("imported");
    let model = format!("onnx:{}", fixture("cnn.onnx"));
    let out = run(
        &[
            "import",
            "--model",
            &model,
            "--checkpoints",
            &fixture("cnn.safetensors"),
            "--out",
            s(&zoo),
        ],
        true,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("validation 100.00 %"), "{text}");
    let (shape, logits) = read_f32(&zoo.join("logits.npy"));
    assert_eq!(shape, vec![1, 54, 3], "36 training then 18 test points");
    let (_, torch) = read_f32(&fixtures().join("cnn_logits.npy"));
    let diff = logits
        .iter()
        .zip(&torch)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    eprintln!("cnn imported through the CLI: max |logit − PyTorch's| = {diff:.2e}");
    assert!(diff < 1e-5, "logits differ from PyTorch's by {diff}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(zoo.join("manifest.json")).unwrap()).unwrap();
    let spec = &manifest["recipe"]["model"];
    assert_eq!(spec["kind"], "onnx");
    assert_eq!(spec["sha256"].as_str().map(str::len), Some(64), "{spec}");

    let forget = dir.path().join("forget.txt");
    std::fs::write(&forget, "0\n5\n9\n").unwrap();
    let unlearned = dir.path().join("unlearned");
    run(
        &[
            "forget",
            "--method",
            "gd-ga",
            "--originals",
            s(&zoo),
            "--forget-set",
            s(&forget),
            "--out",
            s(&unlearned),
        ],
        false,
    );
    let exported = dir.path().join("exported");
    run(
        &["export", "--zoo", s(&unlearned), "--out", s(&exported)],
        false,
    );
    let header = |path: &Path| -> Vec<String> {
        let bytes = std::fs::read(path).unwrap();
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..8 + len]).unwrap();
        let mut keys: Vec<String> = header
            .keys()
            .filter(|k| *k != "__metadata__")
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(
        header(&exported.join("00000.safetensors")),
        header(&fixtures().join("cnn.safetensors")),
        "the export's keys are the torch module's state dict"
    );
    match torch_python() {
        Some(python) => {
            let script = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../scripts/torch_reference/make_onnx_fixtures.py");
            let check = std::process::Command::new(python)
                .args([
                    s(&script),
                    "check",
                    "cnn",
                    s(&exported),
                    s(&unlearned.join("logits.npy")),
                ])
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&check.stdout);
            eprintln!(
                "{said}{}",
                String::from_utf8_lossy(&check.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            );
            assert!(
                check.status.success() && said.contains("load strictly"),
                "{said}"
            );
        }
        None => eprintln!("SKIPPED the torch load_state_dict(strict=True) check: no torch venv"),
    }
}

#[test]
fn fresh_onnx_models_with_dropout_are_the_same_bits_whatever_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    let model = format!("onnx:{}", fixture("mlp.onnx"));
    let mut logits = Vec::new();
    for workers in ["1", "2"] {
        let zoo = dir.path().join(format!("w{workers}"));
        run(
            &[
                "train",
                "--model",
                &model,
                "--models",
                "3",
                "--epochs",
                "3",
                "--batch-size",
                "12",
                "--workers",
                workers,
                "--first-seed",
                "5",
                "--out",
                s(&zoo),
            ],
            true,
        );
        logits.push(std::fs::read(zoo.join("logits.npy")).unwrap());
    }
    assert_eq!(
        logits[0], logits[1],
        "dropout masks follow each model's seed"
    );
    let (_, values) = read_f32(&dir.path().join("w1/logits.npy"));
    let per_model = values.len() / 3;
    assert_ne!(
        values[..per_model],
        values[per_model..2 * per_model],
        "seeds differ"
    );
}

#[test]
fn an_unsupported_graph_or_a_wrong_shape_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = ["train", "--model"].map(String::from).to_vec();
    args.push(format!("onnx:{}", fixture("unsupported.onnx")));
    args.extend([
        "--out".to_string(),
        dir.path().join("z").display().to_string(),
    ]);
    args.extend(data_args());
    let o = unlearn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_one_line_error(&o, &["/2/LeakyRelu", "LeakyRelu", "not supported"]);
    assert!(!dir.path().join("z").exists(), "nothing written");
    // The CNN has 3 outputs; the embedded digits have 10 classes.
    let o = unlearn(&[
        "train",
        "--model",
        &format!("onnx:{}", fixture("cnn.onnx")),
        "--out",
        s(&dir.path().join("y")),
    ]);
    assert_one_line_error(&o, &["cnn.onnx", "3 outputs", "10 classes"]);
}

#[test]
fn a_bench_config_naming_an_onnx_cnn_separates_doing_nothing_from_dmm() {
    // assets/bench/digits-onnx-cnn.json names its graph relative to the repository root; the
    // test runs elsewhere, so it writes the same config with the path made absolute.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("assets/bench/digits-onnx-cnn.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    let graph = root.join(config["recipe"]["model"]["path"].as_str().unwrap());
    config["recipe"]["model"]["path"] = graph.canonicalize().unwrap().display().to_string().into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let out = dir.path().join("bench");
    ok(&["bench", "--config", s(&path), "--quick", "--out", s(&out)]);
    let csv = std::fs::read_to_string(out.join("report.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "klom_p95_forget").unwrap();
    let forget_klom = |method: &str| -> f64 {
        let row = csv
            .lines()
            .find(|l| l.split(',').nth(1) == Some(method))
            .unwrap_or_else(|| panic!("no {method} row in\n{csv}"));
        row.split(',').nth(column).unwrap().parse().unwrap()
    };
    let (floor, nothing, dmm) = (
        forget_klom("retrain"),
        forget_klom("do-nothing"),
        forget_klom("dmm"),
    );
    eprintln!(
        "ONNX CNN bench, P95 KLoM on F: floor {floor:.3}, do-nothing {nothing:.3}, DMM {dmm:.3}"
    );
    assert!(
        nothing > floor + 1.0,
        "doing nothing must be far from retraining"
    );
    assert!(
        dmm < nothing - 1.0,
        "DMM must close most of the gap ({dmm} vs {nothing})"
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("\"kind\":\"onnx\"") && report.contains("sha256"),
        "{report}"
    );
}
