//! Runs a method on every original of a zoo and writes the unlearned zoo in `unlearn train`'s
//! layout (so `unlearn eval` reads it unchanged). Resumable: finished models are kept.

use crate::MethodError;
use crate::context::Context;
use crate::method::{UnlearnMethod, check_inputs};
use std::path::Path;
use std::time::Instant;
use unlearn_models::Architecture;
use unlearn_train::manifest::{InputRef, Manifest};
use unlearn_train::zoo::{
    assemble, examples_path, load_examples, logits_path, model_done, model_path, prepare_dir,
    save_examples, save_model,
};
use unlearn_train::{Progress, Shard};

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Unlearned models written.
    pub models: usize,
    /// Examples passed forward and backward per unlearned model (the mean over the models).
    pub examples_per_model: u64,
    /// Per-request cost as a fraction of retraining (§3).
    pub cost: f64,
    /// Wall-clock seconds of this run (models reused from an earlier run cost nothing here).
    pub seconds: f64,
}

/// Runs `method` on every original of `ctx` (in stacks of `stack`, at most the architecture's
/// `max_stack`) into `out`; `extra_inputs` (JSON) is recorded in the manifest beside the method.
#[allow(clippy::too_many_arguments)]
pub fn unlearn_zoo<A: Architecture>(
    method: &dyn UnlearnMethod<A>,
    ctx: &Context<'_, A>,
    forget_ref: &InputRef,
    extra_inputs: serde_json::Value,
    out: &Path,
    stack: usize,
    shard: Option<Shard>,
    progress: &dyn Progress,
) -> Result<RunSummary, MethodError> {
    ctx.check()?;
    check_inputs(method, ctx)?;
    let started = Instant::now();
    let originals = ctx.originals;
    let mut manifest: Manifest = originals.manifest.clone();
    manifest.kind = "unlearned".into();
    manifest.forget_set = Some(forget_ref.clone());
    manifest.complete = false;
    manifest.unlearning = Some(serde_json::json!({
        "method": method.name(),
        "params": method.params(),
        "originals": { "path": originals.dir.display().to_string(), "config_hash": originals.manifest.config_hash },
        "inputs": extra_inputs,
    }));
    manifest.config_hash = manifest.compute_hash();
    if let Some(shard) = shard {
        manifest.restrict_to(shard);
    }
    // Unlearned model j of this run (of a shard) comes from original `offset + j`.
    let (models, offset) = (manifest.seeds.len(), manifest.global_index(0));
    let _lock = prepare_dir(out, &manifest, progress)?;
    let labels: Vec<i64> = originals.labels.iter().map(|&l| l as i64).collect();
    unlearn_data::write_npy_i64(out.join("labels.npy"), &[labels.len()], &labels)?;
    let todo: Vec<usize> = (0..models)
        .filter(|&i| {
            !model_done(out, i)
                || !examples_path(out, i).is_file()
                || !method.makes_models() && !logits_path(out, i).is_file()
        })
        .collect();
    progress.set_length(models as u64);
    progress.set_position((models - todo.len()) as u64);
    let retrain = ctx.retrain_examples().max(1);
    let per = ctx.points() * ctx.classes();
    let stack = stack.clamp(1, ctx.arch.max_stack().unwrap_or(usize::MAX).max(1));
    let mut pending = vec![false; models];
    for &i in &todo {
        pending[i] = true;
    }
    let todo_in_zoo: Vec<usize> = todo.iter().map(|&i| offset + i).collect();
    for of_originals in aligned_stacks(&todo_in_zoo, stack, originals.models) {
        let output = method.run(ctx, &of_originals)?;
        for (k, &g) in of_originals.iter().enumerate() {
            // Members outside this shard, or done before, are computed only for their stack.
            let Some(i) = g
                .checked_sub(offset)
                .filter(|&i| pending.get(i) == Some(&true))
            else {
                continue;
            };
            // Recorded before the logits (which mark the model done), so a run killed after its
            // last model still knows, when resumed, what every model cost.
            save_examples(out, i, output.examples_of(k))?;
            match &output.model {
                Some(stack_model) => {
                    let single =
                        unlearn_models::stacking::extract(stack_model, k, of_originals.len());
                    save_model(ctx.arch, &single, &model_path(out, i))?;
                }
                // Methods without a network still mark the model done, with the original's weights.
                None => unlearn_data::atomic_copy(
                    model_path(&originals.dir, offset + i),
                    model_path(out, i),
                )?,
            }
            unlearn_data::write_npy_f32(
                logits_path(out, i),
                &[ctx.points(), ctx.classes()],
                &output.logits[k * per..(k + 1) * per],
            )?;
            progress.inc(1);
        }
    }
    let examples = mean_examples(out, models)?;
    let cost = examples as f64 / retrain as f64;
    if let Some(u) = manifest.unlearning.as_mut().and_then(|u| u.as_object_mut()) {
        u.insert("examples_per_model".into(), examples.into());
        u.insert("retrain_examples".into(), retrain.into());
        u.insert("cost".into(), cost.into());
    }
    assemble(out, &mut manifest, ctx.classes())?;
    Ok(RunSummary {
        models,
        examples_per_model: examples,
        cost,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The stacks that hold a model of `todo` (indices into the whole zoo of `models`), each whole:
/// models `s·stack .. (s+1)·stack` (fewer at the end). A method may tie the models of a stack
/// together (a shared stopping rule did once), so a resumed run and every shard stack the same
/// models as one uninterrupted run; members done before, or of another shard, are recomputed,
/// not written.
fn aligned_stacks(todo: &[usize], stack: usize, models: usize) -> Vec<Vec<usize>> {
    let mut starts: Vec<usize> = todo.iter().map(|&i| i / stack * stack).collect();
    starts.dedup();
    starts
        .into_iter()
        .map(|start| (start..(start + stack).min(models)).collect())
        .collect()
}

/// Mean examples per model over the `models` records of a finished run (rounded down).
fn mean_examples(out: &Path, models: usize) -> Result<u64, MethodError> {
    let mut total = 0u128;
    for i in 0..models {
        total += u128::from(load_examples(out, i)?);
    }
    Ok((total / models.max(1) as u128) as u64)
}

#[cfg(test)]
mod tests {
    use super::aligned_stacks;

    #[test]
    fn a_resumed_run_stacks_the_models_an_uninterrupted_one_did() {
        // Stacks of 4 over 10 models: 0..4, 4..8, 8..10. Models 0, 1 and 5 are done.
        let todo = [2, 3, 4, 6, 7, 8, 9];
        assert_eq!(
            aligned_stacks(&todo, 4, 10),
            vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
        );
        // A finished stack is not rerun; the last one is short.
        assert_eq!(aligned_stacks(&[9], 4, 10), vec![vec![8, 9]]);
        assert_eq!(aligned_stacks(&[], 4, 10), Vec::<Vec<usize>>::new());
        assert_eq!(aligned_stacks(&[0, 2], 1, 3), vec![vec![0], vec![2]]);
    }
}
