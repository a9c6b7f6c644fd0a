#!/usr/bin/env bash
# Every GPU measurement of the project in one run (well under 10 minutes on an H100/H200), from
# the repository root of a machine with an NVIDIA GPU, after scripts/gpu/prepare.sh made .gpu/
# and .gl/ elsewhere. Prints the tables docs/backends.md's GPU section ("On a GPU") quotes; with $OUT set, the log
# and the run's reports are copied there.
#   1. correctness: MLP, small CNN and ResNet-9 trained a few steps on wgpu against flex;
#   2. speed: ResNet-9 width 64, batch 512 (f32) training and inference samples/s, its layers,
#      the MLP zoo in stacks and the small CNN stacked (wgpu next to flex on the same machine);
#   3. a zoo trained on wgpu (originals, oracles, a floor) unlearned and evaluated.
set -uo pipefail
cd "$(dirname "$0")/../.."
[[ -f .gpu/unlearn.gz ]] || { echo "measure: .gpu/unlearn.gz missing; run scripts/gpu/prepare.sh first and carry .gpu"; exit 1; }
bin=/tmp/unlearn-gpu
gunzip -c .gpu/unlearn.gz >"$bin" && chmod +x "$bin"
if ! ldconfig -p | grep -q libvulkan; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[[ -f "$icd" ]] && export VK_DRIVER_FILES="$icd"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
out="${OUT:-$(mktemp -d)}"
log="$out/measure.log"
run() { echo "+ $*" | tee -a "$log"; "$@" 2>&1 | tee -a "$log"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee -a "$log"
start=$(date +%s)

# Sizes for the GPU; UNLEARN_GPU_SMOKE=1 shrinks them to check the script on a software device.
if [[ "${UNLEARN_GPU_SMOKE:-0}" == 1 ]]; then
    speed=(--models 4 --stack 4 --unstacked-models 1 --large 8 --epochs 1 --cnn-stack 2
        --cnn-points 64 --resnet-width 4 --resnet-batch 16 --resnet-points 32)
    zoo=(--models 4 --epochs 2)
else
    speed=(--models 256 --stack 64 --unstacked-models 8 --large 1000 --epochs 10 --cnn-stack 8
        --cnn-points 4096 --resnet-width 64 --resnet-batch 512 --resnet-points 10240)
    zoo=(--models 16 --epochs 10)
fi

# 1 and 2: one bench-speed run (wgpu first: the ResNet-9 and the large zoo are timed on it).
run timeout 420 "$bin" bench-speed --backends wgpu,flex --agreement "${speed[@]}"

# 3: a small zoo on wgpu, unlearned with gradient descent and evaluated against a floor.
runs=$(mktemp -d)
run "$bin" forget-set --size 20 --out "$runs/forget.txt"
run "$bin" train --backend wgpu "${zoo[@]}" --out "$runs/originals"
run "$bin" train --backend wgpu "${zoo[@]}" --forget-set "$runs/forget.txt" --out "$runs/oracles"
run "$bin" train --backend wgpu "${zoo[@]}" --forget-set "$runs/forget.txt" --first-seed 2000 --out "$runs/floor"
run "$bin" forget --backend wgpu --method gd --originals "$runs/originals" --forget-set "$runs/forget.txt" --out "$runs/gd"
run "$bin" eval --unlearned "$runs/gd" --oracles "$runs/oracles" --floor-oracles "$runs/floor" --forget-set "$runs/forget.txt" --out "$out/eval"
echo "measure: done in $(( $(date +%s) - start )) s" | tee -a "$log"
