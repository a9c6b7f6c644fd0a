#!/usr/bin/env bash
# Submit a sharded datamodels zoo to Slurm: a job array of N shards, then one merge job that
# starts only when every shard succeeded. Usage: SHARDS=50 MODELS=10000 RUN_DIR=/shared/run ./slurm.sh
# A requeued or preempted task resumes its shard (its log keeps both runs: --open-mode=append).
# The last line names both job ids: "submitted shards ARRAY_[0-N] and their merge MERGE".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
shards="${SHARDS:-10}"
export RUN_DIR="${RUN_DIR:-$PWD/runs/cluster}" MODELS="${MODELS:-1000}"
array=$(sbatch --parsable --array="0-$((shards - 1))" --cpus-per-task="${CPUS:-2}" \
    --requeue --open-mode=append --job-name=unlearn-shard --export=ALL "$here/shard.sh")
merge=$(sbatch --parsable --dependency="afterok:${array}" --job-name=unlearn-merge \
    --export=ALL "$here/merge.sh")
echo "submitted shards ${array}_[0-$((shards - 1))] and their merge ${merge}"
