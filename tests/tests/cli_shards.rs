//! Scale-out: `--shard I/N` on train, forget and attribute, run as separate concurrent processes,
//! and `unlearn merge` giving back exactly what one unsharded run writes; merge refuses shards
//! that do not make up one run. The cluster recipe's scripts (docs/cluster) run the same way.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A small, fast zoo: 300 digits (240 training points), one hidden layer of 16, 2 epochs.
const SMALL: [&str; 8] = [
    "--limit", "300", "--hidden", "16", "--epochs", "2", "--stack", "2",
];

fn train_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["train", "--models", "7"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(SMALL.iter().map(|s| s.to_string()));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--out".to_string(), s(out).to_string()]);
    args
}

/// Runs `unlearn train` with [`train_args`] to the end.
fn train_ok(out: &Path, extra: &[&str]) {
    let args = train_args(out, extra);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

/// Runs every argument list as its own process, all at once; each must succeed.
fn run_concurrently(runs: &[Vec<String>]) {
    let children: Vec<_> = runs
        .iter()
        .map(|args| {
            Command::new(unlearn_bin())
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting unlearn")
        })
        .collect();
    for (child, args) in children.into_iter().zip(runs) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn shard_dirs(root: &Path, n: usize) -> Vec<PathBuf> {
    (0..n).map(|i| root.join(format!("shard-{i}"))).collect()
}

#[test]
fn train_shards_merge_into_the_unsharded_zoo_and_bad_sets_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let whole = root.join("whole");
    let dirs = shard_dirs(root, 3);
    let mut runs: Vec<Vec<String>> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| train_args(d, &["--shard", &format!("{i}/3")]))
        .collect();
    runs.push(train_args(&whole, &[]));
    run_concurrently(&runs);
    // 7 models over 3 shards: 2, 2, 3, each numbered from 0 in its own directory.
    for (d, n) in dirs.iter().zip([2, 2, 3]) {
        assert!(d.join(format!("models/{:05}.bpk", n - 1)).is_file());
        assert!(!d.join(format!("models/{n:05}.bpk")).exists());
    }
    let merged = root.join("merged");
    let (d0, d1, d2) = (s(&dirs[0]), s(&dirs[1]), s(&dirs[2]));
    let out = ok(&["merge", "--out", s(&merged), d2, d0, d1]);
    assert!(stdout(&out).contains("7 models"), "{}", stdout(&out));
    assert_same_zoo(&merged, &whole, 7);
    // Merging again finds the work done and changes nothing.
    let before = bytes(&merged.join("manifest.json"));
    ok(&["merge", "--out", s(&merged), d0, d1, d2]);
    assert_eq!(before, bytes(&merged.join("manifest.json")));

    let refused = |args: &[&str], needles: &[&str]| {
        let out_dir = root.join("refused");
        let mut all = vec!["merge", "--out", s(&out_dir)];
        all.extend_from_slice(args);
        assert_one_line_error(&unlearn(&all), needles);
        assert!(
            !out_dir.join("logits.npy").exists(),
            "a refused merge wrote a zoo"
        );
    };
    refused(&[d0, d0, d1, d2], &["both shard 0/3", "overlap"]);
    refused(&[d0, d2], &["1/3 missing", "gap"]);
    refused(&[d0, d1, d2, s(&whole)], &["whole zoo, not a shard"]);
    // A shard of another configuration (other seeds).
    let foreign = root.join("foreign");
    train_ok(&foreign, &["--shard", "1/3", "--first-seed", "100"]);
    refused(&[d0, s(&foreign), d2], &["different runs"]);
    // A damaged shard is refused with the reason.
    let damaged = root.join("damaged");
    std::fs::create_dir_all(damaged.join("models")).unwrap();
    std::fs::create_dir_all(damaged.join("logits")).unwrap();
    for f in files_below(&dirs[2]) {
        let rel = f.strip_prefix(&dirs[2]).unwrap();
        std::fs::copy(&f, damaged.join(rel)).unwrap();
    }
    std::fs::write(damaged.join("logits/00001.npy"), b"truncated").unwrap();
    refused(
        &[d0, d1, s(&damaged)],
        &["is not ready", "re-run its command"],
    );

    // Other commands refuse a single shard and point at merge.
    let forget_file = root.join("forget.txt");
    std::fs::write(&forget_file, "0\n1\n").unwrap();
    assert_one_line_error(
        &unlearn(&[
            "forget",
            "--method",
            "gd",
            "--originals",
            d0,
            "--forget-set",
            s(&forget_file),
            "--out",
            s(&root.join("x")),
        ]),
        &["is shard 0/3", "unlearn merge"],
    );
    // A shard directory holds one shard only; bad --shard values are one-line errors.
    let wrong = train_args(&dirs[0], &["--shard", "1/3"]);
    assert_one_line_error(
        &unlearn(&wrong.iter().map(String::as_str).collect::<Vec<_>>()),
        &["holds shard 0/3 of this zoo, not shard 1/3"],
    );
    // More shards than models (a generous job array): the empty shard succeeds and merges.
    let tiny: Vec<PathBuf> = (0..3).map(|i| root.join(format!("tiny-{i}"))).collect();
    for (i, d) in tiny.iter().enumerate() {
        let out = ok(&[
            "train",
            "--models",
            "2",
            "--epochs",
            "1",
            "--limit",
            "300",
            "--shard",
            &format!("{i}/3"),
            "--out",
            s(d),
        ]);
        if i == 0 {
            assert!(stdout(&out).contains("holds no models"), "{}", stdout(&out));
        }
    }
    let tiny_whole = root.join("tiny-whole");
    ok(&[
        "train",
        "--models",
        "2",
        "--epochs",
        "1",
        "--limit",
        "300",
        "--out",
        s(&tiny_whole),
    ]);
    let tiny_merged = root.join("tiny-merged");
    ok(&[
        "merge",
        "--out",
        s(&tiny_merged),
        s(&tiny[0]),
        s(&tiny[1]),
        s(&tiny[2]),
    ]);
    assert_same_zoo(&tiny_merged, &tiny_whole, 2);
    for bad in ["3/3", "1/0", "x"] {
        let args = train_args(&root.join("bad"), &["--shard", bad]);
        assert_one_line_error(
            &unlearn(&args.iter().map(String::as_str).collect::<Vec<_>>()),
            &["expected I/N"],
        );
    }
}

#[test]
fn forget_and_attribute_shards_merge_into_unsharded_results() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let originals = root.join("originals");
    train_ok(&originals, &[]);
    let forget_file = root.join("forget.txt");
    std::fs::write(&forget_file, "3\n17\n40\n").unwrap();
    let targets = root.join("targets");
    train_ok(
        &targets,
        &["--first-seed", "100", "--forget-set", s(&forget_file)],
    );
    // Oracle Matching in stacks of 2, whose models stop apart: shards 0/2 (models 0..3) and 1/2
    // (3..7) cut a stack in two, and must still give each model what the unsharded run does.
    let forget = |out: &Path, shard: Option<&str>| {
        let mut args: Vec<String> = [
            "forget",
            "--method",
            "om",
            "--set",
            "patience=2",
            "--set",
            "max_cost=2",
            "--oracles",
            s(&targets),
            "--originals",
            s(&originals),
            "--forget-set",
            s(&forget_file),
            "--stack",
            "2",
            "--out",
            s(out),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(sh) = shard {
            args.extend(["--shard".to_string(), sh.to_string()]);
        }
        args
    };
    let whole = root.join("forget-whole");
    let dirs: Vec<PathBuf> = (0..2).map(|i| root.join(format!("forget-{i}"))).collect();
    run_concurrently(&[
        forget(&whole, None),
        forget(&dirs[0], Some("0/2")),
        forget(&dirs[1], Some("1/2")),
    ]);
    let merged = root.join("forget-merged");
    ok(&["merge", "--out", s(&merged), s(&dirs[1]), s(&dirs[0])]);
    assert_same_zoo(&merged, &whole, 7);
    // The merged zoo is a normal unlearned zoo: eval reads it.
    let text = std::fs::read_to_string(merged.join("manifest.json")).unwrap();
    assert!(text.contains("\"method\": \"om\""), "{text}");

    // Attribution: a subset zoo, lasso datamodels fitted whole and in 3 shards of points.
    let masks = root.join("masks.npy");
    ok(&[
        "masks",
        "--limit",
        "300",
        "--models",
        "24",
        "--out",
        s(&masks),
    ]);
    let subsets = root.join("subsets");
    let mut args = vec![
        "train",
        "--models",
        "24",
        "--subsets",
        s(&masks),
        "--out",
        s(&subsets),
    ];
    args.extend_from_slice(&SMALL);
    ok(&args);
    let attribute = |method: &str, out: &Path, extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "attribute",
            "--method",
            method,
            "--zoo",
            s(&subsets),
            "--held-out",
            "0.25",
            "--out",
            s(out),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    // The lasso's β sparse (the default for it) and dense, the mean's Σ_F β rows.
    for (case, (method, extra)) in [
        ("datamodels-lasso", vec![]),
        ("datamodels-lasso", vec!["--beta-format", "dense"]),
        ("datamodels-mean", vec!["--forget-set", s(&forget_file)]),
    ]
    .into_iter()
    .enumerate()
    {
        let label = format!("{method}-{case}");
        let whole = root.join(format!("{label}-whole"));
        let dirs: Vec<PathBuf> = (0..3).map(|i| root.join(format!("{label}-{i}"))).collect();
        let mut runs = vec![attribute(method, &whole, &extra)];
        for (i, d) in dirs.iter().enumerate() {
            let mut e = extra.clone();
            let shard = format!("{i}/3");
            e.extend(["--shard", shard.as_str()]);
            runs.push(attribute(method, d, &e));
        }
        run_concurrently(&runs);
        let merged = root.join(format!("{label}-merged"));
        ok(&[
            "merge",
            "--out",
            s(&merged),
            s(&dirs[2]),
            s(&dirs[0]),
            s(&dirs[1]),
        ]);
        let files: &[&str] = match case {
            0 => &[
                "beta_indptr.npy",
                "beta_indices.npy",
                "beta_values.npy",
                "beta_shape.npy",
            ],
            1 => &["beta.npy"],
            _ => &["forget_rows.npy"],
        };
        for file in files {
            assert!(
                bytes(&merged.join(file)) == bytes(&whole.join(file)),
                "{label}: merged {file} differs from the unsharded fit"
            );
        }
        if case < 2 {
            assert_eq!(case == 0, !merged.join("beta.npy").exists(), "{label}");
            assert!(bytes(&merged.join("intercept.npy")) == bytes(&whole.join("intercept.npy")));
            let lds = |d: &Path| -> f64 {
                let v: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(d.join("attribution.json")).unwrap(),
                )
                .unwrap();
                v["lds"].as_f64().unwrap()
            };
            assert!(
                (lds(&merged) - lds(&whole)).abs() < 1e-9,
                "LDS {} vs {}",
                lds(&merged),
                lds(&whole)
            );
        }
        // Missing shard: refused.
        assert_one_line_error(
            &unlearn(&[
                "merge",
                "--out",
                s(&root.join("nope")),
                s(&dirs[0]),
                s(&dirs[2]),
            ]),
            &["1/3 missing"],
        );
    }
    // A second run with the same inputs has nothing to do.
    let again = attribute(
        "datamodels-lasso",
        &root.join("datamodels-lasso-0-0"),
        &["--shard", "0/3"],
    );
    let out = ok(&again.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        stdout(&out).contains("already computed"),
        "{}",
        stdout(&out)
    );
    // Estimators that pool over points cannot be sharded.
    for method in ["datamodels-ridge", "trak"] {
        let a = attribute(method, &root.join("r"), &["--shard", "0/2"]);
        assert_one_line_error(
            &unlearn(&a.iter().map(String::as_str).collect::<Vec<_>>()),
            &["--shard"],
        );
    }
}

/// The documented recipe: docs/cluster/shard.sh as the tasks of a Slurm job array and as the
/// pods of a Kubernetes Indexed Job (separate concurrent processes with the scheduler's
/// variables), then docs/cluster/merge.sh; both equal one unsharded run.
#[test]
fn cluster_recipe_scripts_produce_the_unsharded_zoo() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let scripts = repo.join("docs/cluster");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let data_args = "--limit 300";
    let train_args = "--hidden 16 --epochs 2 --stack 2";
    let task = |run: &Path, vars: &[(&str, String)]| {
        let mut c = Command::new("bash");
        c.arg(scripts.join("shard.sh"))
            .env("UNLEARN", unlearn_bin())
            .env("RUN_DIR", run)
            .env("MODELS", "16")
            .env("DATA_ARGS", data_args)
            .env("TRAIN_ARGS", train_args)
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("JOB_COMPLETION_INDEX")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in vars {
            c.env(k, v);
        }
        c.spawn().unwrap()
    };
    let finish = |children: Vec<std::process::Child>| {
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    // The same script under each scheduler's variables: (index variable, count variable, N).
    let array = |run: &Path, index_var: &str, count_var: &str, n: usize| {
        finish(
            (0..n)
                .map(|i| {
                    task(
                        run,
                        &[(index_var, i.to_string()), (count_var, n.to_string())],
                    )
                })
                .collect(),
        )
    };
    let (slurm, k8s) = (root.join("slurm"), root.join("k8s"));
    array(&slurm, "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", 3);
    array(&k8s, "JOB_COMPLETION_INDEX", "SHARDS", 2);
    for run in [&slurm, &k8s] {
        let out = Command::new("bash")
            .arg(scripts.join("merge.sh"))
            .env("UNLEARN", unlearn_bin())
            .env("RUN_DIR", run)
            .env("ATTRIBUTE", "datamodels-mean")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "merge.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(run.join("attribution/beta.npy").is_file());
    }
    // The same zoo in one process.
    let whole = root.join("whole");
    let masks = slurm.join("masks.npy");
    let mut args = vec![
        "train",
        "--models",
        "16",
        "--subsets",
        s(&masks),
        "--out",
        s(&whole),
    ];
    args.extend(data_args.split(' '));
    args.extend(train_args.split(' '));
    ok(&args);
    assert_same_zoo(&slurm.join("zoo"), &whole, 16);
    assert!(bytes(&k8s.join("zoo/logits.npy")) == bytes(&whole.join("logits.npy")));
    // Without a scheduler's index the task script stops with a one-line reason.
    let out = Command::new("bash")
        .arg(scripts.join("shard.sh"))
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JOB_COMPLETION_INDEX"));
    // The Kubernetes Job runs that script once per index, as many as SHARDS says.
    let job = std::fs::read_to_string(scripts.join("shards-job.yaml")).unwrap();
    assert!(job.contains("completionMode: Indexed"));
    assert!(job.contains("shard.sh"));
    let value_of = |key: &str| -> String {
        job.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|rest| rest.split('#').next().unwrap().trim().to_string())
            .unwrap_or_else(|| panic!("{key} missing"))
    };
    let shards = job
        .lines()
        .find(|l| l.contains("name: SHARDS"))
        .and_then(|l| l.split('"').nth(1))
        .expect("SHARDS in the Job's env")
        .to_string();
    assert_eq!(value_of("completions:"), shards);
    assert_eq!(value_of("parallelism:"), shards);
}
