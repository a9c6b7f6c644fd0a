//! The training loop: accuracy of the mlp recipe, non-finite losses, backends, the last batch.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use unlearn_models::LogisticConfig;
use unlearn_models::{Architecture, InputSpec, ModelConfig};
use unlearn_train::inference::{features, stack_logits};
use unlearn_train::{
    Backend, LastBatch, Member, OptimizerConfig, Recipe, Schedule, TrainError, TrainSet, ZooKind,
    train_stack,
};

#[test]
fn mlp_recipe_reaches_95_percent_validation_accuracy_on_digits() {
    let data = digits_split();
    assert_eq!((data.train.len(), data.val.len()), (1438, 359));
    let device = Device::flex();
    let recipe = Recipe::named("mlp").unwrap();
    let set = TrainSet::new(&data.train, &device);
    let members = [Member {
        index: 0,
        seed: 0,
        indices: (0..data.train.len()).collect(),
    }];
    let mut epochs_seen = Vec::new();
    let model = train_stack(&arch(&recipe), &recipe, &set, &members, &device, &mut |e| {
        epochs_seen.push(e)
    })
    .unwrap();
    assert_eq!(
        epochs_seen,
        (1..=recipe.epochs).collect::<Vec<_>>(),
        "on_epoch after every epoch"
    );

    let logits = stack_logits(&model, &features(&data.val, &device), 1);
    let acc = accuracy(&logits, &data.val.labels, 10);
    println!(
        "mlp recipe ({} epochs): validation accuracy {:.2} %",
        recipe.epochs,
        100.0 * acc
    );
    assert!(acc >= 0.95, "validation accuracy {acc} < 0.95");

    // The same recipe from an untrained model is at chance level: the check above is not vacuous.
    let untrained = unlearn_models::Model::init(&arch(&recipe), &set.input, &[0], &device).unwrap();
    let chance = accuracy(
        &stack_logits(&untrained, &features(&data.val, &device), 1),
        &data.val.labels,
        10,
    );
    assert!(chance < 0.5, "untrained accuracy {chance}");
}

#[test]
fn huge_learning_rate_stops_with_non_finite_loss() {
    let data = digits_split();
    let device = Device::flex();
    let mut recipe = Recipe::named("mlp").unwrap();
    recipe.lr = 1e6;
    let set = TrainSet::new(&data.train, &device);
    let err = train_alone(&recipe, &set, &device).unwrap_err();
    let TrainError::NonFiniteLoss {
        model,
        epoch,
        step,
        value,
    } = &err
    else {
        panic!("expected NonFiniteLoss, got {err:?}");
    };
    assert_eq!(*model, 0);
    assert!(*epoch >= 1 && *epoch <= recipe.epochs, "epoch {epoch}");
    assert!(*step >= 1 && *step <= 1438usize.div_ceil(64), "step {step}");
    // The first step runs before any update, so its loss (≈ ln 10) is finite.
    assert!(*epoch > 1 || *step > 1, "diverged before the first update");
    assert!(!value.is_finite());
    let msg = err.to_string();
    assert!(msg.contains("model 0"), "{msg}");
    assert!(msg.contains(&format!("epoch {epoch}")), "{msg}");
    assert!(msg.contains(&format!("step {step}")), "{msg}");
    assert!(
        msg.contains("lower the learning rate"),
        "the message should suggest the fix: {msg}"
    );
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn nan_features_name_the_model_epoch_and_step_of_the_first_non_finite_loss() {
    let mut data = digits_split();
    let dim = data.train.dim;
    // Points 0..100 get a NaN feature; model 5 trains on them, model 3 on clean points.
    for i in 0..100 {
        data.train.features[i * dim + 10] = f32::NAN;
    }
    let device = Device::flex();
    let set = TrainSet::new(&data.train, &device);
    let recipe = small_mlp(2);
    let clean = Member {
        index: 3,
        seed: 3,
        indices: (100..200).collect(),
    };
    let poisoned = Member {
        index: 5,
        seed: 5,
        indices: (0..100).collect(),
    };
    let err = train_stack(
        &arch(&recipe),
        &recipe,
        &set,
        &[clean.clone(), poisoned],
        &device,
        &mut |_| {},
    )
    .unwrap_err();
    match &err {
        TrainError::NonFiniteLoss {
            model: 5,
            epoch: 1,
            step: 1,
            value,
        } => assert!(value.is_nan()),
        other => panic!("expected model 5, epoch 1, step 1 to fail, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.starts_with("model 5: loss became NaN at epoch 1, step 1"),
        "{msg}"
    );

    // The clean model alone trains without complaint.
    train_stack(
        &arch(&recipe),
        &recipe,
        &set,
        &[clean],
        &device,
        &mut |_| {},
    )
    .unwrap();
}

#[test]
fn stacks_need_equally_many_points_and_valid_indices() {
    let data = digits_split();
    let device = Device::flex();
    let set = TrainSet::new(&data.train, &device);
    let recipe = small_mlp(1);
    let a = Member {
        index: 0,
        seed: 0,
        indices: (0..10).collect(),
    };
    let b = Member {
        index: 1,
        seed: 1,
        indices: (0..11).collect(),
    };
    assert!(matches!(
        train_stack(
            &arch(&recipe),
            &recipe,
            &set,
            &[a.clone(), b],
            &device,
            &mut |_| {}
        ),
        Err(TrainError::UnequalStack {
            first: 0,
            first_points: 10,
            other: 1,
            other_points: 11
        })
    ));
    let out = Member {
        index: 1,
        seed: 1,
        indices: (1430..1440).collect(),
    };
    let err = train_stack(
        &arch(&recipe),
        &recipe,
        &set,
        &[a, out],
        &device,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("1438"), "{err}");
    let empty = Member {
        index: 0,
        seed: 0,
        indices: vec![],
    };
    assert!(
        train_stack(
            &arch(&recipe),
            &recipe,
            &set,
            &[empty],
            &device,
            &mut |_| {}
        )
        .is_err()
    );
    let mut zero = small_mlp(1);
    zero.epochs = 0;
    let m = Member {
        index: 0,
        seed: 0,
        indices: (0..10).collect(),
    };
    assert!(matches!(
        train_stack(&arch(&zero), &zero, &set, &[m], &device, &mut |_| {}),
        Err(TrainError::Recipe(_))
    ));
}

#[test]
fn unknown_recipe_and_backend_names_are_errors_listing_the_choices() {
    let err = Recipe::named("transformer").unwrap_err();
    assert!(matches!(err, TrainError::UnknownRecipe(..)));
    assert!(
        err.to_string().contains("logistic, mlp, cnn, resnet9"),
        "{err}"
    );
    for name in ["logistic", "mlp", "cnn", "resnet9"] {
        let r = Recipe::named(name).unwrap();
        assert_eq!(r.model.kind(), name);
        r.validate().unwrap();
    }
    assert_eq!("flex".parse::<Backend>().unwrap(), Backend::Flex);
    assert_eq!("NDArray".parse::<Backend>().unwrap(), Backend::Ndarray);
    let err = "tpu".parse::<Backend>().unwrap_err();
    assert!(err.to_string().contains("flex, ndarray, wgpu"), "{err}");
}

/// Flex and ndarray agree on a 2-epoch MLP zoo up to float rounding.
///
/// Both backends get identical inputs: parameters are drawn on the host (ChaCha8) and so is
/// the data order, so the only difference is the summation order inside matmuls and reductions
/// (≈ 1e-7 relative per operation in f32). Over 2 × 23 SGD steps with momentum these
/// perturbations grow but stay far below the logits' scale (|logit| ≲ 20): measured max
/// difference is ≈ 3e-6, so 1e-3 leaves ample margin, while any real divergence (another data
/// order, another initialisation, a wrong kernel) changes logits by O(1).
#[test]
fn flex_and_ndarray_zoos_agree_within_1e_3() {
    let data = digits_split();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(small_mlp(2), ZooKind::Full, 2, 2);
    let flex = run_zoo(
        &spec,
        &data,
        &dir.path().join("flex"),
        &Backend::Flex.device().unwrap(),
    )
    .unwrap();
    let nd = run_zoo(
        &spec,
        &data,
        &dir.path().join("ndarray"),
        &Backend::Ndarray.device().unwrap(),
    )
    .unwrap();
    let diff = max_abs_diff(&flex.logits, &nd.logits);
    let scale = flex.logits.iter().fold(0f32, |m, v| m.max(v.abs()));
    println!("flex vs ndarray: max |Δlogit| = {diff:e} (max |logit| = {scale})");
    assert!(diff <= 1e-3, "flex and ndarray differ by {diff}");
    assert_eq!(
        flex.manifest.config_hash, nd.manifest.config_hash,
        "the backend is not part of the configuration"
    );
}

/// The backend comparison that `bench-speed --agreement` and the wgpu test run, between the two
/// CPU backends: independent kernels, the same models.
#[test]
fn ndarray_and_flex_train_the_same_models() {
    let cases = unlearn_train::agreement::standard_cases(
        &Backend::Ndarray.device().unwrap(),
        &Device::flex(),
    )
    .unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c.case.as_str()).collect();
    assert_eq!(names, ["mlp, 2 epochs", "cnn, 4 steps", "resnet9, 4 steps"]);
    for case in &cases {
        assert!(case.max_abs_logit > 0.0, "{case:?}");
        assert!(case.agrees(), "{case:?}");
    }
}

/// Trains one model (seed 0) on every point of `set`.
fn train_alone(
    recipe: &Recipe,
    set: &TrainSet,
    device: &Device,
) -> Result<<ModelConfig as Architecture>::Model, TrainError> {
    let members = [Member {
        index: 0,
        seed: 0,
        indices: (0..set.len()).collect(),
    }];
    train_stack(&arch(recipe), recipe, set, &members, device, &mut |_| {})
}

/// Logits on `x` of a logistic model (seed 0) after one epoch of plain SGD on `n` copies of
/// (`x`, class 0) in batches of 4.
fn logistic_on_copies(n: usize, last_batch: LastBatch) -> Vec<f32> {
    let device = Device::flex();
    let x = [0.5f32, -1.0, 2.0];
    let set = TrainSet {
        x: Tensor::from_data(TensorData::new(x.repeat(n), [n, 3]), &device),
        y: Tensor::from_data(TensorData::new(vec![0i64; n], [n]), &device),
        input: InputSpec {
            dim: 3,
            image_shape: None,
            classes: 3,
        },
    };
    let recipe = Recipe {
        model: ModelConfig::Logistic(LogisticConfig {}).spec(),
        epochs: 1,
        batch_size: 4,
        last_batch,
        lr: 0.5,
        optimizer: OptimizerConfig::Sgd {
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        },
        schedule: Schedule::Constant,
        label_smoothing: 0.0,
    };
    let model = train_alone(&recipe, &set, &device).unwrap();
    stack_logits(&model, &set.x.clone().narrow(0, 0, 1), 1)
}

/// Five copies of one point train in two steps, the second on one point. Both steps start from
/// the same parameters whatever the mode (the first is a full batch, and every point is the
/// same), and a logistic model's logits move linearly with its parameters, so the `weighted`
/// second step must move the logits by exactly ¼ of the `mean` one: its one example weighs
/// 1/4, as in a full batch, instead of 1.
#[test]
fn a_weighted_last_batch_weighs_its_examples_as_a_full_batch_does() {
    let after_first = logistic_on_copies(4, LastBatch::Mean);
    assert_eq!(
        after_first,
        logistic_on_copies(4, LastBatch::Weighted),
        "no partial batch"
    );
    let mean = logistic_on_copies(5, LastBatch::Mean);
    let weighted = logistic_on_copies(5, LastBatch::Weighted);
    for c in 0..3 {
        let full_step = mean[c] - after_first[c];
        assert!(
            full_step.abs() > 0.05,
            "class {c}: the last step moves the logit"
        );
        let quarter = weighted[c] - after_first[c];
        assert!(
            (quarter - full_step / 4.0).abs() < 1e-5,
            "class {c}: weighted {quarter} against a quarter of {full_step}"
        );
    }
}

#[test]
fn recipes_without_last_batch_read_as_mean_and_keep_their_json() {
    let recipe = Recipe::named("mlp").unwrap();
    assert_eq!(recipe.last_batch, LastBatch::Mean);
    let json = serde_json::to_string(&recipe).unwrap();
    assert!(!json.contains("last_batch"), "{json}");
    let mut weighted = recipe.clone();
    weighted.last_batch = LastBatch::Weighted;
    let json = serde_json::to_string(&weighted).unwrap();
    assert!(json.contains(r#""last_batch":"weighted""#), "{json}");
    assert_eq!(serde_json::from_str::<Recipe>(&json).unwrap(), weighted);
    let err = serde_json::from_str::<Recipe>(&json.replace("weighted", "sum")).unwrap_err();
    assert!(err.to_string().contains("unknown variant `sum`"), "{err}");
}
