//! The training loop: a stack of models, each with its own seed, data order and training set,
//! advanced in the same tensor operations.

use crate::TrainError;
use crate::loss::cross_entropy_per_model;
use crate::optimizer;
use crate::profile::{PhaseClock, StepTimes};
use crate::recipe::Recipe;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use unlearn_data::Dataset;
use unlearn_models::{Architecture, InputSpec, StackModel, draws};

/// Shuffling uses its own stream, so a model's initialisation and its data order are independent.
const SHUFFLE_STREAM: u64 = 0x5348_5546_464c_4531;
/// Stream of the random draws inside training forward passes (dropout), per model.
const DRAW_STREAM: u64 = 0x4452_4f50_5452_4e31;

/// A training set on a device: features `[n, d]` and labels `[n]`.
#[derive(Clone)]
pub struct TrainSet {
    /// Features, row-major.
    pub x: Tensor<2>,
    /// Labels.
    pub y: Tensor<1, Int>,
    /// What the model is built for.
    pub input: InputSpec,
}

impl TrainSet {
    /// Uploads `data` to `device`.
    pub fn new(data: &Dataset, device: &Device) -> Self {
        let n = data.len();
        let x = Tensor::from_data(
            TensorData::new(data.features.clone(), [n, data.dim]),
            device,
        );
        let labels: Vec<i64> = data.labels.iter().map(|&l| l as i64).collect();
        let y = Tensor::from_data(TensorData::new(labels, [n]), device);
        let input = InputSpec {
            dim: data.dim,
            image_shape: data.image_shape,
            classes: data.classes,
        };
        Self { x, y, input }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.x.dims()[0]
    }

    /// True when there are no points.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One model of a stack: where it stands in its zoo, its seed and the points it trains on.
#[derive(Debug, Clone)]
pub struct Member {
    /// Index in the zoo, used in messages.
    pub index: usize,
    /// Seed of its initialisation and its data order.
    pub seed: u64,
    /// Indices into the training set.
    pub indices: Vec<usize>,
}

/// Trains the stack `members` from scratch with `recipe`; returns it on the inference device.
///
/// All members must train on the same number of points (their batches line up). `on_epoch` is
/// called after every epoch with the number of epochs done.
pub fn train_stack<A: Architecture>(
    arch: &A,
    recipe: &Recipe,
    set: &TrainSet,
    members: &[Member],
    device: &Device,
    on_epoch: &mut dyn FnMut(usize),
) -> Result<A::Model, TrainError> {
    recipe.validate()?;
    let seeds: Vec<u64> = members.iter().map(|m| m.seed).collect();
    let ad = device.clone().autodiff();
    let model = arch.init(&set.input, &seeds, &ad)?;
    let trained = fit(recipe, model, set, members, &ad, on_epoch)?;
    Ok(trained.valid())
}

/// Continues training `model` (a stack on an autodiff device) with `recipe` on `members`' points.
pub fn fit<M: StackModel>(
    recipe: &Recipe,
    model: M,
    set: &TrainSet,
    members: &[Member],
    ad: &Device,
    on_epoch: &mut dyn FnMut(usize),
) -> Result<M, TrainError> {
    fit_timed(recipe, model, set, members, ad, on_epoch, None)
}

/// [`fit`], adding the time of each phase of every step to `times` when given (`bench-speed`).
pub fn fit_timed<M: StackModel>(
    recipe: &Recipe,
    mut model: M,
    set: &TrainSet,
    members: &[Member],
    ad: &Device,
    on_epoch: &mut dyn FnMut(usize),
    mut times: Option<&mut StepTimes>,
) -> Result<M, TrainError> {
    let per_model = members.first().map(|m| m.indices.len()).unwrap_or(0);
    if per_model == 0 {
        return Err(TrainError::Recipe("a model has no training points".into()));
    }
    if let Some(m) = members.iter().find(|m| m.indices.len() != per_model) {
        return Err(TrainError::UnequalStack {
            first: members[0].index,
            first_points: per_model,
            other: m.index,
            other_points: m.indices.len(),
        });
    }
    let n = set.len();
    if let Some(bad) = members
        .iter()
        .flat_map(|m| m.indices.iter())
        .find(|&&i| i >= n)
    {
        return Err(TrainError::Recipe(format!(
            "training index {bad} is out of range for {n} points"
        )));
    }
    let k = members.len();
    let x = set.x.clone().to_device(ad);
    let y = set.y.clone().to_device(ad);
    let mut optim = optimizer::build(&recipe.optimizer);
    let mut rngs: Vec<ChaCha8Rng> = members
        .iter()
        .map(|m| ChaCha8Rng::seed_from_u64(m.seed ^ SHUFFLE_STREAM))
        .collect();
    let mut orders: Vec<Vec<usize>> = members.iter().map(|m| m.indices.clone()).collect();
    let model_index: Vec<usize> = members.iter().map(|m| m.index).collect();
    let seeds: Vec<u64> = members.iter().map(|m| m.seed).collect();
    let stochastic = model.draws_randomness();
    let batch = recipe.batch_size.min(per_model);
    let steps = per_model.div_ceil(batch);
    let mut watch = LossWatch::new(CHECK_EVERY);
    for epoch in 0..recipe.epochs {
        for (order, rng) in orders.iter_mut().zip(rngs.iter_mut()) {
            order.shuffle(rng);
        }
        // The epoch's batch indices go to the device in one upload: step s reads its slice
        // (its points of model 0, then of model 1, …).
        let epoch_idx: Vec<i64> = (0..steps)
            .flat_map(|step| {
                let (start, end) = (step * batch, (step * batch + batch).min(per_model));
                orders
                    .iter()
                    .flat_map(move |o| o[start..end].iter().map(|&i| i as i64))
            })
            .collect();
        let epoch_idx =
            Tensor::<1, Int>::from_data(TensorData::new(epoch_idx, [k * per_model]), ad);
        for step in 0..steps {
            let mut clock = PhaseClock::start(times.is_some().then_some(ad));
            let start = step * batch;
            let len = batch.min(per_model - start);
            let idx = epoch_idx.clone().narrow(0, k * start, k * len);
            let xb = x
                .clone()
                .select(0, idx.clone())
                .reshape([k, len, set.input.dim]);
            let yb = y.clone().select(0, idx).reshape([k, len]);
            let data = clock.lap();
            let logits = if stochastic {
                let seed = draws::step_seed(&seeds, DRAW_STREAM, epoch, step);
                draws::with_seeded_draws(ad, seed, || model.forward(xb))
            } else {
                model.forward(xb)
            };
            let losses = cross_entropy_per_model(logits, yb, recipe.label_smoothing);
            watch.push(&losses, epoch, step, &model_index)?;
            let forward = clock.lap();
            let loss = match recipe.last_batch.loss_scale(len, batch) {
                1.0 => losses.sum(),
                scale => losses.sum() * scale,
            };
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let backward = clock.lap();
            let progress = epoch as f64 + (step + 1) as f64 / steps as f64;
            let lr = recipe.schedule.lr(recipe.lr, progress, recipe.epochs);
            model = optim.step(lr, model, grads);
            if let Some(t) = times.as_deref_mut() {
                t.add(data, forward, backward, clock.lap(), k * len);
            }
        }
        watch.flush(&model_index)?;
        on_epoch(epoch + 1);
    }
    Ok(model)
}

/// Steps whose losses are read back together by [`LossWatch`].
const CHECK_EVERY: usize = 32;

/// Finds NaN or infinite losses without a host round trip every step (a synchronisation that
/// stalls a GPU): the detached per-model losses of up to `every` steps wait on the device and are
/// read back in one transfer. The error still names the first bad model, epoch and step; the
/// steps taken after it are wasted work, never results.
pub struct LossWatch {
    every: usize,
    pending: Vec<(usize, usize, Tensor<1>)>,
}

impl LossWatch {
    /// Reads back after every `every` steps (1: every step).
    pub fn new(every: usize) -> Self {
        Self {
            every: every.max(1),
            pending: Vec::new(),
        }
    }

    /// Adds one step's losses (`models[k]` is the zoo index of model `k`); checks when due.
    pub fn push(
        &mut self,
        losses: &Tensor<1>,
        epoch: usize,
        step: usize,
        models: &[usize],
    ) -> Result<(), TrainError> {
        self.pending.push((epoch, step, losses.clone().detach()));
        if self.pending.len() >= self.every {
            self.flush(models)?;
        }
        Ok(())
    }

    /// Checks every pending step now.
    pub fn flush(&mut self, models: &[usize]) -> Result<(), TrainError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let k = models.len().max(1);
        let all = Tensor::cat(pending.iter().map(|(_, _, l)| l.clone()).collect(), 0);
        let values = all.into_data().try_into_vec::<f32>().unwrap_or_default();
        match values.iter().position(|v| !v.is_finite()) {
            Some(at) => {
                let (epoch, step, _) = pending[at / k];
                Err(TrainError::NonFiniteLoss {
                    model: models[at % k],
                    epoch: epoch + 1,
                    step: step + 1,
                    value: values[at],
                })
            }
            None => Ok(()),
        }
    }
}

/// Stops with an error naming the first model whose loss is NaN or infinite; `models[k]` is the
/// zoo index of the stack's model `k`, `epoch` and `step` count from 0.
pub fn check_finite(
    losses: &Tensor<1>,
    models: &[usize],
    epoch: usize,
    step: usize,
) -> Result<(), TrainError> {
    let values = losses
        .clone()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    match values.iter().position(|v| !v.is_finite()) {
        Some(k) => Err(TrainError::NonFiniteLoss {
            model: models[k],
            epoch: epoch + 1,
            step: step + 1,
            value: values[k],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn losses(values: [f32; 2], device: &Device) -> Tensor<1> {
        Tensor::from_data(TensorData::new(values.to_vec(), [2]), device)
    }

    /// Steps wait on the device until `every` are pending; the error names the first bad step
    /// and model of the batch read back, not the step at which it was read.
    #[test]
    fn the_watch_reads_back_in_batches_and_names_the_first_bad_step() {
        let device = Device::flex();
        let models = [7, 9];
        let mut watch = LossWatch::new(3);
        watch
            .push(&losses([1.0, 2.0], &device), 0, 0, &models)
            .unwrap();
        watch
            .push(&losses([1.0, f32::INFINITY], &device), 0, 1, &models)
            .unwrap();
        assert_eq!(watch.pending.len(), 2, "nothing is read before three steps");
        let err = watch
            .push(&losses([f32::NAN, 1.0], &device), 0, 2, &models)
            .unwrap_err();
        match err {
            TrainError::NonFiniteLoss {
                model: 9,
                epoch: 1,
                step: 2,
                value,
            } => {
                assert!(value.is_infinite())
            }
            other => panic!("expected model 9 at epoch 1, step 2, got {other:?}"),
        }
        assert!(watch.pending.is_empty());
        watch
            .push(&losses([0.5, 0.5], &device), 1, 0, &models)
            .unwrap();
        watch.flush(&models).unwrap();
    }
}
