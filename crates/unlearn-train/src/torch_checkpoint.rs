//! PyTorch interop for the built-in architectures and ONNX graphs: a torch state dict (a
//! `.pt`/`.pth` pickle or a `.safetensors` file, read through burn-store; for an ONNX
//! architecture also the `.onnx` file's own initializers) becomes a stack of one model, and a model goes
//! back out as a safetensors file that the same torch module loads with
//! `load_state_dict(strict=True)`. Which key holds which parameter is
//! [`unlearn_models::torch_layout`]; docs/checkpoints.md shows the torch modules.

use crate::TrainError;
use burn::tensor::{DType, Device, TensorData};
use burn_store::bridge;
use burn_store::{ModuleSnapshot, ModuleStore, PytorchStore, SafetensorsStore};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use unlearn_models::torch_layout::{TorchEntry, TorchLayout, Transform};
use unlearn_models::{Architecture, InputSpec, Model, ModelConfig};

/// How to read a checkpoint whose keys are not the documented ones.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Key of the state dict inside a pickled checkpoint that holds more (e.g. `state_dict`,
    /// `model`); `None` reads the top level.
    pub top_level_key: Option<String>,
    /// Regex → replacement pairs applied to the file's keys in order before they are matched
    /// (e.g. `^module\.` → `` for a `DataParallel` checkpoint, `^model\.` → ``).
    pub key_map: Vec<(String, String)>,
}

/// Checks that every `key_map` pattern is a valid regular expression (the stores would panic or
/// fail late on a bad one); the error is one line naming the pattern and the reason.
pub fn check_key_map(options: &ImportOptions) -> Result<(), String> {
    for (pattern, _) in &options.key_map {
        regex::Regex::new(pattern).map_err(|e| {
            let reason = e.to_string();
            let last = reason.lines().last().unwrap_or_default().trim().to_string();
            format!("'{pattern}' is not a valid regular expression ({last})")
        })?;
    }
    Ok(())
}

/// True for the file names import reads (`.pt`, `.pth`, `.bin`, `.safetensors`).
pub fn is_checkpoint(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "pt" | "pth" | "bin" | "safetensors"))
}

fn error(path: &Path, what: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Every tensor a store holds, by (remapped) key.
fn all_tensors<S: ModuleStore>(
    mut store: S,
) -> Result<BTreeMap<String, burn_store::burn_pack::Tensor>, String> {
    store.get_all_tensors().cloned().map_err(|e| e.to_string())
}

/// Every tensor of the file by (remapped) key: its dtype, shape and values.
fn read_tensors(
    path: &Path,
    options: &ImportOptions,
) -> Result<BTreeMap<String, TensorData>, TrainError> {
    if !path.is_file() {
        return Err(error(path, "no such file; check the path"));
    }
    if path.extension().is_some_and(|e| e == "onnx") {
        // An ONNX file holds the weights it was exported with, under the state dict's keys.
        let graph = unlearn_models::onnx::OnnxGraph::read(path).map_err(|why| error(path, why))?;
        return Ok(graph
            .initializers
            .into_iter()
            .map(|i| (i.name, TensorData::new(i.values, i.dims)))
            .collect());
    }
    let safetensors = path.extension().is_some_and(|e| e == "safetensors");
    let read_failed = |e: String| {
        error(
            path,
            format!(
                "cannot be read as a {} checkpoint ({}); is the file complete?",
                if safetensors {
                    "safetensors"
                } else {
                    "PyTorch"
                },
                e.lines().next().unwrap_or_default()
            ),
        )
    };
    // Keys stay as written (no contiguous renumbering): the layout names torch's own
    // Sequential indices.
    let tensors = if safetensors {
        let store = SafetensorsStore::from_file(path).map_indices_contiguous(false);
        let remapped = options
            .key_map
            .iter()
            .fold(store, |s, (from, to)| s.with_key_remapping(from, to));
        all_tensors(remapped).map_err(read_failed)?
    } else {
        let mut store = PytorchStore::from_file(path).map_indices_contiguous(false);
        if let Some(key) = &options.top_level_key {
            store = store.with_top_level_key(key);
        }
        let remapped = options
            .key_map
            .iter()
            .fold(store, |s, (from, to)| s.with_key_remapping(from, to));
        all_tensors(remapped).map_err(read_failed)?
    };
    tensors
        .into_iter()
        .map(|(key, tensor)| {
            let data = bridge::into_data(tensor)
                .map_err(|e| read_failed(format!("tensor '{key}': {e}")))?;
            Ok((key, data))
        })
        .collect()
}

/// Reads the checkpoint at `path` of `config` (built for `input`) as a stack of one model.
/// Every documented key must be there, of its shape, as f32; a key the layout does not know is
/// an error (map it with [`ImportOptions::key_map`]); batch-norm counters are ignored.
pub fn import_checkpoint(
    config: &ModelConfig,
    input: &InputSpec,
    path: &Path,
    options: &ImportOptions,
    device: &Device,
) -> Result<Model, TrainError> {
    check_key_map(options).map_err(|why| error(path, format!("key map: {why}")))?;
    let layout = TorchLayout::of(config, input)?;
    let mut tensors = read_tensors(path, options)?;
    for counter in &layout.counters {
        tensors.remove(counter);
    }
    let mut model = config.init(input, &[0], device)?;
    let shapes: HashMap<String, Vec<usize>> = model
        .collect(None, None, true)
        .into_iter()
        .map(|t| (t.name.clone(), t.shape.to_vec()))
        .collect();
    let mut params = Vec::with_capacity(layout.entries.len());
    for entry in &layout.entries {
        let Some(data) = tensors.remove(&entry.key) else {
            return Err(error(
                path,
                format!(
                    "missing key '{}' ({} of shape {:?}); is this a {} checkpoint? remap other key names with --key-map",
                    entry.key,
                    entry.path,
                    entry.shape,
                    config.name()
                ),
            ));
        };
        let burn_shape = shapes
            .get(&entry.path)
            .unwrap_or_else(|| panic!("layout path {} exists in {}", entry.path, config.name()));
        params.push(to_burn(entry, data, burn_shape, path)?);
    }
    if let Some(extra) = tensors.keys().next() {
        return Err(error(
            path,
            format!(
                "unexpected key '{extra}' (not part of a {} of this shape); remap it with --key-map or check the architecture",
                config.name()
            ),
        ));
    }
    let result = model.apply(params, None, None, true);
    if !result.errors.is_empty() || !result.missing.is_empty() {
        return Err(error(
            path,
            format!(
                "could not be applied to {} ({:?} {:?})",
                config.name(),
                result.errors.first(),
                result.missing.first()
            ),
        ));
    }
    Ok(model)
}

/// One torch tensor as the burn parameter `entry` names, checked.
fn to_burn(
    entry: &TorchEntry,
    data: TensorData,
    burn_shape: &[usize],
    path: &Path,
) -> Result<burn_store::burn_pack::Tensor, TrainError> {
    if data.dtype() != DType::F32 {
        return Err(error(
            path,
            format!(
                "key '{}' is {:?}, not float32; save the state dict after model.float()",
                entry.key,
                data.dtype()
            ),
        ));
    }
    if data.shape().to_vec() != entry.shape {
        return Err(error(
            path,
            format!(
                "key '{}' has shape {:?}, expected {:?}; check the architecture's width and the data's shape",
                entry.key,
                data.shape().to_vec(),
                entry.shape
            ),
        ));
    }
    let values: Vec<f32> = data
        .try_to_vec::<f32>()
        .map_err(|e| error(path, format!("key '{}': {e:?}", entry.key)))?;
    let values = match entry.transform {
        Transform::Linear => transpose(&values, entry.shape[0], entry.shape[1]),
        Transform::Reshape => values,
    };
    Ok(bridge::from_data(
        TensorData::new(values, burn_shape.to_vec()),
        entry.path.clone(),
        None,
    ))
}

/// Row-major `[rows, cols]` → `[cols, rows]`.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Writes `model` (a stack of one of `config`, built for `input`) as a safetensors file in the
/// torch layout, batch-norm counters included, atomically.
pub fn export_checkpoint(
    config: &ModelConfig,
    input: &InputSpec,
    model: &Model,
    path: &Path,
) -> Result<(), TrainError> {
    let layout = TorchLayout::of(config, input)?;
    let mut params: HashMap<String, TensorData> = HashMap::new();
    for tensor in model.collect(None, None, true) {
        let name = tensor.name.clone();
        let data = bridge::into_data(tensor).map_err(|e| error(path, e.to_string()))?;
        params.insert(name, data);
    }
    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>, safetensors::Dtype)> = Vec::new();
    for entry in &layout.entries {
        let data = params
            .get(&entry.path)
            .ok_or_else(|| error(path, format!("the model has no parameter {}", entry.path)))?;
        let values: Vec<f32> = data
            .try_to_vec::<f32>()
            .map_err(|e| error(path, format!("{}: {e:?}", entry.path)))?;
        if values.len() != entry.shape.iter().product::<usize>() {
            return Err(error(
                path,
                format!(
                    "{} holds {} values, not a stack of one of shape {:?}; export models one at a time",
                    entry.path,
                    values.len(),
                    entry.shape
                ),
            ));
        }
        let values = match entry.transform {
            // burn [1, in, out] → torch [out, in]
            Transform::Linear => transpose(&values, entry.shape[1], entry.shape[0]),
            Transform::Reshape => values,
        };
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((
            entry.key.clone(),
            entry.shape.clone(),
            bytes,
            safetensors::Dtype::F32,
        ));
    }
    for counter in &layout.counters {
        buffers.push((
            counter.clone(),
            Vec::new(),
            0i64.to_le_bytes().to_vec(),
            safetensors::Dtype::I64,
        ));
    }
    let views = buffers
        .iter()
        .map(|(key, shape, bytes, dtype)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|view| (key.clone(), view))
                .map_err(|e| error(path, format!("{key}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut metadata = HashMap::new();
    metadata.insert("format".to_string(), "pt".to_string());
    metadata.insert(
        "unlearn_architecture".to_string(),
        config.spec().as_json().to_string(),
    );
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| error(path, e.to_string()))?;
    unlearn_data::atomic_write_bytes(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposing_twice_gives_the_values_back() {
        let values: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let t = transpose(&values, 2, 3);
        assert_eq!(t, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(transpose(&t, 3, 2), values);
    }
}
