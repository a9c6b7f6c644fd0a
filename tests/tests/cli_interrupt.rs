//! SIGKILL at a random moment of the long commands not covered by `cli_reliability.rs`
//! (attribute, bench): the re-run finishes, keeps every model finished before the kill, and ends
//! with results bit-identical to an uninterrupted run, with no temporary file or lock left.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A fraction in [lo, hi) that differs from run to run: the moment of the kill.
fn random_fraction(lo: f64, hi: f64) -> f64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    lo + (hi - lo) * f64::from(nanos % 1_000_000) / 1e6
}

/// Runs `args` to the end and returns how long it took.
fn timed_run(args: &[&str]) -> Duration {
    let started = Instant::now();
    ok(args);
    started.elapsed()
}

/// Starts `args` and kills it with SIGKILL after `after`; false when it finished first.
fn kill_at(args: &[&str], after: Duration) -> bool {
    let mut child = Command::new(unlearn_bin())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < after {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    !status.success() && status.signal() == Some(9)
}

/// (inode, mtime) of both files of every finished model of every zoo below `dir`.
fn finished_models(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    files_below(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "bpk"))
        .filter_map(|bpk| {
            let zoo = bpk.parent()?.parent()?;
            let logits = zoo
                .join("logits")
                .join(bpk.file_stem()?)
                .with_extension("npy");
            logits.is_file().then_some([bpk, logits])
        })
        .flatten()
        .map(|p| {
            let m = std::fs::metadata(&p).unwrap();
            (p, (m.ino(), m.mtime(), m.mtime_nsec()))
        })
        .collect()
}

#[test]
fn killed_attribute_reruns_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let masks = root.join("masks.npy");
    ok(&["masks", "--models", "60", "--out", s(&masks)]);
    let zoo = root.join("subsets");
    ok(&[
        "train",
        "--models",
        "60",
        "--subsets",
        s(&masks),
        "--epochs",
        "4",
        "--hidden",
        "32",
        "--out",
        s(&zoo),
    ]);
    let args = |out: &Path| -> Vec<String> {
        [
            "attribute",
            "--method",
            "datamodels-lasso",
            "--zoo",
            s(&zoo),
            "--out",
            s(out),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let reference = root.join("reference");
    let r = args(&reference);
    let full = timed_run(&r.iter().map(String::as_str).collect::<Vec<_>>());
    let out = root.join("killed");
    let a = args(&out);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let at = full.mul_f64(random_fraction(0.2, 0.8));
    let killed = kill_at(&a, at);
    eprintln!(
        "attribute: {:.1} s uninterrupted, killed at {:.1} s: {killed}",
        full.as_secs_f64(),
        at.as_secs_f64()
    );
    if killed {
        assert!(
            !out.join("attribution.json").exists(),
            "a killed fit must not look finished"
        );
    }
    ok(&a);
    // The lasso's β is stored sparse (each target's non-zeros) by default.
    let files = [
        "beta_indptr.npy",
        "beta_indices.npy",
        "beta_values.npy",
        "beta_shape.npy",
        "intercept.npy",
    ];
    for file in files {
        assert!(
            std::fs::read(out.join(file)).unwrap() == std::fs::read(reference.join(file)).unwrap(),
            "{file} differs from the uninterrupted run"
        );
    }
    assert!(debris(&out).is_empty(), "{:?}", debris(&out));
    // Finished: a third run does nothing.
    assert!(stdout(&ok(&a)).contains("already computed"));
    // Its outputs are recorded with their hashes: verify finds them intact, then the damage.
    let verify = ok(&["verify", s(&out)]);
    assert!(
        stdout(&verify).contains("intact (1 attribution, 5 files)"),
        "{}",
        stdout(&verify)
    );
    let mut beta = std::fs::read(out.join("beta_values.npy")).unwrap();
    let last = beta.len() - 1;
    beta[last] ^= 0x40;
    std::fs::write(out.join("beta_values.npy"), beta).unwrap();
    let damaged = unlearn(&["verify", s(&out)]);
    assert!(!damaged.status.success());
    assert!(
        stdout(&damaged).contains("beta_values.npy: altered"),
        "{}",
        stdout(&damaged)
    );
}

#[test]
fn killed_bench_resumes_to_the_same_report_without_redoing_finished_models() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    let full = timed_run(&["bench", "--quick", "--out", s(&reference)]);
    let out = tmp.path().join("killed");
    let args = ["bench", "--quick", "--out", s(&out)];
    let mut kills = 0;
    // Two kills at random moments, the second into the resumed run. The reference time is
    // measured once, under whatever else the machine runs; a run that finishes before its kill
    // (a lighter moment, or the resumed run's smaller share of work) is followed by another
    // attempt with the moment halved, so the test does not depend on the machine's load.
    let mut scale = 1.0;
    for round in 0..6 {
        if kills == 2 {
            break;
        }
        let at = full.mul_f64(scale * random_fraction(0.15, 0.7));
        let killed = kill_at(&args, at);
        eprintln!(
            "bench round {round}: killed at {:.1} s of {:.1} s: {killed}",
            at.as_secs_f64(),
            full.as_secs_f64()
        );
        kills += usize::from(killed);
        if !killed {
            scale *= 0.5;
            if kills == 0 {
                // It ran to the end: start over, or nothing is left to interrupt.
                let _ = std::fs::remove_dir_all(&out);
            }
        }
    }
    assert!(kills >= 1, "the bench finished before every kill");
    let before = finished_models(&out);
    ok(&args);
    let after = finished_models(&out);
    for (path, id) in &before {
        assert_eq!(
            after.get(path),
            Some(id),
            "{} was finished before the kill and rewritten",
            path.display()
        );
    }
    eprintln!(
        "bench resumed: {} model files kept of {}",
        before.len(),
        after.len()
    );
    assert_eq!(
        std::fs::read_to_string(out.join("report.csv")).unwrap(),
        std::fs::read_to_string(reference.join("report.csv")).unwrap(),
        "the resumed bench's report differs from the uninterrupted one"
    );
    assert!(debris(&out).is_empty(), "{:?}", debris(&out));
    let verify = ok(&["verify", s(&out)]);
    let text = stdout(&verify);
    // Every zoo, the datamodels and the report itself are recorded and re-hashed.
    assert!(text.contains(" zoos, 1 attribution, 1 report, "), "{text}");
    let mut csv = std::fs::read_to_string(out.join("report.csv")).unwrap();
    csv.push('\n');
    std::fs::write(out.join("report.csv"), csv).unwrap();
    let damaged = unlearn(&["verify", s(&out)]);
    assert!(
        stdout(&damaged).contains("report.csv: resized"),
        "{}",
        stdout(&damaged)
    );
}
