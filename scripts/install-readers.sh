#!/usr/bin/env bash
# Installs the independent readers the end-to-end tests check ingot's tables
# with: the `deltalake` Python package (delta-rs's Python binding, another
# build than the one under test) and polars, pinned, in a venv cached
# outside the clone (~/.cache/ingot/readers-<pins>, about 40 s once per
# machine). Prints the venv's python on the last line. Set INGOT_READERS to
# an existing python with both to skip it.
set -euo pipefail

pins=(deltalake==1.6.6 polars==2.1.0 pyarrow==26.0.1)
root="${INGOT_CACHE:-$HOME/.cache/ingot}/readers-deltalake-1.6.6-polars-2.1.0"
python="$root/bin/python"

if [[ -n "${INGOT_READERS:-}" ]]; then
    [[ -x "$INGOT_READERS" ]] || { echo "readers: INGOT_READERS=$INGOT_READERS is not executable" >&2; exit 1; }
    echo "$INGOT_READERS"
    exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/pinned-venv.sh"
pinned_venv readers "$root" "${pins[@]}"
[[ -x "$python" ]] || { echo "readers: $python missing after the install" >&2; exit 1; }
echo "$python"
