//! Reliability of the `unlearn` binary: runs killed with SIGKILL at a random moment resume
//! without redoing finished models and end bit-identical to uninterrupted runs; two processes on
//! one directory do not corrupt it; `unlearn verify` finds damage and a re-run repairs it.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The kill-and-resume command of the issue: 40 models in stacks of 4, 10 epochs.
fn train_args(out: &Path) -> Vec<String> {
    [
        "train", "--models", "40", "--stack", "4", "--epochs", "10", "--out",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([s(out).to_string()])
    .collect()
}

fn run_ok(args: &[String]) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&refs)
}

fn spawn(args: &[String]) -> Child {
    Command::new(unlearn_bin())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting unlearn")
}

/// A number that differs from run to run, to pick the moment of a kill.
fn random_below(n: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (nanos ^ (u64::from(std::process::id()) << 7)) % n
}

/// Models whose logits file is written (temporary files excluded).
fn written_logits(out: &Path) -> usize {
    std::fs::read_dir(out.join("logits"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    !name.starts_with('.') && name.ends_with(".npy")
                })
                .count()
        })
        .unwrap_or(0)
}

/// (inode, mtime in ns) of a file: changes when the file is rewritten, even with equal bytes.
fn identity(path: &Path) -> (u64, i128) {
    let m = std::fs::metadata(path).unwrap();
    (
        m.ino(),
        i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    )
}

/// Identities of both files of every finished model (checkpoint and logits both present).
fn finished_models(out: &Path, models: usize) -> BTreeMap<usize, [(u64, i128); 2]> {
    (0..models)
        .filter_map(|i| {
            let bpk = out.join(format!("models/{i:05}.bpk"));
            let npy = out.join(format!("logits/{i:05}.npy"));
            (bpk.is_file() && npy.is_file()).then(|| (i, [identity(&bpk), identity(&npy)]))
        })
        .collect()
}

struct Kill {
    /// Models fully written when the process died.
    finished: usize,
    /// Models with only one of their two files.
    half: usize,
    /// Temporary files left behind.
    temps: usize,
    /// Time from start to kill.
    after: Duration,
}

/// Starts `args`, waits until at least `target` models have their logits written, and kills
/// the process with SIGKILL. `None` when the run finished before it could be killed.
fn kill_after(args: &[String], out: &Path, target: usize, models: usize) -> Option<Kill> {
    let started = Instant::now();
    let mut child = spawn(args);
    loop {
        if written_logits(out) >= target {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no progress in 5 minutes"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    let status = child.wait().unwrap();
    let after = started.elapsed();
    if status.success() {
        return None; // it finished between the last poll and the kill
    }
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    }
    assert!(
        !out.join("logits.npy").exists(),
        "killed before the zoo was assembled"
    );
    let finished = finished_models(out, models).len();
    let half = (0..models)
        .filter(|i| {
            out.join(format!("models/{i:05}.bpk")).is_file()
                ^ out.join(format!("logits/{i:05}.npy")).is_file()
        })
        .count();
    Some(Kill {
        finished,
        half,
        temps: temp_files(out).len(),
        after,
    })
}

fn verify_ok(dir: &Path) -> String {
    let out = stdout(&ok(&["verify", s(dir)]));
    assert!(out.contains("intact"), "{out}");
    out
}

/// Kills `args` (writing a zoo of `models` into `out`) twice at random moments, resumes it, and
/// checks the result against the uninterrupted `reference`.
fn kill_twice_and_resume(args: &[String], out: &Path, reference: &Path, models: usize) {
    let mut before = BTreeMap::new();
    let mut kills = 0;
    let mut last_killed = false;
    let mut low = 1;
    for round in 0..2 {
        let span = (models * 3 / 4).saturating_sub(low).max(1) as u64;
        let target = low + random_below(span) as usize;
        let Some(kill) = kill_after(args, out, target, models) else {
            eprintln!("round {round}: the run finished before the kill at {target} models");
            last_killed = false;
            continue;
        };
        kills += 1;
        last_killed = true;
        eprintln!(
            "round {round}: SIGKILL after {:.0} ms (waiting for {target} models): {} of {models} models finished, {} half-written, {} temporary files left",
            kill.after.as_secs_f64() * 1e3,
            kill.finished,
            kill.half,
            kill.temps
        );
        assert!(kill.finished >= before.len());
        assert!(
            out.join(".lock").is_file(),
            "the killed run leaves its lock"
        );
        before = finished_models(out, models);
        low = before.len() + 1;
        if low >= models {
            break;
        }
    }
    assert!(
        kills >= 1,
        "the run could never be killed before it finished"
    );

    let resumed = run_ok(args);
    let err = stderr(&resumed);
    if last_killed {
        assert!(
            err.contains("taking over the lock of process"),
            "stale lock taken over with a warning: {err}"
        );
    }
    let after = finished_models(out, models);
    assert_eq!(after.len(), models);
    for (i, ids) in &before {
        assert_eq!(
            &after[i], ids,
            "model {i} was finished before the kill and must not be rewritten"
        );
    }
    eprintln!(
        "resumed: {} models kept, {} trained again",
        before.len(),
        models - before.len()
    );
    let logits = std::fs::read(out.join("logits.npy")).unwrap();
    let expected = std::fs::read(reference.join("logits.npy")).unwrap();
    assert!(
        logits == expected,
        "logits.npy differs from the uninterrupted run"
    );
    for i in 0..models {
        let name = format!("models/{i:05}.bpk");
        assert!(
            checkpoint_tensors(&out.join(&name)) == checkpoint_tensors(&reference.join(&name)),
            "{name}: weights differ from the uninterrupted run"
        );
    }
    assert!(temp_files(out).is_empty(), "{:?}", temp_files(out));
    assert!(!out.join(".lock").exists(), "lock removed at the end");
    verify_ok(out);
}

#[test]
fn killed_train_resumes_bit_identical_without_retraining_finished_models() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    run_ok(&train_args(&reference));
    verify_ok(&reference);
    let out = dir.path().join("killed");
    kill_twice_and_resume(&train_args(&out), &out, &reference, 40);
}

#[test]
fn killed_forget_resumes_bit_identical_without_redoing_finished_models() {
    let dir = tempfile::tempdir().unwrap();
    // Originals and OM's targets (retrained without F, other seeds): 16 models, 3 epochs.
    let zoo = |out: &Path, extra: &[&str]| {
        let mut args = vec!["train", "--models", "16", "--stack", "4", "--epochs", "3"];
        args.extend_from_slice(extra);
        args.extend(["--out", s(out)]);
        ok(&args);
    };
    let originals = dir.path().join("originals");
    zoo(&originals, &[]);
    let forget = dir.path().join("forget.txt");
    ok(&["forget-set", "--size", "20", "--out", s(&forget)]);
    let targets = dir.path().join("targets");
    zoo(
        &targets,
        &["--first-seed", "100", "--forget-set", s(&forget)],
    );
    // Oracle Matching, whose models stop after different numbers of epochs within a stack: the
    // resumed run must give each model what the uninterrupted one did.
    let args = |out: &Path| -> Vec<String> {
        [
            "forget",
            "--method",
            "om",
            "--set",
            "patience=2",
            "--set",
            "max_cost=2",
            "--stack",
            "4",
            "--oracles",
            s(&targets),
            "--originals",
            s(&originals),
            "--forget-set",
            s(&forget),
            "--out",
            s(out),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let reference = dir.path().join("reference");
    run_ok(&args(&reference));
    verify_ok(&reference);
    // Each model's cost is recorded beside it: they must differ, or no model stopped apart.
    let costs: std::collections::BTreeSet<String> = (0..16)
        .map(|i| std::fs::read_to_string(reference.join(format!("examples/{i:05}.txt"))).unwrap())
        .collect();
    assert!(costs.len() > 1, "every model stopped at once: {costs:?}");
    let out = dir.path().join("killed");
    kill_twice_and_resume(&args(&out), &out, &reference, 16);
}

/// A second `unlearn train` on a directory that another one is writing exits at once with one
/// line naming the directory and the holder's pid, and touches nothing.
#[test]
fn second_train_on_a_busy_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zoo");
    let mut args = train_args(&out);
    args[6] = "60".into(); // epochs: long enough to overlap the second process
    let mut first = spawn(&args);
    let pid = first.id();
    let started = Instant::now();
    // Wait until the first run holds the lock and trains (its manifest is then written).
    while std::fs::read_to_string(out.join(".lock"))
        .map(|t| t.lines().next() != Some(pid.to_string().as_str()))
        .unwrap_or(true)
        || written_logits(&out) == 0
    {
        assert!(
            first.try_wait().unwrap().is_none(),
            "the first run ended early"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "no lock taken");
        std::thread::sleep(Duration::from_millis(2));
    }
    let manifest = std::fs::read(out.join("manifest.json")).unwrap();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let second = unlearn(&refs);
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run must still be running for this test to mean anything"
    );
    assert_one_line_error(
        &second,
        &[s(&out), &format!("process {pid}"), "in use", ".lock"],
    );
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), manifest);
    let status = first.wait().unwrap();
    assert!(status.success(), "the first run is unharmed: {status:?}");
    verify_ok(&out);
}

#[test]
fn verify_reports_damage_and_a_rerun_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zoo");
    let args = [
        "train",
        "--models",
        "5",
        "--stack",
        "2",
        "--epochs",
        "2",
        "--out",
        s(&out),
    ];
    ok(&args);
    let text = verify_ok(&out);
    assert!(text.contains("5 models, 12 files"), "{text}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_object().expect("files recorded");
    assert_eq!(files.len(), 12);
    let logits = std::fs::read(out.join("logits.npy")).unwrap();
    assert_eq!(files["logits.npy"]["bytes"], logits.len());
    assert_eq!(
        files["logits.npy"]["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&logits))
    );

    // Damage: a truncated logits file, a flipped byte in a checkpoint, a deleted label file, a
    // temporary file of a killed writer.
    let cut = out.join("logits/00001.npy");
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let flip = out.join("models/00003.bpk");
    let mut bytes = std::fs::read(&flip).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&flip, &bytes).unwrap();
    std::fs::remove_file(out.join("labels.npy")).unwrap();
    std::fs::write(out.join("models/.00004.bpk.tmp-4242"), b"half").unwrap();

    let o = unlearn(&["verify", s(&out)]);
    assert_one_line_error(
        &o,
        &[
            s(&out),
            "4 problems",
            "1 missing",
            "1 truncated",
            "1 altered",
            "1 leftover",
        ],
    );
    let report = stdout(&o);
    for (file, what) in [
        ("logits/00001.npy", "truncated"),
        ("models/00003.bpk", "altered"),
        ("labels.npy", "missing"),
        ("models/.00004.bpk.tmp-4242", "leftover"),
    ] {
        assert!(
            report.lines().any(|l| l.contains(file) && l.contains(what)),
            "{file} should be reported {what}: {report}"
        );
    }
    assert!(!report.contains("00000"), "intact files are not reported");

    // Re-running the command retrains exactly the damaged models and rewrites the rest.
    let rerun = ok(&args);
    assert!(
        stderr(&rerun).contains("models [1, 3]"),
        "{}",
        stderr(&rerun)
    );
    verify_ok(&out);
    assert_eq!(std::fs::read(out.join("logits.npy")).unwrap(), logits);
}

/// On a run directory (as `unlearn bench` writes), verify checks every zoo below it and also
/// finds temporary files outside the zoos.
#[test]
fn verify_checks_every_zoo_below_a_run_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    for name in ["a", "b"] {
        ok(&[
            "train",
            "--models",
            "2",
            "--epochs",
            "1",
            "--first-seed",
            if name == "a" { "0" } else { "10" },
            "--out",
            s(&run.join("zoos").join(name)),
        ]);
    }
    let text = verify_ok(&run);
    assert!(text.contains("2 zoos"), "{text}");
    assert!(text.contains("zoos/a") && text.contains("zoos/b"), "{text}");

    std::fs::create_dir_all(run.join("attribution")).unwrap();
    std::fs::write(run.join("attribution/.beta.npy.tmp-1-0"), b"").unwrap();
    std::fs::write(run.join("zoos/b/logits.npy"), b"").unwrap();
    let o = unlearn(&["verify", s(&run)]);
    assert_one_line_error(
        &o,
        &[
            "2 problems",
            "1 of 2 directories",
            "1 truncated",
            "1 leftover",
        ],
    );
    let report = stdout(&o);
    assert!(report.contains("attribution/.beta.npy.tmp-1-0"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("ok") && l.contains("zoos/a")),
        "{report}"
    );
}
