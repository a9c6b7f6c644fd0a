//! Structured forget sets from the CLI (docs/algorithms.md §11): the nearest neighbours of an
//! example, checked against distances computed here on the same split, and the ends of a
//! principal component of the datamodel matrix, checked for their shape and order.

mod common;

use common::{assert_one_line_error, ok, s, unlearn};
use std::path::{Path, PathBuf};

/// 30 subset models (masks drawn with the extra `masks` flags, 3 epochs each) under `d` and
/// their difference-of-means datamodels: (subset zoo, attribution directory).
fn mean_datamodels(d: &Path, masks: &[&str]) -> (PathBuf, PathBuf) {
    let (file, subsets, attribution) = (d.join("masks.npy"), d.join("subsets"), d.join("attr"));
    ok(&[&["masks", "--models", "30"], masks, &["--out", s(&file)]].concat());
    ok(&[
        "train",
        "--subsets",
        s(&file),
        "--models",
        "30",
        "--epochs",
        "3",
        "--out",
        s(&subsets),
    ]);
    ok(&[
        "attribute",
        "--method",
        "datamodels-mean",
        "--zoo",
        s(&subsets),
        "--out",
        s(&attribution),
    ]);
    (subsets, attribution)
}

fn indices(path: &Path) -> Vec<usize> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

#[test]
fn neighbours_are_the_nearest_points_of_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("near.txt");
    ok(&[
        "forget-set",
        "--kind",
        "neighbours",
        "--anchor",
        "17",
        "--size",
        "6",
        "--out",
        s(&out),
    ]);
    let got = indices(&out);
    // The same split and standardisation as the CLI's defaults, distances computed here.
    let prepared = unlearn_data::prepare(&unlearn_data::digits(), 0.2, 0).unwrap();
    let train = &prepared.train;
    let anchor = train.row(17).to_vec();
    let mut by_distance: Vec<(f64, usize)> = (0..train.len())
        .map(|i| {
            let d: f64 = train
                .row(i)
                .iter()
                .zip(&anchor)
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            (d, i)
        })
        .collect();
    by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut want: Vec<usize> = by_distance[..6].iter().map(|&(_, i)| i).collect();
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(got.contains(&17), "the anchor is part of its neighbourhood");

    let o = unlearn(&[
        "forget-set",
        "--kind",
        "neighbours",
        "--anchor",
        "99999",
        "--out",
        s(&out),
    ]);
    assert_one_line_error(&o, &["anchor 99999", "out of range"]);
    let o = unlearn(&["forget-set", "--kind", "pca", "--out", s(&out)]);
    assert_one_line_error(&o, &["--attribution"]);
}

#[test]
fn principal_component_sets_come_from_the_datamodels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, attribution) = mean_datamodels(d, &[]);
    let (top, both, second) = (d.join("top.txt"), d.join("both.txt"), d.join("second.txt"));
    for (component, ends, out) in [
        ("1", "top", &top),
        ("1", "both", &both),
        ("2", "top", &second),
    ] {
        ok(&[
            "forget-set",
            "--kind",
            "pca",
            "--attribution",
            s(&attribution),
            "--component",
            component,
            "--ends",
            ends,
            "--size",
            "10",
            "--out",
            s(out),
        ]);
        assert_eq!(indices(out).len(), 10);
    }
    let (top, both, second) = (indices(&top), indices(&both), indices(&second));
    // `both` keeps the top half of `top` (the 5 highest of the same component): ranked sets nest.
    let shared = both.iter().filter(|i| top.contains(i)).count();
    assert!(shared >= 5, "top and both share {shared} points");
    assert_ne!(top, second, "the second component ranks other points first");
    // Re-running gives the same set (deterministic power iteration).
    let again = d.join("again.txt");
    ok(&[
        "forget-set",
        "--kind",
        "pca",
        "--attribution",
        s(&attribution),
        "--size",
        "10",
        "--out",
        s(&again),
    ]);
    assert_eq!(indices(&again), top);
}

/// `attribute neighbourhood` fits the term on grouped subsets and `forget --neighbourhood` adds
/// it: DM-Direct's outputs move by the same amount in every model (the term is a shift per
/// point and class), and the forget set's do move.
#[test]
fn a_neighbourhood_term_shifts_dm_direct_on_a_neighbourhood_set() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (subsets, attribution) =
        mean_datamodels(d, &["--group-size", "10", "--neighbourhoods", "0.6"]);
    let term = d.join("term");
    let fit = [
        "attribute",
        "neighbourhood",
        "--attribution",
        s(&attribution),
        "--zoo",
        s(&subsets),
        "--neighbours",
        "10",
        "--out",
        s(&term),
    ];
    ok(&fit);
    assert!(term.join("coefficients.npy").is_file());
    let (originals, forget) = (d.join("originals"), d.join("near.txt"));
    ok(&[
        "train",
        "--models",
        "3",
        "--epochs",
        "3",
        "--out",
        s(&originals),
    ]);
    ok(&[
        "forget-set",
        "--kind",
        "neighbours",
        "--size",
        "10",
        "--out",
        s(&forget),
    ]);
    let dm_direct = |out: &Path, with_term: bool| {
        let mut args = vec![
            "forget",
            "--method",
            "dm-direct",
            "--originals",
            s(&originals),
            "--forget-set",
            s(&forget),
            "--attribution",
            s(&attribution),
            "--out",
            s(out),
        ];
        if with_term {
            args.extend(["--neighbourhood", s(&term)]);
        }
        ok(&args);
        unlearn_data::read_npy_f32(out.join("logits.npy")).unwrap()
    };
    let (shape, plain) = dm_direct(&d.join("plain"), false);
    let (_, shifted) = dm_direct(&d.join("shifted"), true);
    let per_model = shape[1] * shape[2];
    let shift: Vec<f32> = shifted.iter().zip(&plain).map(|(a, b)| a - b).collect();
    for model in shift.chunks(per_model).skip(1) {
        let worst = model
            .iter()
            .zip(&shift[..per_model])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "the shift differs between models by {worst}");
    }
    let classes = shape[2];
    let on_forget: f32 = indices(&forget)
        .iter()
        .flat_map(|&p| &shift[p * classes..(p + 1) * classes])
        .map(|v| v.abs())
        .sum();
    assert!(on_forget > 0.0, "the term moves the forget set");

    // Refitting with the same inputs reuses the result; bad inputs fail on one line.
    ok(&fit);
    let o = unlearn(&[
        "attribute",
        "neighbourhood",
        "--attribution",
        s(&attribution),
        "--zoo",
        s(&subsets),
        "--neighbours",
        "0",
        "--out",
        s(&d.join("t0")),
    ]);
    assert_one_line_error(&o, &["0 neighbours"]);
    let o = unlearn(&[
        "attribute",
        "neighbourhood",
        "--attribution",
        s(&subsets),
        "--zoo",
        s(&subsets),
        "--out",
        s(&d.join("t1")),
    ]);
    assert_one_line_error(&o, &["--attribution"]);
}
