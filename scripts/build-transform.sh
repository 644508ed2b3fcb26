#!/usr/bin/env bash
# Builds one transform's source folder into a component of the `stage` world.
#
#   scripts/build-transform.sh <source-dir> <out.wasm>
#
# The language is chosen by what the folder holds:
#   app.py                          Python, with componentize-py and
#                                   guest-sdk/python
#   index.ts, index.js or
#   package.json                    JavaScript/TypeScript, with esbuild,
#                                   ComponentizeJS and guest-sdk/js
#   Cargo.toml                      Rust (cargo, wasm32-wasip2, release)
#
# For example transforms/log-parse/python, transforms/log-parse/js or
# transforms/log-parse/rust: one folder per transform, one per language.
#
# Toolchains are installed on first use into $INGOT_CACHE (default
# ~/.cache/ingot), outside the clone, pinned to the versions below, and
# reused after. The component is rebuilt only when a source, the SDK or the
# WIT contract is newer than it. Progress goes to stderr; the component's
# path is printed on stdout. Nothing is written into the source folder or
# the SDKs (the Python build reads copies of them, under $INGOT_CACHE).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${INGOT_CACHE:-$HOME/.cache/ingot}"
# The one copy of the contract, read by every SDK.
wit="$root/guest-sdk/wit"
COMPONENTIZE_PY_VERSION=0.25.1

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build-transform: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: scripts/build-transform.sh <source-dir> <out.wasm>"
src="$(cd "$1" 2>/dev/null && pwd)" || die "no source folder at $1"
out="$2"
mkdir -p "$(dirname "$out")" "$cache"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

# One build at a time per machine: parallel test processes may ask for the
# same component, and the toolchain installs below must not race.
exec 9>"$cache/build-transform.lock"
flock 9

# Whether $out exists and is newer than every file under the given paths.
up_to_date() {
    [[ -f "$out" ]] || return 1
    local newer
    newer=$(find "$@" -type f -newer "$out" -not -path '*/node_modules/*' \
        -not -path '*/__pycache__/*' -print -quit 2>/dev/null)
    [[ -z "$newer" ]]
}

# apt-get install for what is missing, as root or with sudo.
install_debian() {
    command -v apt-get >/dev/null || die "need $* (not a Debian system: install them yourself)"
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    say "build-transform: installing debian packages: $*"
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Prints the componentize-py binary, installing it into a venv once.
python_toolchain() {
    command -v python3 >/dev/null || install_debian python3 python3-venv
    local venv="$cache/componentize-py-$COMPONENTIZE_PY_VERSION"
    # A venv cannot be moved (its scripts name their interpreter by path), so
    # it is built in place and marked complete last.
    if [[ ! -f "$venv/.complete" ]]; then
        say "build-transform: installing componentize-py $COMPONENTIZE_PY_VERSION into $venv (once)"
        rm -rf "$venv"
        python3 -m venv "$venv" 2>/dev/null || { install_debian python3-venv; rm -rf "$venv"; python3 -m venv "$venv"; }
        "$venv/bin/pip" install -q --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY_VERSION" >&2
        touch "$venv/.complete"
    fi
    echo "$venv/bin/componentize-py"
}

# Makes guest-sdk/js/node_modules the pinned toolchain (npm ci into the cache,
# keyed by the lock file's digest) unless a developer's own install is there.
js_toolchain() {
    command -v node >/dev/null && command -v npm >/dev/null || install_debian nodejs npm
    local sdk="$root/guest-sdk/js"
    if [[ -d "$sdk/node_modules" && ! -L "$sdk/node_modules" ]]; then
        return
    fi
    local digest dir
    digest=$(sha256sum "$sdk/package-lock.json" | cut -c1-16)
    dir="$cache/js-sdk-$digest"
    if [[ ! -d "$dir/node_modules" ]]; then
        say "build-transform: npm ci for guest-sdk/js into $dir (once)"
        rm -rf "$dir.tmp"
        mkdir -p "$dir.tmp"
        cp "$sdk/package.json" "$sdk/package-lock.json" "$dir.tmp/"
        (cd "$dir.tmp" && npm ci --no-audit --no-fund --loglevel=error >&2)
        rm -rf "$dir"
        mv "$dir.tmp" "$dir"
    fi
    ln -sfn "$dir/node_modules" "$sdk/node_modules"
}

build_python() {
    # This script pins the componentize-py version, so it is an input too.
    up_to_date "$src" "$root/guest-sdk/python/ingot" "$wit" "${BASH_SOURCE[0]}" && return
    local componentize_py
    componentize_py=$(python_toolchain)
    say "build-transform: componentize-py $src -> $out"
    # componentize-py imports the app in its own CPython (in Wasm), which
    # writes __pycache__ beside every module it imports whatever
    # PYTHONDONTWRITEBYTECODE says; so it reads copies of the transform and
    # of the SDK, under the cache, and the checkout stays clean. (The
    # component names its files by position on the path, /0/app.py, either
    # way.) The bindings (wit_world) are generated into the build too.
    local stage
    stage=$(mktemp -d "$cache/python-build.XXXXXX")
    mkdir "$stage/sdk"
    cp -R "$src" "$stage/app"
    cp -R "$root/guest-sdk/python/ingot" "$stage/sdk/ingot"
    find "$stage" -name __pycache__ -prune -exec rm -rf {} +
    (cd "$stage/app" && "$componentize_py" -d "$wit" -w stage componentize app \
        -p "$stage/app" -p "$stage/sdk" -o "$out.tmp" >&2) ||
        { rm -rf "$stage"; die "componentize-py failed for $src (see above)"; }
    rm -rf "$stage"
    mv "$out.tmp" "$out"
}

build_js() {
    up_to_date "$src" "$root/guest-sdk/js/src" "$root/guest-sdk/js/build.mjs" \
        "$root/guest-sdk/js/package-lock.json" "$wit" && return
    js_toolchain
    say "build-transform: guest-sdk/js/build.mjs $src -> $out"
    node "$root/guest-sdk/js/build.mjs" "$src" "$out.tmp" >/dev/null || die "the JavaScript build failed for $src (see above)"
    mv "$out.tmp" "$out"
}

build_rust() {
    say "build-transform: cargo build --release --target wasm32-wasip2 ($src)"
    rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2 >&2
    local artifact
    artifact=$(cargo build --manifest-path "$src/Cargo.toml" --release --target wasm32-wasip2 \
        --message-format=json-render-diagnostics |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and "cdylib" in m["target"]["kind"]:
        print([f for f in m["filenames"] if f.endswith(".wasm")][0])')
    [[ -n "$artifact" ]] || die "$src/Cargo.toml builds no cdylib: add crate-type = [\"cdylib\"] to [lib]"
    cp "$artifact" "$out"
}

if [[ -f "$src/app.py" ]]; then
    build_python
elif [[ -f "$src/index.ts" || -f "$src/index.js" || -f "$src/package.json" ]]; then
    build_js
elif [[ -f "$src/Cargo.toml" ]]; then
    build_rust
else
    die "$src holds no app.py (Python), index.ts/index.js/package.json (JavaScript) or Cargo.toml (Rust)"
fi
echo "$out"
