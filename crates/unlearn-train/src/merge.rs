//! `unlearn merge` for zoos: the shards of one `--shard I/N` run become the zoo an unsharded run
//! would have written (same files, same configuration hash, bit-identical logits).

use crate::integrity::{self, Finding};
use crate::manifest::Manifest;
use crate::progress::Progress;
use crate::shard::check_cover;
use crate::zoo::{Zoo, assemble, logits_path, model_done, model_path, prepare_dir};
use crate::{ShardInfo, TrainError};
use std::path::{Path, PathBuf};
use unlearn_data::atomic_copy;

/// Merges the complete, intact shard zoos `shards` (any order) into `out`. Refuses shards of
/// different configurations, overlapping or missing shards, and damaged or unfinished ones.
/// Resumable: models already copied into `out` are kept.
pub fn merge_zoos(
    shards: &[PathBuf],
    out: &Path,
    progress: &dyn Progress,
) -> Result<Zoo, TrainError> {
    let names: Vec<String> = shards.iter().map(|d| d.display().to_string()).collect();
    let out_real = std::fs::canonicalize(out).ok();
    let mut manifests = Vec::with_capacity(shards.len());
    for dir in shards {
        if out_real.is_some() && std::fs::canonicalize(dir).ok() == out_real {
            return Err(TrainError::Shards(format!(
                "the output directory {} is one of the shards; merge into a new directory",
                out.display()
            )));
        }
        let check = integrity::verify_zoo(dir)?;
        if let Some(finding) = check.findings.first() {
            let fix = match finding {
                Finding::Unfinished { .. } | Finding::InUse { .. } => "let its command finish",
                _ => "re-run its command to repair it",
            };
            return Err(TrainError::Shards(format!(
                "{} is not ready ({finding}); {fix}, then merge again",
                dir.display()
            )));
        }
        let manifest = Manifest::load(dir)?;
        if manifest.shard.is_none() {
            return Err(TrainError::Shards(format!(
                "{} is a whole zoo, not a shard (written unsharded)",
                dir.display()
            )));
        }
        manifests.push(manifest);
    }
    let Some(first) = manifests.first() else {
        return Err(TrainError::Shards("no shard directories given".into()));
    };
    for (m, name) in manifests.iter().zip(&names) {
        if m.config_hash != first.config_hash {
            return Err(TrainError::Shards(format!(
                "{name} has configuration {} but {} has {}: shards of different runs",
                m.config_hash, names[0], first.config_hash
            )));
        }
        if m.files.get("labels.npy") != first.files.get("labels.npy") {
            return Err(TrainError::Shards(format!(
                "{name} and {} evaluate different points (labels.npy differs)",
                names[0]
            )));
        }
    }
    let infos: Vec<ShardInfo> = manifests
        .iter()
        .map(|m| m.shard.expect("checked"))
        .collect();
    let order = check_cover(&infos, &names).map_err(TrainError::Shards)?;

    // The method's record (cost per model) from a shard that holds models: with more shards
    // than models the first may be empty and have measured nothing.
    let source = order
        .iter()
        .copied()
        .find(|&k| infos[k].len > 0)
        .unwrap_or(order[0]);
    let mut merged = manifests[source].clone();
    merged.shard = None;
    merged.complete = false;
    merged.files.clear();
    merged.seeds = order
        .iter()
        .flat_map(|&k| manifests[k].seeds.clone())
        .collect();
    let _lock = prepare_dir(out, &merged, progress)?;
    atomic_copy(shards[order[0]].join("labels.npy"), out.join("labels.npy"))?;
    progress.set_length(merged.seeds.len() as u64);
    for &k in &order {
        for j in 0..infos[k].len {
            let g = infos[k].first + j;
            if !model_done(out, g) {
                atomic_copy(model_path(&shards[k], j), model_path(out, g))?;
                atomic_copy(logits_path(&shards[k], j), logits_path(out, g))?;
            }
            progress.inc(1);
        }
    }
    assemble(out, &mut merged, first.dataset.classes)?;
    drop(_lock);
    Zoo::load(out)
}
