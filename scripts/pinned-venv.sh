#!/usr/bin/env bash
# Makes (once per machine) a Python venv at ROOT holding the pinned
# packages PINS, under a lock, marked complete only once installed:
#
#   source scripts/pinned-venv.sh; pinned_venv LABEL ROOT PIN...
#
# LABEL names it in the messages (stderr). A venv cannot be moved (its
# scripts name their interpreter by path), hence one per ROOT. Used by
# install-moto.sh, install-readers.sh and install-validators.sh.
pinned_venv() {
    local label=$1 root=$2
    shift 2
    mkdir -p "$(dirname "$root")"
    exec 9>"$root.lock"
    flock 9
    if [[ ! -f "$root/.complete" ]]; then
        echo "$label: installing $* into $root (once per machine)" >&2
        rm -rf "$root"
        python3 -m venv "$root"
        "$root/bin/pip" install -q --disable-pip-version-check "$@" >&2
        touch "$root/.complete"
    else
        echo "$label: $* already installed" >&2
    fi
    exec 9>&-
}
