#!/usr/bin/env bash
# After every shard finished: join them into one zoo, check it, fit the datamodels.
# Refuses to merge if a shard is missing, duplicated, unfinished or from another configuration.
set -euo pipefail
unlearn="${UNLEARN:-unlearn}"
run="${RUN_DIR:-runs/cluster}"
"$unlearn" merge --out "$run/zoo" "$run"/shards/*
"$unlearn" verify "$run/zoo"
if [[ -n "${ATTRIBUTE:-}" ]]; then
    "$unlearn" attribute --method "$ATTRIBUTE" --zoo "$run/zoo" --out "$run/attribution"
fi
