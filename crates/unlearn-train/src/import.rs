//! Checkpoints made elsewhere as a zoo, and a zoo's models back out. `unlearn import` turns a
//! directory of PyTorch or safetensors state dicts into a zoo (manifest, burnpack checkpoints,
//! logits on the named dataset), so imported originals and oracles are unlearned, attributed and
//! evaluated like trained ones; `unlearn export` writes any zoo's models as safetensors files
//! that the torch module loads with `load_state_dict(strict=True)`.

use crate::inference::{features, stack_logits};
use crate::manifest::{DatasetInfo, FORMAT, Manifest};
use crate::progress::Progress;
use crate::torch_checkpoint::{ImportOptions, export_checkpoint, import_checkpoint, is_checkpoint};
use crate::zoo::{
    Zoo, ZooKind, assemble, check_architecture, check_forget_indices, logits_path, model_done,
    model_path, prepare_dir, save_model,
};
use crate::{Recipe, TrainError};
use burn::tensor::{Device, Tensor};
use std::path::{Path, PathBuf};
use unlearn_data::Prepared;
use unlearn_models::ModelConfig;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportSpec {
    /// The checkpoints' architecture; `recipe.model` must be its spec.
    pub config: ModelConfig,
    /// How the checkpoints were trained: the manifest records it, and its epochs make the
    /// cost unit (one retraining) of methods run on the zoo.
    pub recipe: Recipe,
    /// Originals (`Full`) or oracles of a forget set (`Retain`).
    pub kind: ZooKind,
    /// The checkpoint files, model `i` from `files[i]`.
    pub files: Vec<PathBuf>,
    /// Key names and nesting of the files.
    pub options: ImportOptions,
}

/// The checkpoint files of `dir` (`.pt`, `.pth`, `.bin`, `.safetensors`) in natural order
/// (`id_2` before `id_10`), so model `i` is the `i`-th of a numbered series.
pub fn checkpoint_files(dir: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let entries = std::fs::read_dir(dir).map_err(TrainError::io(dir))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_checkpoint(p))
        .collect();
    files.sort_by_key(|p| natural_key(&p.file_name().unwrap_or_default().to_string_lossy()));
    if files.is_empty() {
        return Err(TrainError::Zoo {
            path: dir.to_path_buf(),
            what: "holds no checkpoint (.pt, .pth, .bin or .safetensors files)".into(),
        });
    }
    Ok(files)
}

/// A file name split into text and numbers, numbers compared by value.
fn natural_key(name: &str) -> Vec<(String, u64)> {
    let mut key = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (text, tail) = rest.split_at(digits);
        let end = tail
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (number, tail) = tail.split_at(end);
        key.push((text.to_string(), number.parse().unwrap_or(0)));
        rest = tail;
    }
    key
}

/// Imports `spec.files` into the zoo `out` on `data`: each checkpoint is read and checked, saved
/// as a burnpack model, and its logits on every point written, as `train_zoo` would. An
/// interrupted import resumes; a checkpoint that fails leaves no model file behind.
pub fn import_zoo(
    spec: &ImportSpec,
    data: &Prepared,
    dataset: DatasetInfo,
    out: &Path,
    device: &Device,
    progress: &dyn Progress,
) -> Result<Zoo, TrainError> {
    spec.recipe.validate()?;
    check_architecture(&spec.config, &spec.recipe)?;
    if spec.files.is_empty() {
        return Err(TrainError::Recipe("no checkpoint to import".into()));
    }
    let input = dataset.input();
    spec.config.validate(&input)?;
    let n_train = data.train.len();
    let per_model = match &spec.kind {
        ZooKind::Full => n_train,
        ZooKind::Retain { forget, .. } => {
            check_forget_indices(forget, n_train)?;
            forget.retain_indices(n_train).len()
        }
        ZooKind::Subsets { .. } => {
            return Err(TrainError::Recipe(
                "subset models are trained here (`unlearn train --subsets`), not imported".into(),
            ));
        }
    };
    let mut checkpoints = Vec::with_capacity(spec.files.len());
    for file in &spec.files {
        checkpoints.push(serde_json::json!({
            "path": file.display().to_string(),
            "sha256": unlearn_data::sha256_file(file)?,
        }));
    }
    let models = spec.files.len();
    let mut manifest = Manifest {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").to_string(),
        kind: match spec.kind {
            ZooKind::Full => "full",
            _ => "retain",
        }
        .into(),
        recipe: spec.recipe.clone(),
        dataset,
        forget_set: match &spec.kind {
            ZooKind::Retain { source, .. } => Some(source.clone()),
            _ => None,
        },
        masks: None,
        seeds: (0..models as u64).collect(),
        examples_per_model: (per_model * spec.recipe.epochs) as u64,
        config_hash: String::new(),
        complete: false,
        unlearning: None,
        files: Default::default(),
        shard: None,
        locations: Default::default(),
        imported: Some(serde_json::json!({
            "checkpoints": checkpoints,
            "top_level_key": spec.options.top_level_key,
            "key_map": spec.options.key_map,
        })),
    };
    manifest.config_hash = manifest.compute_hash();
    let _lock = prepare_dir(out, &manifest, progress)?;
    let labels: Vec<i64> = data.all_labels().into_iter().map(i64::from).collect();
    unlearn_data::write_npy_i64(out.join("labels.npy"), &[labels.len()], &labels)?;
    let todo: Vec<usize> = (0..models).filter(|&i| !model_done(out, i)).collect();
    progress.set_length(models as u64);
    progress.set_position((models - todo.len()) as u64);
    let points = data.train.len() + data.val.len();
    let x_eval: Tensor<2> = Tensor::cat(
        vec![features(&data.train, device), features(&data.val, device)],
        0,
    );
    for i in todo {
        let file = &spec.files[i];
        progress.message(format!("model {i} from {}", file.display()));
        let model = import_checkpoint(&spec.config, &input, file, &spec.options, device)?;
        let logits = stack_logits(&model, &x_eval, 1);
        save_model(&spec.config, &model, &model_path(out, i))?;
        unlearn_data::write_npy_f32(logits_path(out, i), &[points, input.classes], &logits)?;
        progress.inc(1);
    }
    assemble(out, &mut manifest, input.classes)?;
    drop(_lock);
    Zoo::load(out)
}

/// Writes every model of the zoo in `dir` as `out/NNNNN.safetensors` in the torch layout
/// (existing files are replaced); returns the files written.
pub fn export_zoo(
    zoo: &Zoo,
    config: &ModelConfig,
    out: &Path,
    device: &Device,
    progress: &dyn Progress,
) -> Result<Vec<PathBuf>, TrainError> {
    let input = zoo.manifest.dataset.input();
    std::fs::create_dir_all(out).map_err(TrainError::io(out))?;
    progress.set_length(zoo.models as u64);
    let mut written = Vec::with_capacity(zoo.models);
    for i in 0..zoo.models {
        let model = zoo.load_model(config, i, device)?;
        let file = out.join(format!("{i:05}.safetensors"));
        export_checkpoint(config, &input, &model, &file)?;
        written.push(file);
        progress.inc(1);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_files_sort_by_value() {
        let mut names = [
            "id_10_epoch_23.pt",
            "id_2_epoch_23.pt",
            "id_1_epoch_23.pt",
            "a.pt",
        ];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(
            names,
            [
                "a.pt",
                "id_1_epoch_23.pt",
                "id_2_epoch_23.pt",
                "id_10_epoch_23.pt"
            ]
        );
    }
}
