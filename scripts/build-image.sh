#!/usr/bin/env bash
# Builds the ingot container image from a binary, on scratch.
#
#   scripts/build-image.sh [BINARY] [TAG]
#
# BINARY defaults to target/release/ingot (`cargo build --release -p ingot
# --bin ingot`). Its debug info is split off first: the image gets the
# stripped binary, and BINARY.debug (objcopy --only-keep-debug, linked back
# with a .gnu_debuglink) is left beside the staged copy for debuggers and
# symbolizers. The shared libraries the binary links (ldd) are copied with
# it, so the image needs nothing else. TAG defaults to localhost/ingot:VERSION.
# Needs buildah (Debian: buildah) and binutils. Prints the tag last.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary=${1:-$root/target/release/ingot}
[[ -x "$binary" ]] || { echo "build-image: no binary at $binary (cargo build --release -p ingot --bin ingot)" >&2; exit 1; }
version=$("$binary" --version | awk '{print $2}')
tag=${2:-localhost/ingot:$version}
command -v buildah >/dev/null || { echo "build-image: buildah not found (Debian: apt-get install buildah)" >&2; exit 1; }

context=$(mktemp -d -t ingot-image.XXXXXX)
trap 'rm -rf "$context"' EXIT
rootfs=$context/rootfs
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/tmp" "$rootfs/var/lib/ingot"
chmod 1777 "$rootfs/tmp"

# The debug info, split off: kept outside the image.
debug_dir=${INGOT_DEBUG_DIR:-$root/target/image}
mkdir -p "$debug_dir"
objcopy --only-keep-debug "$binary" "$debug_dir/ingot.debug"
objcopy --strip-debug --strip-unneeded --add-gnu-debuglink="$debug_dir/ingot.debug" \
    "$binary" "$rootfs/usr/local/bin/ingot"

# The libraries it links, at the paths the loader looks them up.
ldd "$binary" | awk '/=> \// {print $3} /^[[:space:]]*\// {print $1}' | sort -u | while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
done

# TLS to object stores and brokers; the unprivileged user.
cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
printf 'root:x:0:0::/:/sbin/nologin\ningot:x:65532:65532::/var/lib/ingot:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\ningot:x:65532:\n' >"$rootfs/etc/group"
chown -R 65532:65532 "$rootfs/var/lib/ingot"

echo "build-image: $(du -sh "$rootfs" | cut -f1) root file system ($(du -h "$rootfs/usr/local/bin/ingot" | cut -f1) binary); debug info in $debug_dir/ingot.debug" >&2
buildah bud --quiet --layers=false -f "$root/deploy/Containerfile" -t "$tag" "$context" >&2
echo "$tag"
