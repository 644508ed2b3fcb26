#!/usr/bin/env bash
# Installs the offline validators of the deployment files the tests check
# (tests/e2e/deploy_files.rs): kubernetes-validate (the Kubernetes API's
# schemas, bundled) for deploy/kubernetes/, and check-jsonschema (the
# Compose specification's schema, bundled) for deploy/compose/, pinned, in a
# venv cached outside the clone (~/.cache/ingot/validators-<pins>, once per
# machine). Prints the venv's bin directory on the last line. Set
# INGOT_VALIDATORS to an existing directory holding both to skip it.
set -euo pipefail

pins=(kubernetes-validate==1.37.0 check-jsonschema==0.39.0)
root="${INGOT_CACHE:-$HOME/.cache/ingot}/validators-kubernetes-validate-1.37.0-check-jsonschema-0.39.0"

if [[ -n "${INGOT_VALIDATORS:-}" ]]; then
    [[ -x "$INGOT_VALIDATORS/kubernetes-validate" ]] || { echo "validators: no kubernetes-validate in INGOT_VALIDATORS=$INGOT_VALIDATORS" >&2; exit 1; }
    echo "$INGOT_VALIDATORS"
    exit 0
fi

source "$(dirname "${BASH_SOURCE[0]}")/pinned-venv.sh"
pinned_venv validators "$root" "${pins[@]}"
[[ -x "$root/bin/kubernetes-validate" ]] || { echo "validators: kubernetes-validate missing after the install" >&2; exit 1; }
echo "$root/bin"
