#!/usr/bin/env bash
# `ingot run --once` over one topic with the server (the metrics recorder) off and on,
# alternating: what recording metrics costs the data path (docs/benchmarks.md).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
D=$(mktemp -d -t ingot-overhead.XXXXXX); cd "$D"
start_broker 8
$BIN produce --brokers "$A" --topic logs --count ${N:-200000} > /dev/null
pipeline() { log_pipeline "$1.toml" "$1" $'[maintenance]\nenabled = false'; }
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
