#!/usr/bin/env bash
# A PyTorch user's path, end to end, as docs/onnx.md describes it: a CNN of their own (batch
# norm, residual, dropout) trained in PyTorch on their own images, test set and per-channel
# statistics, exported to ONNX; imported, a deletion request unlearned with DMM (TRAK calibrated
# on 40 subset models of the same ONNX architecture), audited, exported, and loaded back into
# the torch module with load_state_dict(strict=True) when a torch venv exists. The inputs are
# the fixtures of scripts/torch_reference/make_onnx_fixtures.py. Writes every command and its
# output, verbatim, to docs/pytorch-onnx.md.
# Usage: scripts/examples/pytorch_onnx.sh [UNLEARN_BINARY]   (default: target/release/unlearn)
set -euo pipefail
source "$(dirname "$0")/common.sh"
doc=docs/pytorch-onnx.md
python="${UNLEARN_TORCH_PYTHON:-$HOME/.cache/torch-venv/bin/python}"
mkdir -p "$work/pytorch"
cp crates/unlearn-train/tests/fixtures/onnx/{cnn.onnx,cnn.safetensors} crates/unlearn-train/tests/fixtures/onnx/data/*.npy "$work/pytorch/"
p="$work/pytorch"
data=(--dataset "$p/train_x.npy,$p/train_y.npy" --validation "$p/test_x.npy,$p/test_y.npy"
      --normalise channel --channel-mean 0.4 --channel-std 0.25)
{
    echo "# A PyTorch model, end to end through ONNX (generated)"
    echo
    echo "Written by \`scripts/examples/pytorch_onnx.sh\`: the fixture CNN of"
    echo "\`scripts/torch_reference/make_onnx_fixtures.py\`, trained in PyTorch on its own 36 images,"
    echo "18 test images and published per-channel statistics; every command and its output,"
    echo "verbatim. Rerun the script to regenerate this page."
    echo
} >"$log"
run import --model "onnx:$p/cnn.onnx" --checkpoints "$p/cnn.safetensors" "${data[@]}" --out "$work/one"
run forget-set "${data[@]}" --size 4 --seed 3 --out "$work/F.txt"
run masks "${data[@]}" --models 40 --alpha 0.5 --seed 1 --out "$work/masks.npy"
run train --model "onnx:$p/cnn.onnx" --epochs 10 --batch-size 12 --models 40 --subsets "$work/masks.npy" \
    --first-seed 1000 "${data[@]}" --out "$work/subsets"
run attribute --method trak --zoo "$work/one" --trak-models 1 --trak-calibration "$work/subsets" \
    --forget-set "$work/F.txt" --out "$work/trak"
run forget --method dmm --originals "$work/one" --forget-set "$work/F.txt" \
    --attribution "$work/trak" --out "$work/unlearned"
run audit --unlearned "$work/unlearned" --originals "$work/one" --forget-set "$work/F.txt" \
    --attribution "$work/trak" --out "$work/audit"
run export --zoo "$work/unlearned" --out "$work/exported"
if "$python" -c "import torch, safetensors" 2>/dev/null; then
    printf '```console\n$ python scripts/torch_reference/make_onnx_fixtures.py check cnn runs/exported runs/unlearned/logits.npy\n' >>"$log"
    "$python" scripts/torch_reference/make_onnx_fixtures.py check cnn "$work/exported" "$work/unlearned/logits.npy" 2>/dev/null >>"$log"
    printf '```\n' >>"$log"
fi
mv "$log" "$doc"
echo "wrote $doc"
