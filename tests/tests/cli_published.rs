//! `unlearn eval --published`: the synthetic margin tree of `crates/unlearn-eval/tests/fixtures`
//! scored from the command line, doing nothing and the noise floor, against numpy's numbers.

mod common;

use common::{assert_one_line_error, ok, s, unlearn};
use std::path::{Path, PathBuf};

fn tree() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/unlearn-eval/tests/fixtures/margin-tree")
}

#[test]
fn published_margins_reproduce_numpys_table() {
    let dir = tempfile::tempdir().unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tree().join("expected.json")).unwrap())
            .unwrap();
    for rule in ["spec", "benchmark"] {
        let out = dir.path().join(rule);
        let o = ok(&[
            "eval",
            "--published",
            s(&tree()),
            "--forget-id",
            "3",
            "--models",
            "8",
            "--floor",
            "--klom-variant",
            rule,
            "--out",
            s(&out),
        ]);
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        for (row, name) in [("pretrain", "pretrain"), ("retrain (floor)", "floor")] {
            let line = text
                .lines()
                .find(|l| l.starts_with(row))
                .unwrap_or_else(|| panic!("{text}"));
            for split in ["forget", "retain", "val"] {
                let p95 = expected[format!("{rule}/{name}/{split}")]["p95"]
                    .as_f64()
                    .unwrap();
                assert!(
                    line.contains(&format!("{p95:.4} /")),
                    "{rule} {name} {split} {p95:.4}: {line}"
                );
            }
        }
        assert!(out.join("eval.json").is_file());
    }
}

#[test]
fn a_short_tree_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = unlearn(&[
        "eval",
        "--published",
        s(&tree()),
        "--forget-id",
        "3",
        "--models",
        "9",
        "--out",
        s(&dir.path().join("e")),
    ]);
    assert_one_line_error(&o, &["id_8_epoch_23.npy", "--models"]);
}
