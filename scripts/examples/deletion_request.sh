#!/usr/bin/env bash
# A deletion request on one deployed model, end to end on digits, as docs/cli.md describes it:
# one checkpoint, ten records to forget, TRAK calibrated on 40 subset models, DMM, then the
# audit. Writes the commands and their output, verbatim, to docs/deletion-request.md (the
# documentation's figures come from there, never typed by hand).
# Usage: scripts/examples/deletion_request.sh [UNLEARN_BINARY]   (default: target/release/unlearn)
set -euo pipefail
source "$(dirname "$0")/common.sh"
doc=docs/deletion-request.md
{
    echo "# A deletion request on one deployed model (generated)"
    echo
    echo "Written by \`scripts/examples/deletion_request.sh\` on digits: every command and its output,"
    echo "verbatim. Rerun the script to regenerate this page."
    echo
} >"$log"
run train --models 1 --out "$work/one"
run forget-set --size 10 --seed 3 --out "$work/F.txt"
run masks --models 40 --alpha 0.5 --seed 1 --out "$work/masks.npy"
run train --models 40 --subsets "$work/masks.npy" --first-seed 1000 --out "$work/subsets"
run attribute --method trak --zoo "$work/one" --trak-models 1 --trak-calibration "$work/subsets" \
    --forget-set "$work/F.txt" --out "$work/trak"
run forget --method dmm --originals "$work/one" --forget-set "$work/F.txt" \
    --attribution "$work/trak" --out "$work/unlearned"
run audit --unlearned "$work/unlearned" --originals "$work/one" --forget-set "$work/F.txt" \
    --attribution "$work/trak" --out "$work/audit"
mv "$log" "$doc"
echo "wrote $doc"
