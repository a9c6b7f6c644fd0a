//! Splits, standardisation, subset masks and forget sets.

use std::collections::BTreeSet;

use npyz::WriterBuilder;
use tempfile::TempDir;
use unlearn_data::*;

fn err_text<T: std::fmt::Debug>(r: Result<T>) -> String {
    let s = r.expect_err("expected an error").to_string();
    assert!(!s.contains('\n'), "error is not one line: {s}");
    s
}

fn npy<T: npyz::AutoSerialize + Copy>(path: &std::path::Path, shape: &[u64], data: &[T]) {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, buf).unwrap();
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() < 1e-5
}

// ---------------------------------------------------------------- split

#[test]
fn split_is_deterministic_disjoint_and_complete() {
    let s = train_val_split(10, 0.3, 7).unwrap();
    assert_eq!(s.val.len(), 3);
    assert_eq!(s.train.len(), 7);
    assert!(s.train.windows(2).all(|w| w[0] < w[1]));
    assert!(s.val.windows(2).all(|w| w[0] < w[1]));
    let train: BTreeSet<_> = s.train.iter().copied().collect();
    assert!(s.val.iter().all(|i| !train.contains(i)));
    let all: BTreeSet<_> = s.train.iter().chain(&s.val).copied().collect();
    assert_eq!(all, (0..10).collect());

    assert_eq!(train_val_split(10, 0.3, 7).unwrap(), s);
    // Some other seed must give a different division of 1000 points.
    let a = train_val_split(1000, 0.2, 1).unwrap();
    let b = train_val_split(1000, 0.2, 2).unwrap();
    assert_ne!(a.val, b.val);
    assert_eq!(a.val.len(), 200);

    // round(0.25 · 10) = 3 (half away from zero); fraction 0 keeps everything.
    assert_eq!(train_val_split(10, 0.25, 0).unwrap().val.len(), 3);
    assert_eq!(
        train_val_split(5, 0.0, 0).unwrap().train,
        vec![0, 1, 2, 3, 4]
    );
}

#[test]
fn split_rejects_bad_fractions() {
    assert!(err_text(train_val_split(10, 1.0, 0)).contains("outside [0, 1)"));
    assert!(err_text(train_val_split(10, -0.1, 0)).contains("outside [0, 1)"));
    assert!(err_text(train_val_split(1, 0.9, 0)).contains("no training data"));
}

// ---------------------------------------------------------------- standardise

fn toy() -> Dataset {
    // Feature 0: 1, 2, 3, 4 (mean 2.5, population std sqrt(1.25)); feature 1 constant.
    Dataset::new(
        "toy",
        vec![1., 5., 2., 5., 3., 5., 4., 5.],
        vec![0, 1, 0, 1],
        2,
        2,
        None,
    )
    .unwrap()
}

#[test]
fn standardizer_uses_hand_computed_statistics() {
    let d = toy();
    let s = Standardizer::fit(&d).unwrap();
    assert_eq!(s.mean, vec![2.5, 5.0]);
    assert!(close(s.std[0], 1.118_034), "{}", s.std[0]);
    assert_eq!(s.std[1], 1.0, "constant feature gets std 1");

    let mut t = d.clone();
    s.apply(&mut t).unwrap();
    let expect0 = [-1.341_641, -0.447_214, 0.447_214, 1.341_641];
    for (i, e) in expect0.iter().enumerate() {
        assert!(close(t.row(i)[0], *e), "row {i}: {}", t.row(i)[0]);
        assert_eq!(t.row(i)[1], 0.0);
    }

    let mut other = Dataset::new("o", vec![5., 7.], vec![0], 2, 2, None).unwrap();
    s.apply(&mut other).unwrap();
    assert!(close(other.features[0], 2.236_068)); // (5 − 2.5) / 1.118034
    assert_eq!(other.features[1], 2.0); // (7 − 5) / 1

    let mut wrong = Dataset::new("w", vec![1.0], vec![0], 1, 1, None).unwrap();
    assert!(err_text(s.apply(&mut wrong)).contains("fitted on 2 features"));
    let empty = toy().subset(&[]);
    assert!(err_text(Standardizer::fit(&empty)).contains("empty"));
}

#[test]
fn prepare_standardises_with_train_statistics_only() {
    // 10 rows, feature = 10·i, label = i % 3.
    let d = Dataset::new(
        "lin",
        (0..10).map(|i| 10.0 * i as f32).collect(),
        (0..10).map(|i| i % 3).collect(),
        1,
        3,
        None,
    )
    .unwrap();
    let p = prepare(&d, 0.2, 11).unwrap();
    let split = train_val_split(10, 0.2, 11).unwrap();
    assert_eq!(p.train_index, split.train);
    assert_eq!(p.val_index, split.val);
    assert_eq!(p.train.len(), 8);
    assert_eq!(p.val.len(), 2);

    // Independent statistics of the training rows.
    let xs: Vec<f64> = split.train.iter().map(|&i| 10.0 * i as f64).collect();
    let mean = xs.iter().sum::<f64>() / 8.0;
    let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 8.0).sqrt();
    for (k, &i) in split.val.iter().enumerate() {
        let want = ((10.0 * i as f64 - mean) / std) as f32;
        assert!(close(p.val.features[k], want));
        assert_eq!(p.val.labels[k], (i % 3) as u32);
    }
    let m: f32 = p.train.features.iter().sum::<f32>() / 8.0;
    let v: f32 = p
        .train
        .features
        .iter()
        .map(|x| (x - m).powi(2))
        .sum::<f32>()
        / 8.0;
    assert!(close(m, 0.0) && close(v, 1.0), "mean {m}, var {v}");
}

// ---------------------------------------------------------------- masks

#[test]
fn masks_have_exact_row_sums_and_are_deterministic() {
    let m = SubsetMasks::random(20, 50, 0.3, 5).unwrap();
    assert_eq!((m.rows, m.n, m.data.len()), (20, 50, 1000));
    for i in 0..20 {
        assert_eq!(m.row_sum(i), 15);
        let idx = m.row_indices(i);
        assert_eq!(idx.len(), 15);
        assert!(idx.windows(2).all(|w| w[0] < w[1]) && idx[14] < 50);
        assert!(idx.iter().all(|&j| m.row(i)[j] == 1));
    }
    assert_eq!(SubsetMasks::random(20, 50, 0.3, 5).unwrap(), m);
    assert_ne!(SubsetMasks::random(20, 50, 0.3, 6).unwrap(), m);
    // Rows differ from each other.
    assert_ne!(m.row(0), m.row(1));
    // round(0.25 · 10) = 3; alpha 0 and 1 give empty and full rows.
    assert_eq!(SubsetMasks::random(2, 10, 0.25, 0).unwrap().row_sum(1), 3);
    assert_eq!(SubsetMasks::random(1, 7, 0.0, 0).unwrap().row_sum(0), 0);
    assert_eq!(SubsetMasks::random(1, 7, 1.0, 0).unwrap().row_sum(0), 7);
    assert!(err_text(SubsetMasks::random(1, 7, 1.5, 0)).contains("alpha"));
}

#[test]
fn mask_row_does_not_depend_on_row_count() {
    let few = SubsetMasks::random(3, 40, 0.5, 99).unwrap();
    let many = SubsetMasks::random(25, 40, 0.5, 99).unwrap();
    for i in 0..3 {
        assert_eq!(few.row(i), many.row(i));
    }
}

#[test]
fn masks_roundtrip_and_load_other_dtypes() {
    let dir = TempDir::new().unwrap();
    let m = SubsetMasks::random(4, 9, 0.5, 1).unwrap();
    let p = dir.path().join("masks.npy");
    m.save_npy(&p).unwrap();
    assert_eq!(SubsetMasks::load_npy(&p).unwrap(), m);
    assert_eq!(read_npy_u8(&p).unwrap(), (vec![4, 9], m.data.clone()));

    let b = dir.path().join("bool.npy");
    npy(&b, &[2, 3], &[true, false, true, false, false, true]);
    let lb = SubsetMasks::load_npy(&b).unwrap();
    assert_eq!(lb.row_indices(0), vec![0, 2]);
    assert_eq!(lb.row_indices(1), vec![2]);

    let i = dir.path().join("int.npy");
    npy(&i, &[2, 2], &[0i32, 1, 1, 1]);
    assert_eq!(SubsetMasks::load_npy(&i).unwrap().data, vec![0, 1, 1, 1]);

    let bad = dir.path().join("bad.npy");
    npy(&bad, &[2, 3], &[0i64, 1, 0, 1, 2, 0]);
    let e = err_text(SubsetMasks::load_npy(&bad));
    assert!(
        e.contains("bad.npy") && e.contains("row 1") && e.contains("column 1"),
        "{e}"
    );
    assert!(e.contains("value 2"), "{e}");

    let flat = dir.path().join("flat.npy");
    npy(&flat, &[3], &[0u8, 1, 0]);
    assert!(err_text(SubsetMasks::load_npy(&flat)).contains("2-D"));

    let fl = dir.path().join("float.npy");
    npy(&fl, &[1, 2], &[0f32, 1.]);
    let e = err_text(SubsetMasks::load_npy(&fl));
    assert!(e.contains("float.npy") && e.contains("dtype"), "{e}");
}

// ---------------------------------------------------------------- forget sets

#[test]
fn random_forget_set_properties() {
    let f = ForgetSet::random(100, 10, 3).unwrap();
    assert_eq!(f.len(), 10);
    assert!(f.indices.windows(2).all(|w| w[0] < w[1]));
    assert!(f.indices.iter().all(|&i| i < 100));
    assert_eq!(ForgetSet::random(100, 10, 3).unwrap(), f);
    assert_ne!(ForgetSet::random(100, 10, 4).unwrap(), f);
    assert_eq!(
        ForgetSet::random(5, 5, 0).unwrap().indices,
        vec![0, 1, 2, 3, 4]
    );
    assert!(err_text(ForgetSet::random(5, 6, 0)).contains("6 points from 5"));
    assert!(ForgetSet::random(5, 0, 0).is_err());

    let retain = f.retain_indices(100);
    assert_eq!(retain.len(), 90);
    assert!(retain.iter().all(|&i| !f.contains(i)));
    let mask = f.mask(100);
    assert_eq!(mask.iter().filter(|&&b| b).count(), 10);
    assert!(f.indices.iter().all(|&i| mask[i]));
}

#[test]
fn class_restricted_forget_set() {
    let labels: Vec<u32> = (0..30).map(|i| i % 5).collect(); // 6 points per class
    let f = ForgetSet::class_restricted(&labels, &[1, 3], 8, 2).unwrap();
    assert_eq!(f.len(), 8);
    assert!(f.indices.iter().all(|&i| labels[i] == 1 || labels[i] == 3));
    assert!(f.indices.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        ForgetSet::class_restricted(&labels, &[1, 3], 8, 2).unwrap(),
        f
    );
    // All 12 points of the two classes.
    let all = ForgetSet::class_restricted(&labels, &[1, 3], 12, 0).unwrap();
    let want: Vec<usize> = (0..30).filter(|i| i % 5 == 1 || i % 5 == 3).collect();
    assert_eq!(all.indices, want);
    let e = err_text(ForgetSet::class_restricted(&labels, &[1, 3], 13, 0));
    assert!(e.contains("13 points") && e.contains("hold 12"), "{e}");
}

#[test]
fn forget_set_save_load_both_formats() {
    let dir = TempDir::new().unwrap();
    let f = ForgetSet::random(50, 7, 1).unwrap();
    for name in ["f.npy", "f.txt"] {
        let p = dir.path().join(name);
        f.save(&p).unwrap();
        assert_eq!(ForgetSet::load(&p, 50).unwrap(), f);
    }
    // The npy form is an int64 vector; the text form one index per line.
    let (shape, data) = read_npy_i64(dir.path().join("f.npy")).unwrap();
    assert_eq!(shape, vec![7]);
    assert_eq!(
        data,
        f.indices.iter().map(|&i| i as i64).collect::<Vec<_>>()
    );
    let text = std::fs::read_to_string(dir.path().join("f.txt")).unwrap();
    let want: String = f.indices.iter().map(|i| format!("{i}\n")).collect();
    assert_eq!(text, want);

    // Hand-written text with comments, blanks and unsorted indices.
    let p = dir.path().join("hand.txt");
    std::fs::write(&p, "# forget these\n 9\n\n2\n5 \n").unwrap();
    assert_eq!(ForgetSet::load(&p, 10).unwrap().indices, vec![2, 5, 9]);
    // Any integer dtype in npy.
    let p = dir.path().join("i32.npy");
    npy(&p, &[3], &[4i32, 1, 0]);
    assert_eq!(ForgetSet::load(&p, 5).unwrap().indices, vec![0, 1, 4]);
}

#[test]
fn forget_set_load_errors() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("f.txt");

    std::fs::write(&p, "1\n2\n150\n").unwrap();
    let e = err_text(ForgetSet::load(&p, 100));
    assert!(e.contains("f.txt") && e.contains("line 3"), "{e}");
    assert!(e.contains("index 150") && e.contains("100 points"), "{e}");

    std::fs::write(&p, "4\n7\n4\n").unwrap();
    let e = err_text(ForgetSet::load(&p, 100));
    assert!(e.contains("f.txt") && e.contains("line 3"), "{e}");
    assert!(
        e.contains("index 4") && e.contains("first on line 1"),
        "{e}"
    );

    std::fs::write(&p, "4\nseven\n").unwrap();
    let e = err_text(ForgetSet::load(&p, 100));
    assert!(
        e.contains("f.txt") && e.contains("line 2") && e.contains("'seven'"),
        "{e}"
    );

    std::fs::write(&p, "-1\n").unwrap();
    assert!(err_text(ForgetSet::load(&p, 100)).contains("line 1"));

    std::fs::write(&p, "# nothing\n\n").unwrap();
    let e = err_text(ForgetSet::load(&p, 100));
    assert!(e.contains("f.txt") && e.contains("empty"), "{e}");

    let q = dir.path().join("f.npy");
    npy(&q, &[3], &[1i64, 99, 5]);
    let e = err_text(ForgetSet::load(&q, 10));
    assert!(
        e.contains("f.npy") && e.contains("element 1") && e.contains("index 99"),
        "{e}"
    );
    npy(&q, &[3], &[1i64, 5, 1]);
    let e = err_text(ForgetSet::load(&q, 10));
    assert!(
        e.contains("f.npy") && e.contains("element 2") && e.contains("repeated"),
        "{e}"
    );
    npy(&q, &[2], &[1i64, -2]);
    let e = err_text(ForgetSet::load(&q, 10));
    assert!(e.contains("element 1") && e.contains("-2"), "{e}");
    npy::<i64>(&q, &[0], &[]);
    assert!(err_text(ForgetSet::load(&q, 10)).contains("empty"));

    assert!(err_text(ForgetSet::from_indices(vec![3, 3], 5)).contains("more than once"));
    assert!(err_text(ForgetSet::from_indices(vec![5], 5)).contains("out of range"));
    assert_eq!(
        ForgetSet::from_indices(vec![3, 0], 5).unwrap().indices,
        vec![0, 3]
    );
}
