//! Every command fed malformed inputs: corrupt and truncated data files, wrong shapes, bad
//! forget sets and masks, zoos that disagree, configs with unknown fields or wrong types, empty
//! datasets, NaN features. Each must fail with exactly one `error:` line (no panic, exit code
//! neither 0 nor 101) and leave nothing half-written: no temporary file, no lock, no output that
//! `Zoo::load` would accept.

mod common;

use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `unlearn args` like `common::unlearn`, but a run that takes more than `limit` is killed
/// and fails the test: bad input must not hang a command.
#[track_caller]
fn unlearn_within(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(unlearn_bin())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running unlearn");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("unlearn {args:?} still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs `unlearn args`, which must fail cleanly with every needle in its one error line, within
/// two minutes, and leave no debris below `root`.
#[track_caller]
fn fails(root: &Path, args: &[&str], needles: &[&str]) -> Output {
    let o = unlearn_within(args, Duration::from_secs(120));
    eprintln!("unlearn {}\n  → {}", args.join(" "), stderr(&o).trim());
    assert_one_line_error(&o, needles);
    let left = debris(root);
    assert!(left.is_empty(), "unlearn {args:?} left {left:?}");
    o
}

/// True when `dir` holds something `Zoo::load` accepts (a manifest marked complete).
fn loadable_zoo(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|m| m["complete"] == true)
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    s(path).to_string()
}

/// A small CSV dataset: 40 points, 3 features, 2 classes.
fn good_csv() -> String {
    let mut text = String::from("a,b,c,label\n");
    for i in 0..40 {
        text.push_str(&format!("{},{},{},{}\n", i, (i * 7) % 5, 40 - i, i % 2));
    }
    text
}

struct Fixture {
    dir: tempfile::TempDir,
    originals: PathBuf,
    oracles: PathBuf,
    forget: PathBuf,
}

impl Fixture {
    /// Originals (3 models) and oracles (3 models) of a forget set of 10 digits points.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let forget = dir.path().join("forget.txt");
        ok(&["forget-set", "--size", "10", "--out", s(&forget)]);
        let originals = dir.path().join("originals");
        ok(&[
            "train",
            "--models",
            "3",
            "--epochs",
            "1",
            "--out",
            s(&originals),
        ]);
        let oracles = dir.path().join("oracles");
        ok(&[
            "train",
            "--models",
            "3",
            "--epochs",
            "1",
            "--first-seed",
            "100",
            "--forget-set",
            s(&forget),
            "--out",
            s(&oracles),
        ]);
        Self {
            dir,
            originals,
            oracles,
            forget,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A copy of zoo `from` named `name`.
    fn copy_zoo(&self, from: &Path, name: &str) -> PathBuf {
        let to = self.path(name);
        for sub in ["", "models", "logits"] {
            std::fs::create_dir_all(to.join(sub)).unwrap();
            for e in std::fs::read_dir(from.join(sub)).unwrap().flatten() {
                if e.file_type().unwrap().is_file() {
                    std::fs::copy(e.path(), to.join(sub).join(e.file_name())).unwrap();
                }
            }
        }
        to
    }
}

fn edit_manifest(zoo: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = zoo.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut m);
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
}

#[test]
fn train_rejects_malformed_datasets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("zoo");
    let train = |dataset: &str, needles: &[&str]| {
        fails(
            d,
            &[
                "train",
                "--dataset",
                dataset,
                "--epochs",
                "1",
                "--out",
                s(&out),
            ],
            needles,
        );
        assert!(!out.exists(), "nothing is written for bad data");
    };

    train(&write(&d.join("zero.csv"), ""), &["zero.csv", "empty"]);
    train(
        &write(&d.join("header.csv"), "a,b,label\n"),
        &["header.csv", "empty"],
    );
    train(
        &write(&d.join("nan.csv"), "a,b,label\n1,2,0\n1,NaN,1\n"),
        &["nan.csv", "line 3", "'b'", "not a finite number"],
    );
    train(
        &write(&d.join("inf.csv"), "a,b,label\n1,inf,0\n1,2,1\n"),
        &["inf.csv", "line 2", "not a finite number"],
    );
    train(
        &write(&d.join("ragged.csv"), "a,b,label\n1,2,0\n1,1\n"),
        &["ragged.csv", "line 3", "3 fields"],
    );
    train(
        &write(&d.join("text.csv"), "a,b,label\n1,2,0\n1,abc,1\n"),
        &["text.csv", "'abc'"],
    );
    train(
        &write(&d.join("label.csv"), "a,b,label\n1,2,0\n1,3,1.5\n"),
        &["label.csv", "line 3", "1.5"],
    );
    train(
        &write(&d.join("nolabel.csv"), "a,b,target\n1,2,0\n"),
        &["nolabel.csv", "no column named 'label'"],
    );
    let garbage = d.join("garbage.csv");
    std::fs::write(&garbage, [0xff, 0xfe, 0x00, 0x81, 0x0a, 0x41]).unwrap();
    fails(
        d,
        &["train", "--dataset", s(&garbage), "--out", s(&out)],
        &["garbage.csv"],
    );
    assert!(!out.exists());

    // .npy pairs: corrupt, truncated, disagreeing lengths, NaN features, wrong label dtype.
    let features: Vec<f32> = (0..40 * 3).map(|v| v as f32 / 10.0).collect();
    let f = d.join("x.npy");
    unlearn_data::write_npy_f32(&f, &[40, 3], &features).unwrap();
    let y = d.join("y.npy");
    let labels: Vec<i64> = (0..40).map(|i| i % 2).collect();
    unlearn_data::write_npy_i64(&y, &[40], &labels).unwrap();
    let pair = |a: &Path, b: &Path| format!("{},{}", s(a), s(b));
    // The good pair trains (a sanity check that the cases below fail for their defect).
    ok(&[
        "train",
        "--dataset",
        &pair(&f, &y),
        "--epochs",
        "1",
        "--out",
        s(&out),
    ]);
    assert!(loadable_zoo(&out));
    std::fs::remove_dir_all(&out).unwrap();

    let corrupt = d.join("corrupt.npy");
    std::fs::write(&corrupt, b"\x93NUMPY\x01\x00garbage garbage").unwrap();
    train(&pair(&corrupt, &y), &["corrupt.npy", "not a valid .npy"]);
    let bytes = std::fs::read(&f).unwrap();
    let cut = d.join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() - 17]).unwrap();
    train(&pair(&cut, &y), &["cut.npy", "truncated"]);
    let short = d.join("short.npy");
    unlearn_data::write_npy_i64(&short, &[39], &labels[..39]).unwrap();
    train(&pair(&f, &short), &["short.npy", "39", "40"]);
    let nan = d.join("nanx.npy");
    let mut with_nan = features.clone();
    with_nan[7] = f32::NAN;
    unlearn_data::write_npy_f32(&nan, &[40, 3], &with_nan).unwrap();
    train(&pair(&nan, &y), &["nanx.npy", "NaN"]);
    let float_labels = d.join("yf.npy");
    unlearn_data::write_npy_f32(&float_labels, &[40], &[0.5; 40]).unwrap();
    train(&pair(&f, &float_labels), &["yf.npy"]);
    let empty = d.join("empty.npy");
    unlearn_data::write_npy_f32(&empty, &[0, 3], &[]).unwrap();
    let empty_labels = d.join("empty_y.npy");
    unlearn_data::write_npy_i64(&empty_labels, &[0], &[]).unwrap();
    train(&pair(&empty, &empty_labels), &["empty"]);
}

#[test]
fn train_rejects_bad_masks_forget_sets_and_recipes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("zoo");
    let n = 1438; // training points of the default digits split
    let train = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["train", "--epochs", "1", "--out", s(&out)];
        args.extend_from_slice(extra);
        fails(d, &args, needles);
        assert!(!out.exists(), "nothing is written for bad inputs");
    };

    // Masks: values other than 0/1, wrong width, too few rows, truncated, not a .npy file.
    let masks = d.join("twos.npy");
    unlearn_data::write_npy_u8(&masks, &[2, n], &vec![2; 2 * n]).unwrap();
    train(&["--subsets", s(&masks)], &["twos.npy", "not 0 or 1"]);
    let narrow = d.join("narrow.npy");
    unlearn_data::write_npy_u8(&narrow, &[2, 100], &[1; 200]).unwrap();
    train(&["--subsets", s(&narrow)], &["100", "1438"]);
    let good = d.join("masks.npy");
    ok(&["masks", "--models", "2", "--out", s(&good)]);
    train(
        &["--subsets", s(&good), "--models", "3"],
        &["3 models", "only 2 rows"],
    );
    let bytes = std::fs::read(&good).unwrap();
    let cut = d.join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    train(&["--subsets", s(&cut)], &["cut.npy", "truncated"]);
    let text = d.join("masks.txt");
    write(&text, "0 1 0\n");
    train(&["--subsets", s(&text)], &["masks.txt"]);

    // Forget sets: out of range, negative, duplicate, floats, empty, not numbers.
    let oor = d.join("oor.npy");
    unlearn_data::write_npy_i64(&oor, &[2], &[3, n as i64]).unwrap();
    train(
        &["--forget-set", s(&oor)],
        &["oor.npy", "1438", "out of range"],
    );
    let neg = d.join("neg.npy");
    unlearn_data::write_npy_i64(&neg, &[2], &[-1, 3]).unwrap();
    train(&["--forget-set", s(&neg)], &["neg.npy", "-1"]);
    let dup = d.join("dup.npy");
    unlearn_data::write_npy_i64(&dup, &[3], &[4, 9, 4]).unwrap();
    train(&["--forget-set", s(&dup)], &["dup.npy", "4", "repeated"]);
    let floats = d.join("floats.npy");
    unlearn_data::write_npy_f32(&floats, &[2], &[1.0, 2.5]).unwrap();
    train(&["--forget-set", s(&floats)], &["floats.npy"]);
    let empty = write(&d.join("empty.txt"), "");
    train(&["--forget-set", &empty], &["empty.txt"]);
    let words = write(&d.join("words.txt"), "3\nseven\n");
    train(
        &["--forget-set", &words],
        &["words.txt", "line 2", "'seven'"],
    );

    // Recipe files: unknown field, wrong type, invalid JSON, a model that does not exist.
    let recipe = r#"{"model":{"kind":"mlp","hidden":[8]},"epochs":1,"batch_size":64,"lr":0.1,
        "optimizer":{"kind":"sgd","momentum":0.9,"weight_decay":0.0},"schedule":{"kind":"constant"}"#;
    let unknown = write(
        &d.join("unknown.json"),
        &format!("{recipe},\"dropout\":0.5}}"),
    );
    train(
        &["--recipe-file", &unknown],
        &["unknown.json", "unknown field `dropout`"],
    );
    let typed = write(
        &d.join("typed.json"),
        &format!("{recipe}}}").replace("\"epochs\":1", "\"epochs\":\"one\""),
    );
    train(&["--recipe-file", &typed], &["typed.json", "invalid type"]);
    let broken = write(&d.join("broken.json"), recipe);
    train(&["--recipe-file", &broken], &["broken.json"]);
    let model = write(
        &d.join("model.json"),
        &format!("{recipe}}}").replace("\"mlp\"", "\"transformer\""),
    );
    train(&["--recipe-file", &model], &["model.json", "transformer"]);
    // The unedited recipe is valid, so each case above fails for its own defect.
    let valid = write(&d.join("valid.json"), &format!("{recipe}}}"));
    ok(&["train", "--recipe-file", &valid, "--out", s(&out)]);
    assert!(loadable_zoo(&out));
}

/// Training that fails midway (the loss blows up) leaves an unfinished zoo that cannot be
/// loaded, and neither temporary files nor its lock.
#[test]
fn train_failing_midway_leaves_no_loadable_zoo() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zoo");
    fails(
        dir.path(),
        &[
            "train",
            "--lr",
            "1e30",
            "--models",
            "4",
            "--stack",
            "2",
            "--epochs",
            "2",
            "--out",
            s(&out),
        ],
        &["loss became", "--lr"],
    );
    assert!(!loadable_zoo(&out));
    let o = unlearn(&["verify", s(&out)]);
    assert_one_line_error(&o, &["unfinished"]);
}

#[test]
fn masks_and_forget_set_reject_bad_arguments_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("out").join("m.npy");
    let empty = write(&d.join("empty.csv"), "a,label\n");
    let nan = write(&d.join("nan.csv"), "a,label\nnan,0\n1,1\n");
    for (args, needles) in [
        (vec!["masks", "--alpha", "0"], vec!["--alpha"]),
        (vec!["masks", "--alpha", "NaN"], vec!["--alpha"]),
        (
            vec!["masks", "--dataset", &empty],
            vec!["empty.csv", "empty"],
        ),
        (vec!["masks", "--dataset", &nan], vec!["nan.csv", "finite"]),
        (
            vec!["masks", "--dataset", "nowhere.csv"],
            vec!["nowhere.csv"],
        ),
        (vec!["forget-set", "--size", "0"], vec!["0 points"]),
        (vec!["forget-set", "--size", "5000"], vec!["5000", "1438"]),
        (
            vec!["forget-set", "--size", "3", "--classes", "42"],
            vec!["[42]", "0 of the 1438"],
        ),
        (
            vec!["forget-set", "--dataset", &empty],
            vec!["empty.csv", "empty"],
        ),
        (
            vec!["forget-set", "--dataset", &nan],
            vec!["nan.csv", "finite"],
        ),
    ] {
        let mut args = args.clone();
        args.extend(["--out", s(&out)]);
        fails(d, &args, &needles);
        assert!(!out.exists() && !out.parent().unwrap().exists());
    }
}

/// `unlearn masks --models 0` writes a 0-row mask file that no training can use.
#[test]
fn masks_refuse_zero_models() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.npy");
    fails(
        dir.path(),
        &["masks", "--models", "0", "--out", s(&out)],
        &["--models"],
    );
    assert!(!out.exists());
}

#[test]
fn forget_rejects_bad_forget_sets_configs_and_zoos() {
    let fx = Fixture::new();
    let out = fx.path("unlearned");
    let forget = s(&fx.forget).to_string();
    let originals = s(&fx.originals).to_string();
    let run = |originals: &str, forget: &str, extra: &[&str], needles: &[&str]| {
        let mut args = vec![
            "forget",
            "--method",
            "gd",
            "--originals",
            originals,
            "--forget-set",
            forget,
            "--out",
            s(&out),
        ];
        args.extend_from_slice(extra);
        fails(fx.root(), &args, needles);
        assert!(!out.exists(), "no output for bad inputs");
    };

    // Forget sets.
    let dup = write(&fx.path("dup.txt"), "5\n9\n5\n");
    run(&originals, &dup, &[], &["dup.txt", "5", "repeated"]);
    let oor = write(&fx.path("oor.txt"), "5\n1438\n");
    run(&originals, &oor, &[], &["oor.txt", "1438", "out of range"]);
    let junk = write(&fx.path("junk.txt"), "5\n-\n");
    run(&originals, &junk, &[], &["junk.txt", "line 2"]);
    run(&originals, "missing.txt", &[], &["missing.txt"]);

    // Method configs: unknown fields, wrong types, invalid JSON, not an object, bad --set.
    let cfg = |name: &str, text: &str| write(&fx.path(name), text);
    let unknown = cfg("unknown.json", r#"{"epochs": 1, "momentun": 0.5}"#);
    run(
        &originals,
        &forget,
        &["--config", &unknown],
        &["'momentun'"],
    );
    let typed = cfg("typed.json", r#"{"epochs": "two"}"#);
    run(
        &originals,
        &forget,
        &["--config", &typed],
        &["'epochs'", "invalid type"],
    );
    let negative = cfg("negative.json", r#"{"epochs": -1}"#);
    run(&originals, &forget, &["--config", &negative], &["'epochs'"]);
    let broken = cfg("broken.json", r#"{"epochs": 1"#);
    run(
        &originals,
        &forget,
        &["--config", &broken],
        &["broken.json"],
    );
    let list = cfg("list.json", "[1, 2]");
    run(
        &originals,
        &forget,
        &["--config", &list],
        &["list.json", "JSON object"],
    );
    run(&originals, &forget, &["--set", "epochs"], &["epochs"]);
    run(&originals, &forget, &["--set", "lr=fast"], &["'lr'"]);
    run(
        &originals,
        &forget,
        &["--set", "lr=-0.5"],
        &[
            "lr must be a positive number, got -0.5",
            "unlearn forget --list shows the defaults",
        ],
    );
    fails(
        fx.root(),
        &[
            "forget",
            "--method",
            "forget-everything",
            "--originals",
            &originals,
            "--forget-set",
            &forget,
            "--out",
            s(&out),
        ],
        &["forget-everything", "--list"],
    );

    // Damaged or unsuitable zoos.
    run("nowhere", &forget, &[], &["nowhere", "manifest"]);
    let corrupt = fx.copy_zoo(&fx.originals, "corrupt-manifest");
    write(&corrupt.join("manifest.json"), "{\"format\": 1,");
    run(s(&corrupt), &forget, &[], &["corrupt manifest"]);
    let cut = fx.copy_zoo(&fx.originals, "cut-logits");
    let bytes = std::fs::read(cut.join("logits.npy")).unwrap();
    std::fs::write(cut.join("logits.npy"), &bytes[..bytes.len() - 100]).unwrap();
    run(s(&cut), &forget, &[], &["logits.npy", "truncated"]);
    let labels = fx.copy_zoo(&fx.originals, "bad-labels");
    std::fs::write(labels.join("labels.npy"), b"not npy").unwrap();
    run(s(&labels), &forget, &[], &["labels.npy"]);
    let unfinished = fx.copy_zoo(&fx.originals, "unfinished");
    edit_manifest(&unfinished, |m| m["complete"] = false.into());
    run(s(&unfinished), &forget, &[], &["unfinished"]);
    let shape = fx.copy_zoo(&fx.originals, "wrong-shape");
    unlearn_data::write_npy_f32(
        shape.join("logits.npy"),
        &[3, 1797, 9],
        &vec![0.0; 3 * 1797 * 9],
    )
    .unwrap();
    run(s(&shape), &forget, &[], &["logits.npy", "9", "disagree"]);

    // A zoo trained on a CSV that has changed since.
    let csv = fx.path("data.csv");
    write(&csv, &good_csv());
    let small = fx.path("csv-zoo");
    ok(&[
        "train",
        "--dataset",
        s(&csv),
        "--models",
        "2",
        "--epochs",
        "1",
        "--out",
        s(&small),
    ]);
    write(&csv, &good_csv().replace("\n3,", "\n4,"));
    let f = write(&fx.path("f-small.txt"), "1\n2\n");
    run(s(&small), &f, &[], &["data.csv", "changed"]);

    // Oracle matching with oracles from other data; DM-Direct with a β of the wrong shape.
    let mut args = vec![
        "forget",
        "--method",
        "om",
        "--originals",
        &originals,
        "--forget-set",
        &forget,
        "--oracles",
        s(&small),
        "--out",
        s(&out),
    ];
    fails(fx.root(), &args, &[]);
    assert!(!out.exists());
    let beta = fx.path("attribution");
    std::fs::create_dir_all(&beta).unwrap();
    unlearn_data::write_npy_f32(beta.join("beta.npy"), &[1438, 10, 10], &vec![0.0; 143_800])
        .unwrap();
    args[2] = "dm-direct";
    args[7] = "--attribution";
    args[8] = s(&beta);
    // Without attribution.json (written last by `attribute`), β is not trusted.
    fails(fx.root(), &args, &["attribution.json missing"]);
    std::fs::write(beta.join("attribution.json"), "{}").unwrap();
    args[2] = "dm-direct";
    args[7] = "--attribution";
    args[8] = s(&beta);
    fails(fx.root(), &args, &["beta.npy", "shape"]);
    assert!(!out.exists());
}

#[test]
fn eval_rejects_zoos_that_do_not_fit_together() {
    let fx = Fixture::new();
    let out = fx.path("eval");
    let forget = s(&fx.forget).to_string();
    let run = |unlearned: &Path, oracles: &Path, forget: &str, needles: &[&str]| {
        fails(
            fx.root(),
            &[
                "eval",
                "--unlearned",
                s(unlearned),
                "--oracles",
                s(oracles),
                "--forget-set",
                forget,
                "--out",
                s(&out),
            ],
            needles,
        );
        assert!(!out.exists(), "no report for bad inputs");
    };

    // Logits with 9 classes against 10 (the manifests say 9 too, so the zoos load).
    for (zoo, name) in [
        (&fx.originals, "nine-unlearned"),
        (&fx.oracles, "nine-oracles"),
    ] {
        let nine = fx.copy_zoo(zoo, name);
        unlearn_data::write_npy_f32(
            nine.join("logits.npy"),
            &[3, 1797, 9],
            &vec![0.5; 3 * 1797 * 9],
        )
        .unwrap();
        edit_manifest(&nine, |m| m["dataset"]["classes"] = 9.into());
    }
    let (nine_u, nine_o) = (fx.path("nine-unlearned"), fx.path("nine-oracles"));
    run(&nine_u, &fx.oracles, &forget, &["10 classes", "× 9"]);
    run(&fx.originals, &nine_o, &forget, &["9 classes", "× 10"]);

    // Different numbers of models.
    let two = fx.path("two-oracles");
    ok(&[
        "train",
        "--models",
        "2",
        "--epochs",
        "1",
        "--forget-set",
        &forget,
        "--out",
        s(&two),
    ]);
    run(&fx.originals, &two, &forget, &["3 models", "2"]);

    // Oracles of another forget set, a zoo that is no oracle zoo, a damaged forget set.
    let other = write(&fx.path("other.txt"), "1\n2\n3\n");
    run(&fx.originals, &fx.oracles, &other, &["other.txt"]);
    run(
        &fx.originals,
        &fx.originals,
        &forget,
        &["not an oracle zoo"],
    );
    run(&fx.originals, &fx.oracles, "missing.txt", &["missing.txt"]);

    // Oracles made from other data (the first 500 points).
    let limited = fx.path("limited");
    let f = write(&fx.path("f-limited.txt"), "1\n2\n");
    ok(&[
        "train",
        "--models",
        "3",
        "--epochs",
        "1",
        "--limit",
        "500",
        "--forget-set",
        &f,
        "--out",
        s(&limited),
    ]);
    run(&fx.originals, &limited, &f, &["different data"]);

    // Truncated and missing logits.
    let cut = fx.copy_zoo(&fx.oracles, "cut-oracles");
    let bytes = std::fs::read(cut.join("logits.npy")).unwrap();
    std::fs::write(cut.join("logits.npy"), &bytes[..200]).unwrap();
    run(&fx.originals, &cut, &forget, &["--oracles", "logits.npy"]);
    std::fs::remove_file(cut.join("logits.npy")).unwrap();
    run(&fx.originals, &cut, &forget, &["logits.npy"]);

    // An Oracle Matching run scored against its own targets.
    let om = fx.path("om");
    ok(&[
        "forget",
        "--method",
        "om",
        "--set",
        "epochs=1",
        "--originals",
        s(&fx.originals),
        "--forget-set",
        &forget,
        "--oracles",
        s(&fx.oracles),
        "--out",
        s(&om),
    ]);
    run(
        &om,
        &fx.oracles,
        &forget,
        &["--oracles", "its targets", "--first-seed"],
    );

    // The inputs themselves are fine: the unedited pair evaluates.
    ok(&[
        "eval",
        "--unlearned",
        s(&fx.originals),
        "--oracles",
        s(&fx.oracles),
        "--forget-set",
        &forget,
        "--out",
        s(&out),
    ]);
}

#[test]
fn attribute_rejects_bad_zoos_masks_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let masks = d.join("masks.npy");
    ok(&["masks", "--models", "6", "--out", s(&masks)]);
    let zoo = d.join("subsets");
    ok(&[
        "train",
        "--subsets",
        s(&masks),
        "--models",
        "6",
        "--epochs",
        "1",
        "--out",
        s(&zoo),
    ]);
    let full = d.join("full");
    ok(&["train", "--models", "2", "--epochs", "1", "--out", s(&full)]);
    let out = d.join("attribution");
    let run = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["attribute", "--out", s(&out)];
        args.extend_from_slice(extra);
        fails(d, &args, needles);
        let written = std::fs::read_dir(&out).map(|e| e.count()).unwrap_or(0);
        assert_eq!(written, 0, "no attribution files for bad inputs");
    };
    run(&["--zoo", s(&full)], &["not a subset zoo"]);
    run(&["--zoo", s(&d.join("nowhere"))], &["nowhere"]);
    run(&[], &["--zoo"]);
    run(
        &["--zoo", s(&zoo), "--method", "datamodels-magic"],
        &["datamodels-magic", "datamodels-ridge"],
    );
    run(&["--zoo", s(&zoo), "--held-out", "1.5"], &["1.5"]);
    let oor = write(&d.join("oor.txt"), "1438\n");
    run(
        &["--zoo", s(&zoo), "--forget-set", &oor],
        &["oor.txt", "out of range"],
    );
    // The mask file changed after training, then vanished.
    let other = d.join("other.npy");
    ok(&["masks", "--models", "6", "--seed", "9", "--out", s(&other)]);
    std::fs::copy(&other, &masks).unwrap();
    run(&["--zoo", s(&zoo)], &["masks.npy", "changed"]);
    std::fs::remove_file(&masks).unwrap();
    run(&["--zoo", s(&zoo)], &["masks.npy"]);
}

#[test]
fn bench_rejects_bad_configs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("bench");
    let run = |extra: &[&str], needles: &[&str]| {
        let mut args = vec!["bench", "--out", s(&out)];
        args.extend_from_slice(extra);
        fails(d, &args, needles);
        assert!(!out.exists(), "nothing is trained for a bad config");
    };
    let config = |name: &str, text: &str| write(&d.join(name), text);
    run(
        &[
            "--config",
            &config("unknown.json", r#"{"dataset": "digits", "modles": 3}"#),
        ],
        &["unknown.json", "unknown field `modles`"],
    );
    let base = include_str!("../../assets/bench/digits.json");
    let mut typed: serde_json::Value = serde_json::from_str(base).unwrap();
    typed["models"] = "many".into();
    run(
        &["--config", &config("typed.json", &typed.to_string())],
        &["typed.json", "invalid type: string \"many\""],
    );
    run(
        &["--config", &config("broken.json", &base[..base.len() / 2])],
        &["broken.json", "not valid JSON"],
    );
    run(&["--config", "missing.json"], &["missing.json"]);
    // Typed errors carry the flag that fixes them.
    run(
        &["--set", "models=1"],
        &[
            "models must be ≥ 2",
            "(got 1)",
            "(--config, --set KEY=VALUE)",
        ],
    );
    run(&["--set", "models=some"], &["invalid type"]);
    run(&["--set", "forget_sets=[]"], &["forget set"]);
    run(
        &["--set", "batch=3"],
        &["unknown field `batch`", "(--config, --set KEY=VALUE)"],
    );
    run(&["--set", "nonsense"], &["nonsense", "key=value"]);
    let empty = config("empty.csv", "a,b,label\n");
    run(
        &["--set", &format!("dataset={empty}")],
        &["empty.csv", "empty"],
    );
    let nan = config("nan.csv", "a,b,label\n1,nan,0\n2,3,1\n");
    run(
        &["--set", &format!("dataset={nan}")],
        &["nan.csv", "finite"],
    );
}

/// A method the bench does not know is found only after every zoo and the datamodels are
/// trained (minutes to hours); it should be refused when the config is read.
#[test]
fn bench_refuses_unknown_methods_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench");
    for methods in [
        r#"methods=[{"method": "bogus"}]"#,
        r#"methods=[{"method": "gd", "params": {"epochs": "x"}}]"#,
    ] {
        fails(
            dir.path(),
            &["bench", "--quick", "--set", methods, "--out", s(&out)],
            &[],
        );
        assert!(!out.join("zoos").exists(), "trained before refusing");
    }
}

#[test]
fn verify_rejects_what_is_no_zoo() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fails(
        d,
        &["verify", s(&d.join("nowhere"))],
        &["nowhere", "no such directory"],
    );
    let file = write(&d.join("file.txt"), "x");
    fails(d, &["verify", &file], &["file.txt", "not a directory"]);
    let empty = d.join("empty");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    fails(d, &["verify", s(&empty)], &["no zoo or attribution found"]);
    let corrupt = d.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    write(&corrupt.join("manifest.json"), "{ nope");
    let o = fails(d, &["verify", s(&corrupt)], &["1 unreadable"]);
    assert!(
        stdout(&o).contains("manifest.json: unreadable"),
        "{}",
        stdout(&o)
    );
    // Clap's message for a missing argument names it on its second line: kept in the one line.
    fails(d, &["verify"], &["required", "<DIR>"]);
}

#[test]
fn linear_rejects_bad_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("linear");
    for (args, needles) in [
        (vec!["--n", "0"], vec!["n = 0"]),
        (vec!["--n", "1"], vec!["n = 1"]),
        (vec!["--dim", "0"], vec!["dim = 0"]),
        (vec!["--forget", "100"], vec!["--forget", "99"]),
        (vec!["--forget", "0"], vec!["--forget"]),
        (vec!["--lambda", "0"], vec!["--lambda"]),
        (vec!["--lambda", "NaN"], vec!["--lambda"]),
        (vec!["--noise", "NaN"], vec!["--noise"]),
        (vec!["--ascent-weight", "inf"], vec!["--ascent-weight"]),
    ] {
        let mut full = vec!["linear", "--out", s(&out)];
        full.extend(args);
        fails(dir.path(), &full, &needles);
        assert!(!out.exists());
    }
}
