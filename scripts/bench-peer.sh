#!/usr/bin/env bash
# Runs the Python peer medallion (confluent-kafka + polars + deltalake) over
# a topic that is already filled, for `cargo bench --bench medallion`.
#
# usage: scripts/bench-peer.sh BROKER RECORDS LAKE [TOPIC]
#
# The peer's packages live in a venv cached outside the clone
# (~/.cache/ingot/peer-venv, or $INGOT_CACHE/peer-venv), created on first use.
# The peer script is $INGOT_PEER, else shared/peers/peer_medallion.py beside
# the clone, else /work/shared/peers/peer_medallion.py. It prints one line
# per phase (`bronze: N in S s = R rec/s`, `silver: ...`, `gold: ...`).
set -euo pipefail

if [[ $# -lt 3 || $# -gt 4 ]]; then
    echo "usage: $0 BROKER RECORDS LAKE [TOPIC]" >&2
    exit 2
fi
brokers=$1
records=$2
lake=$3
topic=${4:-bench}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peer="${INGOT_PEER:-}"
if [[ -z "$peer" ]]; then
    for candidate in "$root/../shared/peers/peer_medallion.py" /work/shared/peers/peer_medallion.py; do
        if [[ -f "$candidate" ]]; then
            peer=$candidate
            break
        fi
    done
fi
if [[ -z "$peer" || ! -f "$peer" ]]; then
    echo "peer: no peer_medallion.py found (set INGOT_PEER)" >&2
    exit 1
fi

venv="${INGOT_CACHE:-$HOME/.cache/ingot}/peer-venv"
packages=(confluent-kafka polars deltalake pyarrow)
# One venv setup at a time per machine; the marker says it is complete.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [[ ! -f "$venv/.ingot-complete" ]]; then
    echo "peer: creating $venv (${packages[*]})" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}" >&2
    touch "$venv/.ingot-complete"
fi
flock -u 9

echo "peer: $("$venv/bin/python" --version) running $peer" >&2
exec "$venv/bin/python" "$peer" --brokers "$brokers" --records "$records" --lake "$lake" --topic "$topic"
