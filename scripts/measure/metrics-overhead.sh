#!/usr/bin/env bash
# `ingot run --once` over one topic with the server (the metrics recorder) off and on,
# alternating: what recording metrics costs the data path (docs/benchmarks.md).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${INGOT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/ingot}
G=$root/target/guests/wasm32-wasip2/guest
D=$(mktemp -d -t ingot-overhead.XXXXXX); cd "$D"
$BIN broker --topic logs --partitions 8 --address-file addr > broker.log 2>&1 &
BROKER=$!
for i in $(seq 50); do [[ -s addr ]] && break; sleep 0.2; done
A=$(cat addr)
$BIN produce --brokers "$A" --topic logs --count ${N:-200000} > /dev/null
pipeline() { cat > "$1.toml" <<T
name = "logs"
[kafka]
brokers = "$A"
topics = ["logs"]
[lake]
root = "$1"
[maintenance]
enabled = false
[[stages]]
name = "silver"
module = "$G/log_parse.wasm"
input-columns = ["topic", "partition", "offset", "value"]
[[stages]]
name = "gold"
module = "$G/level_counts.wasm"
input-columns = ["level", "latency_ms"]
mode = "accumulate"
keys = ["level"]
measures = ["count", "latency_ms_sum"]
T
}
for r in 1 2 3 4 5; do
  for mode in off on; do
    pipeline "lake-$mode-$r"
    extra=(); [[ $mode == on ]] && extra=(--listen 127.0.0.1:0)
    s=$(date +%s.%N)
    $BIN run "lake-$mode-$r.toml" --once "${extra[@]}" > "out-$mode-$r.log" 2>&1
    e=$(date +%s.%N)
    echo "$mode $r $(echo "$e - $s" | bc) $(grep -o 'ingest: [0-9]* records' out-$mode-$r.log)"
  done
done
kill $BROKER
