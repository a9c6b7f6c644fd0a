//! TRAK: per-example gradients, projections, and scores against leave-one-out retraining.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use unlearn_attribution::trak::{
    ClassLogit, MakeProjector, Margin, ModelOutput, PerExampleGradients, Points, ProjectionKind,
    Projector, RandomProjections, RandomProjector, ScoreRequest, Target, Trak, TrakConfig,
};
use unlearn_data::Dataset;
use unlearn_models::{CnnConfig, LogisticConfig, MlpConfig, ResNet9Config};
use unlearn_models::{InputSpec, Model, ModelConfig, StackModel, stacking};
use unlearn_train::inference::stack_logits;
use unlearn_train::{Member, OptimizerConfig, Recipe, Schedule, TrainSet, train_stack};

fn device() -> Device {
    Device::flex()
}

struct Grads<'a> {
    grads: &'a GradientsParams,
    out: Vec<f32>,
}

impl ModuleVisitor for Grads<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if !param.is_require_grad() {
            return;
        }
        let n: usize = param.val().dims().iter().product();
        match self.grads.get::<D>(param.id) {
            Some(g) => self
                .out
                .extend(g.into_data().try_into_vec::<f32>().unwrap()),
            None => self.out.extend(std::iter::repeat_n(0.0, n)),
        }
    }
}

/// The gradient of one example's output from its own backward pass through one model.
fn single_gradient(
    config: &ModelConfig,
    input: &InputSpec,
    seed: u64,
    model: &Model,
    x: &[f32],
    target: Target,
    output: &dyn ModelOutput,
) -> Vec<f32> {
    let ad = device().autodiff();
    let template = Model::init(config, input, &[seed], &ad).unwrap();
    let single = stacking::concat(template, std::slice::from_ref(model))
        .freeze()
        .set_require_grad(true);
    let xt = Tensor::<3>::from_data(TensorData::new(x.to_vec(), [1, 1, input.dim]), &ad);
    let logits = single.forward(xt).reshape([1, input.classes]);
    let out = output.outputs(logits, &[target]);
    let grads = GradientsParams::from_grads(out.sum().backward(), &single);
    let mut v = Grads {
        grads: &grads,
        out: Vec::new(),
    };
    single.visit(&mut v);
    v.out
}

fn check_trick(config: ModelConfig, input: InputSpec, copies: usize, rows: usize) {
    let seed = 11;
    let model = Model::init(&config, &input, &[seed], &device()).unwrap();
    let points = 6;
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x: Vec<f32> = (0..points * input.dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let labels: Vec<u32> = (0..points as u32)
        .map(|i| i % input.classes as u32)
        .collect();
    let g = PerExampleGradients::new(&model, &config, &input, seed, copies, &device()).unwrap();
    let targets: Vec<Target> = (0..rows)
        .map(|r| Target {
            point: (r * 5) % points,
            label: labels[(r * 5) % points],
            class: (r % input.classes) as u32,
        })
        .collect();
    for output in [&Margin as &dyn ModelOutput, &ClassLogit] {
        let batch = g.batch(&x, &targets, output).unwrap();
        assert_eq!(batch.rows, rows);
        let p = g.params();
        assert_eq!(batch.grads.len(), rows * p);
        for (r, t) in targets.iter().enumerate() {
            let row = &x[t.point * input.dim..(t.point + 1) * input.dim];
            let want = single_gradient(&config, &input, seed, &model, row, *t, output);
            assert_eq!(want.len(), p);
            let got = &batch.grads[r * p..(r + 1) * p];
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < 1e-5,
                "{} {}: row {r} differs by {worst}",
                config.name(),
                output.name()
            );
            // The logits come back too, and are the inference-mode logits (batch norm on its
            // running statistics).
            let logits = &batch.logits[r * input.classes..(r + 1) * input.classes];
            let xt =
                Tensor::<3>::from_data(TensorData::new(row.to_vec(), [1, 1, input.dim]), &device());
            let want = model.forward(xt).into_data().try_into_vec::<f32>().unwrap();
            assert!(
                logits.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-4),
                "{logits:?} vs {want:?}"
            );
            assert!(output.output_host(logits, t).is_finite());
        }
    }
}

#[test]
fn stacked_copies_give_single_example_gradients_mlp() {
    let input = InputSpec {
        dim: 4,
        image_shape: None,
        classes: 3,
    };
    check_trick(ModelConfig::Mlp(MlpConfig { hidden: vec![5] }), input, 4, 3);
    check_trick(ModelConfig::Logistic(LogisticConfig {}), input, 5, 5);
}

#[test]
fn stacked_copies_give_single_example_gradients_cnn_and_resnet() {
    let input = InputSpec {
        dim: 2 * 8 * 8,
        image_shape: Some([2, 8, 8]),
        classes: 3,
    };
    check_trick(
        ModelConfig::Cnn(CnnConfig {
            channels: vec![3, 2],
        }),
        input,
        3,
        3,
    );
    // Batch norm in inference mode: per-example gradients do not mix the examples.
    check_trick(
        ModelConfig::ResNet9(ResNet9Config {
            width: 2,
            scale: 0.2,
        }),
        input,
        3,
        2,
    );
}

#[test]
fn margin_output_matches_host_formula() {
    let input = InputSpec {
        dim: 3,
        image_shape: None,
        classes: 4,
    };
    let config = ModelConfig::Mlp(MlpConfig { hidden: vec![6] });
    let model = Model::init(&config, &input, &[2], &device()).unwrap();
    let g = PerExampleGradients::new(&model, &config, &input, 2, 2, &device()).unwrap();
    let x = [0.3f32, -1.0, 2.0, 1.5, 0.5, -0.2];
    let targets = [
        Target {
            point: 0,
            label: 2,
            class: 2,
        },
        Target {
            point: 1,
            label: 0,
            class: 0,
        },
    ];
    let batch = g.batch(&x, &targets, &Margin).unwrap();
    let ad = device().autodiff();
    for (r, t) in targets.iter().enumerate() {
        let logits = &batch.logits[r * 4..(r + 1) * 4];
        let tensor = Tensor::<2>::from_data(TensorData::new(logits.to_vec(), [1, 4]), &ad);
        let dev = Margin
            .outputs(tensor, &[*t])
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()[0];
        assert!((dev - Margin.output_host(logits, t)).abs() < 1e-5);
    }
}

#[test]
fn projection_is_deterministic_and_preserves_inner_products() {
    let (p, k) = (3000, 1024);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let g: Vec<f32> = (0..p).map(|_| normal.sample(&mut rng)).collect();
    // h correlated with g (cosine ≈ 0.6), plus an orthogonal-ish third vector.
    let h: Vec<f32> = g
        .iter()
        .map(|&v| 0.6 * v + 0.8 * normal.sample(&mut rng))
        .collect();
    let u: Vec<f32> = (0..p).map(|_| normal.sample(&mut rng)).collect();
    let rows: Vec<f32> = g.iter().chain(&h).chain(&u).copied().collect();
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| *x as f64 * *y as f64)
            .sum::<f64>()
    };
    for kind in [ProjectionKind::Rademacher, ProjectionKind::Gaussian] {
        let proj = RandomProjector::new(p, k, 42, kind).unwrap();
        let a = proj.project(&rows, 3).unwrap();
        let again = RandomProjector::new(p, k, 42, kind)
            .unwrap()
            .project(&rows, 3)
            .unwrap();
        assert_eq!(a, again, "same seed, same projection");
        let streamed = RandomProjector::with_cache_limit(p, k, 42, kind, 0)
            .unwrap()
            .project(&rows, 3)
            .unwrap();
        assert!(a.iter().zip(&streamed).all(|(x, y)| (x - y).abs() < 1e-4));
        let other = RandomProjector::new(p, k, 43, kind)
            .unwrap()
            .project(&rows, 3)
            .unwrap();
        assert_ne!(a, other, "another seed, another projection");
        let phi = |i: usize| &a[i * k..(i + 1) * k];
        // E[φ_a · φ_b] = (k/p) a · b with the 1/√p normalisation.
        let f = p as f64 / k as f64;
        let vecs = [&g[..], &h[..], &u[..]];
        for i in 0..3 {
            for j in i..3 {
                let want = dot(vecs[i], vecs[j]);
                let got = f * dot(phi(i), phi(j));
                let scale = (dot(vecs[i], vecs[i]) * dot(vecs[j], vecs[j])).sqrt();
                // JL: error ≈ √(2/k) · ‖a‖‖b‖ ≈ 0.044; allow 0.15.
                assert!(
                    (got - want).abs() < 0.15 * scale,
                    "{kind:?} ({i},{j}): {got:.1} vs {want:.1} (scale {scale:.1})"
                );
            }
        }
    }
}

/// Gaussian blobs: `n` points in `d` dimensions, `classes` classes.
fn blobs(n: usize, d: usize, classes: usize, spread: f32, seed: u64) -> Dataset {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let centres: Vec<Vec<f32>> = (0..classes)
        .map(|_| (0..d).map(|_| 1.5 * normal.sample(&mut rng)).collect())
        .collect();
    let labels: Vec<u32> = (0..n).map(|i| (i % classes) as u32).collect();
    let features = labels
        .iter()
        .flat_map(|&y| {
            centres[y as usize]
                .iter()
                .map(|c| c + spread * normal.sample(&mut rng))
                .collect::<Vec<_>>()
        })
        .collect();
    Dataset::new("blobs", features, labels, d, classes, None).unwrap()
}

/// Logistic regression trained by SGD with momentum 0.9 at a constant rate.
fn logistic_recipe(epochs: usize, batch_size: usize, lr: f64, weight_decay: f32) -> Recipe {
    Recipe {
        model: unlearn_models::Architecture::spec(&ModelConfig::Logistic(LogisticConfig {})),
        epochs,
        batch_size,
        last_batch: Default::default(),
        lr,
        optimizer: OptimizerConfig::Sgd {
            momentum: 0.9,
            nesterov: false,
            weight_decay,
        },
        schedule: Schedule::Constant,
        label_smoothing: 0.0,
    }
}

/// `models` members on all `n` train points, member m with seed m.
fn full_data_members(n: usize, models: usize) -> Vec<Member> {
    (0..models)
        .map(|m| Member {
            index: m,
            seed: m as u64,
            indices: (0..n).collect(),
        })
        .collect()
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn trak_tracks_leave_one_out_on_logistic_regression() {
    let (n, d, classes) = (60, 5, 3);
    let data = blobs(n + 30, d, classes, 1.6, 1);
    let train = data.subset(&(0..n).collect::<Vec<_>>());
    let input = InputSpec {
        dim: d,
        image_shape: None,
        classes,
    };
    let recipe = logistic_recipe(300, n, 0.3, 1e-2);
    let dev = device();
    let set = TrainSet::new(&train, &dev);
    let seeds: Vec<u64> = (0..4).collect();
    let originals = full_data_members(n, seeds.len());
    let stack = train_stack(&arch(&recipe), &recipe, &set, &originals, &dev, &mut |_| {}).unwrap();
    // Leave-one-out with the first seed: full-batch descent makes the difference a data effect.
    let loo: Vec<Member> = (0..n)
        .map(|i| Member {
            index: i,
            seed: 0,
            indices: (0..n).filter(|&j| j != i).collect(),
        })
        .collect();
    let loo_stack = train_stack(&arch(&recipe), &recipe, &set, &loo, &dev, &mut |_| {}).unwrap();

    // Targets: every train point and every held-out point, margin outputs.
    let all_x = Tensor::<2>::from_data(
        TensorData::new(data.features.clone(), [data.len(), d]),
        &dev,
    );
    let p_all = data.len();
    let margins = |logits: &[f32], m: usize| -> Vec<f64> {
        (0..p_all)
            .map(|j| {
                unlearn_attribution::trak::output::margin(
                    &logits[(m * p_all + j) * classes..(m * p_all + j + 1) * classes],
                    data.labels[j],
                ) as f64
            })
            .collect()
    };
    let full_logits = stack_logits(&stack, &all_x, seeds.len());
    let full = margins(&full_logits, 0);
    let loo_logits = stack_logits(&loo_stack, &all_x, n);
    // effect[i][x] = margin with i − margin without i.
    let effect: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            margins(&loo_logits, i)
                .iter()
                .zip(&full)
                .map(|(l, f)| f - l)
                .collect()
        })
        .collect();

    let train_points = Points::new(&train.features, &train.labels, d).unwrap();
    let target_points = Points::new(&data.features, &data.labels, d).unwrap();
    let targets = Target::margins(&data.labels);
    // The published setting (a tiny ridge) and the default relative ridge 1.
    let config = TrakConfig {
        batch: 16,
        ridges: vec![1e-3, 1.0],
        ..TrakConfig::default()
    };
    let mut trak = Trak::new(
        config,
        train_points,
        target_points,
        targets,
        &Margin,
        vec![
            ScoreRequest::all(n, p_all),
            ScoreRequest {
                rows: vec![7, 3],
                targets: vec![1, 4, 5, 80],
            },
        ],
    )
    .unwrap();
    // Scores from the first model only, then from all four.
    let models: Vec<Model> = (0..seeds.len())
        .map(|m| stacking::extract(&stack, m, seeds.len()))
        .collect();
    for (m, model) in models.iter().enumerate() {
        let report = trak
            .add_model(
                model,
                &ModelConfig::Logistic(LogisticConfig {}),
                &input,
                seeds[m],
                &dev,
            )
            .unwrap();
        assert_eq!(report.params, d * classes + classes);
        assert_eq!(report.k, d * classes + classes);
    }
    let all = trak.finish_all().unwrap();
    assert_eq!(all.len(), 2);
    for (ridge, mut out) in [1e-3, 1.0].into_iter().zip(all) {
        let small = out.pop().unwrap();
        let tau = out.pop().unwrap();
        // A sub-request equals the matching entries of the full one.
        for (r, &i) in [7usize, 3].iter().enumerate() {
            for (c, &t) in [1usize, 4, 5, 80].iter().enumerate() {
                let (a, b) = (small[r * 4 + c], tau[i * p_all + t]);
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
        check_against_loo(ridge, &tau, &effect, n, p_all);
    }
}

fn check_against_loo(ridge: f64, tau: &[f32], effect: &[Vec<f64>], n: usize, p_all: usize) {
    let pred: Vec<f64> = tau.iter().map(|&v| v as f64).collect();
    let actual: Vec<f64> = effect.iter().flatten().copied().collect();
    let r = pearson(&pred, &actual);
    // Per target point, rank agreement over train points (what attribution is for).
    let per_target: Vec<f64> = (0..p_all)
        .map(|x| {
            let a: Vec<f64> = (0..n).map(|i| pred[i * p_all + x]).collect();
            let b: Vec<f64> = (0..n).map(|i| effect[i][x]).collect();
            pearson(&a, &b)
        })
        .collect();
    let mean_r = per_target.iter().sum::<f64>() / p_all as f64;
    let self_tau = (0..n).map(|i| pred[i * p_all + i]).sum::<f64>() / n as f64;
    let self_loo = (0..n).map(|i| effect[i][i]).sum::<f64>() / n as f64;
    eprintln!(
        "TRAK (ridge {ridge}) vs LOO: pooled r = {r:.3}, mean per-target r = {mean_r:.3}; self-influence τ {self_tau:.4}, LOO {self_loo:.4}"
    );
    assert!(r > 0.5, "pooled correlation with leave-one-out {r}");
    assert!(mean_r > 0.4, "mean per-target correlation {mean_r}");
    assert!(
        self_tau > 0.0 && self_loo > 0.0,
        "self-influence τ {self_tau}, LOO {self_loo}"
    );
    // Self-influence is positive for most points, not just on average.
    let positive = (0..n).filter(|&i| pred[i * p_all + i] > 0.0).count();
    assert!(
        positive * 10 >= n * 9,
        "{positive}/{n} positive self-influences"
    );
}

fn arch(recipe: &Recipe) -> ModelConfig {
    ModelConfig::from_spec(&recipe.model).expect("a built-in architecture")
}

#[test]
fn projection_rows_are_a_multiple_of_the_batch_within_the_buffer() {
    let auto = TrakConfig::default();
    // 2²⁶ / 101 770 = 659.4 → 659 rows, down to a multiple of 41: 16 · 41.
    assert_eq!(auto.resolve_projection_rows(101_770, 41), 656);
    // A model too large for one buffered row still projects a whole backward pass.
    assert_eq!(auto.resolve_projection_rows(100_000_000, 8), 8);
    let given = TrakConfig {
        projection_rows: 100,
        ..TrakConfig::default()
    };
    assert_eq!(given.resolve_projection_rows(18, 16), 96);
    assert_eq!(given.resolve_projection_rows(18, 128), 128);
}

/// Grouping gradients into projection calls is bookkeeping: every grouping gives the scores of
/// projecting one gradient at a time.
/// Two logistic models trained on 30 blob points, and TRAK's scores of every class logit of 40
/// points with `config` and, when given, the user's projectors.
struct TwoModels {
    data: Dataset,
    train: Dataset,
    input: InputSpec,
    models: Vec<Model>,
    dev: Device,
}

impl TwoModels {
    fn new() -> Self {
        let (n, d, classes) = (30, 4, 3);
        let data = blobs(n + 10, d, classes, 1.2, 5);
        let train = data.subset(&(0..n).collect::<Vec<_>>());
        let input = InputSpec {
            dim: d,
            image_shape: None,
            classes,
        };
        let recipe = logistic_recipe(40, 10, 0.1, 1e-3);
        let dev = device();
        let set = TrainSet::new(&train, &dev);
        let members = full_data_members(n, 2);
        let stack =
            train_stack(&arch(&recipe), &recipe, &set, &members, &dev, &mut |_| {}).unwrap();
        let models = (0..2).map(|m| stacking::extract(&stack, m, 2)).collect();
        Self {
            data,
            train,
            input,
            models,
            dev,
        }
    }

    fn scores(
        &self,
        config: TrakConfig,
        projectors: Option<Box<dyn MakeProjector>>,
    ) -> unlearn_attribution::Result<Vec<f32>> {
        let (n, d, classes) = (self.train.len(), self.input.dim, self.input.classes);
        let mut trak = Trak::new(
            config,
            Points::new(&self.train.features, &self.train.labels, d)?,
            Points::new(&self.data.features, &self.data.labels, d)?,
            Target::class_logits(&self.data.labels, classes),
            &ClassLogit,
            vec![ScoreRequest::all(n, self.data.len() * classes)],
        )?;
        if let Some(p) = projectors {
            trak = trak.with_projector(BoxedMaker(p));
        }
        for (m, model) in self.models.iter().enumerate() {
            trak.add_model(
                model,
                &ModelConfig::Logistic(LogisticConfig {}),
                &self.input,
                m as u64,
                &self.dev,
            )?;
        }
        Ok(trak.finish()?.swap_remove(0))
    }
}

/// `Box<dyn MakeProjector>` as a `MakeProjector`.
struct BoxedMaker(Box<dyn MakeProjector>);

impl MakeProjector for BoxedMaker {
    fn make(
        &self,
        p: usize,
        k: usize,
        seed: u64,
    ) -> unlearn_attribution::Result<Box<dyn Projector>> {
        self.0.make(p, k, seed)
    }
}

#[test]
fn scores_do_not_depend_on_how_gradients_are_grouped() {
    let two = TwoModels::new();
    let scores = |batch: usize, projection_rows: usize| -> Vec<f32> {
        let config = TrakConfig {
            batch,
            projection_rows,
            ..TrakConfig::default()
        };
        two.scores(config, None).unwrap()
    };
    let one_at_a_time = scores(1, 1);
    assert!(one_at_a_time.iter().any(|v| v.abs() > 1e-3));
    for (batch, rows) in [(4, 8), (3, 7), (16, 0)] {
        let grouped = scores(batch, rows);
        assert_eq!(grouped.len(), one_at_a_time.len());
        for (a, b) in grouped.iter().zip(&one_at_a_time) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "batch {batch}, rows {rows}: {a} vs {b}"
            );
        }
    }
}

/// A user's projection: the default random one, doubled, counting the models it serves.
struct Doubled {
    made: Arc<AtomicUsize>,
    k_offset: usize,
}

struct DoubledProjector(Box<dyn Projector>);

impl Projector for DoubledProjector {
    fn input_dim(&self) -> usize {
        self.0.input_dim()
    }
    fn output_dim(&self) -> usize {
        self.0.output_dim()
    }
    fn project(&self, grads: &[f32], rows: usize) -> unlearn_attribution::Result<Vec<f32>> {
        Ok(self
            .0
            .project(grads, rows)?
            .into_iter()
            .map(|v| 2.0 * v)
            .collect())
    }
}

impl MakeProjector for Doubled {
    fn make(
        &self,
        p: usize,
        k: usize,
        seed: u64,
    ) -> unlearn_attribution::Result<Box<dyn Projector>> {
        self.made.fetch_add(1, Ordering::SeqCst);
        let inner =
            RandomProjections(ProjectionKind::Rademacher).make(p, k + self.k_offset, seed)?;
        Ok(Box::new(DoubledProjector(inner)))
    }
}

#[test]
fn a_projector_of_the_users_own_serves_every_model() {
    let two = TwoModels::new();
    let default = two.scores(TrakConfig::default(), None).unwrap();
    // Scaling every feature scales the kernel and its (relative) ridge alike: TRAK's scores do
    // not change, so the doubled projection must reproduce the default's.
    let made = Arc::new(AtomicUsize::new(0));
    let doubled = Doubled {
        made: made.clone(),
        k_offset: 0,
    };
    let got = two
        .scores(TrakConfig::default(), Some(Box::new(doubled)))
        .unwrap();
    assert_eq!(made.load(Ordering::SeqCst), 2, "one projector per model");
    for (a, b) in got.iter().zip(&default) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // A projector of another width than TRAK asked for is refused.
    let wrong = Doubled { made, k_offset: 1 };
    let err = two
        .scores(TrakConfig::default(), Some(Box::new(wrong)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("projector"), "{err}");
}
