#!/usr/bin/env bash
# Installs moto's S3-compatible server (moto[server], from the Python package
# index), which the end-to-end tests start for lakes at s3:// URLs, and
# prints the path of its `moto_server` command on the last line.
#
# It goes into a venv cached outside the clone, in
# ~/.cache/ingot/moto-<version>, so every clone and CI run on a machine
# shares one install (about 30 s). Set INGOT_MOTO to an existing
# moto_server to skip it.
set -euo pipefail

version=5.2.5
root="${INGOT_CACHE:-$HOME/.cache/ingot}/moto-$version"
bin="$root/bin/moto_server"

if [[ -n "${INGOT_MOTO:-}" ]]; then
    [[ -x "$INGOT_MOTO" ]] || { echo "moto: INGOT_MOTO=$INGOT_MOTO is not executable" >&2; exit 1; }
    echo "$INGOT_MOTO"
    exit 0
fi

# One install at a time per machine: a second caller waits, then finds it.
source "$(dirname "${BASH_SOURCE[0]}")/pinned-venv.sh"
pinned_venv moto "$root" "moto[server]==$version"
[[ -x "$bin" ]] || { echo "moto: $bin missing after the install" >&2; exit 1; }
echo "$bin"
