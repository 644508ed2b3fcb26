#!/usr/bin/env bash
# API latency (status, /metrics, deploy) and the console's load, against `ingot serve`
# (a debug build unless INGOT_BIN names another): figures by hand, see docs/benchmarks.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
G=$root/target/guests/wasm32-wasip2/guest
D=$(mktemp -d -t ingot-measure.XXXXXX)
cd "$D"
start_broker 1
TOKEN=measure-token
HASH=$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)
log_pipeline a.toml lake
sed -i 's/^name = "logs"/name = "logs"\ntenant = "a"/' a.toml
cat > host.toml <<T
[lake]
root = "lake"
[server]
listen = "127.0.0.1:9419"
[[tenants]]
name = "a"
pipelines = ["a.toml"]
token-sha256 = "$HASH"
T
$BIN serve host.toml > serve.log 2>&1 &
SERVE=$!
for i in $(seq 100); do grep -q "pipeline started" serve.log && break; sleep 0.2; done
$BIN produce --brokers "$A" --topic logs --count 20000 > /dev/null
sleep 8
U=http://127.0.0.1:9419/api/v1/tenants/a/pipelines/logs
echo "status (ms):"
for i in $(seq 30); do curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" $U/status; done | sort -n | awk '{a[NR]=$1} END {printf "  p50 %.1f p90 %.1f max %.1f\n", a[int(NR*0.5)]*1000, a[int(NR*0.9)]*1000, a[NR]*1000}'
echo "metrics (ms):"
for i in $(seq 30); do curl -s -o /dev/null -w '%{time_total}\n' http://127.0.0.1:9419/metrics; done | sort -n | awk '{a[NR]=$1} END {printf "  p50 %.1f p90 %.1f max %.1f\n", a[int(NR*0.5)]*1000, a[int(NR*0.9)]*1000, a[NR]*1000}'
echo "deploy (ms):"
for i in 1 2 3; do curl -s -o deploy.json -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/wasm' --data-binary @"$G/log_parse.wasm" "$U/stages/silver/deploy?note=m$i"; done | awk '{printf "  %.0f\n", $1*1000}'
echo "console: $(curl -s http://127.0.0.1:9419/console | wc -c) bytes"
for i in 1 2 3; do
  chromium --headless --no-sandbox --disable-gpu --user-data-dir="$D/prof$i" --timeout=4000 --dump-dom "http://127.0.0.1:9419/console#tenant=a&token=$TOKEN" 2>/dev/null | grep -o 'data-first-render="[0-9]*"' || true
done
kill $SERVE; wait $SERVE || true
kill $BROKER || true
