//! Runs the worked example (examples/own_model.rs) at tiny sizes: a user architecture and a user
//! method through training, datamodels, TRAK, the methods, KLoM and the library bench.

#[path = "../examples/own_model.rs"]
#[allow(dead_code)]
mod own_model;

use burn::tensor::{Device, TensorData};
use own_model::{ResMlpConfig, Sizes};
use unlearn_models::{Single, StackModel};
use unlearn_train::{DataSource, Zoo};

fn softmax_true_class(logits: &[f32], labels: &[u32], points: &[usize], classes: usize) -> f64 {
    let mut total = 0.0;
    for &p in points {
        let row = &logits[p * classes..(p + 1) * classes];
        let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|v| (v - max).exp()).sum();
        total += ((row[labels[p] as usize] - max).exp() / sum) as f64;
    }
    total / points.len() as f64
}

#[test]
fn a_user_architecture_and_method_go_through_the_whole_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let (rows, bench) = own_model::run(Sizes::TINY, dir.path()).unwrap();
    println!("{}", own_model::table(&rows));

    let names: Vec<&str> = rows.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(
        names,
        [
            "do nothing",
            "DMM (datamodels)",
            "DMM (TRAK)",
            "GD",
            "smooth-forget (own)",
            "retrain (floor)"
        ]
    );
    for r in &rows {
        let s = &r.summary;
        for v in [s.forget.p95, s.retain.p95, s.validation.p95] {
            assert!(v.is_finite() && v >= 0.0, "{}: {v}", r.method);
        }
    }
    assert_eq!(rows[0].cost, 0.0, "doing nothing costs nothing");
    assert!(
        rows[1].cost > 0.0 && rows[1].cost < 1.0,
        "DMM's cost {}",
        rows[1].cost
    );

    // Manifests record the user architecture and the user method with its parameters.
    let originals = Zoo::load(&dir.path().join("originals")).unwrap();
    assert_eq!(originals.manifest.recipe.model.kind(), "res-mlp");
    assert_eq!(originals.manifest.recipe.model.as_json()["width"], 32);
    let own = Zoo::load(&dir.path().join("unlearned-4-smooth-forget")).unwrap();
    let unlearning = own.manifest.unlearning.clone().unwrap();
    assert_eq!(unlearning["method"], "smooth-forget");
    assert_eq!(
        unlearning["params"]["smoothing"].as_f64(),
        Some(0.9f32 as f64)
    );

    // Label smoothing on F lowers the models' confidence in F's labels.
    let forget: Vec<usize> = std::fs::read_to_string(dir.path().join("forget.txt"))
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(forget.len(), Sizes::TINY.forget);
    let classes = originals.classes;
    for m in 0..originals.models {
        let before = softmax_true_class(
            originals.model_logits(m),
            &originals.labels,
            &forget,
            classes,
        );
        let after = softmax_true_class(own.model_logits(m), &own.labels, &forget, classes);
        assert!(
            after < before,
            "model {m}: confidence on F {before:.3} → {after:.3}"
        );
    }

    // An unlearned checkpoint of the user architecture reloads and reproduces its stored logits.
    let arch = Single(ResMlpConfig { width: 32 });
    let device = Device::flex();
    let (data, _) = DataSource {
        limit: Sizes::TINY.points,
        ..DataSource::named("digits")
    }
    .load()
    .unwrap();
    let model = own.load_model(&arch, 0, &device).unwrap();
    let x = data.all_features();
    let n = x.len() / data.train.dim;
    let input =
        burn::tensor::Tensor::<2>::from_data(TensorData::new(x, [n, data.train.dim]), &device);
    let logits: Vec<f32> = model
        .forward_shared(input, 1)
        .into_data()
        .try_into_vec()
        .unwrap();
    let stored = own.model_logits(0);
    let diff = logits
        .iter()
        .zip(stored)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "reloaded logits differ by {diff}");

    // The library bench ran the user method beside the built-ins, on the user architecture.
    let labels: Vec<&str> = bench.iter().map(|r| r.label.as_str()).collect();
    for expected in [
        "retrain (floor)",
        "do-nothing",
        "dm-direct",
        "dmm",
        "gd",
        "smooth-forget",
    ] {
        assert!(
            labels.contains(&expected),
            "{expected} missing from {labels:?}"
        );
    }
    // Its DM-Direct and DMM ran on the datamodels of the user's own estimator, registered beside
    // the built-ins, with the bench's override of its parameter.
    let records: Vec<serde_json::Value> = std::fs::read_dir(dir.path().join("bench"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("attribution-"))
        .map(|e| {
            let text = std::fs::read_to_string(e.path().join("attribution.json")).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["estimator"], "shrunk-means");
    let direct = bench.iter().find(|r| r.label == "dm-direct").unwrap();
    assert!(direct.forget_p95.is_finite(), "{direct:?}");
    assert!(dir.path().join("bench/report.md").is_file());
    assert!(dir.path().join("bench/report.csv").is_file());
}
