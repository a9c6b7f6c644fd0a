#!/usr/bin/env bash
# One shard of a datamodels zoo. Every task of a Slurm job array and every pod of a Kubernetes
# Indexed Job runs this script; they differ only in their index. See docs/cluster.md.
#
#   Slurm:      SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT (set by sbatch --array=0-(N-1))
#   Kubernetes: JOB_COMPLETION_INDEX (set by completionMode: Indexed), SHARDS=N
#
# RUN_DIR must be on storage every task sees (NFS, a PersistentVolumeClaim, ...).
set -euo pipefail
index="${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-}}"
count="${SLURM_ARRAY_TASK_COUNT:-${SHARDS:-}}"
if [[ -z "$index" || -z "$count" ]]; then
    echo "shard.sh: set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (Slurm) or JOB_COMPLETION_INDEX and SHARDS (Kubernetes)" >&2
    exit 2
fi
unlearn="${UNLEARN:-unlearn}"
run="${RUN_DIR:-runs/cluster}"
models="${MODELS:-1000}"
mkdir -p "$run/shards"
# The masks are the same in every task (same seed): each task may write them, atomically.
# DATA_ARGS (e.g. "--dataset /data/train.csv --limit 20000") goes to both commands, TRAIN_ARGS to train.
[[ -f "$run/masks.npy" ]] || "$unlearn" masks ${DATA_ARGS:-} --models "$models" --seed "${MASK_SEED:-0}" --out "$run/masks.npy"
# Re-running a task (after preemption, a node failure, `scontrol requeue`) resumes its shard.
exec "$unlearn" train ${DATA_ARGS:-} --subsets "$run/masks.npy" --models "$models" \
    --shard "$index/$count" --workers "${WORKERS:-1}" ${TRAIN_ARGS:-} --out "$run/shards/$index"
