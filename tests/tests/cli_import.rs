//! `unlearn import` → `forget` → `export` on PyTorch checkpoints: the fixtures of
//! `crates/unlearn-train/tests/fixtures/torch` (made by PyTorch) imported as a zoo on a CSV
//! dataset of their input width, unlearned, exported, and imported back unchanged.

mod common;

use common::{assert_one_line_error, ok, s, unlearn};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/unlearn-train/tests/fixtures/torch")
        .join(name)
}

/// 60 rows of 6 features and 3 classes: the MLP fixture's input.
fn write_dataset(path: &Path) {
    let mut text = String::from("a,b,c,d,e,f,label\n");
    for i in 0..60u32 {
        let row: Vec<String> = (0..6).map(|j| ((i * (j + 3)) % 7).to_string()).collect();
        text.push_str(&format!("{},{}\n", row.join(","), i % 3));
    }
    std::fs::write(path, text).unwrap();
}

fn logits(zoo: &Path) -> (Vec<u64>, Vec<f32>) {
    let file = std::fs::File::open(zoo.join("logits.npy")).unwrap();
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file)).unwrap();
    (npy.shape().to_vec(), npy.into_vec::<f32>().unwrap())
}

#[test]
fn import_forget_export_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.csv");
    write_dataset(&data);
    let checkpoints = dir.path().join("checkpoints");
    std::fs::create_dir_all(&checkpoints).unwrap();
    for (from, to) in [
        ("mlp.pt", "id_0.pt"),
        ("mlp.safetensors", "id_1.safetensors"),
    ] {
        std::fs::copy(fixture(from), checkpoints.join(to)).unwrap();
    }
    let model = r#"{"kind":"mlp","hidden":[5,4]}"#;
    let originals = dir.path().join("originals");
    let o = ok(&[
        "import",
        "--checkpoints",
        s(&checkpoints),
        "--model",
        model,
        "--dataset",
        s(&data),
        "--epochs",
        "3",
        "--out",
        s(&originals),
    ]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.contains("2 mlp checkpoints imported"), "{out}");
    let (shape, imported) = logits(&originals);
    assert_eq!(shape, [2, 60, 3]);
    // The same state dict in both formats gives the same model.
    assert_eq!(imported[..180], imported[180..]);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(originals.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["imported"]["checkpoints"][1]["path"],
        "../checkpoints/id_1.safetensors"
    );
    assert_eq!(manifest["recipe"]["epochs"], 3);

    let forget = dir.path().join("forget.txt");
    std::fs::write(&forget, "0\n1\n2\n").unwrap();
    let unlearned = dir.path().join("unlearned");
    ok(&[
        "forget",
        "--method",
        "gd",
        "--originals",
        s(&originals),
        "--forget-set",
        s(&forget),
        "--out",
        s(&unlearned),
    ]);
    let exported = dir.path().join("exported");
    ok(&["export", "--zoo", s(&unlearned), "--out", s(&exported)]);
    let back = dir.path().join("back");
    ok(&[
        "import",
        "--checkpoints",
        s(&exported),
        "--model",
        model,
        "--dataset",
        s(&data),
        "--out",
        s(&back),
    ]);
    let (_, want) = logits(&unlearned);
    let (_, got) = logits(&back);
    assert_eq!(got, want, "export then import changed the unlearned models");
    assert_ne!(want, imported, "gd changed nothing");
}

#[test]
fn a_bad_checkpoint_is_a_one_line_error_and_leaves_no_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.csv");
    write_dataset(&data);
    let out = dir.path().join("zoo");
    let model = r#"{"kind":"mlp","hidden":[5,4]}"#;
    let o = unlearn(&[
        "import",
        "--checkpoints",
        s(&fixture("bad-shape.pt")),
        "--model",
        model,
        "--dataset",
        s(&data),
        "--out",
        s(&out),
    ]);
    assert_one_line_error(&o, &["bad-shape.pt", "'2.weight'"]);
    assert!(!out.join("models/00000.bpk").exists());
    assert!(!out.join("logits.npy").exists());
    let o = unlearn(&[
        "import",
        "--checkpoints",
        s(&fixture("mlp.pt")),
        "--model",
        "resnet10",
        "--dataset",
        s(&data),
        "--out",
        s(&out),
    ]);
    assert_one_line_error(&o, &["--model", "resnet10"]);
    let o = unlearn(&[
        "import",
        "--checkpoints",
        s(&fixture("mlp.pt")),
        "--model",
        model,
        "--key-map",
        "([=x",
        "--dataset",
        s(&data),
        "--out",
        s(&out),
    ]);
    assert_one_line_error(&o, &["--key-map"]);
}
