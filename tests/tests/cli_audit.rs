//! A deletion request on one model, audited without oracles: `attribute --method trak` on the
//! model's own checkpoint, `forget --method dmm`, `audit`. The audit's numbers are checked
//! against the zoos' logits read back independently.

mod common;

use common::{assert_one_line_error, ok, s, unlearn};

/// Mean margin (correct logit minus the log-sum-exp of the others) of `points` in a
/// `1 × P × C` buffer.
fn mean_margin(logits: &[f32], classes: usize, labels: &[i64], points: &[usize]) -> f64 {
    let total: f64 = points
        .iter()
        .map(|&j| {
            let row = &logits[j * classes..(j + 1) * classes];
            let y = labels[j] as usize;
            let others: f64 = (0..classes)
                .filter(|&c| c != y)
                .map(|c| f64::from(row[c]).exp())
                .sum();
            f64::from(row[y]) - others.ln()
        })
        .sum();
    total / points.len() as f64
}

#[test]
fn a_deletion_request_on_one_model_is_audited_without_oracles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (one, forget, trak, dmm, out) = (
        d.join("one"),
        d.join("forget.txt"),
        d.join("trak"),
        d.join("dmm"),
        d.join("audit"),
    );
    ok(&["train", "--models", "1", "--out", s(&one)]);
    ok(&[
        "forget-set",
        "--size",
        "10",
        "--seed",
        "3",
        "--out",
        s(&forget),
    ]);
    ok(&[
        "attribute",
        "--method",
        "trak",
        "--zoo",
        s(&one),
        "--trak-models",
        "1",
        "--forget-set",
        s(&forget),
        "--out",
        s(&trak),
    ]);
    // TRAK from one checkpoint is uncalibrated: the scale is the user's (docs/cli.md, "A deletion request on one deployed model").
    ok(&[
        "forget",
        "--method",
        "dmm",
        "--originals",
        s(&one),
        "--forget-set",
        s(&forget),
        "--attribution",
        s(&trak),
        "--set",
        "scale=1000",
        "--out",
        s(&dmm),
    ]);
    ok(&[
        "audit",
        "--unlearned",
        s(&dmm),
        "--originals",
        s(&one),
        "--forget-set",
        s(&forget),
        "--attribution",
        s(&trak),
        "--out",
        s(&out),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("audit.json")).unwrap()).unwrap();
    let a = &report["audit"];
    assert_eq!(report["scale"], 1000.0, "the run's own scale is used");
    assert!(report["cost"].as_f64().unwrap() > 0.0);

    let (_, before) = unlearn_data::read_npy_f32(one.join("logits.npy")).unwrap();
    let (_, after) = unlearn_data::read_npy_f32(dmm.join("logits.npy")).unwrap();
    let labels = unlearn_data::read_npy_i64(one.join("labels.npy"))
        .unwrap()
        .1;
    let f: Vec<usize> = std::fs::read_to_string(&forget)
        .unwrap()
        .split_whitespace()
        .map(|l| l.parse().unwrap())
        .collect();
    let margins = &a["forget_margin"];
    assert!((margins[0].as_f64().unwrap() - mean_margin(&before, 10, &labels, &f)).abs() < 1e-4);
    assert!((margins[2].as_f64().unwrap() - mean_margin(&after, 10, &labels, &f)).abs() < 1e-4);
    // DMM moved the forget outputs toward the prediction: closer than where they started.
    let (error, asked) = (
        a["forget_rms_error"].as_f64().unwrap(),
        a["forget_rms_asked"].as_f64().unwrap(),
    );
    assert!(
        asked > 0.0 && error < 0.5 * asked,
        "achieved {error} RMS from the prediction, asked {asked}"
    );

    // Doing nothing achieves nothing: after = before, and the whole asked change is left.
    let nothing = d.join("nothing");
    ok(&[
        "forget",
        "--method",
        "do-nothing",
        "--originals",
        s(&one),
        "--forget-set",
        s(&forget),
        "--out",
        s(&nothing),
    ]);
    ok(&[
        "audit",
        "--unlearned",
        s(&nothing),
        "--originals",
        s(&one),
        "--forget-set",
        s(&forget),
        "--attribution",
        s(&trak),
        "--scale",
        "100",
        "--out",
        s(&out),
    ]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("audit.json")).unwrap()).unwrap();
    let a = &report["audit"];
    assert_eq!(a["before"], a["after"]);
    assert_eq!(a["forget_rms_error"], a["forget_rms_asked"]);

    // An unlearned zoo audited against other originals is refused in one line.
    let two = d.join("two");
    ok(&[
        "train",
        "--models",
        "2",
        "--first-seed",
        "50",
        "--out",
        s(&two),
    ]);
    let o = unlearn(&[
        "audit",
        "--unlearned",
        s(&dmm),
        "--originals",
        s(&two),
        "--forget-set",
        s(&forget),
        "--out",
        s(&out),
    ]);
    assert_one_line_error(&o, &["1 models", "2", "--originals"]);
}
