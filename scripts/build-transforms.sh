#!/usr/bin/env bash
# Builds the example Rust transforms (transforms/<name>/rust) and the hostile
# test module (tests/modules/hostile) as wasm32-wasip2 components (rustc
# emits a component directly for a cdylib on this target) and prints the path
# of each artifact, one per line, on stdout.
#
# Guests build in their own target dir so they never wait on the host's cargo
# lock. Override it with INGOT_GUEST_TARGET_DIR; extra arguments go to cargo
# (for example --locked). Idempotent: a second run is a no-op build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target=wasm32-wasip2
crates=(log-parse level-counts osquery-flatten osquery-counts debezium-cdc group-counts hostile)

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target" >&2
fi

export CARGO_TARGET_DIR="${INGOT_GUEST_TARGET_DIR:-$root/target/guests}"
packages=()
for crate in "${crates[@]}"; do
    packages+=(-p "$crate")
done
(cd "$root" && cargo build --profile guest --target "$target" "${packages[@]}" "$@" >&2)

for crate in "${crates[@]}"; do
    artifact="$CARGO_TARGET_DIR/$target/guest/${crate//-/_}.wasm"
    [[ -f "$artifact" ]] || { echo "build-transforms: missing $artifact" >&2; exit 1; }
    echo "$artifact"
done
