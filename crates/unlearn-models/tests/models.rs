//! Stacked architectures: output shapes, the stack-of-K layout (a stacked model k must compute
//! exactly what the model built alone from seed k computes), host-side reference forward passes,
//! stacking round trips, seeding, configuration validation and JSON.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use unlearn_models::stacking::{concat, extract};
use unlearn_models::{
    ArchSpec, CnnConfig, EasydubResNet9Config, LogisticConfig, MlpConfig, ResNet9Config,
};
use unlearn_models::{InputSpec, Model, ModelConfig, ModelError, StackModel};

fn device() -> Device {
    Device::flex()
}

/// Flat digits-like input: 64 features, no image shape.
fn flat(dim: usize) -> InputSpec {
    InputSpec {
        dim,
        image_shape: None,
        classes: 10,
    }
}

/// Digits' image layout: 1×8×8.
fn digits_like() -> InputSpec {
    InputSpec {
        dim: 64,
        image_shape: Some([1, 8, 8]),
        classes: 10,
    }
}

/// CIFAR-like colour image, tiny: 3×8×8.
fn colour8() -> InputSpec {
    InputSpec {
        dim: 192,
        image_shape: Some([3, 8, 8]),
        classes: 10,
    }
}

/// `len` values uniform in [-2, 2] from `seed`.
fn random_values(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-2.0f32..2.0)).collect()
}

fn tensor3(values: Vec<f32>, shape: [usize; 3]) -> Tensor<3> {
    Tensor::from_data(TensorData::new(values, shape), &device())
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_into_vec::<f32>().expect("float tensor")
}

/// Every float tensor of a module (parameters and running statistics), with its shape.
struct Collect(Vec<(Vec<usize>, Vec<f32>)>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        let dims = t.dims().to_vec();
        self.0.push((dims, to_vec(t)));
    }
}

fn params<M: Module>(m: &M) -> Vec<(Vec<usize>, Vec<f32>)> {
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn all_configs() -> Vec<(ModelConfig, InputSpec)> {
    vec![
        (ModelConfig::Logistic(LogisticConfig {}), flat(64)),
        (
            ModelConfig::Mlp(MlpConfig {
                hidden: vec![16, 8],
            }),
            flat(64),
        ),
        (
            ModelConfig::Cnn(CnnConfig {
                channels: vec![4, 6],
            }),
            digits_like(),
        ),
        (
            ModelConfig::ResNet9(ResNet9Config {
                width: 4,
                scale: 0.125,
            }),
            colour8(),
        ),
    ]
}

#[test]
fn output_shapes_for_every_architecture_and_stack_size() {
    for (config, input) in all_configs() {
        for k in [1usize, 3] {
            let seeds: Vec<u64> = (0..k as u64).collect();
            let model = Model::init(&config, &input, &seeds, &device()).expect("valid config");
            let batch = 5;
            let x = tensor3(
                random_values(k * batch * input.dim, 1),
                [k, batch, input.dim],
            );
            let y = model.forward(x);
            assert_eq!(
                y.dims(),
                [k, batch, input.classes],
                "{config:?} with K = {k}"
            );
            let values = to_vec(y);
            assert!(
                values.iter().all(|v| v.is_finite()),
                "{config:?}: non-finite logits"
            );

            // forward_shared gives every model the same points.
            let shared = Tensor::<2>::from_data(
                TensorData::new(random_values(batch * input.dim, 2), [batch, input.dim]),
                &device(),
            );
            assert_eq!(
                model.forward_shared(shared, k).dims(),
                [k, batch, input.classes]
            );
        }
    }
}

/// Stacking must not mix models: model k of a stack gives, on its own inputs, exactly the
/// logits of the model built alone from seed k. For the CNN this checks the grouped-convolution
/// layout (channels model-major, groups = K) and the image reshapes around it.
#[test]
fn stacked_model_k_equals_model_built_alone_from_seed_k() {
    let configs = [
        (ModelConfig::Logistic(LogisticConfig {}), flat(64)),
        (
            ModelConfig::Mlp(MlpConfig {
                hidden: vec![16, 8],
            }),
            flat(64),
        ),
        (
            ModelConfig::Cnn(CnnConfig {
                channels: vec![4, 6],
            }),
            digits_like(),
        ),
        (ModelConfig::Cnn(CnnConfig { channels: vec![5] }), colour8()),
        (
            ModelConfig::ResNet9(ResNet9Config {
                width: 4,
                scale: 0.125,
            }),
            colour8(),
        ),
    ];
    let seeds = [11u64, 12, 13];
    let k = seeds.len();
    let batch = 4;
    for (config, input) in configs {
        let stack = Model::init(&config, &input, &seeds, &device()).unwrap();
        // Different inputs for every model, so a model reading another's slice is caught.
        let inputs: Vec<Vec<f32>> = (0..k)
            .map(|i| random_values(batch * input.dim, 100 + i as u64))
            .collect();
        let x = tensor3(inputs.concat(), [k, batch, input.dim]);
        let stacked = to_vec(stack.forward(x));
        let per = batch * input.classes;
        for (i, &seed) in seeds.iter().enumerate() {
            let alone = Model::init(&config, &input, &[seed], &device()).unwrap();
            let xi = tensor3(inputs[i].clone(), [1, batch, input.dim]);
            let expected = to_vec(alone.forward(xi));
            let got = &stacked[i * per..(i + 1) * per];
            let diff = max_abs_diff(got, &expected);
            assert!(
                diff <= 1e-5,
                "{config:?}: model {i} of the stack differs from seed {seed} alone by {diff}"
            );
        }
    }
}

/// Host reference (f64) of one MLP of a stack: `y = relu(... relu(x W1 + b1) ...) Wn + bn`.
fn mlp_reference(
    layers: &[(Vec<f32>, Vec<f32>, usize, usize)],
    x: &[f32],
    batch: usize,
) -> Vec<f64> {
    let mut h: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let last = layers.len() - 1;
    for (l, (w, b, d_in, d_out)) in layers.iter().enumerate() {
        let mut out = vec![0f64; batch * d_out];
        for r in 0..batch {
            for o in 0..*d_out {
                let mut s = b[o] as f64;
                for i in 0..*d_in {
                    s += h[r * d_in + i] * w[i * d_out + o] as f64;
                }
                out[r * d_out + o] = if l < last { s.max(0.0) } else { s };
            }
        }
        h = out;
    }
    h
}

#[test]
fn stacked_mlp_matches_a_host_reference_forward_pass() {
    let input = flat(12);
    let hidden = vec![7, 5];
    let seeds = [3u64, 4];
    let k = seeds.len();
    let batch = 6;
    let model = Model::init(
        &ModelConfig::Mlp(MlpConfig {
            hidden: hidden.clone(),
        }),
        &input,
        &seeds,
        &device(),
    )
    .unwrap();
    let Model::Mlp(mlp) = &model else {
        panic!("mlp config must build Model::Mlp")
    };
    let widths = [12, 7, 5, 10];
    assert_eq!(mlp.layers.len(), 3);
    let x_values = random_values(k * batch * 12, 9);
    let got = to_vec(model.forward(tensor3(x_values.clone(), [k, batch, 12])));
    for m in 0..k {
        let layers: Vec<_> = mlp
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let (d_in, d_out) = (widths[l], widths[l + 1]);
                assert_eq!(layer.weight.val().dims(), [k, d_in, d_out]);
                let w = to_vec(layer.weight.val());
                let b = to_vec(layer.bias.as_ref().expect("bias").val());
                (
                    w[m * d_in * d_out..(m + 1) * d_in * d_out].to_vec(),
                    b[m * d_out..(m + 1) * d_out].to_vec(),
                    d_in,
                    d_out,
                )
            })
            .collect();
        let x = &x_values[m * batch * 12..(m + 1) * batch * 12];
        let expected = mlp_reference(&layers, x, batch);
        let per = batch * 10;
        for (g, e) in got[m * per..(m + 1) * per].iter().zip(&expected) {
            assert!(
                (*g as f64 - e).abs() < 1e-4,
                "model {m}: {g} vs reference {e}"
            );
        }
    }
}

/// Host reference (f64) of one CNN: per block a 3×3 "same" convolution, ReLU and 2×2 max-pool
/// (stride 2, floor), then a linear head on the channel-major flattened features.
fn cnn_reference(
    x: &[f32],
    image: [usize; 3],
    convs: &[(Vec<f32>, Vec<f32>, usize, usize)],
    head: (&[f32], &[f32], usize, usize),
) -> Vec<f64> {
    let [mut c, mut h, mut w] = image;
    let mut map: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    for (weight, bias, c_in, c_out) in convs {
        assert_eq!(*c_in, c);
        let mut conv = vec![0f64; c_out * h * w];
        for o in 0..*c_out {
            for y in 0..h {
                for xx in 0..w {
                    let mut s = bias[o] as f64;
                    for i in 0..*c_in {
                        for dy in 0..3 {
                            for dx in 0..3 {
                                let (sy, sx) =
                                    (y as isize + dy as isize - 1, xx as isize + dx as isize - 1);
                                if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                                    continue;
                                }
                                let v = map[(i * h + sy as usize) * w + sx as usize];
                                s += v * weight[((o * c_in + i) * 3 + dy) * 3 + dx] as f64;
                            }
                        }
                    }
                    conv[(o * h + y) * w + xx] = s.max(0.0);
                }
            }
        }
        let (h2, w2) = (h / 2, w / 2);
        let mut pooled = vec![0f64; c_out * h2 * w2];
        for o in 0..*c_out {
            for y in 0..h2 {
                for xx in 0..w2 {
                    let mut m = f64::NEG_INFINITY;
                    for dy in 0..2 {
                        for dx in 0..2 {
                            m = m.max(conv[(o * h + 2 * y + dy) * w + 2 * xx + dx]);
                        }
                    }
                    pooled[(o * h2 + y) * w2 + xx] = m;
                }
            }
        }
        map = pooled;
        c = *c_out;
        h = h2;
        w = w2;
    }
    let (hw, hb, d_in, d_out) = head;
    assert_eq!(d_in, c * h * w);
    (0..d_out)
        .map(|o| {
            hb[o] as f64
                + (0..d_in)
                    .map(|i| map[i] * hw[i * d_out + o] as f64)
                    .sum::<f64>()
        })
        .collect()
}

#[test]
fn stacked_cnn_matches_a_host_reference_forward_pass() {
    let input = InputSpec {
        dim: 2 * 8 * 8,
        image_shape: Some([2, 8, 8]),
        classes: 3,
    };
    let channels = vec![3, 4];
    let seeds = [21u64, 22, 23];
    let k = seeds.len();
    let batch = 2;
    let model = Model::init(
        &ModelConfig::Cnn(CnnConfig {
            channels: channels.clone(),
        }),
        &input,
        &seeds,
        &device(),
    )
    .unwrap();
    let Model::Cnn(cnn) = &model else {
        panic!("cnn config must build Model::Cnn")
    };
    let x_values = random_values(k * batch * input.dim, 5);
    let got = to_vec(model.forward(tensor3(x_values.clone(), [k, batch, input.dim])));
    let conv_weights: Vec<(Vec<f32>, Vec<f32>)> = cnn
        .convs
        .iter()
        .map(|c| {
            (
                to_vec(c.weight.val()),
                to_vec(c.bias.as_ref().expect("bias").val()),
            )
        })
        .collect();
    let head_w = to_vec(cnn.head.weight.val());
    let head_b = to_vec(cnn.head.bias.as_ref().expect("bias").val());
    let head_in = 4 * 2 * 2;
    assert_eq!(cnn.head.weight.val().dims(), [k, head_in, 3]);
    let ins = [2usize, 3];
    for m in 0..k {
        // Model m owns filters m·out .. (m+1)·out of every stacked convolution.
        let convs: Vec<_> = conv_weights
            .iter()
            .zip(ins.iter().zip(&channels))
            .map(|((w, b), (&c_in, &c_out))| {
                let per = c_out * c_in * 9;
                (
                    w[m * per..(m + 1) * per].to_vec(),
                    b[m * c_out..(m + 1) * c_out].to_vec(),
                    c_in,
                    c_out,
                )
            })
            .collect();
        for r in 0..batch {
            let x = &x_values[(m * batch + r) * input.dim..(m * batch + r + 1) * input.dim];
            let hw = &head_w[m * head_in * 3..(m + 1) * head_in * 3];
            let hb = &head_b[m * 3..(m + 1) * 3];
            let expected = cnn_reference(x, [2, 8, 8], &convs, (hw, hb, head_in, 3));
            let row = &got[(m * batch + r) * 3..(m * batch + r + 1) * 3];
            for (g, e) in row.iter().zip(&expected) {
                assert!(
                    (*g as f64 - e).abs() < 1e-4,
                    "model {m}, row {r}: {g} vs reference {e}"
                );
            }
        }
    }
}

/// Architectures without batch norm (no running statistics).
fn configs_without_batch_norm() -> Vec<(ModelConfig, InputSpec)> {
    all_configs()
        .into_iter()
        .filter(|(c, _)| !matches!(c, ModelConfig::ResNet9(ResNet9Config { .. })))
        .collect()
}

fn resnet9_tiny() -> (ModelConfig, InputSpec) {
    (
        ModelConfig::ResNet9(ResNet9Config {
            width: 4,
            scale: 0.125,
        }),
        colour8(),
    )
}

/// `extract` must not change the stack it cuts from, every extracted model must be the model
/// built alone from its seed, and `concat` must put them back together exactly.
fn check_extract_concat_round_trip(config: &ModelConfig, input: &InputSpec) {
    let seeds = [7u64, 8, 9];
    let stack = Model::init(config, input, &seeds, &device()).unwrap();
    let original = params(&stack);
    let mut singles = Vec::new();
    for i in 0..seeds.len() {
        singles.push(extract(&stack, i, seeds.len()));
        assert_eq!(
            params(&stack),
            original,
            "{config:?}: extracting model {i} changed the stack itself"
        );
    }
    for (i, single) in singles.iter().enumerate() {
        // A model cut out of the stack is the model built alone from its seed.
        let alone = Model::init(config, input, &[seeds[i]], &device()).unwrap();
        assert_eq!(
            params(single),
            params(&alone),
            "{config:?}: extracted model {i} differs from seed {} alone",
            seeds[i]
        );
    }
    // The template's own values (other seeds) must be replaced entirely.
    let template = Model::init(config, input, &[100, 200, 300], &device()).unwrap();
    assert_ne!(params(&template), original);
    let rebuilt = concat(template, &singles);
    assert_eq!(
        params(&rebuilt),
        original,
        "{config:?}: concat(extract(..)) is not the original stack"
    );

    // Concatenating in another order permutes the models.
    let reversed: Vec<Model> = singles.iter().rev().cloned().collect();
    let template = Model::init(config, input, &[0, 0, 0], &device()).unwrap();
    let permuted = concat(template, &reversed);
    let expected = Model::init(config, input, &[9, 8, 7], &device()).unwrap();
    assert_eq!(
        params(&permuted),
        params(&expected),
        "{config:?}: concat order"
    );
}

#[test]
fn extract_then_concat_round_trips_every_parameter() {
    for (config, input) in configs_without_batch_norm() {
        check_extract_concat_round_trip(&config, &input);
    }
}

/// burn's `RunningState` (batch-norm running mean/var) keeps its value behind an `Arc<Mutex>`
/// that `Module::clone` shares and `Module::map` overwrites in place, so `extract`
/// (`stack.clone().map(Narrow)`) narrows the *source stack's* running statistics too.
#[test]
fn resnet9_extract_then_concat_round_trips_every_parameter() {
    let (config, input) = resnet9_tiny();
    check_extract_concat_round_trip(&config, &input);
}

fn check_seeding(config: &ModelConfig, input: &InputSpec) {
    let a = params(&Model::init(config, input, &[42], &device()).unwrap());
    let b = params(&Model::init(config, input, &[42], &device()).unwrap());
    let c = params(&Model::init(config, input, &[43], &device()).unwrap());
    assert_eq!(a, b, "{config:?}: same seed, different parameters");
    assert_ne!(a, c, "{config:?}: different seeds, same parameters");
    // Not only one tensor: the first weight tensor must differ almost everywhere.
    let (first_a, first_c) = (&a[0].1, &c[0].1);
    let equal = first_a.iter().zip(first_c).filter(|(x, y)| x == y).count();
    assert!(
        equal * 100 < first_a.len(),
        "{config:?}: {equal} of {} first-layer weights coincide",
        first_a.len()
    );
    // Within a stack, each model's parameters depend only on its own seed.
    let stack = Model::init(config, input, &[5, 6, 5, 42], &device()).unwrap();
    let p: Vec<_> = (0..4).map(|i| params(&extract(&stack, i, 4))).collect();
    assert_eq!(p[0], p[2], "{config:?}: equal seeds in one stack");
    assert_ne!(p[0], p[1], "{config:?}: distinct seeds in one stack");
    assert_eq!(p[3], a, "{config:?}: seed 42 in a stack vs alone");
}

#[test]
fn same_seed_same_parameters_different_seed_different_parameters() {
    for (config, input) in configs_without_batch_norm() {
        check_seeding(&config, &input);
    }
}

#[test]
fn resnet9_same_seed_same_parameters_different_seed_different_parameters() {
    // Without `extract` (see the ignored test below for the stacked part).
    let (config, input) = resnet9_tiny();
    let a = params(&Model::init(&config, &input, &[42], &device()).unwrap());
    let b = params(&Model::init(&config, &input, &[42], &device()).unwrap());
    let c = params(&Model::init(&config, &input, &[43], &device()).unwrap());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn resnet9_seeding_within_a_stack() {
    let (config, input) = resnet9_tiny();
    check_seeding(&config, &input);
}

#[test]
fn default_initialisation_follows_pytorch_bounds() {
    // Linear: uniform in ±1/√in (64 inputs → ±0.125); both signs must occur.
    let model = Model::init(
        &ModelConfig::Logistic(LogisticConfig {}),
        &flat(64),
        &[1],
        &device(),
    )
    .unwrap();
    let p = params(&model);
    assert_eq!(p[0].0, vec![1, 64, 10]);
    let w = &p[0].1;
    assert!(w.iter().all(|v| v.abs() <= 0.125 + 1e-7));
    assert!(w.iter().any(|&v| v > 0.06) && w.iter().any(|&v| v < -0.06));
}

#[test]
fn validate_rejects_models_that_cannot_fit_the_data() {
    let cnn = ModelConfig::Cnn(CnnConfig {
        channels: vec![16, 32],
    });
    // Convolutions on flat data.
    let err = cnn.validate(&flat(64)).unwrap_err();
    assert_eq!(
        err,
        ModelError::NeedsImages {
            model: "cnn".into(),
            dim: 64
        }
    );
    assert!(err.to_string().contains("needs image inputs"), "{err}");
    let resnet = ModelConfig::ResNet9(ResNet9Config {
        width: 4,
        scale: 0.125,
    });
    assert!(matches!(
        resnet.validate(&flat(192)),
        Err(ModelError::NeedsImages { .. })
    ));

    // Image shape that does not multiply out to the feature count.
    let wrong = InputSpec {
        dim: 64,
        image_shape: Some([3, 8, 8]),
        classes: 10,
    };
    assert_eq!(
        cnn.validate(&wrong).unwrap_err(),
        ModelError::ShapeMismatch {
            shape: [3, 8, 8],
            product: 192,
            dim: 64
        }
    );

    // ResNet-9 pools three times: 4×4 images are too small, 8×8 are enough.
    let small = InputSpec {
        dim: 48,
        image_shape: Some([3, 4, 4]),
        classes: 10,
    };
    let err = resnet.validate(&small).unwrap_err();
    assert_eq!(
        err,
        ModelError::TooSmall {
            model: "resnet9".into(),
            pools: 3,
            need: 8,
            h: 4,
            w: 4
        }
    );
    assert!(err.to_string().contains("4×4"), "{err}");
    assert_eq!(resnet.validate(&colour8()), Ok(()));
    // Two CNN blocks need 4×4; 4×2 is too narrow.
    let narrow = InputSpec {
        dim: 8,
        image_shape: Some([1, 4, 2]),
        classes: 10,
    };
    assert!(matches!(
        cnn.validate(&narrow),
        Err(ModelError::TooSmall {
            need: 4,
            h: 4,
            w: 2,
            ..
        })
    ));

    // Zero widths, one class.
    assert!(matches!(
        ModelConfig::Mlp(MlpConfig { hidden: vec![8, 0] }).validate(&flat(4)),
        Err(ModelError::Invalid { .. })
    ));
    assert!(matches!(
        ModelConfig::Cnn(CnnConfig { channels: vec![] }).validate(&digits_like()),
        Err(ModelError::Invalid { .. })
    ));
    let one_class = InputSpec {
        dim: 4,
        image_shape: None,
        classes: 1,
    };
    assert!(matches!(
        ModelConfig::Logistic(LogisticConfig {}).validate(&one_class),
        Err(ModelError::Invalid { .. })
    ));

    // Model::init reports the same error instead of building anything.
    assert!(matches!(
        Model::init(&cnn, &flat(64), &[0], &device()),
        Err(ModelError::NeedsImages { .. })
    ));
    // Flat models accept flat and image data alike.
    assert_eq!(
        ModelConfig::Mlp(MlpConfig { hidden: vec![64] }).validate(&flat(64)),
        Ok(())
    );
    assert_eq!(
        ModelConfig::Logistic(LogisticConfig {}).validate(&digits_like()),
        Ok(())
    );
}

#[test]
fn model_config_json_round_trip() {
    let mlp: ModelConfig = serde_json::from_str(r#"{"kind":"mlp","hidden":[64]}"#).unwrap();
    assert_eq!(mlp, ModelConfig::Mlp(MlpConfig { hidden: vec![64] }));
    assert_eq!(mlp, ModelConfig::from_name("mlp").unwrap());
    let text = serde_json::to_string(&mlp).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value, serde_json::json!({"kind": "mlp", "hidden": [64]}));

    for config in [
        ModelConfig::Logistic(LogisticConfig {}),
        ModelConfig::Mlp(MlpConfig {
            hidden: vec![32, 16],
        }),
        ModelConfig::Cnn(CnnConfig {
            channels: vec![16, 32],
        }),
        ModelConfig::ResNet9(ResNet9Config {
            width: 64,
            scale: 0.125,
        }),
    ] {
        let text = serde_json::to_string(&config).unwrap();
        let back: ModelConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, config, "{text}");
        assert_eq!(
            ModelConfig::from_name(config.name()).map(|c| c.name()),
            Some(config.name())
        );
    }
    let resnet: ModelConfig =
        serde_json::from_str(r#"{"kind":"resnet9","width":8,"scale":0.5}"#).unwrap();
    assert_eq!(
        resnet,
        ModelConfig::ResNet9(ResNet9Config {
            width: 8,
            scale: 0.5
        })
    );
    let logistic: ModelConfig = serde_json::from_str(r#"{"kind":"logistic"}"#).unwrap();
    assert_eq!(logistic, ModelConfig::Logistic(LogisticConfig {}));

    // Unknown kinds, missing fields and typos are errors, not silently defaulted.
    assert!(serde_json::from_str::<ModelConfig>(r#"{"kind":"transformer"}"#).is_err());
    assert!(serde_json::from_str::<ModelConfig>(r#"{"kind":"mlp"}"#).is_err());
    assert!(serde_json::from_str::<ModelConfig>(r#"{"kind":"mlp","hiden":[64]}"#).is_err());
    assert_eq!(ModelConfig::from_name("transformer"), None);
}

/// Each built-in's own configuration is an architecture: it builds the same logits and records
/// the same spec as the enum that dispatches to it, and the registration names every variant.
#[test]
fn each_built_in_config_builds_its_model_as_the_enum_does() {
    use unlearn_models::Architecture;
    let image = InputSpec {
        dim: 3 * 12 * 12,
        image_shape: Some([3, 12, 12]),
        classes: 4,
    };
    let x = Tensor::<2>::from_data(
        TensorData::new(
            (0..2 * image.dim)
                .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
                .collect::<Vec<_>>(),
            [2, image.dim],
        ),
        &device(),
    );
    fn logits<A: Architecture>(arch: &A, input: &InputSpec, x: &Tensor<2>) -> Vec<f32> {
        let model = arch.init(input, &[7, 9], &device()).unwrap();
        model
            .forward_shared(x.clone(), 2)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap()
    }
    let mlp = MlpConfig { hidden: vec![5] };
    let cnn = CnnConfig { channels: vec![2] };
    let resnet = ResNet9Config {
        width: 2,
        scale: 0.5,
    };
    let easydub = EasydubResNet9Config {
        width: 2,
        scale: 0.2,
    };
    let pairs: Vec<(Vec<f32>, ArchSpec, ModelConfig)> = vec![
        (
            logits(&LogisticConfig {}, &image, &x),
            LogisticConfig {}.spec(),
            LogisticConfig {}.into(),
        ),
        (logits(&mlp, &image, &x), mlp.spec(), mlp.clone().into()),
        (logits(&cnn, &image, &x), cnn.spec(), cnn.clone().into()),
        (
            logits(&resnet, &image, &x),
            resnet.spec(),
            resnet.clone().into(),
        ),
        (
            logits(&easydub, &image, &x),
            easydub.spec(),
            easydub.clone().into(),
        ),
    ];
    for (own, spec, config) in &pairs {
        assert_eq!(own, &logits(config, &image, &x), "{}", config.name());
        assert_eq!(spec, &Architecture::spec(config), "{}", config.name());
        assert_eq!(&ModelConfig::from_spec(spec).unwrap(), config);
    }
    let names: Vec<_> = pairs.iter().map(|(_, _, c)| c.name()).collect();
    assert_eq!(names, ModelConfig::names());
    // The registration's list is what an unknown name is told.
    let unknown = ArchSpec::new("transformer", &());
    let err = ModelConfig::from_spec(&unknown).unwrap_err().to_string();
    assert!(err.contains(&ModelConfig::built_in_names()), "{err}");
    // A configuration refuses another architecture's fields.
    assert!(serde_json::from_str::<ModelConfig>(r#"{"kind":"logistic","hidden":[3]}"#).is_err());
}

/// burn draws parameter and running-statistic ids at random and checkpoints record them: two
/// ResNet-9s built from the same seeds (batch norm included) must still save to the same bytes,
/// and an MLP's too.
#[test]
fn models_built_from_the_same_seed_save_to_identical_bytes() {
    use unlearn_models::Architecture;
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    let (resnet, images) = resnet9_tiny();
    for (name, config, input) in [
        ("resnet9", resnet, images),
        (
            "mlp",
            ModelConfig::Mlp(MlpConfig { hidden: vec![8] }),
            flat(6),
        ),
    ] {
        let save = |k: usize| {
            let model = config.init(&input, &[7], &device).unwrap();
            let path = dir.path().join(format!("{name}-{k}.bpk"));
            config.save(&model, &path).unwrap();
            std::fs::read(path).unwrap()
        };
        assert!(save(0) == save(1), "{name}: two saves of one seed differ");
    }
}
