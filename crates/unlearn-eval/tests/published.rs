//! Published margins: a synthetic tree in the public benchmark's layout
//! (`scripts/torch_reference/make_margin_tree.py`), scored against numpy's numbers for the
//! spec's KLoM and for the benchmark's own variant.

use std::path::Path;
use unlearn_eval::{Direction, KlomVariant, MarginSource, MarginTree, SplitName, score_published};

fn tree() -> MarginTree {
    MarginTree::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/margin-tree"))
}

fn expected() -> serde_json::Value {
    let path = tree().root.join("expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn split_name(split: SplitName) -> &'static str {
    match split {
        SplitName::Forget => "forget",
        SplitName::Retain => "retain",
        SplitName::Val => "val",
    }
}

#[test]
fn klom_of_a_published_tree_matches_numpy_under_both_rules() {
    let (tree, want) = (tree(), expected());
    let pretrain = (MarginSource::Pretrain, 0..8);
    let floor = (MarginSource::PerForgetSet("oracle".into()), 8..16);
    for (rule, variant) in [
        ("spec", KlomVariant::Spec),
        ("benchmark", KlomVariant::Benchmark),
    ] {
        for (name, (source, models)) in [("pretrain", &pretrain), ("floor", &floor)] {
            let score = score_published(
                &tree,
                (&tree, source, models.clone()),
                0..8,
                3,
                Direction::UnlearnedOracle,
                variant,
            )
            .unwrap();
            // 5 forgotten of 30 training points, 12 test points.
            assert_eq!(score.points, [5, 25, 12]);
            for (split, summary) in &score.splits {
                let w = &want[format!("{rule}/{name}/{}", split_name(*split))];
                for (what, got) in [
                    ("p95", summary.p95),
                    ("p99", summary.p99),
                    ("mean", summary.mean),
                ] {
                    let expected = w[what].as_f64().unwrap();
                    assert!(
                        (got - expected).abs() < 1e-5 * expected.abs().max(1.0),
                        "{rule} {name} {split:?} {what}: {got} vs numpy {expected}"
                    );
                }
            }
        }
    }
    // The two rules differ on this tree (the top edge always holds a value).
    let spec = &want["spec/pretrain/retain"]["p95"];
    let benchmark = &want["benchmark/pretrain/retain"]["p95"];
    assert_ne!(spec, benchmark);
}

#[test]
fn missing_files_name_the_file_and_the_fix() {
    let tree = tree();
    let err = score_published(
        &tree,
        (&tree, &MarginSource::Pretrain, 0..9),
        0..8,
        3,
        Direction::UnlearnedOracle,
        KlomVariant::Spec,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("id_8_epoch_23.npy") && err.contains("--models"),
        "{err}"
    );
    let err = tree.forget_set(4).unwrap_err().to_string();
    assert!(err.contains("forget_set_4.npy"), "{err}");
}
