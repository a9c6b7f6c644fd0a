//! Helpers shared by the end-to-end tests: locating and running the `unlearn` binary, and
//! checking one-line errors.
//!
//! Locating the binary: `env!("CARGO_BIN_EXE_unlearn")` exists only for integration tests of
//! the package that owns the binary, and `unlearn-cli` has no library target, so it cannot be a
//! (dev-)dependency of this crate either. Instead the first test to need the binary runs
//! `cargo build -p unlearn-cli --bin unlearn` (with `--release` when this test is a release
//! build) into the same target directory as this test executable. Cargo releases its build lock
//! before running tests, so this nested build does not deadlock; when the binary is fresh it is
//! a no-op of about a second. Set `UNLEARN_BIN` to test another binary instead.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn unlearn_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("UNLEARN_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>/deps/<test>");
        let target_dir = profile_dir.parent().expect("<target>");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        let mut build = Command::new(cargo);
        build.current_dir(workspace).args([
            "build",
            "-p",
            "unlearn-cli",
            "--bin",
            "unlearn",
            "--target-dir",
        ]);
        build.arg(target_dir);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("running cargo build");
        assert!(status.success(), "cargo build -p unlearn-cli failed");
        let bin = profile_dir.join(format!("unlearn{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "{} missing after the build", bin.display());
        bin
    })
}

pub fn unlearn(args: &[&str]) -> Output {
    Command::new(unlearn_bin())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running unlearn")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `unlearn args`, which must succeed.
pub fn ok(args: &[&str]) -> Output {
    let o = unlearn(args);
    assert!(
        o.status.success(),
        "unlearn {args:?} failed ({}):\n{}",
        o.status,
        stderr(&o)
    );
    o
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A failed run: non-zero exit that is not a panic (101), and a stderr of exactly one
/// non-empty line, `error: …`, containing every needle.
pub fn assert_one_line_error(o: &Output, needles: &[&str]) {
    assert_one_line_error_with(o, needles, &[]);
}

/// As [`assert_one_line_error`], also accepting the given extra stderr lines (clap's
/// "For more information, try '--help'." after its own parse errors).
pub fn assert_one_line_error_with(o: &Output, needles: &[&str], allowed_extra: &[&str]) {
    let err = stderr(o);
    let code = o.status.code();
    assert!(
        code.is_some() && code != Some(0),
        "expected failure, got {:?}; stderr: {err}",
        o.status
    );
    assert_ne!(code, Some(101), "the binary panicked: {err}");
    assert!(!err.contains("panicked"), "panic message on stderr: {err}");
    let lines: Vec<&str> = err
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !allowed_extra.contains(l))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr, got {}:\n{err}",
        lines.len()
    );
    assert!(lines[0].starts_with("error: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "stderr should mention {n:?}: {err}");
    }
}

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            } else {
                found.push(e.path());
            }
        }
    }
    found
}

/// Temporary files (`.NAME.tmp-…`) anywhere below `dir`.
pub fn temp_files(dir: &Path) -> Vec<std::path::PathBuf> {
    files_below(dir)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
        })
        .collect()
}

/// Files below `dir` that no failed command may leave: temporary files and locks.
pub fn debris(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = temp_files(dir);
    found.extend(
        files_below(dir)
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n == ".lock")),
    );
    found
}

/// The tensor data of a burnpack checkpoint: what follows its header. The header holds random
/// parameter ids, so two trainings of the same model differ there and nowhere else.
pub fn checkpoint_tensors(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..4],
        b"NRUB",
        "{}: not a burnpack file",
        path.display()
    );
    let header = u32::from_le_bytes(bytes[6..10].try_into().unwrap()) as usize;
    bytes[10 + header..].to_vec()
}

/// A file's bytes, or a panic naming it.
pub fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn config_hash(zoo: &Path) -> String {
    let text = std::fs::read_to_string(zoo.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["config_hash"].as_str().unwrap().to_string()
}

/// Same logits bytes, same checkpoints, same configuration hash.
pub fn assert_same_zoo(merged: &Path, whole: &Path, models: usize) {
    assert!(
        bytes(&merged.join("logits.npy")) == bytes(&whole.join("logits.npy")),
        "merged logits differ from the unsharded run"
    );
    for i in 0..models {
        let rel = format!("models/{i:05}.bpk");
        assert!(
            checkpoint_tensors(&merged.join(&rel)) == checkpoint_tensors(&whole.join(&rel)),
            "{rel}: weights differ from the unsharded run"
        );
    }
    assert_eq!(config_hash(merged), config_hash(whole));
    let out = ok(&["verify", s(merged)]);
    assert!(stdout(&out).contains("intact"), "{}", stdout(&out));
}
