//! Deletion requests one after another: three requests on digits (300 points), each on the zoo
//! the last one made. The retain set shrinks by every request, DM-Direct predicts the trained
//! originals without every point forgotten so far, a repeated point and oracles of too few
//! points are refused, `history` shows the lineage and `verify` catches a damaged middle zoo.

mod common;

use common::{assert_one_line_error, ok, s, stdout, unlearn};
use std::path::Path;

fn read_f32(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let file = std::fs::File::open(path).unwrap();
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file)).unwrap();
    (npy.shape().to_vec(), npy.into_vec::<f32>().unwrap())
}

fn manifest(zoo: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(zoo.join("manifest.json")).unwrap()).unwrap()
}

fn write_set(path: &Path, indices: &[usize]) {
    let text: Vec<String> = indices.iter().map(|i| i.to_string()).collect();
    std::fs::write(path, text.join("\n")).unwrap();
}

#[test]
fn three_requests_chain_with_lineage_union_and_checks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = ["--limit", "300"];
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&data);
        ok(&all)
    };
    let orig = d.join("originals");
    run(&["train", "--models", "2", "--epochs", "2", "--out", s(&orig)]);
    let n_train = manifest(&orig)["dataset"]["n_train"].as_u64().unwrap() as usize;
    // Datamodels of the originals (the chain's attribution stays theirs).
    let (masks, subsets, attribution) = (d.join("masks.npy"), d.join("subsets"), d.join("dm"));
    run(&["masks", "--models", "24", "--out", s(&masks)]);
    let subsets_args = [
        "train",
        "--subsets",
        s(&masks),
        "--models",
        "24",
        "--epochs",
        "2",
        "--out",
        s(&subsets),
    ];
    run(&subsets_args);
    ok(&[
        "attribute",
        "--method",
        "datamodels-ridge",
        "--zoo",
        s(&subsets),
        "--out",
        s(&attribution),
    ]);

    let (f1, f2, f3) = (d.join("f1.txt"), d.join("f2.txt"), d.join("f3.txt"));
    write_set(&f1, &[3, 10, 20, 40, 80]);
    write_set(&f2, &[5, 11, 21, 41, 81]);
    write_set(&f3, &[7, 12, 22, 42, 82]);
    let forget = |method: &str, originals: &Path, set: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "forget",
            "--method",
            method,
            "--originals",
            s(originals),
            "--forget-set",
            s(set),
            "--out",
            s(out),
        ];
        args.extend_from_slice(extra);
        unlearn(&args)
    };
    let (s1, s2, s3) = (d.join("s1"), d.join("s2"), d.join("s3"));
    assert!(forget("gd", &orig, &f1, &s1, &[]).status.success());
    let dm = ["--attribution", s(&attribution)];
    assert!(forget("dm-direct", &s1, &f2, &s2, &dm).status.success());

    // Step 2 predicts the trained originals without F1 ∪ F2: z − Σ_{F1∪F2} β, exactly.
    let (_, z) = read_f32(&orig.join("logits.npy"));
    let (shape, beta) = read_f32(&attribution.join("beta.npy"));
    let (p, c) = (shape[1] as usize, shape[2] as usize);
    let union12 = [3, 5, 10, 11, 20, 21, 40, 41, 80, 81];
    let (_, got) = read_f32(&s2.join("logits.npy"));
    for m in 0..2 {
        for t in 0..p * c {
            let sum: f32 = union12.iter().map(|&i| beta[i * p * c + t]).sum();
            let want = z[m * p * c + t] - sum;
            assert!(
                (got[m * p * c + t] - want).abs() < 1e-4,
                "model {m} output {t}"
            );
        }
    }
    let chain = &manifest(&s2)["unlearning"]["inputs"]["chain"];
    assert_eq!(chain["forgotten"], serde_json::json!(union12));
    assert_eq!(chain["request_size"], 5);
    // The same β stored sparse (each target's non-zeros) gives the same step.
    let sparse = d.join("dm-sparse");
    ok(&[
        "attribute",
        "--method",
        "datamodels-ridge",
        "--beta-format",
        "sparse",
        "--zoo",
        s(&subsets),
        "--out",
        s(&sparse),
    ]);
    assert!(!sparse.join("beta.npy").exists() && sparse.join("beta_values.npy").is_file());
    let s2_sparse = d.join("s2-sparse");
    let dm_sparse = ["--attribution", s(&sparse)];
    assert!(
        forget("dm-direct", &s1, &f2, &s2_sparse, &dm_sparse)
            .status
            .success()
    );
    let (_, from_sparse) = read_f32(&s2_sparse.join("logits.npy"));
    for (a, b) in from_sparse.iter().zip(&got) {
        assert!((a - b).abs() < 1e-5, "sparse β gave {a}, dense {b}");
    }

    // A point forgotten by request 1 again is refused, naming it and the request.
    let again = d.join("again.txt");
    write_set(&again, &[6, 40]);
    let o = forget("gd", &s2, &again, &d.join("no"), &[]);
    assert_one_line_error(&o, &["training point 40", "request 1"]);

    // OM after two requests needs oracles of all 15 points: oracles of F3 alone are refused.
    let (narrow, wide) = (d.join("narrow"), d.join("wide"));
    let union = d.join("union.txt");
    run(&[
        "train",
        "--models",
        "2",
        "--epochs",
        "2",
        "--forget-set",
        s(&f3),
        "--out",
        s(&narrow),
    ]);
    let o = forget("om", &s2, &f3, &s3, &["--oracles", s(&narrow)]);
    assert_one_line_error(&o, &["exclude 5 points", "all 15 points forgotten so far"]);
    let mut all: Vec<usize> = union12.to_vec();
    all.extend([7, 12, 22, 42, 82]);
    all.sort();
    write_set(&union, &all);
    run(&[
        "train",
        "--models",
        "2",
        "--epochs",
        "2",
        "--first-seed",
        "100",
        "--forget-set",
        s(&union),
        "--out",
        s(&wide),
    ]);
    let o = forget(
        "om",
        &s2,
        &f3,
        &s3,
        &["--oracles", s(&wide), "--set", "epochs=2"],
    );
    assert!(o.status.success(), "{}", common::stderr(&o));

    // The retain set of step 3 is S minus all 15 points (OM's retain sample is drawn from it),
    // and step 1's gradient descent passed over S minus F1: 2 epochs × (n − 5) examples.
    let u1 = &manifest(&s1)["unlearning"];
    assert_eq!(
        u1["examples_per_model"].as_u64(),
        Some(2 * (n_train as u64 - 5))
    );
    assert_eq!(
        manifest(&s3)["unlearning"]["retrain_examples"]
            .as_u64()
            .unwrap(),
        manifest(&orig)["recipe"]["epochs"].as_u64().unwrap() * (n_train as u64 - 15)
    );

    // history: three steps back to the originals, as a table and as JSON, and the union file.
    let forgotten = d.join("forgotten.txt");
    let table = stdout(&ok(&[
        "history",
        s(&s3),
        "--write-forgotten",
        s(&forgotten),
    ]));
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.contains(" gd ") || l.contains(" dm-direct ") || l.contains(" om "))
        .collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows[0].contains("gd") && rows[0].contains(" 5 "), "{table}");
    assert!(
        rows[1].contains("dm-direct") && rows[1].contains(" 10 "),
        "{table}"
    );
    assert!(
        rows[2].contains("om") && rows[2].contains(" 15 "),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&ok(&["history", s(&s3), "--json"]))).unwrap();
    assert_eq!(json["steps"].as_array().unwrap().len(), 3);
    assert_eq!(json["forgotten"], serde_json::json!(all));
    let written: Vec<usize> = std::fs::read_to_string(&forgotten)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(written, all);

    // verify follows the chain: damage to the middle zoo shows when checking the last one.
    ok(&["verify", s(&s3)]);
    let middle = s2.join("logits").join("00001.npy");
    let mut bytes = std::fs::read(&middle).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&middle, bytes).unwrap();
    let o = unlearn(&["verify", s(&s3)]);
    assert!(!o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("earlier in the chain") && out.contains("00001.npy"),
        "{out}"
    );
}

/// Before a request, DM-Direct and DMM warn when its points hold each other up: the measured
/// cases where the datamodels under-predict (an end of the first principal component of the
/// datamodel matrix, nearest neighbours) are flagged; random points and a class are not.
#[test]
fn coupled_requests_are_flagged_before_a_datamodel_method() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (orig, masks, subsets, dm) = (
        d.join("orig"),
        d.join("masks.npy"),
        d.join("subsets"),
        d.join("dm"),
    );
    ok(&["train", "--models", "2", "--epochs", "5", "--out", s(&orig)]);
    ok(&[
        "masks",
        "--models",
        "150",
        "--seed",
        "1",
        "--out",
        s(&masks),
    ]);
    let subsets_args = [
        "train",
        "--models",
        "150",
        "--subsets",
        s(&masks),
        "--epochs",
        "5",
        "--first-seed",
        "1000",
        "--out",
        s(&subsets),
    ];
    ok(&subsets_args);
    ok(&[
        "attribute",
        "--method",
        "datamodels-ridge",
        "--zoo",
        s(&subsets),
        "--out",
        s(&dm),
    ]);
    for (name, args, flagged) in [
        ("random-10", vec!["--size", "10", "--seed", "0"], false),
        (
            "class-20",
            vec!["--size", "20", "--kind", "class", "--classes", "3"],
            false,
        ),
        (
            "pca1-20",
            vec![
                "--size",
                "20",
                "--kind",
                "pca",
                "--component",
                "1",
                "--attribution",
                s(&dm),
            ],
            true,
        ),
        (
            "neighbours-20",
            vec!["--size", "20", "--kind", "neighbours", "--seed", "0"],
            true,
        ),
    ] {
        let set = d.join(format!("{name}.txt"));
        let mut make = vec!["forget-set", "--out", s(&set)];
        make.extend(args);
        ok(&make);
        let out = d.join(format!("out-{name}"));
        let o = ok(&[
            "forget",
            "--method",
            "dm-direct",
            "--originals",
            s(&orig),
            "--forget-set",
            s(&set),
            "--attribution",
            s(&dm),
            "--out",
            s(&out),
        ]);
        let err = common::stderr(&o);
        assert_eq!(err.contains("hold each other up"), flagged, "{name}: {err}");
    }
}
