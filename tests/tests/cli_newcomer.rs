//! What a newcomer tripped over walking the README with the CLI: oracles of another forget set
//! taken as Oracle Matching's targets, an oracle zoo taken as originals, results only their
//! owner could read, a panic when output is piped into `head`, clap's "did you mean" lost,
//! KLoM over a handful of models printed without a word, and checkpoints that differed between
//! two identical runs.

mod common;

use common::*;
use std::path::Path;

/// Two-model digits zoos trained for one epoch: enough to exercise every check.
fn train(out: &Path, extra: &[&str]) {
    let mut args = vec!["train", "--models", "2", "--epochs", "1", "--out", s(out)];
    args.extend_from_slice(extra);
    ok(&args);
}

fn forget_set(out: &Path, seed: &str) {
    ok(&["forget-set", "--size", "5", "--seed", seed, "--out", s(out)]);
}

#[test]
fn om_refuses_oracles_of_another_forget_set_and_an_oracle_zoo_as_originals() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (originals, a, b, oracles_b) = (
        d.join("originals"),
        d.join("a.txt"),
        d.join("b.txt"),
        d.join("oracles-b"),
    );
    train(&originals, &[]);
    forget_set(&a, "0");
    forget_set(&b, "1");
    train(&oracles_b, &["--forget-set", s(&b), "--first-seed", "100"]);
    let forget = |originals: &Path, set: &Path, oracles: Option<&Path>| {
        let out = d.join("forgot");
        let mut args = vec![
            "forget",
            "--method",
            "om",
            "--originals",
            s(originals),
            "--forget-set",
            s(set),
            "--out",
            s(&out),
        ];
        if let Some(o) = oracles {
            args.extend(["--oracles", s(o)]);
        }
        unlearn(&args)
    };
    // Oracles retrained without B are not OM's targets for A: refused, naming both files.
    let o = forget(&originals, &a, Some(&oracles_b));
    assert_one_line_error(&o, &["oracles-b", "b.txt", "a.txt", "different file"]);
    // An oracle zoo given as the originals: refused.
    let o = forget(&oracles_b, &b, None);
    assert_one_line_error(&o, &["oracles-b", "is an oracle zoo", "full training set"]);
    // The right targets run.
    let o = forget(&originals, &b, Some(&oracles_b));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn written_files_honour_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for (umask, mode) in [("022", 0o644), ("077", 0o600)] {
        let zoo = dir.path().join(format!("zoo-{umask}"));
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask} && exec \"$0\" train --models 1 --epochs 1 --out \"$1\""
            ))
            .arg(unlearn_bin())
            .arg(&zoo)
            .output()
            .unwrap();
        assert!(status.status.success(), "{}", stderr(&status));
        for file in [
            "manifest.json",
            "logits.npy",
            "labels.npy",
            "models/00000.bpk",
        ] {
            let got = std::fs::metadata(zoo.join(file))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(got, mode, "{file} under umask {umask}: {got:o}");
        }
    }
}

#[test]
fn a_closed_pipe_ends_the_program_quietly() {
    // The reading end is gone before the program writes: its first line meets a broken pipe.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = std::process::Command::new(unlearn_bin())
        .args(["forget", "--list"])
        .stdout(writer)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "{err}");
    assert_ne!(o.status.code(), Some(101), "{err}");
    assert!(err.trim().is_empty(), "nothing on stderr: {err}");
}

#[test]
fn a_misspelt_flag_names_the_one_meant() {
    let o = unlearn(&["eval", "--oracels", "x"]);
    assert_one_line_error(&o, &["--oracels", "a similar argument exists", "--oracles"]);
}

#[test]
fn eval_over_few_models_warns_that_klom_is_noisy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (originals, set, oracles, forgot) = (
        d.join("originals"),
        d.join("f.txt"),
        d.join("oracles"),
        d.join("forgot"),
    );
    train(&originals, &[]);
    forget_set(&set, "0");
    train(&oracles, &["--forget-set", s(&set), "--first-seed", "100"]);
    ok(&[
        "forget",
        "--method",
        "do-nothing",
        "--originals",
        s(&originals),
        "--forget-set",
        s(&set),
        "--out",
        s(&forgot),
    ]);
    let o = ok(&[
        "eval",
        "--unlearned",
        s(&forgot),
        "--oracles",
        s(&oracles),
        "--forget-set",
        s(&set),
        "--out",
        s(&d.join("eval")),
    ]);
    let err = stderr(&o);
    assert!(
        err.contains("warning: KLoM over 2 models per side is noisy") && err.contains("≥ 80"),
        "{err}"
    );
    assert!(
        stdout(&o).contains("pass --floor-oracles"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn identical_runs_write_identical_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train(&a, &[]);
    train(&b, &[]);
    for file in [
        "models/00000.bpk",
        "models/00001.bpk",
        "logits.npy",
        "manifest.json",
    ] {
        let (x, y) = (
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
        );
        assert!(x == y, "{file} differs between two identical runs");
    }
}
