#!/usr/bin/env bash
# Prepares the GPU measurement on a CPU machine, so no GPU time goes to building: a release
# build of `unlearn` with the wgpu backend (stripped) in .gpu/, and the Vulkan loader packages a
# bare GPU machine may lack in .gl/ (both ignored by git; both travel with the device run's
# `carry`). Then run scripts/gpu/measure.sh there (see that file).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/unlearn-target}"
cargo build --release -p unlearn-cli --features wgpu
# Stripped and compressed: the device run carries at most 64 MiB with the working tree, and the
# binary with the CubeCL stack is ~100 MB as built (~20 MB this way).
mkdir -p .gpu
cp "$CARGO_TARGET_DIR/release/unlearn" .gpu/unlearn
strip .gpu/unlearn 2>/dev/null || true
gzip -f -9 .gpu/unlearn
echo "prepare: .gpu/unlearn.gz $(du -h .gpu/unlearn.gz | cut -f1)"
if ! compgen -G ".gl/libvulkan1_*.deb" >/dev/null; then
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    apt-get $o update >/dev/null
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
echo "prepare: .gl holds $(ls .gl | wc -l) packages; carried in all $(du -shc .gpu .gl | tail -1 | cut -f1) (carry: .gpu .gl)"
