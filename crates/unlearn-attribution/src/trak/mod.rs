//! TRAK: cheap data attribution from the gradients of a few trained models (docs/algorithms.md §7,
//! Park et al. 2023), in swappable parts like MadryLab's implementation:
//!
//! - [`output`]: the model output functions ([`Margin`] for the train side and for margin
//!   targets, [`ClassLogit`] for β's class axis);
//! - [`gradients`]: per-example gradients from one backward pass through a stack of copies
//!   ([`PerExampleGradients`]);
//! - [`projector`]: seeded random projections `φ = Pᵀ g / √p` ([`RandomProjector`]);
//! - [`kernel`]: `K = (ΦᵀΦ + λI)⁻¹`, `A = Φ K` and the score accumulation over models
//!   ([`TrakKernel`], [`ScoreAccumulator`]);
//! - [`calibration`]: the scale that turns scores into output units ([`calibrate`]).
//!
//! [`Trak`] drives them: for each model (a checkpoint), the train features `Φ` are the projected
//! gradients of the margin at every train point and `Q_i = 1 − softmax_y(z(x_i))`; target
//! features `ψ(x)` are the projected gradients of the target output (e.g. logit `c` at point `x`),
//! streamed in blocks and never stored whole. The result for each requested block of train rows
//! × targets is
//!
//! `τ(i, x) = mean_m (Φ_m K_m ψ_m(x))_i · mean_m Q_m,i`,
//!
//! the predicted change of the target output when train point `i` is included (up to the scale
//! [`calibrate`] fits).
//!
//! Cost per model: one forward+backward per train point and per target, plus projections
//! (`p · k` multiply-adds per gradient) and `k³` for the kernel.
//!
//! Choices (where docs/algorithms.md §7 leaves room):
//! - β's class axis: the target output is the logit of each class, so a model costs `n + P·C`
//!   per-example gradients (the train side always uses the margin and its `Q`).
//! - `k` defaults to `min(2048, p, n/2)`: above `p` a projection only adds dependent
//!   directions, and near `n` the kernel interpolates the train points.
//! - The ridge is relative to the mean eigenvalue of `ΦᵀΦ` and defaults to 1. On the embedded
//!   digits (MLP 64-64-10, p = 4810, n = 1438, 5 checkpoints of half-data subset models) the
//!   calibration correlation on the subset models that are neither checkpoints nor held out
//!   peaked at 1 over {0.1, 0.3, 1, 3, 10}; several ridges can be scored in one run
//!   ([`TrakConfig::ridges`], [`Trak::finish_all`]) to choose on other data.
//! - Calibration: see [`calibration`].

pub mod calibration;
mod dense;
pub mod gradients;
pub mod kernel;
pub mod output;
pub mod projector;

use std::time::Instant;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use unlearn_models::{Architecture, InputSpec, StackModel};

pub use calibration::{Calibration, calibrate, predict_sums};
pub use gradients::{GradientBatch, PerExampleGradients};
pub use kernel::{ScoreAccumulator, TrakKernel};
pub use output::{ClassLogit, LossOutput, Margin, ModelOutput, Target};
pub use projector::{MakeProjector, ProjectionKind, Projector, RandomProjections, RandomProjector};

use crate::error::{AttributionError, Result};

/// Largest projection dimension used when none is given.
pub const DEFAULT_K: usize = 2048;

/// Gradient entries buffered before one projection call by default (256 MiB of f32).
pub const PROJECTION_BUFFER_ENTRIES: usize = 1 << 26;

/// TRAK's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrakConfig {
    /// Projection dimension `k`; `None` picks [`TrakConfig::auto_k`].
    pub k: Option<usize>,
    /// Relative ridges: `λ = ridge · tr(ΦᵀΦ)/k` (0 = none, as in the published TRAK). Scores
    /// are computed for each (sharing gradients and projections), so that a caller can choose
    /// one on held-out models; the default, 1, is what that choice gave on digits (see the
    /// crate's TRAK notes in `unlearn attribute`).
    pub ridges: Vec<f64>,
    /// Distribution of the projection.
    pub projection: ProjectionKind,
    /// Base seed of the projections; model `m`'s projection is seeded from it and `m`'s seed.
    pub seed: u64,
    /// Examples per backward pass (copies of the model in the gradient stack); 0 = automatic.
    pub batch: usize,
    /// Targets whose features are computed before they are scored (bounds memory).
    pub target_block: usize,
    /// Gradient rows projected per call, rounded down to a multiple of the batch; 0 = automatic
    /// (see [`TrakConfig::resolve_projection_rows`]).
    #[serde(default)]
    pub projection_rows: usize,
}

impl Default for TrakConfig {
    fn default() -> Self {
        Self {
            k: None,
            ridges: vec![1.0],
            projection: ProjectionKind::Rademacher,
            seed: 0,
            batch: 0,
            target_block: 2048,
            projection_rows: 0,
        }
    }
}

impl TrakConfig {
    /// The projection dimension for `p` parameters and `n` train points: `k` if given, else
    /// `min(2048, p, n / 2)` (at least 1), rounded down to a multiple of 32 above 32. A `k`
    /// above `p` would only add dependent directions, and a `k` near `n` makes `ΦᵀΦ` nearly
    /// singular (the kernel then interpolates the train points).
    pub fn resolve_k(&self, p: usize, n: usize) -> usize {
        self.k.unwrap_or_else(|| Self::auto_k(p, n))
    }

    /// See [`resolve_k`](Self::resolve_k).
    pub fn auto_k(p: usize, n: usize) -> usize {
        let k = DEFAULT_K.min(p).min(n / 2).max(1);
        if k > 32 { k / 32 * 32 } else { k }
    }

    /// The gradient batch for `p` parameters: `batch` if given, else about 4M gradient entries
    /// per pass, between 8 and 256 examples.
    pub fn resolve_batch(&self, p: usize) -> usize {
        if self.batch > 0 {
            self.batch
        } else {
            ((1usize << 22) / p.max(1)).clamp(8, 256)
        }
    }

    /// Gradient rows projected at once for `p` parameters and backward passes of `batch`:
    /// `projection_rows` if given, else as many as fit in 2²⁶ buffered entries (256 MiB of f32),
    /// rounded down to a multiple of `batch` (at least `batch`). Why: when `P` is too large to
    /// cache, each projection call regenerates it, which costs about as much as projecting a
    /// hundred rows; at the backward passes' own batch (~40 rows for 10⁵ parameters) most of the
    /// time went there (an MLP with p = 101 770: projections 208 s → 73–83 s per checkpoint).
    pub fn resolve_projection_rows(&self, p: usize, batch: usize) -> usize {
        let batch = batch.max(1);
        let rows = if self.projection_rows > 0 {
            self.projection_rows
        } else {
            PROJECTION_BUFFER_ENTRIES / p.max(1)
        };
        rows.max(batch) / batch * batch
    }

    /// Checks the numbers.
    pub fn check(&self) -> Result<()> {
        if self.k == Some(0) {
            return Err(AttributionError::InvalidParam {
                name: "k",
                reason: "must be ≥ 1".into(),
            });
        }
        if self.ridges.is_empty() {
            return Err(AttributionError::InvalidParam {
                name: "ridge",
                reason: "give at least one ridge".into(),
            });
        }
        if let Some(r) = self.ridges.iter().find(|r| !(**r >= 0.0 && r.is_finite())) {
            return Err(AttributionError::InvalidParam {
                name: "ridge",
                reason: format!("must be ≥ 0, got {r}"),
            });
        }
        if self.target_block == 0 {
            return Err(AttributionError::InvalidParam {
                name: "target_block",
                reason: "must be ≥ 1".into(),
            });
        }
        Ok(())
    }

    /// The projection seed of a model with seed `model_seed`.
    pub fn projection_seed(&self, model_seed: u64) -> u64 {
        // splitmix64 of the pair: distinct models get unrelated projections.
        let mut z = self.seed
            ^ model_seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(0x5452_414B);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Points and labels as row-major features.
#[derive(Debug, Clone, Copy)]
pub struct Points<'a> {
    /// Row-major `len × dim`.
    pub features: &'a [f32],
    /// One label per row.
    pub labels: &'a [u32],
    /// Features per row.
    pub dim: usize,
}

impl<'a> Points<'a> {
    /// Checks that the parts agree.
    pub fn new(features: &'a [f32], labels: &'a [u32], dim: usize) -> Result<Self> {
        if dim == 0 || features.len() != labels.len() * dim {
            return Err(AttributionError::BufferLength {
                what: "features",
                len: features.len(),
                rows: labels.len(),
                cols: dim,
            });
        }
        Ok(Self {
            features,
            labels,
            dim,
        })
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Which scores to compute: train rows × targets (indices into the target list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreRequest {
    /// Train rows (distinct).
    pub rows: Vec<usize>,
    /// Targets (strictly increasing).
    pub targets: Vec<usize>,
}

impl ScoreRequest {
    /// Every train row on every target.
    pub fn all(n: usize, targets: usize) -> Self {
        Self {
            rows: (0..n).collect(),
            targets: (0..targets).collect(),
        }
    }
}

/// What one model cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelReport {
    /// The model's seed.
    pub seed: u64,
    /// Parameters `p`.
    pub params: usize,
    /// Projection dimension `k`.
    pub k: usize,
    /// Absolute ridge λ, one per relative ridge of the configuration.
    pub lambdas: Vec<f64>,
    /// Whether the projection matrix was held in memory.
    pub projection_cached: bool,
    /// Examples per backward pass.
    pub batch: usize,
    /// Seconds computing gradients (forward + backward).
    pub gradient_seconds: f64,
    /// Seconds projecting.
    pub projection_seconds: f64,
    /// Seconds for the kernel.
    pub kernel_seconds: f64,
    /// Seconds accumulating scores.
    pub score_seconds: f64,
    /// Examples passed forward and backward (train points + targets).
    pub examples: u64,
}

/// TRAK over several models (see the module docs).
pub struct Trak<'a> {
    config: TrakConfig,
    train: Points<'a>,
    target_points: Points<'a>,
    targets: Vec<Target>,
    target_output: &'a dyn ModelOutput,
    train_output: &'a dyn LossOutput,
    /// `[ridge][request]`.
    accumulators: Vec<Vec<ScoreAccumulator>>,
    /// Sorted union of the requested targets.
    needed: Vec<usize>,
    reports: Vec<ModelReport>,
    /// Makes each model's projector ([`RandomProjections`] of the configured kind by default).
    projectors: Box<dyn MakeProjector>,
}

impl<'a> Trak<'a> {
    /// TRAK for `train` points, scoring `targets` (each naming a row of `target_points`) with the
    /// output function `target_output`; the train side uses the margin.
    pub fn new(
        config: TrakConfig,
        train: Points<'a>,
        target_points: Points<'a>,
        targets: Vec<Target>,
        target_output: &'a dyn ModelOutput,
        requests: Vec<ScoreRequest>,
    ) -> Result<Self> {
        Self::with_train_output(
            config,
            train,
            target_points,
            targets,
            target_output,
            &Margin,
            requests,
        )
    }

    /// [`new`](Self::new) with another train-side output function.
    pub fn with_train_output(
        config: TrakConfig,
        train: Points<'a>,
        target_points: Points<'a>,
        targets: Vec<Target>,
        target_output: &'a dyn ModelOutput,
        train_output: &'a dyn LossOutput,
        requests: Vec<ScoreRequest>,
    ) -> Result<Self> {
        config.check()?;
        if train.dim != target_points.dim {
            return Err(AttributionError::DimensionMismatch {
                what: "feature width of train vs target points",
                left: train.dim,
                right: target_points.dim,
            });
        }
        if train.is_empty() {
            return Err(AttributionError::InvalidParam {
                name: "train",
                reason: "no train points".into(),
            });
        }
        if let Some(t) = targets.iter().find(|t| t.point >= target_points.len()) {
            return Err(AttributionError::InvalidParam {
                name: "targets",
                reason: format!(
                    "{t:?} names a point beyond the {} target points",
                    target_points.len()
                ),
            });
        }
        let n = train.len();
        let mut per_request = Vec::with_capacity(requests.len());
        let mut needed = Vec::new();
        for r in requests {
            if let Some(&bad) = r.targets.iter().find(|&&t| t >= targets.len()) {
                return Err(AttributionError::InvalidParam {
                    name: "targets",
                    reason: format!("target {bad} is beyond the {} targets", targets.len()),
                });
            }
            needed.extend_from_slice(&r.targets);
            per_request.push(ScoreAccumulator::new(r.rows, r.targets, n)?);
        }
        let accumulators = vec![per_request; config.ridges.len()];
        let config_projection = config.projection;
        needed.sort_unstable();
        needed.dedup();
        Ok(Self {
            config,
            train,
            target_points,
            targets,
            target_output,
            train_output,
            accumulators,
            needed,
            reports: Vec::new(),
            projectors: Box::new(RandomProjections(config_projection)),
        })
    }

    /// Projects gradients with projectors from `projectors` instead of the default
    /// [`RandomProjections`] (e.g. a structured or a GPU projection): each model's is made for
    /// its parameter count, the configured `k` and the model's projection seed.
    pub fn with_projector(mut self, projectors: impl MakeProjector + 'static) -> Self {
        self.projectors = Box::new(projectors);
        self
    }

    /// Adds one model (a stack of one, on any device) with its architecture, input and seed;
    /// gradients run on the autodiff version of `device`.
    pub fn add_model<A: Architecture>(
        &mut self,
        model: &A::Model,
        arch: &A,
        input: &InputSpec,
        seed: u64,
        device: &Device,
    ) -> Result<&ModelReport> {
        let n = self.train.len();
        let probe = PerExampleGradients::new(model, arch, input, seed, 1, device)?;
        let p = probe.params();
        drop(probe);
        // A single-model architecture takes one example per backward pass.
        let batch = self
            .config
            .resolve_batch(p)
            .min(arch.max_stack().unwrap_or(usize::MAX));
        let gradients = PerExampleGradients::new(model, arch, input, seed, batch, device)?;
        let k = self.config.resolve_k(p, n);
        let projector = self
            .projectors
            .make(p, k, self.config.projection_seed(seed))?;
        if projector.input_dim() != p || projector.output_dim() != k {
            return Err(AttributionError::DimensionMismatch {
                what: "projector made for p × k vs the model's",
                left: projector.input_dim() * projector.output_dim(),
                right: p * k,
            });
        }
        let mut report = ModelReport {
            seed,
            params: p,
            k,
            lambdas: Vec::new(),
            projection_cached: projector.is_cached(),
            batch,
            gradient_seconds: 0.0,
            projection_seconds: 0.0,
            kernel_seconds: 0.0,
            score_seconds: 0.0,
            examples: 0,
        };

        // Train side: Φ (n × k) and Q.
        let train_targets = Target::margins(self.train.labels);
        let mut phi = Vec::with_capacity(n * k);
        let mut q = Vec::with_capacity(n);
        let classes = input.classes;
        let group = self.config.resolve_projection_rows(p, batch);
        for rows in train_targets.chunks(group) {
            let projected = projected_gradients(
                &gradients,
                self.train.features,
                rows,
                self.train_output,
                projector.as_ref(),
                batch,
                &mut report,
                |chunk, g| {
                    for (r, t) in chunk.iter().enumerate() {
                        q.push(
                            self.train_output
                                .out_to_loss(&g.logits[r * classes..(r + 1) * classes], t.label),
                        );
                    }
                },
            )?;
            phi.extend_from_slice(&projected);
        }
        report.examples += n as u64;
        let started = Instant::now();
        let kernels = TrakKernel::fit_many(&phi, n, k, &self.config.ridges)?;
        drop(phi);
        report.lambdas = kernels.iter().map(TrakKernel::lambda).collect();
        report.kernel_seconds = started.elapsed().as_secs_f64();

        // Target side, streamed in blocks of consecutive needed targets.
        let needed = std::mem::take(&mut self.needed);
        for block in needed
            .chunk_by(|a, b| b - a == 1)
            .flat_map(|run| run.chunks(self.config.target_block))
        {
            let mut psi = Vec::with_capacity(block.len() * k);
            let rows: Vec<Target> = block.iter().map(|&t| self.targets[t]).collect();
            for rows in rows.chunks(group) {
                psi.extend_from_slice(&projected_gradients(
                    &gradients,
                    self.target_points.features,
                    rows,
                    self.target_output,
                    projector.as_ref(),
                    batch,
                    &mut report,
                    |_, _| {},
                )?);
            }
            report.examples += block.len() as u64;
            let started = Instant::now();
            for (kernel, accs) in kernels.iter().zip(&mut self.accumulators) {
                for acc in accs {
                    acc.add_block(kernel, block[0], &psi, block.len())?;
                }
            }
            report.score_seconds += started.elapsed().as_secs_f64();
        }
        self.needed = needed;
        for acc in self.accumulators.iter_mut().flatten() {
            acc.add_model_weights(&q)?;
        }
        self.reports.push(report);
        Ok(self.reports.last().expect("just pushed"))
    }

    /// Reports of the models added so far.
    pub fn reports(&self) -> &[ModelReport] {
        &self.reports
    }

    /// The scores of every request, in order, row-major `rows × targets` each, for the first
    /// (or only) ridge.
    pub fn finish(self) -> Result<Vec<Vec<f32>>> {
        Ok(self.finish_all()?.swap_remove(0))
    }

    /// The scores `[ridge][request]` for every ridge of the configuration.
    pub fn finish_all(self) -> Result<Vec<Vec<Vec<f32>>>> {
        self.accumulators
            .into_iter()
            .map(|accs| accs.into_iter().map(ScoreAccumulator::finish).collect())
            .collect()
    }
}

/// The projected gradients of `rows` (row-major `rows × k`), `batch` per backward pass and
/// projected in one call; `each_batch` sees every backward pass's targets and outputs.
#[allow(clippy::too_many_arguments)]
fn projected_gradients<M: StackModel>(
    gradients: &PerExampleGradients<M>,
    features: &[f32],
    rows: &[Target],
    output: &dyn ModelOutput,
    projector: &dyn Projector,
    batch: usize,
    report: &mut ModelReport,
    mut each_batch: impl FnMut(&[Target], &GradientBatch),
) -> Result<Vec<f32>> {
    let mut grads = Vec::with_capacity(rows.len() * projector.input_dim());
    for chunk in rows.chunks(batch) {
        let started = Instant::now();
        let g = gradients.batch(features, chunk, output)?;
        report.gradient_seconds += started.elapsed().as_secs_f64();
        each_batch(chunk, &g);
        grads.extend_from_slice(&g.grads);
    }
    let started = Instant::now();
    let projected = projector.project(&grads, rows.len())?;
    report.projection_seconds += started.elapsed().as_secs_f64();
    Ok(projected)
}
