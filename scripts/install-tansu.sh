#!/usr/bin/env bash
# Installs Tansu, the Kafka-protocol broker the end-to-end tests start, and
# prints the path of its binary on the last line.
#
# The build (about 12 minutes on 2 cores) is cached outside the clone, in
# ~/.cache/ingot/tansu-<version>, so every clone and CI run on a machine
# shares one build. Set INGOT_TANSU to an existing tansu binary to skip it.
set -euo pipefail

version=0.6.0
root="${INGOT_CACHE:-$HOME/.cache/ingot}/tansu-$version"
bin="$root/bin/tansu"

# Runs the binary given as $1 and checks it is a working tansu.
works() {
    [[ -x "$1" ]] && "$1" --version >/dev/null 2>&1
}

if [[ -n "${INGOT_TANSU:-}" ]]; then
    if works "$INGOT_TANSU"; then
        echo "tansu: using INGOT_TANSU=$INGOT_TANSU" >&2
        echo "$INGOT_TANSU"
        exit 0
    fi
    echo "tansu: INGOT_TANSU=$INGOT_TANSU is not a working tansu binary" >&2
    exit 1
fi

if works "$bin"; then
    echo "tansu: $("$bin" --version 2>/dev/null | head -n1) already installed" >&2
    echo "$bin"
    exit 0
fi

echo "tansu: building tansu $version into $root (about 12 minutes, once per machine)" >&2
log="$(mktemp -t tansu-build.XXXXXX.log)"
# One build at a time per machine: a second caller waits, then finds it built.
mkdir -p "$root"
exec 9>"$root.lock"
flock 9
if ! works "$bin"; then
    # Progress: one line per minute, so a CI log shows it is alive.
    (while sleep 60; do
        echo "tansu: still building ($(grep -c Compiling "$log" 2>/dev/null || echo 0) crates compiled)" >&2
    done) &
    ticker=$!
    trap 'kill "$ticker" 2>/dev/null || true' EXIT
    if ! cargo install tansu --version "$version" --locked --features dynostore \
        --root "$root" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "tansu: build failed (full log: $log)" >&2
        exit 1
    fi
    kill "$ticker" 2>/dev/null || true
    trap - EXIT
fi
works "$bin" || { echo "tansu: $bin does not run after the build" >&2; exit 1; }
rm -f "$log"
echo "tansu: installed $bin" >&2
echo "$bin"
