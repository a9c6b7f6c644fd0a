#!/usr/bin/env bash
# Runs `unlearn bench --quick` and checks every column of its report against the independent
# Python reference (check_report.py). The venv (numpy, scipy, scikit-learn as pinned in
# requirements.txt) is made once under $UNLEARN_CI_CACHE (default ~/.cache) and reused while the
# pins are unchanged.
# Usage: scripts/reference/check.sh [UNLEARN_BINARY]   (default: $CARGO_TARGET_DIR/release/unlearn)
set -euo pipefail
cd "$(dirname "$0")/../.."
cache="${UNLEARN_CI_CACHE:-$HOME/.cache}"
venv="$cache/unlearn-reference-venv"
requirements=scripts/reference/requirements.txt
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
    command -v python3 >/dev/null || { echo "reference: python3 is needed for the reference check (install python3 and python3-venv)"; exit 1; }
    rm -rf "$venv"
    python3 -m venv "$venv"
    # One retry: a registry hiccup should not fail the check.
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" \
        || "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
fi
bin="${1:-${CARGO_TARGET_DIR:-target}/release/unlearn}"
[[ -x "$bin" ]] || { echo "reference: no unlearn binary at $bin (build it: cargo build --release -p unlearn-cli)"; exit 1; }
run="$(mktemp -d)"
trap 'rm -rf "$run"' EXIT
if ! "$bin" bench --quick --out "$run/bench" >"$run/bench.log" 2>&1; then
    tail -n 20 "$run/bench.log"
    echo "reference: unlearn bench --quick failed"
    exit 1
fi
"$venv/bin/python" scripts/reference/check_report.py "$run/bench"
