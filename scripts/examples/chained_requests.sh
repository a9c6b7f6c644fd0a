#!/usr/bin/env bash
# Three deletion requests one after another on digits, as docs/algorithms.md §14 describes:
# DMM on the zoo the last request made, each time; a repeated point refused; the lineage with
# the operator's verdict per step; the chain verified. Writes the commands and their output,
# verbatim, to docs/chained-requests.md (the README's figures come from there).
# Usage: scripts/examples/chained_requests.sh [UNLEARN_BINARY]   (default: target/release/unlearn)
set -euo pipefail
source "$(dirname "$0")/common.sh"
doc=docs/chained-requests.md
{
    echo "# Three deletion requests one after another (generated)"
    echo
    echo "Written by \`scripts/examples/chained_requests.sh\` on digits: every command and its"
    echo "output, verbatim. Rerun the script to regenerate this page."
    echo
} >"$log"
run train --models 20 --out "$work/originals"
run masks --models 200 --seed 1 --out "$work/masks.npy"
run train --models 200 --subsets "$work/masks.npy" --first-seed 1000 --out "$work/subsets"
run attribute --method datamodels-lasso --zoo "$work/subsets" --out "$work/dm"
printf '3\n10\n20\n40\n80\n' >"$work/f1.txt"
printf '5\n11\n21\n41\n81\n' >"$work/f2.txt"
printf '7\n12\n22\n42\n82\n' >"$work/f3.txt"
printf '6\n40\n' >"$work/again.txt"
prev="$work/originals"
for k in 1 2 3; do
    run forget --method dmm --originals "$prev" --forget-set "$work/f$k.txt" \
        --attribution "$work/dm" --out "$work/step$k"
    prev="$work/step$k"
done
run_refused forget --method dmm --originals "$work/step3" --forget-set "$work/again.txt" \
    --attribution "$work/dm" --out "$work/step4"
run history "$work/step3" --attribution "$work/dm" --write-forgotten "$work/forgotten.txt"
run verify "$work/step3"
mv "$log" "$doc"
echo "wrote $doc"
