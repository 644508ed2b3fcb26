# What the measure scripts share (sourced): the binary, a broker process
# with topic `logs`, and the example log pipeline pointed at it.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${INGOT_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/ingot}

# Starts `ingot broker` with PARTITIONS partitions of `logs` in the current
# directory; sets BROKER (its pid) and A (its address).
start_broker() {
    $BIN broker --topic logs --partitions "$1" --address-file addr >broker.log 2>&1 &
    BROKER=$!
    for _ in $(seq 50); do [[ -s addr ]] && break; sleep 0.2; done
    A=$(cat addr)
}

# Writes examples/logs.toml to FILE with the broker at $A, the lake at
# ROOT and the example modules of this checkout; MORE (TOML) is appended.
log_pipeline() {
    local file=$1 lake=$2 more=${3:-}
    sed -e "s|^brokers = .*|brokers = \"$A\"|" \
        -e "s|^root = .*|root = \"$lake\"|" \
        -e "s|\.\./target/guests|$root/target/guests|" \
        "$root/examples/logs.toml" >"$file"
    printf '%s\n' "$more" >>"$file"
}
