//! Seeded model zoos: many models from one recipe, written as resumable artifacts.
//!
//! Layout of a zoo directory:
//! - `manifest.json`: recipe, dataset, seeds, inputs' hashes, config hash ([`Manifest`]);
//! - `labels.npy`: labels of the evaluated points (int64, `P`), train points first, then validation;
//! - `models/NNNNN.bpk`: model `N`'s checkpoint (burnpack);
//! - `logits/NNNNN.npy`: model `N`'s logits on the evaluated points (f32, `P × C`);
//! - `logits.npy`: all of them (f32, `M × P × C`), written once every model is done;
//! - `.lock`: present while a process writes the zoo ([`integrity::DirLock`]).
//!
//! Every file is written under a temporary name and renamed, and a model counts as done only
//! when both its files exist, so an interrupted run resumes where it stopped. Once the zoo is
//! complete, the manifest records every artifact's sha256 and size (`unlearn verify`).

use crate::inference::{features, stack_logits};
use crate::integrity::{self, DirLock};
use crate::manifest::{DatasetInfo, FORMAT, InputRef, Manifest};
use crate::progress::Progress;
use crate::trainer::{Member, TrainSet, train_stack};
use crate::{Recipe, Shard, TrainError};
use burn::tensor::{Device, Tensor};
use std::path::{Path, PathBuf};
use unlearn_data::{ForgetSet, Prepared, SubsetMasks};
use unlearn_models::{Architecture, InputSpec, stacking};

/// Which points each model of a zoo trains on.
#[derive(Debug, Clone)]
pub enum ZooKind {
    /// Every model on the full training set ("originals").
    Full,
    /// Every model on the training set without the forget set ("oracles").
    Retain {
        /// The forget set.
        forget: ForgetSet,
        /// Its file, recorded in the manifest.
        source: InputRef,
    },
    /// Model `i` on the subset of mask row `i` (datamodels).
    Subsets {
        /// The masks (rows ≥ number of models).
        masks: SubsetMasks,
        /// Their file, recorded in the manifest.
        source: InputRef,
    },
}

impl ZooKind {
    fn name(&self) -> &'static str {
        match self {
            ZooKind::Full => "full",
            ZooKind::Retain { .. } => "retain",
            ZooKind::Subsets { .. } => "subsets",
        }
    }

    /// Training indices of model `i`.
    fn indices(&self, i: usize, n_train: usize) -> Vec<usize> {
        match self {
            ZooKind::Full => (0..n_train).collect(),
            ZooKind::Retain { forget, .. } => forget.retain_indices(n_train),
            ZooKind::Subsets { masks, .. } => masks.row_indices(i),
        }
    }
}

/// What to train. [`ZooSpec::new`] gives the defaults (one model per training point set, seeds
/// from 0, stacks of 32, one worker per core, no shard).
#[derive(Debug, Clone)]
pub struct ZooSpec {
    /// Recipe of every model.
    pub recipe: Recipe,
    /// Which points each model trains on.
    pub kind: ZooKind,
    /// Number of models.
    pub models: usize,
    /// Model `i` has seed `first_seed + i`.
    pub first_seed: u64,
    /// Models trained together in one stack (1 = one at a time).
    pub stack: usize,
    /// Stacks trained at the same time, one per thread.
    pub workers: usize,
    /// Train only this shard's models (`--shard I/N`); `unlearn merge` joins the shards.
    pub shard: Option<Shard>,
}

impl ZooSpec {
    /// `models` models of `recipe`, of `kind`, with the defaults above.
    pub fn new(recipe: Recipe, kind: ZooKind, models: usize) -> Self {
        Self {
            recipe,
            kind,
            models,
            first_seed: 0,
            stack: 32,
            workers: default_workers(),
            shard: None,
        }
    }

    /// Model `i` gets seed `first_seed + i`.
    pub fn first_seed(mut self, first_seed: u64) -> Self {
        self.first_seed = first_seed;
        self
    }

    /// Models per stack.
    pub fn stack(mut self, stack: usize) -> Self {
        self.stack = stack;
        self
    }

    /// Stacks trained at the same time.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }
}

/// Refuses a forget set with an index outside the training split.
pub(crate) fn check_forget_indices(forget: &ForgetSet, n_train: usize) -> Result<(), TrainError> {
    match forget.indices.iter().find(|&&i| i >= n_train) {
        Some(&bad) => Err(TrainError::Recipe(format!(
            "forget index {bad} is out of range for {n_train} training points"
        ))),
        None => Ok(()),
    }
}

/// One worker per available core.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Trains (or finishes) the zoo `spec` of architecture `arch` on `data` into `out`.
///
/// Models already written by an earlier run with the same configuration are kept, not retrained.
/// `spec.recipe.model` must be `arch.spec()` (it is what the manifest records).
pub fn train_zoo<A: Architecture>(
    arch: &A,
    spec: &ZooSpec,
    data: &Prepared,
    dataset: DatasetInfo,
    out: &Path,
    device: &Device,
    progress: &dyn Progress,
) -> Result<Zoo, TrainError> {
    let input = check_spec(arch, spec, data)?;
    let n_train = data.train.len();

    // Mask rows may differ in size (with --stack 1): the cost unit is the mean per model.
    let per_model = (0..spec.models)
        .map(|i| spec.kind.indices(i, n_train).len())
        .sum::<usize>()
        / spec.models;
    let mut manifest = Manifest {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").to_string(),
        kind: spec.kind.name().to_string(),
        recipe: spec.recipe.clone(),
        dataset,
        forget_set: match &spec.kind {
            ZooKind::Retain { source, .. } => Some(source.clone()),
            _ => None,
        },
        masks: match &spec.kind {
            ZooKind::Subsets { source, .. } => Some(source.clone()),
            _ => None,
        },
        seeds: (0..spec.models as u64)
            .map(|i| spec.first_seed + i)
            .collect(),
        examples_per_model: (per_model * spec.recipe.epochs) as u64,
        config_hash: String::new(),
        complete: false,
        unlearning: None,
        files: Default::default(),
        shard: None,
        locations: Default::default(),
        imported: None,
    };
    manifest.config_hash = manifest.compute_hash();
    if let Some(shard) = spec.shard {
        manifest.restrict_to(shard);
    }
    let models = manifest.seeds.len();
    let _lock = prepare_dir(out, &manifest, progress)?;

    let labels: Vec<i64> = data.all_labels().into_iter().map(i64::from).collect();
    unlearn_data::write_npy_i64(out.join("labels.npy"), &[labels.len()], &labels)?;

    let todo: Vec<usize> = (0..models).filter(|&i| !model_done(out, i)).collect();
    if !todo.is_empty() && todo.len() < models {
        // A requeued or restarted task says what it keeps, so its log shows the resume.
        progress.note(format!(
            "resuming: {} of {models} models were finished by an earlier run and are kept",
            models - todo.len()
        ));
    }
    progress.set_length(models as u64);
    progress.set_position((models - todo.len()) as u64);
    let set = TrainSet::new(&data.train, device);
    let points = data.train.len() + data.val.len();
    let x_eval = Tensor::cat(
        vec![features(&data.train, device), features(&data.val, device)],
        0,
    );
    // Small models keep one core busy per stack: train several stacks at once, one per worker.
    let stack_size = spec
        .stack
        .clamp(1, arch.max_stack().unwrap_or(usize::MAX).max(1));
    let by_size = group_by_size(&todo, |i| {
        spec.kind.indices(manifest.global_index(i), n_train).len()
    });
    let chunks: Vec<&[usize]> = by_size
        .iter()
        .flat_map(|same| same.chunks(stack_size))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = spec.workers.clamp(1, chunks.len().max(1));
    let train_chunk =
        |chunk: &[usize], set: &TrainSet, x_eval: &Tensor<2>| -> Result<(), TrainError> {
            let members: Vec<Member> = chunk
                .iter()
                .map(|&i| Member {
                    index: manifest.global_index(i),
                    seed: manifest.seeds[i],
                    indices: spec.kind.indices(manifest.global_index(i), n_train),
                })
                .collect();
            let epochs = spec.recipe.epochs;
            let first = chunk[0];
            let stack = train_stack(arch, &spec.recipe, set, &members, device, &mut |e| {
                progress.message(format!(
                    "models {first}..{} epoch {e}/{epochs}",
                    first + chunk.len() - 1
                ));
            })?;
            let logits = stack_logits(&stack, x_eval, chunk.len());
            let per = points * input.classes;
            for (k, &i) in chunk.iter().enumerate() {
                let single = stacking::extract(&stack, k, chunk.len());
                save_model(arch, &single, &model_path(out, i))?;
                let part = &logits[k * per..(k + 1) * per];
                unlearn_data::write_npy_f32(logits_path(out, i), &[points, input.classes], part)?;
                progress.inc(1);
            }
            Ok(())
        };
    let failure: std::sync::Mutex<Option<TrainError>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (set, x_eval) = (set.clone(), x_eval.clone());
            let (next, failure, train_chunk, chunks) = (&next, &failure, &train_chunk, &chunks);
            scope.spawn(move || {
                loop {
                    let c = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if c >= chunks.len() || failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                        break;
                    }
                    if let Err(e) = train_chunk(chunks[c], &set, &x_eval) {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(e);
                        }
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    assemble(out, &mut manifest, input.classes)?;
    drop(_lock);
    Zoo::load_shard(out)
}

/// Checks everything about a zoo that can be checked before training: the recipe against the
/// architecture, the masks or forget set against the training split, the model count and the
/// architecture against the input; returns the input.
fn check_spec<A: Architecture>(
    arch: &A,
    spec: &ZooSpec,
    data: &Prepared,
) -> Result<InputSpec, TrainError> {
    spec.recipe.validate()?;
    check_architecture(arch, &spec.recipe)?;
    let n_train = data.train.len();
    if let ZooKind::Subsets { masks, .. } = &spec.kind {
        if masks.n != n_train {
            return Err(TrainError::Recipe(format!(
                "the masks cover {} points but the training split has {n_train}; make masks for this dataset and split with `unlearn masks`",
                masks.n
            )));
        }
        if masks.rows < spec.models {
            return Err(TrainError::Recipe(format!(
                "{} models asked for but the mask file has only {} rows",
                spec.models, masks.rows
            )));
        }
    }
    if let ZooKind::Retain { forget, .. } = &spec.kind {
        check_forget_indices(forget, n_train)?;
    }
    if spec.models == 0 {
        return Err(TrainError::Recipe("a zoo needs at least one model".into()));
    }
    let input = InputSpec {
        dim: data.train.dim,
        image_shape: data.train.image_shape,
        classes: data.train.classes,
    };
    arch.validate(&input)?;
    Ok(input)
}

/// The models `todo` grouped by how many points each trains on (`points(i)`), each group in the
/// order of its models: the models of a stack train on equally many points, so subsets of
/// different sizes (several α in turn) go into stacks of their own size.
fn group_by_size(todo: &[usize], points: impl Fn(usize) -> usize) -> Vec<Vec<usize>> {
    let mut by_size: Vec<(usize, Vec<usize>)> = Vec::new();
    for &i in todo {
        let len = points(i);
        match by_size.iter_mut().find(|(size, _)| *size == len) {
            Some((_, same)) => same.push(i),
            None => by_size.push((len, vec![i])),
        }
    }
    by_size.into_iter().map(|(_, same)| same).collect()
}

/// Creates `out` or checks that it holds the same configuration, and locks it: the returned
/// guard keeps other processes out until it is dropped. Leftovers of a killed run (temporary
/// files) are removed, and models of a finished zoo whose files no longer match the manifest's
/// records are deleted so that they are trained again.
pub fn prepare_dir(
    out: &Path,
    manifest: &Manifest,
    progress: &dyn Progress,
) -> Result<DirLock, TrainError> {
    let lock = DirLock::acquire(out)?;
    if let Some(note) = &lock.taken_over {
        progress.warn(note.clone());
    }
    for sub in ["models", "logits"] {
        std::fs::create_dir_all(out.join(sub)).map_err(TrainError::io(out.join(sub)))?;
    }
    if out.join("manifest.json").exists() {
        let found = Manifest::load(out)?;
        if found.config_hash == manifest.config_hash && found.shard != manifest.shard {
            let name = |s: Option<crate::ShardInfo>| {
                s.map_or("the whole zoo".to_string(), |s| {
                    format!("shard {}", s.shard())
                })
            };
            return Err(TrainError::OtherShard {
                dir: out.to_path_buf(),
                found: name(found.shard),
                wanted: name(manifest.shard),
            });
        }
        if found.config_hash != manifest.config_hash {
            return Err(TrainError::DifferentZoo {
                dir: out.to_path_buf(),
                found: found.config_hash,
                expected: manifest.config_hash.clone(),
            });
        }
        let damaged = integrity::damaged_models(out, &found.files);
        if !damaged.is_empty() {
            progress.warn(format!(
                "{}: models {damaged:?} no longer match the manifest's records; training them again",
                out.display()
            ));
        }
        for i in damaged {
            for path in [model_path(out, i), logits_path(out, i)] {
                if path.exists() {
                    std::fs::remove_file(&path).map_err(TrainError::io(&path))?;
                }
            }
        }
    }
    integrity::remove_temp_files(out)?;
    let mut fresh = manifest.clone();
    fresh.complete = false;
    fresh.files.clear();
    fresh.save(out)?;
    Ok(lock)
}

/// Checkpoint file of model `i`.
pub fn model_path(out: &Path, i: usize) -> PathBuf {
    out.join("models").join(format!("{i:05}.bpk"))
}

/// Logits file of model `i`.
pub fn logits_path(out: &Path, i: usize) -> PathBuf {
    out.join("logits").join(format!("{i:05}.npy"))
}

/// Examples model `i` of an unlearned zoo cost (forward and backward), as decimal text.
pub fn examples_path(out: &Path, i: usize) -> PathBuf {
    out.join("examples").join(format!("{i:05}.txt"))
}

/// Records, atomically, the examples model `i` of an unlearned zoo cost ([`examples_path`]).
pub fn save_examples(out: &Path, i: usize, examples: u64) -> Result<(), TrainError> {
    let path = examples_path(out, i);
    let dir = out.join("examples");
    std::fs::create_dir_all(&dir).map_err(TrainError::io(dir))?;
    unlearn_data::atomic_write_bytes(path, examples.to_string().as_bytes())?;
    Ok(())
}

/// The examples recorded for model `i` by [`save_examples`].
pub fn load_examples(out: &Path, i: usize) -> Result<u64, TrainError> {
    let path = examples_path(out, i);
    let text = std::fs::read_to_string(&path).map_err(TrainError::io(&path))?;
    text.trim().parse().map_err(|_| TrainError::Zoo {
        path,
        what: format!("{text:?} is not a count of examples; delete the model's logits to redo it"),
    })
}

/// True when both files of model `i` exist.
pub fn model_done(out: &Path, i: usize) -> bool {
    model_path(out, i).is_file() && logits_path(out, i).is_file()
}

/// Saves a checkpoint atomically and durably (a temporary file, synced, renamed, directory
/// synced), like every other artifact ([`unlearn_data::persist`]).
pub fn save_model<A: Architecture>(
    arch: &A,
    model: &A::Model,
    path: &Path,
) -> Result<(), TrainError> {
    let tmp = unlearn_data::temp_path_next_to(path)?;
    arch.save(model, &tmp).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        what: e.to_string(),
    })?;
    Ok(unlearn_data::persist(tmp, path)?)
}

/// Refuses an architecture other than the one the recipe (and so the manifest) names.
pub fn check_architecture<A: Architecture>(arch: &A, recipe: &Recipe) -> Result<(), TrainError> {
    let given = arch.spec();
    if given != recipe.model {
        return Err(TrainError::Recipe(format!(
            "the recipe's model is {} but the architecture given is {}; build the recipe with Recipe::for_model(arch.spec())",
            recipe.model.as_json(),
            given.as_json()
        )));
    }
    Ok(())
}

/// Writes `logits.npy` from the per-model files, records every artifact's hash and size in the
/// manifest and marks it complete.
pub fn assemble(out: &Path, manifest: &mut Manifest, classes: usize) -> Result<(), TrainError> {
    let points = manifest.points();
    let mut all = Vec::with_capacity(manifest.seeds.len() * points * classes);
    for i in 0..manifest.seeds.len() {
        let path = logits_path(out, i);
        let (shape, values) = unlearn_data::read_npy_f32(&path)?;
        if shape != [points, classes] {
            return Err(TrainError::Zoo {
                path,
                what: format!(
                    "logits of shape {shape:?}, expected [{points}, {classes}]; delete it to retrain that model"
                ),
            });
        }
        all.extend_from_slice(&values);
    }
    unlearn_data::write_npy_f32(
        out.join("logits.npy"),
        &[manifest.seeds.len(), points, classes],
        &all,
    )?;
    manifest.files = integrity::record_files(out, manifest.seeds.len())?;
    manifest.complete = true;
    manifest.save(out)
}

/// A finished zoo read back from disk.
#[derive(Debug, Clone)]
pub struct Zoo {
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Logits, `models × points × classes`, row-major.
    pub logits: Vec<f32>,
    /// Labels of the evaluated points (train first, then validation).
    pub labels: Vec<u32>,
    /// Number of models.
    pub models: usize,
    /// Evaluated points.
    pub points: usize,
    /// Classes.
    pub classes: usize,
}

impl Zoo {
    /// Reads a complete zoo (not one shard of it: see [`Zoo::load_shard`]).
    pub fn load(dir: &Path) -> Result<Self, TrainError> {
        let zoo = Self::load_shard(dir)?;
        if let Some(shard) = zoo.manifest.shard {
            return Err(TrainError::Zoo {
                path: dir.to_path_buf(),
                what: format!(
                    "is shard {} of a zoo (models {}..{} of {}); join every shard with `unlearn merge` first",
                    shard.shard(),
                    shard.first,
                    shard.first + shard.len,
                    shard.total
                ),
            });
        }
        Ok(zoo)
    }

    /// Reads a complete zoo or a complete shard of one (`--shard`).
    pub fn load_shard(dir: &Path) -> Result<Self, TrainError> {
        let manifest = Manifest::load(dir)?;
        if !manifest.complete {
            return Err(TrainError::Zoo {
                path: dir.to_path_buf(),
                what:
                    "the zoo is unfinished; re-run the same `unlearn train` command to complete it"
                        .into(),
            });
        }
        let path = dir.join("logits.npy");
        let (shape, logits) = unlearn_data::read_npy_f32(&path)?;
        let (models, points, classes) = match shape[..] {
            [m, p, c] => (m, p, c),
            _ => {
                return Err(TrainError::Zoo {
                    path,
                    what: format!("logits of shape {shape:?}, expected models × points × classes"),
                });
            }
        };
        if points != manifest.points()
            || models != manifest.seeds.len()
            || classes != manifest.dataset.classes
        {
            return Err(TrainError::Zoo {
                path,
                what: format!(
                    "logits of shape {shape:?} disagree with the manifest ({} models, {} points, {} classes)",
                    manifest.seeds.len(),
                    manifest.points(),
                    manifest.dataset.classes
                ),
            });
        }
        let label_path = dir.join("labels.npy");
        let (_, labels) = unlearn_data::read_npy_i64(&label_path)?;
        if labels.len() != points {
            return Err(TrainError::Zoo {
                path: label_path,
                what: format!("{} labels for {points} points", labels.len()),
            });
        }
        let labels = labels.into_iter().map(|l| l as u32).collect();
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            logits,
            labels,
            models,
            points,
            classes,
        })
    }

    /// Logits of model `i` (`points × classes`).
    pub fn model_logits(&self, i: usize) -> &[f32] {
        let per = self.points * self.classes;
        &self.logits[i * per..(i + 1) * per]
    }

    /// What the models are built for.
    pub fn input(&self) -> InputSpec {
        self.manifest.dataset.input()
    }

    /// Loads model `i`'s checkpoint onto `device`; `arch` must be the zoo's architecture.
    pub fn load_model<A: Architecture>(
        &self,
        arch: &A,
        i: usize,
        device: &Device,
    ) -> Result<A::Model, TrainError> {
        check_architecture(arch, &self.manifest.recipe)?;
        let path = model_path(&self.dir, i);
        arch.load(&self.input(), self.manifest.seeds[i], &path, device)
            .map_err(|e| TrainError::Checkpoint {
                path,
                what: e.to_string(),
            })
    }
}
