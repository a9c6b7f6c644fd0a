//! Throughput measurements behind `unlearn bench-speed`: zoos trained stacked and one at a time,
//! training and inference samples/s of a model, where a step's time goes, and single layer
//! operations timed on their own.

use crate::manifest::{DatasetInfo, InputRef};
use crate::profile::StepTimes;
use crate::trainer::{Member, TrainSet, fit_timed};
use crate::zoo::{ZooKind, ZooSpec, train_zoo};
use crate::{Recipe, TrainError};
use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Tensor};
use std::time::{Duration, Instant};
use unlearn_data::{Dataset, Prepared, SubsetMasks};
use unlearn_models::cpu_kernels::{conv2d, max_pool_relu};
use unlearn_models::{InputSpec, Model, ModelConfig};

/// One timed zoo.
#[derive(Debug, Clone)]
pub struct ZooTiming {
    /// Models trained.
    pub models: usize,
    /// Models per stack.
    pub stack: usize,
    /// Stacks trained at once.
    pub workers: usize,
    /// Wall-clock seconds, training and writing checkpoints and logits.
    pub seconds: f64,
}

impl ZooTiming {
    /// Models per second.
    pub fn models_per_second(&self) -> f64 {
        self.models as f64 / self.seconds.max(1e-9)
    }
}

/// Trains a zoo of `models` models of `recipe`, model `i` on row `i` of random halves of the
/// training split (as `unlearn train --subsets`), into a temporary directory that is removed
/// afterwards: checkpoints and logits are written as in a real run and counted in the time.
pub fn time_subset_zoo(
    recipe: &Recipe,
    data: &Prepared,
    models: usize,
    stack: usize,
    workers: usize,
    device: &Device,
) -> Result<ZooTiming, TrainError> {
    let n = data.train.len();
    let masks = SubsetMasks::random(models, n, 0.5, 0)?;
    let spec = ZooSpec {
        recipe: recipe.clone(),
        kind: ZooKind::Subsets {
            masks,
            source: InputRef {
                path: "(bench-speed, in memory)".into(),
                sha256: String::new(),
            },
        },
        models,
        first_seed: 0,
        stack,
        workers,
        shard: None,
    };
    let info = DatasetInfo {
        name: data.train.name.clone(),
        hash: String::new(),
        n_train: n,
        n_val: data.val.len(),
        dim: data.train.dim,
        classes: data.train.classes,
        image_shape: data.train.image_shape,
        val_fraction: 0.0,
        split_seed: 0,
        limit: 0,
        label_column: String::new(),
        conventions: Default::default(),
    };
    let dir = std::env::temp_dir().join(format!(
        "unlearn-bench-speed-{}-{models}-{stack}-{workers}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let started = Instant::now();
    let arch = ModelConfig::from_spec(&spec.recipe.model)?;
    let result = train_zoo(&arch, &spec, data, info, &dir, device, &());
    let seconds = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    Ok(ZooTiming {
        models,
        stack,
        workers,
        seconds,
    })
}

/// Trains one stack of `k` models of `recipe` for its epochs on the first `points` training
/// points (each model in its own order) and returns the phase times of every step after the
/// first `warm_up` steps, and the trained stack (on the inference device).
pub fn profile_stack(
    recipe: &Recipe,
    set: &TrainSet,
    [k, points, warm_up]: [usize; 3],
    device: &Device,
) -> Result<(StepTimes, Model), TrainError> {
    let members: Vec<Member> = (0..k)
        .map(|i| Member {
            index: i,
            seed: i as u64,
            indices: (0..points.min(set.len())).collect(),
        })
        .collect();
    let ad = device.clone().autodiff();
    let seeds: Vec<u64> = members.iter().map(|m| m.seed).collect();
    let model = Model::init(
        &ModelConfig::from_spec(&recipe.model)?,
        &set.input,
        &seeds,
        &ad,
    )?;
    let mut times = StepTimes::after_warm_up(warm_up);
    let trained = fit_timed(
        recipe,
        model,
        set,
        &members,
        &ad,
        &mut |_| {},
        Some(&mut times),
    )?;
    Ok((times, trained.valid()))
}

/// Inference samples per second (points × models) of the stack `model` of `k` models on `x`,
/// the best of `repeats` passes.
pub fn inference_rate(model: &Model, x: &Tensor<2>, k: usize, repeats: usize) -> f64 {
    let points = x.dims()[0];
    let best = (0..repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            let logits = crate::inference::stack_logits(model, x, k);
            std::hint::black_box(logits);
            started.elapsed()
        })
        .min()
        .unwrap_or_default();
    (points * k) as f64 / best.as_secs_f64().max(1e-9)
}

/// Seeded CIFAR-like images (`unlearn_data::synthetic_images`): throughput does not depend on
/// the values, and no download is needed.
pub use unlearn_data::synthetic_images;

/// One operation timed on its own.
#[derive(Debug, Clone)]
pub struct OpTiming {
    /// What was timed, with its shapes.
    pub name: String,
    /// Milliseconds per call (best of the repeats).
    pub ms: f64,
    /// Floating-point operations of one call (0 where not counted: everything but convolutions).
    pub flops: f64,
}

/// Best time of `repeats` calls of `f` (after one warm-up call). The device is synchronised
/// after each call, so asynchronous backends (wgpu) are timed to completion, and results are not
/// copied to the host (which would cost more than the smaller operations).
pub(crate) fn best_of(device: &Device, repeats: usize, mut f: impl FnMut()) -> Duration {
    f();
    let _ = device.sync();
    (0..repeats.max(1))
        .map(|_| {
            let started = Instant::now();
            f();
            let _ = device.sync();
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Forward and backward time of one 3×3 "same" convolution of `k` stacked models (groups `k`)
/// on a batch of `[batch, k·c_in, h, w]`: backward is forward + backward on the autodiff device
/// minus forward.
pub(crate) fn conv_times(
    device: &Device,
    k: usize,
    batch: usize,
    [c_in, c_out, h, w]: [usize; 4],
    repeats: usize,
) -> (Duration, Duration) {
    let ad = device.clone().autodiff();
    let x = Tensor::<4>::random([batch, k * c_in, h, w], Distribution::Default, device);
    let weight = Tensor::<4>::random([k * c_out, c_in, 3, 3], Distribution::Default, device);
    let bias = Tensor::<1>::zeros([k * c_out], device);
    let forward = best_of(device, repeats, || {
        let y = conv2d(x.clone(), weight.clone(), Some(bias.clone()), 1, 1, k);
        std::hint::black_box(y);
    });
    let (xa, wa) = (tracked(&x, &ad), tracked(&weight, &ad));
    let ba = Tensor::<1>::from_data(bias.to_data(), &ad).require_grad();
    let both = best_of(device, repeats, || {
        let y = conv2d(xa.clone(), wa.clone(), Some(ba.clone()), 1, 1, k);
        std::hint::black_box(y.sum().backward());
    });
    (forward, both.saturating_sub(forward))
}

/// Floating-point operations of the forward pass of `conv_times`' convolution (its backward,
/// input and weight gradients, costs twice as many).
pub(crate) fn conv_flops(k: usize, batch: usize, [c_in, c_out, h, w]: [usize; 4]) -> f64 {
    2.0 * (k * batch * c_out * h * w * c_in * 9) as f64
}

/// The same values on the autodiff device `ad`, tracked.
pub(crate) fn tracked(t: &Tensor<4>, ad: &Device) -> Tensor<4> {
    Tensor::<4>::from_data(t.to_data(), ad).require_grad()
}

/// Forward + backward time of `f` applied to a tracked random `[batch, channels, h, w]` tensor.
pub(crate) fn activation_time(
    device: &Device,
    shape: [usize; 4],
    repeats: usize,
    f: impl Fn(Tensor<4>) -> Tensor<4>,
) -> Duration {
    let ad = device.clone().autodiff();
    let y = tracked(
        &Tensor::<4>::random(shape, Distribution::Default, device),
        &ad,
    );
    best_of(device, repeats, || {
        std::hint::black_box(f(y.clone()).sum().backward());
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The small CNN's layers as single operations for a stack of `k` models and a batch of
/// `batch` images of `shape`: each convolution forward and backward, ReLU and max-pool forward +
/// backward, the dense head's forward, so a step's time can be attributed to operations.
pub fn cnn_op_timings(
    device: &Device,
    k: usize,
    batch: usize,
    shape: [usize; 3],
    channels: &[usize],
    classes: usize,
    repeats: usize,
) -> Vec<OpTiming> {
    let mut out = Vec::new();
    let [mut c, mut h, mut w] = shape;
    for &c_out in channels {
        let label = format!("conv {c}→{c_out} 3×3 on {h}×{w} (groups {k})");
        let (forward, backward) = conv_times(device, k, batch, [c, c_out, h, w], repeats);
        out.push(OpTiming {
            name: format!("{label}, forward"),
            ms: ms(forward),
            flops: conv_flops(k, batch, [c, c_out, h, w]),
        });
        out.push(OpTiming {
            name: format!("{label}, backward"),
            ms: ms(backward),
            flops: 2.0 * conv_flops(k, batch, [c, c_out, h, w]),
        });
        // ReLU and the 2×2 max-pool as training runs them: tracked, forward and backward.
        let shape = [batch, k * c_out, h, w];
        out.push(OpTiming {
            name: format!(
                "relu of {} channels on {h}×{w}, forward + backward",
                k * c_out
            ),
            ms: ms(activation_time(device, shape, repeats, relu)),
            flops: 0.0,
        });
        out.push(OpTiming {
            name: format!(
                "max-pool 2×2 of {} channels on {h}×{w}, forward + backward",
                k * c_out
            ),
            ms: ms(activation_time(device, shape, repeats, |y| {
                max_pool_relu(y, [2, 2], false)
            })),
            flops: 0.0,
        });
        (c, h, w) = (c_out, h / 2, w / 2);
    }
    let features = c * h * w;
    let x = Tensor::<3>::random([k, batch, features], Distribution::Default, device);
    let weight = Tensor::<3>::random([k, features, classes], Distribution::Default, device);
    let head = best_of(device, repeats, || {
        std::hint::black_box(x.clone().matmul(weight.clone()));
    });
    out.push(OpTiming {
        name: format!("dense head {features}→{classes} (batched matmul over {k})"),
        ms: ms(head),
        flops: 0.0,
    });
    out
}

/// Input description of a dataset, for building models.
pub fn input_of(data: &Dataset) -> InputSpec {
    InputSpec {
        dim: data.dim,
        image_shape: data.image_shape,
        classes: data.classes,
    }
}

/// Peak resident memory of this process so far (Linux), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A table of operation timings, one column per backend (`tables`: backend name and its timings
/// of the same operations), with the second backend's time as a multiple of the first's.
pub fn op_table_text(title: &str, tables: &[(String, Vec<OpTiming>)]) -> String {
    let Some((_, first)) = tables.first() else {
        return String::new();
    };
    let mut lines = vec![title.to_string()];
    let mut header = format!("{:<58}", "operation");
    for (name, _) in tables {
        header += &format!(" {name:>9}");
    }
    if tables.len() > 1 {
        header += &format!(" {:>9}", format!("{}/{}", tables[1].0, tables[0].0));
    }
    lines.push(header);
    for (i, op) in first.iter().enumerate() {
        let mut line = format!("{:<58}", op.name);
        for (_, table) in tables {
            line += &format!(" {:>9.2}", table[i].ms);
        }
        if tables.len() > 1 {
            line += &format!(" {:>8.1}×", tables[1].1[i].ms / op.ms.max(1e-6));
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// The CPU's nominal f32 peak in GFLOP/s from `/proc/cpuinfo` (Linux): cores × clock × FLOPs per
/// cycle per core, taking two fused multiply-add units of the widest vectors the flags show
/// (AVX-512: 64, AVX2 + FMA: 32, AVX: 16, else 8). `None` where the file is not there.
pub fn nominal_peak_gflops() -> Option<(f64, String)> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let cores = std::thread::available_parallelism().ok()?.get() as f64;
    let mhz: f64 = info
        .lines()
        .find(|l| l.starts_with("cpu MHz"))?
        .split(':')
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    let flags = info.lines().find(|l| l.starts_with("flags"))?;
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let (per_cycle, isa) = if has("avx512f") {
        (64.0, "AVX-512")
    } else if has("avx2") && has("fma") {
        (32.0, "AVX2+FMA")
    } else if has("avx") {
        (16.0, "AVX")
    } else {
        (8.0, "SSE")
    };
    let text = format!(
        "{cores:.0} cores × {:.2} GHz × {per_cycle:.0} FLOP/cycle ({isa})",
        mhz / 1e3
    );
    Some((cores * mhz / 1e3 * per_cycle, text))
}
