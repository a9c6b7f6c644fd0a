//! Model zoos: reproducibility, stacking, resuming, checkpoints, retain and subset zoos.

mod common;

use burn::tensor::Device;
use common::*;
use std::path::Path;
use unlearn_data::{ForgetSet, SubsetMasks};
use unlearn_models::ModelConfig;
use unlearn_models::{CnnConfig, ResNet9Config};
use unlearn_train::inference::{features, stack_logits};
use unlearn_train::manifest::{InputRef, Manifest};
use unlearn_train::{Member, Recipe, TrainError, TrainSet, Zoo, ZooKind, train_stack};

fn flex() -> Device {
    Device::flex()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Logits of a single model trained directly (not through a zoo) on `indices`, on the zoo's
/// evaluation points (train then validation).
fn direct_logits(
    recipe: &Recipe,
    data: &unlearn_data::Prepared,
    seed: u64,
    indices: Vec<usize>,
) -> Vec<f32> {
    let device = flex();
    let set = TrainSet::new(&data.train, &device);
    let model = train_stack(
        &arch(recipe),
        recipe,
        &set,
        &[Member {
            index: 0,
            seed,
            indices,
        }],
        &device,
        &mut |_| {},
    )
    .unwrap();
    let x = burn::tensor::Tensor::cat(
        vec![features(&data.train, &device), features(&data.val, &device)],
        0,
    );
    stack_logits(&model, &x, 1)
}

fn dummy_ref(name: &str) -> InputRef {
    InputRef {
        path: name.into(),
        sha256: format!("{:0>64}", name.len()),
    }
}

#[test]
fn zoo_layout_labels_and_logits() {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    let zoo = run_zoo(
        &spec(small_mlp(2), ZooKind::Full, 3, 2),
        &data,
        dir.path(),
        &flex(),
    )
    .unwrap();
    assert_eq!((zoo.models, zoo.points, zoo.classes), (3, 1797, 10));
    assert_eq!(zoo.logits.len(), 3 * 1797 * 10);
    let expected_labels: Vec<u32> = data
        .train
        .labels
        .iter()
        .chain(&data.val.labels)
        .copied()
        .collect();
    assert_eq!(
        zoo.labels, expected_labels,
        "labels: train points first, then validation"
    );
    for i in 0..3 {
        assert!(dir.path().join(format!("models/{i:05}.bpk")).is_file());
        let (shape, values) =
            unlearn_data::read_npy_f32(dir.path().join(format!("logits/{i:05}.npy"))).unwrap();
        assert_eq!(shape, vec![1797, 10]);
        assert_eq!(values.as_slice(), zoo.model_logits(i));
    }
    let m = &zoo.manifest;
    assert!(m.complete);
    assert_eq!(m.kind, "full");
    assert_eq!(m.seeds, vec![0, 1, 2]);
    assert_eq!(m.examples_per_model, 2 * 1438);
    assert_eq!((m.dataset.n_train, m.dataset.n_val), (1438, 359));
    assert_eq!(m.config_hash, m.compute_hash());
    assert_eq!(&Manifest::load(dir.path()).unwrap(), m);
    // Even two epochs of training beat chance by far on the validation points.
    let val = &zoo.model_logits(0)[1438 * 10..];
    assert!(accuracy(val, &data.val.labels, 10) > 0.8);
}

#[test]
fn two_runs_of_the_same_zoo_give_bit_identical_logits() {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(small_mlp(2), ZooKind::Full, 3, 2);
    let a = run_zoo(&spec, &data, &dir.path().join("a"), &flex()).unwrap();
    let b = run_zoo(&spec, &data, &dir.path().join("b"), &flex()).unwrap();
    assert_eq!(bits(&a.logits), bits(&b.logits));
    assert_eq!(a.manifest.config_hash, b.manifest.config_hash);
    // And the seeds matter: models 0 and 1 differ.
    assert!(max_abs_diff(a.model_logits(0), a.model_logits(1)) > 1e-2);
}

#[test]
fn stacked_zoo_equals_unstacked_zoo() {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    // Five models in stacks of 4 (a stack of 4 and a stack of 1) against one at a time.
    let stacked = run_zoo(
        &spec(small_mlp(2), ZooKind::Full, 5, 4),
        &data,
        &dir.path().join("s4"),
        &flex(),
    )
    .unwrap();
    let single = run_zoo(
        &spec(small_mlp(2), ZooKind::Full, 5, 1),
        &data,
        &dir.path().join("s1"),
        &flex(),
    )
    .unwrap();
    let diff = max_abs_diff(&stacked.logits, &single.logits);
    println!("stack 4 vs stack 1: max |Δlogit| = {diff:e}");
    assert!(diff <= 1e-4, "stacked and unstacked zoos differ by {diff}");
    // The stack size is an execution detail, not part of the configuration.
    assert_eq!(stacked.manifest.config_hash, single.manifest.config_hash);
}

#[test]
fn stacked_cnn_zoo_equals_unstacked_cnn_zoo() {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    let mut recipe = Recipe::named("cnn").unwrap();
    recipe.model = ModelConfig::Cnn(CnnConfig {
        channels: vec![4, 8],
    })
    .spec();
    recipe.epochs = 1;
    let stacked = run_zoo(
        &spec(recipe.clone(), ZooKind::Full, 3, 3),
        &data,
        &dir.path().join("s3"),
        &flex(),
    )
    .unwrap();
    let single = run_zoo(
        &spec(recipe, ZooKind::Full, 3, 1),
        &data,
        &dir.path().join("s1"),
        &flex(),
    )
    .unwrap();
    let diff = max_abs_diff(&stacked.logits, &single.logits);
    println!("cnn stack 3 vs stack 1: max |Δlogit| = {diff:e}");
    assert!(
        diff <= 1e-4,
        "stacked and unstacked cnn zoos differ by {diff}"
    );
}

struct FileState {
    bytes: Vec<u8>,
    modified: std::time::SystemTime,
    #[cfg(unix)]
    inode: u64,
}

fn state(path: &Path) -> FileState {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    FileState {
        bytes: std::fs::read(path).unwrap(),
        modified: meta.modified().unwrap(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
    }
}

fn assert_untouched(before: &FileState, path: &Path) {
    let after = state(path);
    assert_eq!(
        before.modified,
        after.modified,
        "{} was rewritten (mtime changed)",
        path.display()
    );
    #[cfg(unix)]
    assert_eq!(
        before.inode,
        after.inode,
        "{} was replaced (new inode)",
        path.display()
    );
    assert!(
        before.bytes == after.bytes,
        "{} changed content",
        path.display()
    );
}

#[test]
fn resume_retrains_only_missing_models() {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let spec = spec(small_mlp(2), ZooKind::Full, 3, 1);
    let first = run_zoo(&spec, &data, out, &flex()).unwrap();

    let kept = [
        out.join("logits/00000.npy"),
        out.join("logits/00002.npy"),
        out.join("models/00000.bpk"),
        out.join("models/00002.bpk"),
        out.join("labels.npy"),
    ];
    let before: Vec<FileState> = kept.iter().map(|p| state(p)).collect();
    std::fs::remove_file(out.join("logits/00001.npy")).unwrap();
    std::fs::remove_file(out.join("logits.npy")).unwrap();
    // A rewrite after this pause would carry a later modification time.
    std::thread::sleep(std::time::Duration::from_millis(50));

    let second = run_zoo(&spec, &data, out, &flex()).unwrap();
    for (b, p) in before.iter().zip(&kept[..4]) {
        assert_untouched(b, p);
    }
    // labels.npy is rewritten on every run; its content must not change.
    assert!(before[4].bytes == std::fs::read(&kept[4]).unwrap());
    assert!(out.join("logits/00001.npy").is_file());
    assert_eq!(
        bits(&second.logits),
        bits(&first.logits),
        "resumed zoo differs from the first run"
    );
    assert!(second.manifest.complete);
    // Checkpoint headers carry random parameter ids: only the retrained checkpoint's record differs.
    let (mut a, mut b) = (first.manifest.clone(), second.manifest.clone());
    assert!(a.files.remove("models/00001.bpk").is_some());
    assert!(b.files.remove("models/00001.bpk").is_some());
    assert_eq!(b, a);

    // A complete zoo re-run trains nothing and changes no model file.
    let all: Vec<_> = (0..3)
        .map(|i| out.join(format!("logits/{i:05}.npy")))
        .collect();
    let before: Vec<FileState> = all.iter().map(|p| state(p)).collect();
    std::thread::sleep(std::time::Duration::from_millis(50));
    run_zoo(&spec, &data, out, &flex()).unwrap();
    for (b, p) in before.iter().zip(&all) {
        assert_untouched(b, p);
    }
}

#[test]
fn a_different_configuration_in_the_same_directory_is_refused() {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    let first = run_zoo(
        &spec(small_mlp(2), ZooKind::Full, 2, 2),
        &data,
        dir.path(),
        &flex(),
    )
    .unwrap();
    let logits_before = std::fs::read(dir.path().join("logits.npy")).unwrap();

    for other in [
        spec(small_mlp(3), ZooKind::Full, 2, 2), // another recipe
        spec(small_mlp(2), ZooKind::Full, 3, 2), // more models (more seeds)
        {
            let mut s = spec(small_mlp(2), ZooKind::Full, 2, 2);
            s.first_seed = 10; // other seeds
            s
        },
    ] {
        let err = run_zoo(&other, &data, dir.path(), &flex()).unwrap_err();
        match &err {
            TrainError::DifferentZoo {
                dir: d,
                found,
                expected,
            } => {
                assert_eq!(d, dir.path());
                assert_eq!(found, &first.manifest.config_hash);
                assert_ne!(found, expected);
            }
            e => panic!("expected DifferentZoo, got {e:?}"),
        }
        assert!(err.to_string().contains("different zoo"), "{err}");
    }
    // The refused runs left the zoo as it was.
    assert!(std::fs::read(dir.path().join("logits.npy")).unwrap() == logits_before);
    assert_eq!(Manifest::load(dir.path()).unwrap(), first.manifest);
}

fn check_loaded_models_reproduce_zoo_logits(recipe: Recipe, models: usize, stack: usize) {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    let zoo = run_zoo(
        &spec(recipe, ZooKind::Full, models, stack),
        &data,
        dir.path(),
        &flex(),
    )
    .unwrap();
    let device = flex();
    let x = burn::tensor::Tensor::cat(
        vec![features(&data.train, &device), features(&data.val, &device)],
        0,
    );
    let reloaded = Zoo::load(dir.path()).unwrap();
    assert_eq!(bits(&reloaded.logits), bits(&zoo.logits));
    for i in 0..models {
        let model = reloaded
            .load_model(&arch(&reloaded.manifest.recipe), i, &device)
            .unwrap();
        let logits = stack_logits(&model, &x, 1);
        let diff = max_abs_diff(&logits, zoo.model_logits(i));
        assert!(
            diff <= 1e-5,
            "model {i}: checkpoint logits differ from the zoo's by {diff}"
        );
    }
    // Different models really are different (so the comparison above can tell them apart).
    assert!(max_abs_diff(zoo.model_logits(0), zoo.model_logits(1)) > 1e-3);
}

#[test]
fn loaded_mlp_checkpoints_reproduce_the_zoo_logits() {
    check_loaded_models_reproduce_zoo_logits(small_mlp(2), 3, 3);
}

#[test]
fn loaded_cnn_checkpoints_reproduce_the_zoo_logits() {
    let mut recipe = Recipe::named("cnn").unwrap();
    recipe.model = ModelConfig::Cnn(CnnConfig { channels: vec![4] }).spec();
    recipe.epochs = 1;
    check_loaded_models_reproduce_zoo_logits(recipe, 2, 2);
}

fn tiny_resnet9() -> Recipe {
    let mut recipe = Recipe::named("resnet9").unwrap();
    recipe.model = ModelConfig::ResNet9(ResNet9Config {
        width: 4,
        scale: 0.125,
    })
    .spec();
    recipe.epochs = 1;
    recipe.batch_size = 256;
    recipe
}

#[test]
fn loaded_resnet9_checkpoint_reproduces_the_zoo_logits_unstacked() {
    check_loaded_models_reproduce_zoo_logits(tiny_resnet9(), 2, 1);
}

/// With a stack of 2, the checkpoint of model 1 gets wrong batch-norm running statistics:
/// `stacking::extract` of model 0 narrows the stack's shared `RunningState` in place.
#[test]
fn loaded_resnet9_checkpoints_reproduce_the_zoo_logits_stacked() {
    check_loaded_models_reproduce_zoo_logits(tiny_resnet9(), 2, 2);
}

#[test]
fn retain_zoos_never_train_on_forget_points() {
    let mut data = digits_split();
    let n = data.train.len();
    let forget = ForgetSet::from_indices(vec![0, 5, 77, 300, 1200, 1437], n).unwrap();
    // Poison the forget points after standardisation: a single step on one of them makes the
    // loss NaN, which training reports as an error.
    let dim = data.train.dim;
    for &i in &forget.indices {
        data.train.features[i * dim..(i + 1) * dim].fill(f32::NAN);
    }
    let dir = tempfile::tempdir().unwrap();
    let recipe = small_mlp(2);

    // Control: the full zoo does hit the poisoned points.
    let full = run_zoo(
        &spec(recipe.clone(), ZooKind::Full, 1, 1),
        &data,
        &dir.path().join("full"),
        &flex(),
    );
    assert!(
        matches!(
            full,
            Err(TrainError::NonFiniteLoss {
                model: 0,
                epoch: 1,
                ..
            })
        ),
        "{full:?}"
    );

    let kind = ZooKind::Retain {
        forget: forget.clone(),
        source: dummy_ref("forget.txt"),
    };
    let zoo = run_zoo(
        &spec(recipe.clone(), kind, 3, 3),
        &data,
        &dir.path().join("retain"),
        &flex(),
    )
    .unwrap();
    assert_eq!(zoo.manifest.kind, "retain");
    assert_eq!(zoo.manifest.examples_per_model, 2 * (n as u64 - 6));
    assert_eq!(zoo.manifest.forget_set, Some(dummy_ref("forget.txt")));
    // Logits on the forget points are NaN (their features are), everything else finite.
    for i in 0..3 {
        let l = zoo.model_logits(i);
        for p in 0..zoo.points {
            let row = &l[p * 10..(p + 1) * 10];
            let poisoned = p < n && forget.contains(p);
            assert_eq!(
                row.iter().all(|v| v.is_nan()),
                poisoned,
                "model {i}, point {p}"
            );
            assert_eq!(
                row.iter().all(|v| v.is_finite()),
                !poisoned,
                "model {i}, point {p}"
            );
        }
    }
    // Model 1 of the zoo is exactly the model trained directly on S \ F from seed 1.
    let direct = direct_logits(&recipe, &data, 1, forget.retain_indices(n));
    let finite: Vec<usize> = (0..direct.len())
        .filter(|&j| direct[j].is_finite())
        .collect();
    let diff = finite
        .iter()
        .map(|&j| (direct[j] - zoo.model_logits(1)[j]).abs())
        .fold(0f32, f32::max);
    assert!(
        diff <= 1e-4,
        "retain zoo model 1 vs direct training: {diff}"
    );
}

#[test]
fn retain_zoo_rejects_forget_indices_outside_the_training_split() {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    // Valid for the whole dataset (1797 points) but not for the 1438 training points.
    let forget = ForgetSet::from_indices(vec![3, 1500], 1797).unwrap();
    let kind = ZooKind::Retain {
        forget,
        source: dummy_ref("f"),
    };
    let err = run_zoo(&spec(small_mlp(1), kind, 1, 1), &data, dir.path(), &flex()).unwrap_err();
    assert!(matches!(err, TrainError::Recipe(_)), "{err:?}");
    assert!(err.to_string().contains("1500"), "{err}");
}

#[test]
fn subset_zoos_train_model_i_on_mask_row_i() {
    let mut data = digits_split();
    let n = data.train.len();
    // Three disjoint rows of 200 points; every point outside them is poisoned with NaN.
    let rows = 3;
    let mut mask = vec![0u8; rows * n];
    for r in 0..rows {
        for j in r * 200..(r + 1) * 200 {
            mask[r * n + j] = 1;
        }
    }
    let masks = SubsetMasks::new(rows, n, mask).unwrap();
    let dim = data.train.dim;
    data.train.features[600 * dim..].fill(f32::NAN);
    let dir = tempfile::tempdir().unwrap();
    let recipe = small_mlp(3);
    let kind = ZooKind::Subsets {
        masks: masks.clone(),
        source: dummy_ref("masks.npy"),
    };
    let zoo = run_zoo(
        &spec(recipe.clone(), kind, 3, 3),
        &data,
        &dir.path().join("z"),
        &flex(),
    )
    .unwrap();
    assert_eq!(zoo.manifest.kind, "subsets");
    assert_eq!(
        zoo.manifest.examples_per_model,
        3 * 200,
        "epochs × points of a mask row"
    );
    assert_eq!(zoo.manifest.masks, Some(dummy_ref("masks.npy")));

    // Model i is the model trained directly on row i (rows are disjoint, so another row's
    // model would differ by O(1)).
    let finite_diff = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max)
    };
    for i in 0..rows {
        let direct = direct_logits(&recipe, &data, i as u64, masks.row_indices(i));
        let diff = finite_diff(&direct, zoo.model_logits(i));
        assert!(
            diff <= 1e-4,
            "subset model {i} vs direct training on row {i}: {diff}"
        );
    }
    let wrong_row = direct_logits(&recipe, &data, 1, masks.row_indices(0));
    assert!(finite_diff(&wrong_row, zoo.model_logits(1)) > 1e-2);

    // Masks over another number of points, or too few rows, are refused before training.
    let short = SubsetMasks::random(3, n - 1, 0.5, 0).unwrap();
    let kind = ZooKind::Subsets {
        masks: short,
        source: dummy_ref("m"),
    };
    let err = run_zoo(
        &spec(recipe.clone(), kind, 3, 3),
        &data,
        &dir.path().join("e1"),
        &flex(),
    )
    .unwrap_err();
    assert!(err.to_string().contains(&format!("{n}")), "{err}");
    let kind = ZooKind::Subsets {
        masks,
        source: dummy_ref("m"),
    };
    let err = run_zoo(
        &spec(recipe, kind, 4, 1),
        &data,
        &dir.path().join("e2"),
        &flex(),
    )
    .unwrap_err();
    assert!(matches!(err, TrainError::Recipe(_)), "{err:?}");
}

#[test]
fn random_masks_give_a_subset_zoo_with_alpha_n_points_per_model() {
    let data = digits_split();
    let n = data.train.len();
    let masks = SubsetMasks::random(4, n, 0.5, 7).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kind = ZooKind::Subsets {
        masks,
        source: dummy_ref("masks.npy"),
    };
    let zoo = run_zoo(&spec(small_mlp(2), kind, 4, 4), &data, dir.path(), &flex()).unwrap();
    assert_eq!(zoo.manifest.examples_per_model, 2 * 719);
    assert_eq!(zoo.models, 4);
}
