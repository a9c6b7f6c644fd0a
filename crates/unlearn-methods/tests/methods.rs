//! Behaviour of the unlearning methods against independent expectations (docs/algorithms.md §4, §5,
//! §8, §9), the configuration parsing, and the resumable zoo runner.
//!
//! Every test works on the embedded digits and small zoos trained once in a temporary directory.

mod common;

use burn::tensor::Device;
use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use unlearn_data::{ForgetSet, ParamsError};
use unlearn_methods::config::{Localize, LocalizeKind};
use unlearn_methods::localize::Masks;
use unlearn_methods::methods::retrain::RETRAIN_SEED_OFFSET;
use unlearn_methods::{
    Context, MethodError, MethodRegistry, UnlearnMethod, parse_sets, unlearn_zoo,
};
use unlearn_models::ResNet9Config;
use unlearn_models::{ModelConfig, StackModel};
use unlearn_train::inference::stack_logits;
use unlearn_train::zoo::{logits_path, model_path};
use unlearn_train::{Recipe, Zoo, ZooKind};

const ALL: [usize; 3] = [0, 1, 2];

type Method = Box<dyn UnlearnMethod<ModelConfig>>;

fn registry() -> MethodRegistry<ModelConfig> {
    MethodRegistry::builtin()
}

fn config(name: &str, overrides: Value) -> Method {
    let map = overrides.as_object().cloned().unwrap_or_default();
    registry().build(name, &map).unwrap()
}

fn default_for(name: &str) -> Result<Method, MethodError> {
    registry().build(name, &serde_json::Map::new())
}

fn with_overrides(name: &str, map: &serde_json::Map<String, Value>) -> Result<Method, MethodError> {
    registry().build(name, map)
}

fn run_zoo(
    config: &Method,
    ctx: &Context<'_, ModelConfig>,
    forget: &unlearn_train::manifest::InputRef,
    out: &Path,
) -> unlearn_methods::RunSummary {
    unlearn_zoo(config.as_ref(), ctx, forget, json!({}), out, 3, None, &()).unwrap()
}

/// sha256 of every file of a zoo directory, by relative path.
fn file_hashes(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(
                    path.strip_prefix(dir).unwrap().to_path_buf(),
                    unlearn_data::sha256_file(&path).unwrap(),
                );
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. DM-Direct (§5)

#[test]
fn dm_direct_is_the_stored_logits_minus_scaled_attribution() {
    let f = mlp_fixture();
    let (points, classes) = (f.originals.points, f.originals.classes);
    let beta = fake_beta(points, classes);
    let ctx = Context {
        beta_forget: Some(&beta),
        ..f.ctx()
    };
    let scale = 0.75f64;
    let config = config("dm-direct", json!({ "scale": scale }));
    assert_eq!(config.params(), json!({ "scale": scale }));

    // Any order of originals: model k of the output is original indices[k].
    let indices = [2, 0];
    let out = config.run(&ctx, &indices).unwrap();
    let mut expected = Vec::new();
    for &i in &indices {
        let z = f.originals.model_logits(i);
        expected.extend((0..points * classes).map(|j| z[j] - 0.75f32 * beta[j]));
    }
    assert!(
        bit_identical(&out.logits, &expected),
        "DM-Direct ≠ z − s·Σβ (max diff {})",
        max_abs_diff(&out.logits, &expected)
    );
    assert!(
        out.model.is_none(),
        "DM-Direct predicts outputs, it makes no network"
    );
    assert_eq!(out.examples, 0);

    // Through the runner: cost 0 and the same logits on disk.
    let dir = tempfile::tempdir().unwrap();
    let summary = run_zoo(&config, &ctx, &f.forget_ref, dir.path());
    assert_eq!(summary.cost, 0.0);
    let written = Zoo::load(dir.path()).unwrap();
    let expected: Vec<f32> = f
        .originals
        .logits
        .iter()
        .enumerate()
        .map(|(j, &z)| z - 0.75 * beta[j % (points * classes)])
        .collect();
    assert!(bit_identical(&written.logits, &expected));
}

// ---------------------------------------------------------------------------------------------
// 2. Do-nothing and Retrain (§3, §8)

#[test]
fn do_nothing_returns_the_originals_bit_identically_at_cost_zero() {
    let f = mlp_fixture();
    let ctx = f.ctx();
    let config = default_for("do-nothing").unwrap();
    let out = config.run(&ctx, &ALL).unwrap();
    assert!(bit_identical(&out.logits, &f.originals.logits));
    assert_eq!(out.examples, 0);

    let dir = tempfile::tempdir().unwrap();
    let summary = run_zoo(&config, &ctx, &f.forget_ref, dir.path());
    assert_eq!(summary.cost, 0.0);
    assert_eq!(summary.examples_per_model, 0);
    let written = Zoo::load(dir.path()).unwrap();
    assert!(bit_identical(&written.logits, &f.originals.logits));
    for i in ALL {
        let a = std::fs::read(model_path(dir.path(), i)).unwrap();
        let b = std::fs::read(model_path(&f.originals.dir, i)).unwrap();
        assert!(
            a == b,
            "do-nothing writes the original checkpoint of model {i}"
        );
    }
}

#[test]
fn retrain_is_the_oracle_recipe_at_cost_exactly_one() {
    let f = mlp_fixture();
    let ctx = f.ctx();
    let config = default_for("retrain").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let summary = run_zoo(&config, &ctx, &f.forget_ref, &dir.path().join("retrain"));
    assert_eq!(summary.cost, 1.0);
    let recipe = &f.originals.manifest.recipe;
    assert_eq!(
        summary.examples_per_model,
        (recipe.epochs * (f.data.train.len() - FORGET)) as u64
    );

    // Independently: a retain zoo trained by `train_zoo` with the retrained seeds.
    let oracles = zoo(
        recipe.clone(),
        retain_kind(&f.forget, dir.path()),
        3,
        RETRAIN_SEED_OFFSET,
        &f.data,
        &dir.path().join("oracles"),
    );
    let retrained = Zoo::load(&dir.path().join("retrain")).unwrap();
    let diff = max_abs_diff(&retrained.logits, &oracles.logits);
    assert!(
        bit_identical(&retrained.logits, &oracles.logits),
        "retrain ≠ retain zoo with seeds +{RETRAIN_SEED_OFFSET} (max diff {diff})"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. SCRUB (§8): the student moves, the teacher (stored original logits) does not

#[test]
fn scrub_updates_the_student_and_leaves_the_originals_untouched() {
    let f = mlp_fixture();
    let ctx = f.ctx();
    let before = file_hashes(&f.originals.dir);
    let out = default_for("scrub").unwrap().run(&ctx, &ALL).unwrap();
    let moved = max_abs_diff(&out.logits, &f.originals.logits);
    assert!(
        moved > 1e-2,
        "SCRUB left the student unchanged (max logit change {moved})"
    );

    // Nothing of the originals' zoo changed on disk, and its checkpoints still give its logits.
    assert_eq!(file_hashes(&f.originals.dir), before);
    let reloaded = Zoo::load(&f.originals.dir).unwrap();
    assert!(bit_identical(&reloaded.logits, &f.originals.logits));
    let device = Device::flex();
    let x = ctx.eval_features(&device);
    for i in ALL {
        let model = reloaded.load_model(&small_mlp_arch(), i, &device).unwrap();
        let z = stack_logits(&model, &x, 1);
        let diff = max_abs_diff(&z, f.originals.model_logits(i));
        assert!(
            diff < 1e-4,
            "checkpoint {i} no longer gives the stored logits (max diff {diff})"
        );
    }
}

#[test]
fn scrub_teacher_is_the_stored_original_logits() {
    // A copy of the originals whose stored logits say "class (y + 1) mod C" with confidence,
    // while its checkpoints are the real ones. With only the distillation term on R, a student
    // distilled from the stored logits learns the shifted labels; one distilled from the
    // checkpoints' own outputs would not.
    let f = mlp_fixture();
    let (points, classes) = (f.originals.points, f.originals.classes);
    let shifted = |p: usize| (f.originals.labels[p] as usize + 1) % classes;
    let mut fake = f.originals.clone();
    for k in 0..fake.models {
        for p in 0..points {
            for c in 0..classes {
                fake.logits[(k * points + p) * classes + c] =
                    if c == shifted(p) { 8.0 } else { 0.0 };
            }
        }
    }
    let config = config(
        "scrub",
        json!({ "epochs": 3, "max_steps": 0, "ce_weight": 0.0, "kl_weight": 1.0, "lr": 0.05, "decay_epochs": [] }),
    );
    let retain = f.forget.retain_indices(f.data.train.len());

    let real = config.run(&f.ctx(), &ALL).unwrap();
    let ctx_fake = Context {
        originals: &fake,
        ..f.ctx()
    };
    let faked = config.run(&ctx_fake, &ALL).unwrap();
    let share_real = argmax_share(&real.logits, points, classes, &retain, shifted);
    let share_fake = argmax_share(&faked.logits, points, classes, &retain, shifted);
    println!(
        "share of retain points predicted as (y+1) mod C: real teacher {share_real:.3}, fake stored logits {share_fake:.3}"
    );
    assert!(share_real < 0.1, "{share_real}");
    assert!(
        share_fake > 0.5,
        "the student did not follow the stored teacher logits ({share_fake})"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Localisation (§9)

/// Compares a localised run's parameters with the originals', entry by entry, against the
/// mask computed independently on a fresh copy of the stack. Returns
/// (entries outside the mask that changed, entries inside that changed, entries inside).
fn localised_changes(config: &Method, spec: &Localize) -> (usize, usize, usize) {
    let f = mlp_fixture();
    let ctx = f.ctx();
    let ad = Device::flex().autodiff();
    let masks = Masks::compute(&ctx, &ctx.load_stack(&ALL, &ad).unwrap(), &ALL, spec, &ad).unwrap();
    let share = masks.share();
    let tolerance = if spec.kind == LocalizeKind::Salun {
        0.005
    } else {
        0.03
    };
    assert!(
        (share - spec.mask_share).abs() <= tolerance,
        "{:?}: selected share {share} vs mask_share {}",
        spec.kind,
        spec.mask_share
    );

    let before = params(&ctx.load_stack(&ALL, &Device::flex()).unwrap());
    let out = config.run(&ctx, &ALL).unwrap();
    let model = out.model.expect("a localised method makes networks");
    let head = model.head_param_ids();
    let after = params(&model);
    assert_eq!(before.len(), after.len());
    assert_eq!(masks.selected.len(), after.len());
    let (mut outside_changed, mut inside_changed, mut inside) = (0, 0, 0);
    for (p, ((id, shape, new), (_, old_shape, old))) in after.iter().zip(&before).enumerate() {
        assert_eq!(shape, old_shape);
        if head.contains(id) {
            continue; // the classifier head is fully trainable by design
        }
        for (j, (a, b)) in new.iter().zip(old).enumerate() {
            let selected = masks.selected[p].as_ref().is_some_and(|m| m[j] == 1.0);
            let changed = a.to_bits() != b.to_bits();
            if selected {
                inside += 1;
                inside_changed += usize::from(changed);
            } else {
                outside_changed += usize::from(changed);
            }
        }
    }
    println!(
        "{}: share {share:.4}; outside the mask changed {outside_changed}; inside changed {inside_changed}/{inside}",
        config.name()
    );
    (outside_changed, inside_changed, inside)
}

#[test]
fn gd_with_a_salun_mask_changes_only_masked_entries_without_weight_decay() {
    let spec = Localize {
        kind: LocalizeKind::Salun,
        mask_share: 0.2,
    };
    let config = config(
        "gd",
        json!({ "localize": { "kind": "salun", "mask_share": 0.2 }, "weight_decay": 0.0 }),
    );
    let (outside, inside_changed, inside) = localised_changes(&config, &spec);
    assert_eq!(outside, 0, "entries outside the gradient mask changed");
    assert!(
        inside_changed > inside / 2,
        "only {inside_changed} of {inside} masked entries changed"
    );
}

/// Weight decay is added inside the optimiser, after the gradient hook: a masked method must
/// run without it or the frozen entries shrink (regression test for that bug).
#[test]
fn descent_baselines_with_a_salun_mask_and_default_settings_change_only_masked_entries() {
    let spec = Localize {
        kind: LocalizeKind::Salun,
        mask_share: 0.2,
    };
    for name in ["gd", "ga", "gd-ga"] {
        let config = config(
            name,
            json!({ "localize": { "kind": "salun", "mask_share": 0.2 } }),
        );
        let (outside, inside_changed, inside) = localised_changes(&config, &spec);
        assert_eq!(
            outside, 0,
            "{name}: entries outside the gradient mask changed"
        );
        assert!(
            inside_changed > inside / 2,
            "{name}: only {inside_changed} of {inside} masked entries changed"
        );
    }
}

#[test]
fn scrub_with_a_salun_mask_changes_only_masked_entries() {
    let spec = Localize {
        kind: LocalizeKind::Salun,
        mask_share: 0.2,
    };
    let config = config(
        "scrub",
        json!({ "localize": { "kind": "salun", "mask_share": 0.2 } }),
    );
    let (outside, inside_changed, inside) = localised_changes(&config, &spec);
    assert_eq!(outside, 0, "entries outside the gradient mask changed");
    assert!(
        inside_changed > inside / 2,
        "only {inside_changed} of {inside} masked entries changed"
    );
}

#[test]
fn salun_relabelling_changes_only_its_saliency_mask() {
    let spec = Localize {
        kind: LocalizeKind::Salun,
        mask_share: 0.5,
    };
    let config = config("salun", json!({ "mask_share": 0.5, "epochs": 1 }));
    let (outside, inside_changed, inside) = localised_changes(&config, &spec);
    assert_eq!(outside, 0, "entries outside the saliency mask changed");
    assert!(
        inside_changed > inside / 2,
        "only {inside_changed} of {inside} masked entries changed"
    );
}

#[test]
fn del_resets_and_trains_only_the_selected_entries() {
    let spec = Localize {
        kind: LocalizeKind::Del,
        mask_share: 0.3,
    };
    let config = config(
        "del",
        json!({ "localize": { "kind": "del", "mask_share": 0.3 }, "epochs": 2 }),
    );
    let (outside, inside_changed, inside) = localised_changes(&config, &spec);
    assert_eq!(
        outside, 0,
        "entries outside the reset mask (not in the head) changed"
    );
    assert!(
        inside_changed as f64 >= 0.9 * inside as f64,
        "only {inside_changed} of {inside} reset entries changed"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Oracle Matching on a convex model (§4, §12)

#[test]
fn om_on_logistic_regression_converges_to_the_oracle_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let data = digits_split();
    let recipe = Recipe::named("logistic").unwrap();
    let originals = zoo(
        recipe.clone(),
        ZooKind::Full,
        3,
        0,
        &data,
        &dir.path().join("originals"),
    );
    let forget = ForgetSet::random(data.train.len(), FORGET, 11).unwrap();
    let oracles = zoo(
        recipe,
        retain_kind(&forget, dir.path()),
        3,
        100,
        &data,
        &dir.path().join("oracles"),
    );
    let arch = arch_of(&originals);
    let ctx = Context {
        arch: &arch,
        originals: &originals,
        data: &data,
        forget: &forget,
        target_oracles: Some(&oracles),
        beta_forget: None,
        root: None,
        device: Device::flex(),
    };
    // T = F ∪ all of R (rm·|F| ≥ |R|).
    let rm = (data.train.len() - FORGET).div_ceil(FORGET) as f64;
    let config = config(
        "om",
        json!({ "epochs": 60, "lr": 1e-2, "retain_multiplier": rm, "batch_size": 64 }),
    );
    let out = config.run(&ctx, &ALL).unwrap();
    let (p, c) = (originals.points, originals.classes);
    let before = mean_sq_on(&originals.logits, &oracles.logits, 3, p, c, &forget.indices);
    let after = mean_sq_on(&out.logits, &oracles.logits, 3, p, c, &forget.indices);
    let val: Vec<usize> = (data.train.len()..p).collect();
    let before_val = mean_sq_on(&originals.logits, &oracles.logits, 3, p, c, &val);
    let after_val = mean_sq_on(&out.logits, &oracles.logits, 3, p, c, &val);
    println!(
        "OM, logistic: mean squared logit distance to the oracles on F {before:.4} → {after:.3e} ({:.3e}×), on V {before_val:.4} → {after_val:.3e} ({:.3e}×)",
        before / after,
        before_val / after_val
    );
    assert!(
        before / after >= 10.0,
        "forget distance only shrank {:.2}× ({before} → {after})",
        before / after
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Configuration

#[test]
fn every_method_name_has_a_default_of_that_name() {
    let registry = registry();
    let names = registry.names();
    assert_eq!(
        names,
        [
            "do-nothing",
            "retrain",
            "om",
            "dm-direct",
            "dmm",
            "gd",
            "ga",
            "gd-ga",
            "scrub",
            "noisy-descent",
            "del",
            "salun"
        ]
    );
    for entry in registry.entries() {
        let name = entry.name.as_str();
        let config = default_for(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(config.name(), name);
        // The defaults listed are the parameters the method runs with.
        assert_eq!(config.params(), entry.defaults, "{name}");
    }
    let err = default_for("forget-harder").err().unwrap();
    assert!(matches!(err, MethodError::UnknownMethod { .. }), "{err:?}");
    assert!(err.to_string().contains("forget-harder"), "{err}");
    // The message lists what is known.
    assert!(err.to_string().contains("dmm"), "{err}");
}

#[test]
fn invalid_values_are_refused_when_the_method_is_built() {
    // Out of range: the method's check, naming the parameter and the value.
    for (name, overrides, param, value) in [
        ("gd", json!({ "lr": -1.0 }), "lr", "-1"),
        ("dmm", json!({ "batch_size": 0 }), "batch_size", "0"),
        (
            "om",
            json!({ "oracles_per_target": 0 }),
            "oracles_per_target",
            "0",
        ),
        ("dmm", json!({ "near_share": 2.0 }), "near_share", "2"),
        ("scrub", json!({ "temperature": 0.0 }), "temperature", "0"),
        ("noisy-descent", json!({ "noise": -0.5 }), "noise", "-0.5"),
        (
            "del",
            json!({ "localize": { "kind": "del", "mask_share": 1.5 } }),
            "mask_share",
            "1.5",
        ),
        ("salun", json!({ "mask_share": 0.0 }), "mask_share", "0"),
    ] {
        let err = with_overrides(name, overrides.as_object().unwrap())
            .err()
            .unwrap_or_else(|| panic!("{name}: {overrides} was accepted"));
        match &err {
            MethodError::OutOfRange { method, source } => {
                assert_eq!((method.as_str(), source.param), (name, param), "{err}");
                assert_eq!(source.value, value, "{err}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // Not a number at all (NaN is JSON null): the type.
    let err = with_overrides(
        "dm-direct",
        json!({ "scale": f64::NAN }).as_object().unwrap(),
    )
    .err()
    .expect("NaN scale accepted");
    assert!(matches!(err, MethodError::Params { .. }), "{err:?}");
    assert!(err.to_string().contains("dm-direct"), "{err}");
}

/// Checked parameters are the only way to make a built-in method, and checking is idempotent:
/// the defaults pass, and what passes reads back unchanged.
#[test]
fn default_parameters_pass_their_check_unchanged() {
    use unlearn_methods::config::{CheckParams, defaults};
    let dmm = defaults::dmm();
    assert_eq!(*dmm.clone().check().unwrap(), dmm);
    let del = defaults::del();
    assert_eq!(del.clone().check().unwrap().into_inner(), del);
    for p in [defaults::gd(), defaults::ga()] {
        assert!(p.check().is_ok());
    }
    assert!(defaults::scrub().check().is_ok());
    assert!(defaults::noisy().check().is_ok());
    assert!(defaults::salun().check().is_ok());
}

#[test]
fn overrides_reject_an_unknown_key_naming_it() {
    let err = with_overrides(
        "gd",
        json!({ "epochs": 3, "learning_rate": 0.1 })
            .as_object()
            .unwrap(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(&err, MethodError::Params { source: ParamsError::UnknownKey { key, .. }, .. } if key == "learning_rate"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("learning_rate"), "{msg}");
    assert!(msg.contains("gd"), "{msg}");
    // The message lists what is known, so the fix is visible.
    assert!(msg.contains("lr"), "{msg}");
}

const WRONG_TYPES: [(&str, &str); 4] = [
    ("gd", r#"{ "epochs": "five" }"#),
    ("om", r#"{ "lr": "fast" }"#),
    (
        "del",
        r#"{ "localize": { "kind": "del", "mask_share": "most" } }"#,
    ),
    ("scrub", r#"{ "decay_epochs": 2 }"#),
];

#[test]
fn overrides_reject_a_wrong_type() {
    for (name, overrides) in WRONG_TYPES {
        let overrides: Value = serde_json::from_str(overrides).unwrap();
        let err = with_overrides(name, overrides.as_object().unwrap())
            .err()
            .unwrap();
        assert!(matches!(err, MethodError::Params { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn overrides_reject_a_wrong_type_naming_the_key() {
    for (name, overrides) in WRONG_TYPES {
        let overrides: Value = serde_json::from_str(overrides).unwrap();
        let err = with_overrides(name, overrides.as_object().unwrap())
            .err()
            .unwrap();
        assert!(matches!(err, MethodError::Params { .. }), "{err:?}");
        let msg = err.to_string();
        let key = overrides
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        assert!(
            msg.contains(&key),
            "{name}: the message does not name '{key}': {msg}"
        );
    }
}

#[test]
fn set_flags_parse_numbers_and_json_objects() {
    let sets: Vec<String> = [
        "epochs=5",
        "lr=1e-3",
        r#"localize={"kind":"del","mask_share":0.3}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let map = parse_sets(&sets).unwrap();
    assert_eq!(map["epochs"], json!(5));
    assert_eq!(map["lr"].as_f64(), Some(1e-3));
    assert_eq!(map["localize"], json!({ "kind": "del", "mask_share": 0.3 }));
    let p: unlearn_methods::config::DescentParams =
        serde_json::from_value(with_overrides("gd", &map).unwrap().params()).unwrap();
    assert_eq!(p.epochs, 5);
    assert_eq!(p.lr, 1e-3);
    assert_eq!(
        p.localize,
        Some(Localize {
            kind: LocalizeKind::Del,
            mask_share: 0.3
        })
    );
    // Untouched keys keep their defaults.
    let d: unlearn_methods::config::DescentParams =
        serde_json::from_value(default_for("gd").unwrap().params()).unwrap();
    assert_eq!(
        (p.momentum, p.weight_decay, p.batch_size),
        (d.momentum, d.weight_decay, d.batch_size)
    );

    let err = parse_sets(&["epochs".to_string()]).unwrap_err();
    assert!(err.to_string().contains("epochs"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// 7. Resumability of the runner

#[test]
fn unlearn_zoo_resumes_a_deleted_model_bit_identically_and_keeps_the_others() {
    let f = mlp_fixture();
    let ctx = f.ctx();
    let config = default_for("gd").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gd");
    let first = run_zoo(&config, &ctx, &f.forget_ref, &out);
    let first_logits = unlearn_data::read_npy_f32(out.join("logits.npy")).unwrap();
    let first_model1 = params(
        &Zoo::load(&out)
            .unwrap()
            .load_model(&small_mlp_arch(), 1, &Device::flex())
            .unwrap(),
    );
    let stamp = |p: PathBuf| {
        let m = std::fs::metadata(&p).unwrap();
        (m.ino(), m.mtime(), m.mtime_nsec())
    };
    let kept: Vec<_> = [0, 2]
        .iter()
        .flat_map(|&i| [stamp(model_path(&out, i)), stamp(logits_path(&out, i))])
        .collect();

    std::fs::remove_file(logits_path(&out, 1)).unwrap();
    std::fs::remove_file(out.join("logits.npy")).unwrap();
    let second = run_zoo(&config, &ctx, &f.forget_ref, &out);

    let second_logits = unlearn_data::read_npy_f32(out.join("logits.npy")).unwrap();
    assert_eq!(first_logits.0, second_logits.0);
    assert!(
        bit_identical(&first_logits.1, &second_logits.1),
        "the resumed run differs (max diff {})",
        max_abs_diff(&first_logits.1, &second_logits.1)
    );
    let again: Vec<_> = [0, 2]
        .iter()
        .flat_map(|&i| [stamp(model_path(&out, i)), stamp(logits_path(&out, i))])
        .collect();
    assert_eq!(kept, again, "files of models 0 and 2 were rewritten");
    assert!(logits_path(&out, 1).is_file());
    let second_model1 = params(
        &Zoo::load(&out)
            .unwrap()
            .load_model(&small_mlp_arch(), 1, &Device::flex())
            .unwrap(),
    );
    for ((_, _, a), (_, _, b)) in first_model1.iter().zip(&second_model1) {
        assert!(
            bit_identical(a, b),
            "model 1's checkpoint differs after resuming"
        );
    }
    assert_eq!(first.examples_per_model, second.examples_per_model);
    assert_eq!(first.cost, second.cost);
    assert!(
        first.cost > 0.0 && first.cost < 1.0,
        "GD cost {}",
        first.cost
    );
}

#[test]
fn a_run_killed_after_its_last_model_reports_the_first_runs_cost_when_resumed() {
    let f = mlp_fixture();
    let ctx = f.ctx();
    let config = default_for("gd").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("gd");
    let first = run_zoo(&config, &ctx, &f.forget_ref, &out);
    // Killed between the last model's files and the final manifest: every model is on disk,
    // the manifest is the unfinished one `prepare_dir` writes (no cost in it).
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    std::fs::remove_file(out.join("logits.npy")).unwrap();
    let model0 = std::fs::metadata(model_path(&out, 0)).unwrap().mtime_nsec();
    let second = run_zoo(&config, &ctx, &f.forget_ref, &out);
    assert_eq!(
        std::fs::metadata(model_path(&out, 0)).unwrap().mtime_nsec(),
        model0,
        "a finished model was redone"
    );
    assert!(first.examples_per_model > 0);
    assert_eq!(first.examples_per_model, second.examples_per_model);
    assert_eq!(first.cost, second.cost);
}

// ---------------------------------------------------------------------------------------------
// 8. Missing inputs

#[test]
fn om_without_oracles_and_dmm_without_attribution_say_what_to_pass() {
    let f = mlp_fixture();
    let ctx = f.ctx();
    for (name, flag) in [
        ("om", "target oracles"),
        ("dmm", "attribution rows"),
        ("dm-direct", "attribution rows"),
    ] {
        let config = default_for(name).unwrap();
        let err = config
            .run(&ctx, &ALL)
            .err()
            .unwrap_or_else(|| panic!("{name} ran without its input"));
        let MethodError::MissingInput { method, .. } = &err else {
            panic!("{name}: expected MissingInput, got {err:?}")
        };
        assert_eq!(method, name);
        let msg = err.to_string();
        assert!(
            msg.contains(flag),
            "{name}: the message does not name {flag}: {msg}"
        );
        // The runner reports the same error.
        let dir = tempfile::tempdir().unwrap();
        let err = unlearn_zoo(
            config.as_ref(),
            &ctx,
            &f.forget_ref,
            json!({}),
            dir.path(),
            3,
            None,
            &(),
        )
        .unwrap_err();
        assert!(matches!(err, MethodError::MissingInput { .. }), "{err:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 9. Determinism

/// Runs `body` on the MLP fixture with `fake_beta` as its attribution rows.
fn with_fake_attribution(body: impl FnOnce(&Context<'_, ModelConfig>)) {
    let f = mlp_fixture();
    let beta = fake_beta(f.originals.points, f.originals.classes);
    let ctx = Context {
        beta_forget: Some(&beta),
        ..f.ctx()
    };
    body(&ctx);
}

#[test]
fn dmm_is_deterministic_and_moves_towards_its_target() {
    let f = mlp_fixture();
    let (points, classes) = (f.originals.points, f.originals.classes);
    with_fake_attribution(|ctx| {
        let config = default_for("dmm").unwrap();
        let a = config.run(ctx, &ALL).unwrap();
        let b = config.run(ctx, &ALL).unwrap();
        assert!(
            bit_identical(&a.logits, &b.logits),
            "two DMM runs differ (max diff {})",
            max_abs_diff(&a.logits, &b.logits)
        );
        assert_eq!(a.examples, b.examples);

        // DMM's target is DM-Direct's output; fine-tuning moves the forget points towards it.
        let target = self::config("dm-direct", json!({ "scale": 1.0 }))
            .run(ctx, &ALL)
            .unwrap()
            .logits;
        let before = mean_sq_on(
            &f.originals.logits,
            &target,
            3,
            points,
            classes,
            &f.forget.indices,
        );
        let after = mean_sq_on(&a.logits, &target, 3, points, classes, &f.forget.indices);
        println!("DMM: mean squared distance to the target on F {before:.4} → {after:.4}");
        assert!(after < 0.5 * before, "{before} → {after}");
    })
}

/// DMM with a short patience and no budget, so the three models match after different numbers
/// of epochs: each model of the stack must be bit for bit what it is alone, at its own cost.
fn check_each_model_of_a_stack_is_what_it_is_alone(ctx: &Context<'_, ModelConfig>) {
    let config = self::config(
        "dmm",
        json!({ "patience": 1, "tolerance": 0.1, "max_cost": 0.0, "epochs": 30 }),
    );
    let stacked = config.run(ctx, &ALL).unwrap();
    let per = ctx.points() * ctx.classes();
    let mut alone_examples = Vec::new();
    for (j, &i) in ALL.iter().enumerate() {
        let alone = config.run(ctx, &[i]).unwrap();
        let member = &stacked.logits[j * per..(j + 1) * per];
        assert!(
            bit_identical(member, &alone.logits),
            "model {i}: stacked and alone differ (max diff {})",
            max_abs_diff(member, &alone.logits)
        );
        assert_eq!(stacked.examples_of(j), alone.examples_of(0), "model {i}");
        alone_examples.push(alone.examples_of(0));
    }
    println!("DMM examples per model, each alone: {alone_examples:?}");
    assert!(
        alone_examples.iter().any(|&e| e != alone_examples[0]),
        "the models stopped together, so the test shows nothing: {alone_examples:?}"
    );
    assert_eq!(stacked.examples, *alone_examples.iter().max().unwrap());
}

#[test]
fn dmm_gives_each_model_of_a_stack_what_it_gives_alone() {
    with_fake_attribution(check_each_model_of_a_stack_is_what_it_is_alone);
}

/// The same with batch norm (a narrow ResNet-9): a model kept when it matched must keep its own
/// running statistics, not take the stack's later ones.
#[test]
fn dmm_on_a_batch_norm_network_gives_each_model_of_a_stack_what_it_gives_alone() {
    let arch = ModelConfig::ResNet9(ResNet9Config {
        width: 4,
        scale: 0.125,
    });
    let mut recipe = small_mlp();
    recipe.model = arch.spec();
    recipe.epochs = 2;
    let f = fixture(recipe, arch);
    let beta = fake_beta(f.originals.points, f.originals.classes);
    check_each_model_of_a_stack_is_what_it_is_alone(&Context {
        beta_forget: Some(&beta),
        ..f.ctx()
    });
}
