# Shared by the example scripts: the unlearn binary, a work folder removed on exit, and
# `run`, which appends a command (as a user types it, paths under runs/) and its output,
# verbatim, to "$log" and stops the script if it fails; `run_refused` for a command shown
# failing on purpose. Sourced with the binary as $1 (default: target/release/unlearn).
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin="${1:-${CARGO_TARGET_DIR:-target}/release/unlearn}"
[[ -x "$bin" ]] || { echo "no unlearn binary at $bin (cargo build --release -p unlearn-cli)"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log="$work/log.md"
run() {
    local shown="unlearn $*"
    printf '```console\n$ %s\n' "${shown//$work/runs}" >>"$log"
    "$bin" "$@" 2>&1 | grep -v '^\s*$' | sed "s#$work#runs#g" >>"$log"
    printf '```\n\n' >>"$log"
}
run_refused() {
    run "$@" || printf '```\n\n' >>"$log"
}
