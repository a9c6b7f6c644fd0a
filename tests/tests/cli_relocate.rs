//! Relocatable runs: a run directory written from one working directory, then moved (with its
//! inputs, or alone), still resumes without retraining, attributes, unlearns, evaluates and
//! verifies from another working directory.

mod common;

use common::{stderr, stdout, unlearn_bin};
use std::path::Path;
use std::process::{Command, Output};
use std::time::SystemTime;

/// Runs `unlearn args` in `cwd`; it must succeed.
fn ok_in(cwd: &Path, args: &[&str]) -> Output {
    let o = Command::new(unlearn_bin())
        .current_dir(cwd)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running unlearn");
    assert!(
        o.status.success(),
        "unlearn {args:?} in {} failed:\n{}",
        cwd.display(),
        stderr(&o)
    );
    o
}

/// A small three-class CSV dataset whose label depends on the features.
fn write_dataset(path: &Path) {
    let mut text = String::from("a,b,c,label\n");
    for i in 0..150u32 {
        let (a, b, c) = ((i * 7 % 13) as f32, (i * 5 % 11) as f32, (i % 4) as f32);
        text.push_str(&format!("{a},{b},{c},{}\n", (i * 7 % 13) % 3));
    }
    std::fs::write(path, text).unwrap();
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// The commands of one run, all typed relative to `project` as the working directory.
fn run_everything(project: &Path) {
    write_dataset(&project.join("data.csv"));
    std::fs::write(project.join("forget.txt"), "0\n3\n5\n8\n13\n").unwrap();
    let train = [
        "train",
        "--dataset",
        "data.csv",
        "--models",
        "2",
        "--epochs",
        "2",
    ];
    ok_in(project, &[&train[..], &["--out", "runs/orig"]].concat());
    ok_in(
        project,
        &[
            &train[..],
            &["--forget-set", "forget.txt", "--out", "runs/oracles"],
        ]
        .concat(),
    );
    ok_in(
        project,
        &[
            "masks",
            "--dataset",
            "data.csv",
            "--models",
            "20",
            "--out",
            "runs/masks.npy",
        ],
    );
    ok_in(
        project,
        &[
            "train",
            "--dataset",
            "data.csv",
            "--subsets",
            "runs/masks.npy",
            "--models",
            "20",
            "--epochs",
            "2",
            "--out",
            "runs/subsets",
        ],
    );
    ok_in(
        project,
        &[
            "attribute",
            "--zoo",
            "runs/subsets",
            "--held-out",
            "0.2",
            "--out",
            "runs/attr",
        ],
    );
}

fn forget_args(root: &str) -> Vec<String> {
    [
        "forget",
        "--method",
        "dm-direct",
        "--originals",
        "ORIG",
        "--forget-set",
        "FORGET",
        "--attribution",
        "ATTR",
        "--out",
        "UNL",
    ]
    .iter()
    .map(|a| match *a {
        "ORIG" => format!("{root}/runs/orig"),
        "FORGET" => format!("{root}/forget.txt"),
        "ATTR" => format!("{root}/runs/attr"),
        "UNL" => format!("{root}/runs/unlearned"),
        other => other.to_string(),
    })
    .collect()
}

fn eval_in(cwd: &Path, root: &str) -> String {
    let o = ok_in(
        cwd,
        &[
            "eval",
            "--unlearned",
            &format!("{root}/runs/unlearned"),
            "--oracles",
            &format!("{root}/runs/oracles"),
            "--forget-set",
            &format!("{root}/forget.txt"),
            "--out",
            &format!("{root}/runs/eval"),
        ],
    );
    stdout(&o)
}

/// The per-split rows of `unlearn eval`'s table.
fn table(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| {
            ["forget ", "retain ", "validation "]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn a_moved_run_directory_resumes_evaluates_and_verifies_from_another_working_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    run_everything(&project);
    let forget: Vec<String> = forget_args(".");
    ok_in(
        &project,
        &forget.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let before = eval_in(&project, ".");

    // Inputs are recorded relative to the run directory, never as typed.
    let manifest = std::fs::read_to_string(project.join("runs/subsets/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["dataset"]["name"], "../../data.csv");
    assert_eq!(manifest["masks"]["path"], "../masks.npy");

    // Move the whole project and work from its parent directory.
    let moved = tmp.path().join("moved");
    std::fs::rename(&project, &moved).unwrap();
    let checkpoint = moved.join("runs/orig/models/00000.bpk");
    let stamp = modified(&checkpoint);
    ok_in(
        tmp.path(),
        &[
            "train",
            "--dataset",
            "moved/data.csv",
            "--models",
            "2",
            "--epochs",
            "2",
            "--out",
            "moved/runs/orig",
        ],
    );
    assert_eq!(
        modified(&checkpoint),
        stamp,
        "a finished model was trained again"
    );
    // The subset zoo finds its masks, the unlearned zoo its originals and attribution.
    ok_in(
        tmp.path(),
        &[
            "attribute",
            "--zoo",
            "moved/runs/subsets",
            "--held-out",
            "0.2",
            "--out",
            "moved/runs/attr",
        ],
    );
    let unlearned = moved.join("runs/unlearned/models/00000.bpk");
    let stamp = modified(&unlearned);
    let forget = forget_args("moved");
    ok_in(
        tmp.path(),
        &forget.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(
        modified(&unlearned),
        stamp,
        "a finished unlearned model was redone"
    );
    let after = eval_in(tmp.path(), "moved");
    assert_eq!(table(&before).len(), 3, "{before}");
    assert_eq!(
        table(&after),
        table(&before),
        "the evaluation changed after the move"
    );
    let verify = ok_in(tmp.path(), &["verify", "moved/runs"]);
    assert!(!stdout(&verify).contains("damaged"), "{}", stdout(&verify));

    // Move the run directory alone: its inputs are found where they were recorded.
    let runs_elsewhere = tmp.path().join("elsewhere/deep/runs");
    std::fs::create_dir_all(runs_elsewhere.parent().unwrap()).unwrap();
    std::fs::rename(moved.join("runs"), &runs_elsewhere).unwrap();
    ok_in(
        tmp.path(),
        &[
            "attribute",
            "--zoo",
            "elsewhere/deep/runs/subsets",
            "--held-out",
            "0.2",
            "--out",
            "elsewhere/deep/runs/attr",
        ],
    );
    let o = ok_in(
        tmp.path(),
        &[
            "eval",
            "--unlearned",
            "elsewhere/deep/runs/unlearned",
            "--oracles",
            "elsewhere/deep/runs/oracles",
            "--forget-set",
            "moved/forget.txt",
            "--out",
            "elsewhere/eval",
        ],
    );
    assert_eq!(table(&stdout(&o)), table(&before));
}
