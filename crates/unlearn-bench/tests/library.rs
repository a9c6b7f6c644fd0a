//! The bench library's own parts: grids, configuration checks, the report's CSV.

use serde_json::json;
use unlearn_bench::report::write_report;
use unlearn_bench::{
    Bench, BenchConfig, BenchError, BenchSettings, ForgetDraw, ForgetKind, MethodSpec,
    NamedForgetSet, ReportHeader, ReportRow,
};
use unlearn_data::ForgetSet;
use unlearn_methods::MethodRegistry;
use unlearn_models::ModelConfig;
use unlearn_models::{LogisticConfig, MlpConfig};
use unlearn_train::DataSource;

#[test]
fn a_grid_runs_every_combination_with_the_fixed_parameters() {
    let spec: MethodSpec = serde_json::from_value(json!({
        "method": "gd",
        "label": "GD",
        "params": { "batch_size": 32 },
        "grid": { "epochs": [1, 2, 3], "lr": [0.1, 0.01] }
    }))
    .unwrap();
    let points = spec.points();
    assert_eq!(points.len(), 6);
    for (label, params) in &points {
        assert_eq!(params["batch_size"], 32, "{label}");
        assert!(label.starts_with("GD "), "{label}");
    }
    let mut seen: Vec<(i64, f64)> = points
        .iter()
        .map(|(_, p)| (p["epochs"].as_i64().unwrap(), p["lr"].as_f64().unwrap()))
        .collect();
    seen.sort_by(|a, b| a.partial_cmp(b).unwrap());
    seen.dedup();
    assert_eq!(seen.len(), 6, "every combination once");
}

#[test]
fn the_bench_checks_methods_and_forget_sets_before_training() {
    let (data, info) = DataSource::named("digits").load().unwrap();
    let arch = ModelConfig::Mlp(MlpConfig { hidden: vec![8] });
    let registry = MethodRegistry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let mut bench = Bench::new(&arch, &registry, &data, info, burn::tensor::Device::flex());
    bench.out = dir.path().join("run");
    bench.forget_sets.push(NamedForgetSet::new(
        "f",
        ForgetSet::random(data.train.len(), 5, 0).unwrap(),
    ));
    let mut bad = MethodSpec::new("gd");
    bad.grid
        .insert("epochs".into(), vec![json!(2), json!("many")]);
    bench.methods = vec![MethodSpec::new("dmm"), bad];
    let err = bench.run(&()).unwrap_err();
    assert!(matches!(err, BenchError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("epochs"), "{err}");
    assert!(
        !bench.out.join("zoos").exists(),
        "nothing trained before the check"
    );

    bench.methods = vec![MethodSpec::new("forget-harder")];
    let err = bench.check().unwrap_err().to_string();
    assert!(
        err.contains("forget-harder") && err.contains("dmm"),
        "{err}"
    );

    bench.methods = vec![MethodSpec::new("gd")];
    bench.forget_sets = vec![NamedForgetSet::new(
        "far",
        ForgetSet {
            indices: vec![data.train.len()],
        },
    )];
    let err = bench.check().unwrap_err().to_string();
    assert!(err.contains("far") && err.contains("out of range"), "{err}");

    // A recipe of another architecture than the one given is refused.
    bench.forget_sets.clear();
    bench.forget_sets.push(NamedForgetSet::new(
        "f",
        ForgetSet::random(data.train.len(), 5, 0).unwrap(),
    ));
    bench.recipe.model = ModelConfig::Logistic(LogisticConfig {}).spec();
    let err = bench.check().unwrap_err().to_string();
    assert!(err.contains("logistic"), "{err}");
}

#[test]
fn the_report_csv_quotes_names_with_commas_and_quotes() {
    let dir = tempfile::tempdir().unwrap();
    let mut row = ReportRow::attribution("a, \"b\"", "datamodels-ridge", 0.5);
    row.label = "gd epochs=2, lr=\"0.1\"".into();
    row.forget_p95 = 1.25;
    let header = ReportHeader {
        dataset: "digits".into(),
        recipe: "mlp".into(),
        settings: BenchSettings {
            models: 2,
            subset_models: 4,
            attribution: "datamodels-ridge".into(),
            ..BenchSettings::default()
        },
        lds: 0.1,
        forget_sets: vec![("a, \"b\"".into(), "1 point".into())],
    };
    write_report(dir.path(), &[row.clone()], &header).unwrap();
    let mut reader = csv::Reader::from_path(dir.path().join("report.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "forget_set");
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(records.len(), 1);
    assert_eq!(&records[0][0], "a, \"b\"");
    assert_eq!(&records[0][2], "gd epochs=2, lr=\"0.1\"");
    assert_eq!(records[0][4].parse::<f64>().unwrap(), 1.25);
    assert_eq!(records[0].len(), headers.len());
}

#[test]
fn the_shipped_configs_load_and_their_forget_sets_draw() {
    let config = BenchConfig::load(None, &["models=7".to_string()]).unwrap();
    assert_eq!(config.settings.models, 7);
    let (data, _) = config.data.load().unwrap();
    let sets = config.draw_forget_sets(&data.train).unwrap();
    assert_eq!(sets.len(), config.forget_sets.len());
    let mut kinds = Vec::new();
    for (set, spec) in sets.iter().zip(&config.forget_sets) {
        match &set.draw {
            ForgetDraw::Fixed(points) => assert_eq!(points.len(), spec.size),
            // Drawn from the datamodels once they are fitted.
            ForgetDraw::Principal { size, .. } => assert_eq!(*size, spec.size),
        }
        kinds.push(spec.kind());
    }
    // The default bench holds every kind of forget set, structured ones included.
    for kind in [
        ForgetKind::Random,
        ForgetKind::Class,
        ForgetKind::Pca,
        ForgetKind::Neighbours,
    ] {
        assert!(
            kinds.contains(&kind),
            "{kind:?} missing from the default bench"
        );
    }
    // A field of another kind is refused when the config is read, before anything trains.
    let misplaced = BenchConfig::load(
        None,
        &[r#"forget_sets=[{"name": "x", "size": 3, "anchor": 4}]"#.to_string()],
    )
    .unwrap()
    .draw_forget_sets(&data.train)
    .unwrap_err()
    .to_string();
    assert!(
        misplaced.contains("anchor") && misplaced.contains("Neighbours"),
        "{misplaced}"
    );
    let err = BenchConfig::load(None, &["models".to_string()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("key=value"), "{err}");
}

#[test]
fn every_shipped_config_parses_and_its_neighbourhood_term_checks() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/bench");
    let registry = MethodRegistry::<ModelConfig>::builtin();
    let mut with_term = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let config = BenchConfig::load(Some(&path), &[])
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Every grid point's parameters must be ones the method takes (a misspelt or
        // mistyped key is refused by the registry, not ignored).
        for spec in &config.methods {
            if let Err(e) = spec.check(&registry) {
                panic!("{}: {e}", path.display());
            }
        }
        if let Some(term) = &config.settings.neighbourhood_term {
            term.check(2400).unwrap();
            // It needs neighbours strictly fewer than the training points.
            assert!(term.check(term.neighbours).is_err());
            with_term += 1;
        }
    }
    assert!(with_term >= 1, "the Fashion-MNIST MLP config uses the term");
}

/// The config embeds the data source and the settings (flattened into its top level): every
/// shipped config reads back from its own serialisation, every key it writes is one it
/// accepts, and an unknown key is refused by name, as `deny_unknown_fields` would.
#[test]
fn bench_config_keys_are_its_parts_keys_and_unknown_ones_are_refused() {
    let keys = BenchConfig::keys();
    for key in [
        "dataset",
        "limit",
        "recipe",
        "models",
        "attribution_params",
        "methods",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let assets = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/bench");
    for entry in std::fs::read_dir(assets).unwrap() {
        let path = entry.unwrap().path();
        let config = BenchConfig::load(Some(&path), &[]).unwrap();
        let written = serde_json::to_value(&config).unwrap();
        for key in written.as_object().unwrap().keys() {
            assert!(keys.contains(&key.as_str()), "{}: {key}", path.display());
        }
        let copy = dir.path().join("copy.json");
        std::fs::write(&copy, written.to_string()).unwrap();
        let back = BenchConfig::load(Some(&copy), &[]).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), written);
        assert_eq!(back.data, config.data);
        assert_eq!(back.settings, config.settings);
    }
    let err = BenchConfig::load(None, &["modles=3".to_string()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `modles`"), "{err}");
    assert!(err.contains("subset_models"), "{err}");
}

/// The sequence bench at tiny sizes: three requests drawn disjoint, the chain's zoos record
/// their lineage (each step's union, the requests before), DM-Direct chained equals DM-Direct
/// given the union at once (it predicts the trained originals either way), the chain's cost
/// adds up, and the report holds a row per step.
#[test]
fn a_sequence_of_requests_is_chained_and_scored_after_each() {
    use unlearn_bench::SequenceSpec;
    let (data, info) = DataSource {
        limit: 300,
        ..DataSource::named("digits")
    }
    .load()
    .unwrap();
    let arch = ModelConfig::Mlp(MlpConfig { hidden: vec![8] });
    let registry = MethodRegistry::builtin();
    let dir = tempfile::tempdir().unwrap();
    let mut bench = Bench::new(&arch, &registry, &data, info, burn::tensor::Device::flex());
    bench.out = dir.path().join("run");
    bench.recipe.epochs = 2;
    bench.settings.models = 3;
    bench.settings.subset_models = 20;
    bench.settings.attribution = "datamodels-ridge".into();
    let spec = SequenceSpec {
        name: "r".into(),
        steps: 3,
        size: 4,
        classes: None,
        seed: 1,
        methods: vec!["dm-direct".into(), "gd".into()],
    };
    let requests = spec.draw(&data.train).unwrap();
    let mut all: Vec<usize> = requests.iter().flat_map(|r| r.indices.clone()).collect();
    assert_eq!(all.len(), 12);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 12, "requests are disjoint");

    let rows = bench.run_sequences(&[spec], &()).unwrap();
    // Per step: the floor, then per method the chain and the one request.
    assert_eq!(rows.len(), 3 * (1 + 2 * 2));
    for step in 1..=3 {
        let of = |method: &str, how: &str| {
            rows.iter()
                .find(|r| r.step == step && r.method == method && r.how == how)
                .unwrap()
        };
        assert_eq!(of("retrain", "floor").forgotten, 4 * step);
        let (chained, once) = (of("dm-direct", "chained"), of("dm-direct", "one request"));
        assert_eq!(
            (chained.forget_p95, chained.retain_p95),
            (once.forget_p95, once.retain_p95)
        );
        assert_eq!(chained.cost, 0.0);
        // GD's chain pays every step; one request pays once.
        let (gd_chain, gd_once) = (of("gd", "chained"), of("gd", "one request"));
        assert!(gd_chain.cost > gd_once.cost * (step as f64 - 0.5), "{step}");
    }
    // The last chained zoo of GD records two earlier steps and the whole union.
    let seq_dir = bench.out.join("sequences").join("r");
    let last = std::fs::read_dir(&seq_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("gd-chained-3-")
        })
        .unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(last.join("manifest.json")).unwrap())
            .unwrap();
    let chain = &manifest["unlearning"]["inputs"]["chain"];
    assert_eq!(chain["steps"].as_array().unwrap().len(), 2);
    assert_eq!(chain["forgotten"].as_array().unwrap().len(), 12);
    let files = unlearn_bench::sequence::write_sequence_report(&bench.out, &rows).unwrap();
    let md = std::fs::read_to_string(bench.out.join("sequence.md")).unwrap();
    assert_eq!(md.matches("| dm-direct |").count(), 3, "{md}");
    assert!(files.contains(&"sequence-r-dm-direct.png".to_string()));
    assert!(files.contains(&"sequence-r-gd.png".to_string()));
}
