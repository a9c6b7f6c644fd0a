//! The cluster recipe under a real Slurm: `docs/cluster/slurm.sh` submits a job array of
//! `shard.sh` tasks and a `merge.sh` job with `afterok` to a running slurmctld/slurmd, and the
//! merged zoo must equal one unsharded run byte for byte; a task killed mid-run by
//! `scontrol requeue` resumes without retraining its finished models.
//!
//! Needs a Slurm whose default partition accepts jobs: `scripts/cluster/local-slurm.sh start`
//! (as root) starts one on localhost, as CI does before running this file with
//! `UNLEARN_REQUIRE_SLURM=1`. Without a cluster each test prints SKIPPED and the reason; with
//! that variable set, a missing cluster is a failure.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// The two tests share one small node: they run one after the other.
static CLUSTER: Mutex<()> = Mutex::new(());

/// How long a job may take before the test gives up (and cancels it).
const DEADLINE: Duration = Duration::from_secs(600);

fn command(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `Some(description)` of a cluster ready for jobs, or `None` after printing why the test is
/// skipped (a panic instead where `UNLEARN_REQUIRE_SLURM` is set).
fn cluster() -> Option<String> {
    let states = command("sinfo", &["-h", "-o", "%t"]);
    let ready = match &states {
        Ok(s)
            if s.lines()
                .any(|l| matches!(l.trim(), "idle" | "mix" | "alloc")) =>
        {
            Ok(format!(
                "{} (node states: {})",
                command("sinfo", &["-V"]).unwrap_or_default(),
                s.replace('\n', ", ")
            ))
        }
        Ok(s) => Err(format!("no node accepts jobs (states: {s:?})")),
        Err(e) => Err(e.clone()),
    };
    match ready {
        Ok(d) => Some(d),
        Err(why) if std::env::var_os("UNLEARN_REQUIRE_SLURM").is_some() => {
            panic!("UNLEARN_REQUIRE_SLURM is set but no Slurm cluster is ready: {why}")
        }
        Err(why) => {
            eprintln!(
                "SKIPPED: no Slurm cluster ({why}); start one with `sudo scripts/cluster/local-slurm.sh start`"
            );
            None
        }
    }
}

/// `scontrol show job -o ID`: one line per job (per task for an array), as key=value maps.
fn jobs(id: &str) -> Vec<BTreeMap<String, String>> {
    command("scontrol", &["show", "job", "-o", id])
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(|line| {
            line.split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn state(job: &BTreeMap<String, String>) -> &str {
    job.get("JobState").map_or("?", String::as_str)
}

/// The ids `docs/cluster/slurm.sh` printed on its last line.
struct Submission {
    array: String,
    merge: String,
    dir: PathBuf,
}

impl Submission {
    /// Submits the recipe from `dir` (where Slurm writes the jobs' logs) for the run `run`.
    fn new(dir: &Path, run: &Path, shards: usize, models: usize, data: &str, train: &str) -> Self {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let out = Command::new("bash")
            .arg(repo.join("docs/cluster/slurm.sh"))
            .current_dir(dir)
            .env("UNLEARN", unlearn_bin())
            .env("RUN_DIR", run)
            .env("SHARDS", shards.to_string())
            .env("MODELS", models.to_string())
            .env("CPUS", "1")
            .env("DATA_ARGS", data)
            .env("TRAIN_ARGS", train)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "slurm.sh: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = text.lines().last().unwrap_or_default();
        let array = last
            .strip_prefix("submitted shards ")
            .and_then(|rest| rest.split('_').next())
            .unwrap_or_else(|| panic!("unexpected slurm.sh output: {text}"))
            .to_string();
        let merge = last.rsplit(' ').next().unwrap().to_string();
        eprintln!("slurm: {last}");
        Self {
            array,
            merge,
            dir: dir.to_path_buf(),
        }
    }

    fn log(&self, task: usize) -> String {
        let path = self.dir.join(format!("slurm-{}_{task}.out", self.array));
        std::fs::read_to_string(&path).unwrap_or_default()
    }

    /// Each array task's state and reason.
    fn states(&self) -> Vec<String> {
        jobs(&self.array)
            .iter()
            .map(|t| {
                let reason = t.get("Reason").map_or("", String::as_str);
                format!(
                    "{}_{}: {} ({reason})",
                    self.array,
                    t.get("ArrayTaskId").map_or("?", String::as_str),
                    state(t)
                )
            })
            .collect()
    }

    fn logs(&self) -> String {
        files_below(&self.dir)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "out"))
            .map(|p| {
                format!(
                    "--- {}\n{}",
                    p.display(),
                    std::fs::read_to_string(&p).unwrap_or_default()
                )
            })
            .collect()
    }

    /// Waits until the merge job completed; a failed job or the deadline fails the test with
    /// every job's log.
    fn wait(&self) -> Duration {
        let started = Instant::now();
        loop {
            let merge = jobs(&self.merge).remove(0);
            let reason = merge.get("Reason").map_or("", String::as_str);
            if reason == "DependencyNeverSatisfied" {
                panic!(
                    "merge job {} can never start: a shard failed ({:?})\n{}",
                    self.merge,
                    self.states(),
                    self.logs()
                );
            }
            match state(&merge) {
                "COMPLETED" => return started.elapsed(),
                "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" => {}
                other => {
                    let reason = merge.get("Reason").cloned().unwrap_or_default();
                    panic!(
                        "merge job {} ended {other} ({reason})\n{}",
                        self.merge,
                        self.logs()
                    );
                }
            }
            if started.elapsed() > DEADLINE {
                let _ = command("scancel", &[&self.array, &self.merge]);
                panic!(
                    "jobs not done within {DEADLINE:?} ({:?}, merge {})\n{}",
                    self.states(),
                    state(&merge),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `unlearn train` of the whole zoo in one process, on the masks the shards used.
fn unsharded(run: &Path, whole: &Path, models: usize, data: &str, train: &str) {
    let masks = run.join("masks.npy");
    let models = models.to_string();
    let mut args = vec![
        "train",
        "--models",
        &models,
        "--subsets",
        s(&masks),
        "--out",
        s(whole),
    ];
    args.extend(data.split_whitespace());
    args.extend(train.split_whitespace());
    ok(&args);
}

#[test]
fn a_job_array_and_its_afterok_merge_give_the_unsharded_zoo() {
    let _one_at_a_time = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(cluster) = cluster() else { return };
    eprintln!("slurm: {cluster}");
    let tmp = tempfile::tempdir().unwrap();
    let (run, whole) = (tmp.path().join("run"), tmp.path().join("whole"));
    let (data, train) = ("--limit 300", "--hidden 16 --epochs 2 --stack 2");
    let jobs_of = Submission::new(tmp.path(), &run, 3, 7, data, train);
    let took = jobs_of.wait();
    let tasks = jobs(&jobs_of.array);
    assert_eq!(tasks.len(), 3, "one job per shard");
    assert!(tasks.iter().all(|t| state(t) == "COMPLETED"), "{tasks:?}");
    // afterok: the merge started only after every shard ended.
    let merge = jobs(&jobs_of.merge).remove(0);
    let last_end = tasks.iter().map(|t| t["EndTime"].clone()).max().unwrap();
    assert!(
        merge["StartTime"] >= last_end,
        "merge started before its shards ended"
    );
    eprintln!(
        "slurm: 3 array tasks and the merge COMPLETED in {:.1} s (merge started {} after the last shard ended {})",
        took.as_secs_f64(),
        merge["StartTime"],
        last_end
    );
    unsharded(&run, &whole, 7, data, train);
    assert_same_zoo(&run.join("zoo"), &whole, 7);
    eprintln!("slurm: merged zoo byte-identical to the unsharded run; unlearn verify accepts it");
}

/// Modification times of a shard's finished models (checkpoint and logits files).
fn finished(shard: &Path) -> BTreeMap<PathBuf, SystemTime> {
    let mut done = BTreeMap::new();
    for i in 0.. {
        let files = [
            shard.join(format!("models/{i:05}.bpk")),
            shard.join(format!("logits/{i:05}.npy")),
        ];
        if !files.iter().all(|f| f.is_file()) {
            break;
        }
        for f in files {
            let modified = std::fs::metadata(&f).unwrap().modified().unwrap();
            done.insert(f, modified);
        }
    }
    done
}

#[test]
fn a_task_requeued_mid_run_resumes_and_the_merge_is_unchanged() {
    let _one_at_a_time = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(cluster) = cluster() else { return };
    eprintln!("slurm: {cluster}");
    let tmp = tempfile::tempdir().unwrap();
    let (run, whole) = (tmp.path().join("run"), tmp.path().join("whole"));
    // Models trained one at a time, each long enough (~1 s) to requeue a task between two.
    let (data, train, models) = ("", "--hidden 256 --epochs 600 --stack 1", 8);
    let jobs_of = Submission::new(tmp.path(), &run, 2, models, data, train);
    let task = format!("{}_0", jobs_of.array);
    let shard = run.join("shards/0");
    let started = Instant::now();
    let kept = loop {
        let done = finished(&shard);
        if !done.is_empty() {
            break done;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no model finished\n{}",
            jobs_of.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let kept_models = kept.len() / 2;
    assert!(
        kept_models < 4,
        "the task finished before the requeue: nothing would be tested (train slower models)"
    );
    command("scontrol", &["requeue", &task]).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("slurm: requeued task {task} after {kept_models} of its 4 models");
    // Slurm holds a requeued job back for the credential lifetime (local-slurm.sh sets 10 s);
    // forcing an earlier start fails it ("Job credential revoked").
    jobs_of.wait();

    let again = &jobs(&task)[0];
    assert_eq!(again["Restarts"], "1", "{again:?}");
    let log = jobs_of.log(0);
    assert!(log.contains("DUE TO JOB REQUEUE"), "{log}");
    // A model may finish between our look and the kill: the task keeps at least what we saw.
    let resumed: usize = log
        .split("resuming: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("the requeued task did not resume:\n{log}"));
    assert!(
        (kept_models..4).contains(&resumed),
        "resumed with {resumed}:\n{log}"
    );
    let now = finished(&shard);
    for (file, modified) in &kept {
        assert_eq!(
            now[file],
            *modified,
            "{}: retrained after the requeue",
            file.display()
        );
    }
    unsharded(&run, &whole, models, data, train);
    assert_same_zoo(&run.join("zoo"), &whole, models);
    eprintln!(
        "slurm: task {task} restarted once, kept its {resumed} finished models (the {kept_models} seen before the kill untouched), trained the other {}; merged zoo byte-identical to the unsharded run",
        4 - resumed
    );
}
