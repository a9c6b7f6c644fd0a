//! End-to-end tests of the `unlearn` binary: `train`, `forget-set`, `masks`, `linear`, `--help`,
//! and one-line errors for bad inputs.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::path::Path;

const CLAP_TIP: &str = "For more information, try '--help'.";

struct Npy {
    shape: Vec<u64>,
    descr: String,
    file: npyz::NpyFile<std::io::BufReader<std::fs::File>>,
}

fn npy(path: &Path) -> Npy {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = npyz::NpyFile::new(std::io::BufReader::new(f)).expect("valid npy");
    Npy {
        shape: file.shape().to_vec(),
        descr: file.dtype().descr(),
        file,
    }
}

fn manifest(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest is JSON")
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The split every command uses by default: digits, 20 % validation, seed 0.
fn digits_split() -> unlearn_data::Prepared {
    unlearn_data::prepare(&unlearn_data::digits(), 0.2, 0).unwrap()
}

fn label_counts(labels: impl IntoIterator<Item = u64>) -> Vec<usize> {
    let mut counts = vec![0; 10];
    for l in labels {
        counts[l as usize] += 1;
    }
    counts
}

#[test]
fn train_writes_logits_labels_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zoo");
    let run = ok(&["train", "--models", "3", "--epochs", "2", "--out", s(&out)]);

    let mut logits = npy(&out.join("logits.npy"));
    assert_eq!(logits.shape, vec![3, 1797, 10]);
    assert_eq!(logits.descr, "'<f4'");
    let values: Vec<f32> = logits.file.into_vec().unwrap();
    assert_eq!(values.len(), 3 * 1797 * 10);
    assert!(values.iter().all(|v| v.is_finite()));
    logits = npy(&out.join("logits/00002.npy"));
    assert_eq!(logits.shape, vec![1797, 10]);

    let labels = npy(&out.join("labels.npy"));
    assert_eq!(labels.shape, vec![1797]);
    assert_eq!(labels.descr, "'<i8'");
    let labels: Vec<i64> = labels.file.into_vec().unwrap();
    // Train labels first, then validation labels, of the default split.
    let split = digits_split();
    let expected: Vec<i64> = split
        .train
        .labels
        .iter()
        .chain(&split.val.labels)
        .map(|&l| l as i64)
        .collect();
    assert_eq!(labels, expected);
    assert_eq!(
        label_counts(labels.iter().map(|&l| l as u64)),
        label_counts(unlearn_data::digits().labels.iter().map(|&l| l as u64))
    );

    let m = manifest(&out);
    assert_eq!(m["kind"], "full");
    assert_eq!(m["complete"], true);
    assert_eq!(m["seeds"], serde_json::json!([0, 1, 2]));
    assert_eq!(m["recipe"]["epochs"], 2);
    assert_eq!(m["recipe"]["model"]["kind"], "mlp");
    assert_eq!(m["dataset"]["n_train"], 1438);
    assert_eq!(m["dataset"]["n_val"], 359);
    assert_eq!(m["examples_per_model"], 2 * 1438);

    // The reported mean validation accuracy is the one of the written logits.
    let accuracy = |k: usize| {
        let correct = (1438..1797)
            .filter(|&p| {
                let row = &values[(k * 1797 + p) * 10..(k * 1797 + p + 1) * 10];
                let best = (0..10).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
                best as i64 == labels[p]
            })
            .count();
        correct as f64 / 359.0
    };
    let mean = (0..3).map(accuracy).sum::<f64>() / 3.0 * 100.0;
    let text = stdout(&run);
    let reported: f64 = text
        .split("validation accuracy mean ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in stdout: {text}"));
    assert!(
        (reported - mean).abs() < 0.006,
        "reported {reported} %, logits give {mean:.3} %"
    );
    assert!(
        mean > 80.0,
        "two epochs should already classify digits well: {mean} %"
    );
}

#[test]
fn forget_set_then_oracle_training() {
    let dir = tempfile::tempdir().unwrap();
    let forget = dir.path().join("forget.txt");
    ok(&["forget-set", "--size", "10", "--out", s(&forget)]);
    let indices: Vec<usize> = std::fs::read_to_string(&forget)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse().expect("one index per line"))
        .collect();
    assert_eq!(indices.len(), 10);
    let mut unique = indices.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 10, "distinct indices: {indices:?}");
    assert!(indices.iter().all(|&i| i < 1438), "{indices:?}");

    let out = dir.path().join("oracles");
    ok(&[
        "train",
        "--forget-set",
        s(&forget),
        "--models",
        "2",
        "--epochs",
        "2",
        "--out",
        s(&out),
    ]);
    let m = manifest(&out);
    assert_eq!(m["kind"], "retain");
    assert_eq!(m["complete"], true);
    assert_eq!(m["examples_per_model"], 2 * (1438 - 10));
    assert_eq!(m["forget_set"]["sha256"], sha256(&forget));
    assert_eq!(npy(&out.join("logits.npy")).shape, vec![2, 1797, 10]);
}

#[test]
fn class_restricted_forget_set_as_npy() {
    let dir = tempfile::tempdir().unwrap();
    let forget = dir.path().join("f.npy");
    ok(&[
        "forget-set",
        "--size",
        "7",
        "--classes",
        "3,5",
        "--seed",
        "4",
        "--out",
        s(&forget),
    ]);
    let f = npy(&forget);
    assert_eq!(f.shape, vec![7]);
    assert_eq!(f.descr, "'<i8'");
    let indices: Vec<i64> = f.file.into_vec().unwrap();
    let split = digits_split();
    for &i in &indices {
        let label = split.train.labels[i as usize];
        assert!(label == 3 || label == 5, "index {i} has label {label}");
    }
}

#[test]
fn masks_then_subset_training() {
    let dir = tempfile::tempdir().unwrap();
    let masks = dir.path().join("masks.npy");
    ok(&["masks", "--models", "4", "--out", s(&masks)]);
    let m = npy(&masks);
    assert_eq!(m.shape, vec![4, 1438]);
    assert_eq!(m.descr, "'|u1'");
    let values: Vec<u8> = m.file.into_vec().unwrap();
    for row in values.chunks(1438) {
        assert!(row.iter().all(|&v| v <= 1));
        assert_eq!(
            row.iter().filter(|&&v| v == 1).count(),
            719,
            "α = 0.5 of 1438 points"
        );
    }
    assert_ne!(
        values[..1438],
        values[1438..2 * 1438],
        "rows are different subsets"
    );

    let out = dir.path().join("subsets");
    ok(&[
        "train",
        "--subsets",
        s(&masks),
        "--models",
        "4",
        "--epochs",
        "2",
        "--out",
        s(&out),
    ]);
    let man = manifest(&out);
    assert_eq!(man["kind"], "subsets");
    assert_eq!(man["examples_per_model"], 2 * 719);
    assert_eq!(man["masks"]["sha256"], sha256(&masks));
    assert_eq!(npy(&out.join("logits.npy")).shape, vec![4, 1797, 10]);
}

#[test]
fn grouped_masks_leave_out_same_class_groups() {
    let dir = tempfile::tempdir().unwrap();
    let masks = dir.path().join("grouped.npy");
    // α = 0.95 of 1438 digits keeps 1366 and leaves 72 out: all of them as one group of 72
    // points of one class (each class has about 144 training points).
    let args = [
        "masks",
        "--models",
        "3",
        "--alpha",
        "0.95",
        "--group-size",
        "72",
    ];
    ok(&[&args[..], &["--classes", "1", "--out", s(&masks)]].concat());
    let values: Vec<u8> = npy(&masks).file.into_vec().unwrap();
    let labels = digits_split().train.labels;
    for row in values.chunks(1438) {
        let out: Vec<u32> = (0..1438)
            .filter(|&j| row[j] == 0)
            .map(|j| labels[j])
            .collect();
        assert_eq!(out.len(), 72);
        assert!(out.iter().all(|&l| l == out[0]), "one class: {out:?}");
    }
    let o = unlearn(&[&args[..], &["--classes", "0.7", "--neighbourhoods", "0.5"]].concat());
    assert_one_line_error(&o, &["sum to at most 1"]);
    let o = unlearn(&["masks", "--classes", "0.5", "--out", s(&masks)]);
    assert_one_line_error(&o, &["--group-size"]);
}

#[test]
fn missing_dataset_file_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("z");
    for missing in ["missing.csv", "missing_dir"] {
        let path = dir.path().join(missing);
        let o = unlearn(&[
            "train",
            "--dataset",
            s(&path),
            "--epochs",
            "1",
            "--out",
            s(&out),
        ]);
        assert_one_line_error(&o, &[missing]);
    }
    assert!(!out.join("manifest.json").exists());
}

/// anyhow's cause chain is joined with ": ", but `DataError::Io` (and `TrainError::Io`) both
/// print their source *and* return it from `source()`, so the OS message appears twice.
#[test]
fn missing_dataset_message_states_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.csv");
    let o = unlearn(&[
        "train",
        "--dataset",
        s(&path),
        "--out",
        s(&dir.path().join("z")),
    ]);
    let err = stderr(&o);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
}

#[test]
fn forget_set_with_out_of_range_index_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let forget = dir.path().join("f.txt");
    std::fs::write(&forget, "0\n12\n1438\n").unwrap(); // the training split has 1438 points
    let out = dir.path().join("z");
    let o = unlearn(&[
        "train",
        "--forget-set",
        s(&forget),
        "--epochs",
        "1",
        "--out",
        s(&out),
    ]);
    assert_one_line_error(&o, &["f.txt", "1438", "out of range"]);
    assert!(!out.join("manifest.json").exists());
}

#[test]
fn forget_set_with_duplicate_index_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let forget = dir.path().join("f.txt");
    std::fs::write(&forget, "3\n7\n3\n").unwrap();
    let out = dir.path().join("z");
    let o = unlearn(&[
        "train",
        "--forget-set",
        s(&forget),
        "--epochs",
        "1",
        "--out",
        s(&out),
    ]);
    assert_one_line_error(&o, &["f.txt", "3", "repeated"]);
    assert!(!out.join("manifest.json").exists());
}

/// Clap rejects the value while parsing; its message is one `error:` line followed by its
/// standard "For more information" tip, which is accepted here.
#[test]
fn unknown_backend_is_an_error_naming_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let o = unlearn(&[
        "train",
        "--backend",
        "tpu",
        "--out",
        s(&dir.path().join("z")),
    ]);
    assert_one_line_error_with(&o, &["tpu", "flex", "ndarray"], &[CLAP_TIP]);
}

#[test]
fn unknown_recipe_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = unlearn(&[
        "train",
        "--recipe",
        "transformer",
        "--out",
        s(&dir.path().join("z")),
    ]);
    assert_one_line_error(&o, &["transformer", "logistic, mlp, cnn, resnet9"]);
}

#[test]
fn cnn_on_flat_csv_data_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("flat.csv");
    let mut text = String::from("a,b,c,label\n");
    for i in 0..20 {
        text.push_str(&format!("{},{},{},{}\n", i, i * 2 % 7, 20 - i, i % 2));
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("z");
    let o = unlearn(&[
        "train",
        "--dataset",
        s(&csv),
        "--model",
        "cnn",
        "--epochs",
        "1",
        "--out",
        s(&out),
    ]);
    assert_one_line_error(&o, &["cnn", "image", "3 features"]);
    assert!(!out.join("manifest.json").exists());
    // The same file trains fine with the mlp, so the CSV itself is valid.
    ok(&[
        "train",
        "--dataset",
        s(&csv),
        "--model",
        "mlp",
        "--epochs",
        "1",
        "--out",
        s(&out),
    ]);
    assert_eq!(npy(&out.join("logits.npy")).shape, vec![1, 20, 2]);
}

#[test]
fn zero_stack_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("z");
    let o = unlearn(&["train", "--stack", "0", "--epochs", "1", "--out", s(&out)]);
    assert_one_line_error(&o, &["--stack"]);
    assert!(!out.join("manifest.json").exists());
}

#[test]
fn forget_set_and_subsets_together_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = unlearn(&[
        "train",
        "--forget-set",
        "f.txt",
        "--subsets",
        "m.npy",
        "--out",
        s(&dir.path().join("z")),
    ]);
    assert_one_line_error_with(
        &o,
        &["--forget-set", "--subsets"],
        &[
            CLAP_TIP,
            "Usage: unlearn train --forget-set <FORGET_SET> --out <OUT>",
        ],
    );
}

/// `stacking::extract` narrows the batch-norm running statistics of the trained stack in place
/// (burn's `RunningState` is shared between clones), so cutting model 2 out of a stack of 3
/// ResNet-9s with width 2 narrows a length-2 buffer into chunks of 0 and panics; with wider
/// models it silently writes checkpoints with wrongly shaped statistics.
#[test]
fn stacked_resnet9_zoo_trains() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("r9.json");
    std::fs::write(
        &recipe,
        r#"{"model":{"kind":"resnet9","width":2,"scale":0.125},"epochs":1,"batch_size":64,"lr":0.1,
            "optimizer":{"kind":"sgd","momentum":0.9,"weight_decay":0.0005},"schedule":{"kind":"constant"}}"#,
    )
    .unwrap();
    let out = dir.path().join("z");
    ok(&[
        "train",
        "--recipe-file",
        s(&recipe),
        "--models",
        "3",
        "--stack",
        "3",
        "--limit",
        "100",
        "--out",
        s(&out),
    ]);
    assert_eq!(npy(&out.join("logits.npy")).shape, vec![3, 100, 10]);
}

#[test]
fn linear_prints_a_table_and_writes_curves() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("linear");
    let run = ok(&[
        "linear",
        "--n",
        "30",
        "--dim",
        "90",
        "--steps",
        "100",
        "--out",
        s(&out),
    ]);
    let text = stdout(&run);
    let header = text
        .lines()
        .find(|l| l.starts_with("step"))
        .unwrap_or_else(|| panic!("no table header: {text}"));
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["step", "0", "1", "10", "50", "100"]
    );
    for method in ["GD ", "GD+GA ", "OM ", "OM (retain only) "] {
        assert!(
            text.lines().any(|l| l.starts_with(method)),
            "no row for {method}: {text}"
        );
    }

    let csv = std::fs::read_to_string(out.join("curves.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("step,GD,GD+GA,OM,OM (retain only)"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 101, "steps 0..=100");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 5);
        assert_eq!(row[0], i as f64);
        assert!(
            row[1..].iter().all(|v| v.is_finite() && *v >= 0.0),
            "row {i}: {row:?}"
        );
    }
    // Every method starts from the full-data solution: relative distance 1.
    for v in &rows[0][1..] {
        assert!((v - 1.0).abs() < 1e-6, "step 0: {:?}", rows[0]);
    }
    // Oracle matching converges to the oracle; descent on the retain loss barely moves in 100
    // steps (with d > n the retain data leave directions only the small ridge term controls).
    let last = &rows[100];
    assert!(last[3] < 0.05, "OM after 100 steps: {}", last[3]);
    assert!(last[1] > 0.5, "GD after 100 steps: {}", last[1]);
    assert!(last[3] < last[1] && last[3] < last[2]);

    let png = std::fs::read(out.join("curves.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let svg = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    assert!(svg.contains("<svg"), "not an SVG");
}

#[test]
fn help_lists_commands_and_flags() {
    let top = stdout(&ok(&["--help"]));
    for command in ["train", "masks", "forget-set", "linear"] {
        assert!(
            top.lines().any(|l| l.trim_start().starts_with(command)),
            "--help lacks {command}: {top}"
        );
    }
    let train = stdout(&ok(&["train", "--help"]));
    for flag in [
        "--dataset",
        "--label-column",
        "--val-fraction",
        "--split-seed",
        "--limit",
        "--backend",
        "--recipe",
        "--recipe-file",
        "--model",
        "--hidden",
        "--epochs",
        "--batch-size",
        "--lr",
        "--models",
        "--first-seed",
        "--forget-set",
        "--subsets",
        "--stack",
        "--out",
    ] {
        assert!(
            train.contains(&format!("{flag} ")) || train.contains(&format!("{flag}\n")),
            "train --help lacks {flag}"
        );
    }
    let masks = stdout(&ok(&["masks", "--help"]));
    for flag in ["--models", "--alpha", "--seed", "--out"] {
        assert!(masks.contains(flag), "masks --help lacks {flag}");
    }
    let forget = stdout(&ok(&["forget-set", "--help"]));
    for flag in ["--size", "--classes", "--seed", "--out"] {
        assert!(forget.contains(flag), "forget-set --help lacks {flag}");
    }
    // An unknown subcommand is a clean usage error, not a panic.
    let o = unlearn(&["frobnicate"]);
    assert!(!o.status.success());
    assert_ne!(o.status.code(), Some(101));
}

#[test]
fn forget_list_prints_every_registered_method_with_parameters_as_written() {
    let text = stdout(&ok(&["forget", "--list"]));
    for name in [
        "do-nothing",
        "om",
        "dm-direct",
        "dmm",
        "gd",
        "gd-ga",
        "scrub",
        "noisy-descent",
        "del",
    ] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing from:\n{text}"
        );
    }
    // f32 hyper-parameters read as the decimal written, not their f64 widening.
    assert!(text.contains("\"weight_decay\":0.0005"), "{text}");
    assert!(text.contains("\"ce_weight\":0.99,"), "{text}");
    assert!(
        !text.contains("0000000"),
        "an f32 printed through f64: {text}"
    );
}

#[test]
fn manifests_record_f32_recipe_values_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zoo");
    ok(&["train", "--models", "1", "--epochs", "1", "--out", s(&out)]);
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(text.contains("\"weight_decay\": 0.0005"), "{text}");
    let m = manifest(&out);
    assert_eq!(
        m["recipe"]["optimizer"]["weight_decay"].as_f64(),
        Some(0.0005)
    );
}

/// Digits' 1 438 training points leave a last batch of 30 at batch size 64, so `weighted`
/// changes the models and `mean` is the default, recorded only when it is not.
#[test]
fn last_batch_weighting_is_a_recorded_recipe_choice() {
    let dir = tempfile::tempdir().unwrap();
    let train = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["train", "--epochs", "1", "--out", s(&out)];
        args.extend_from_slice(extra);
        ok(&args);
        let logits: Vec<f32> = npy(&out.join("logits.npy")).file.into_vec().unwrap();
        (manifest(&out)["recipe"].clone(), logits)
    };
    let (default_recipe, default_logits) = train("default", &[]);
    let (mean_recipe, mean_logits) = train("mean", &["--last-batch", "mean"]);
    let (weighted_recipe, weighted_logits) = train("weighted", &["--last-batch", "weighted"]);
    assert!(
        default_recipe.get("last_batch").is_none(),
        "{default_recipe}"
    );
    assert_eq!(mean_recipe, default_recipe);
    assert_eq!(mean_logits, default_logits);
    assert_eq!(weighted_recipe["last_batch"], "weighted");
    let moved = default_logits.iter().zip(&weighted_logits);
    assert!(
        moved.filter(|(a, b)| (*a - *b).abs() > 1e-3).count() > 100,
        "weighting the last batch changes the model"
    );

    let o = unlearn(&[
        "train",
        "--last-batch",
        "sum",
        "--out",
        s(&dir.path().join("z")),
    ]);
    assert_one_line_error_with(&o, &["sum", "mean", "weighted"], &[CLAP_TIP]);
}
