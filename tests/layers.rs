//! The crate layering, checked on the dependency graph cargo resolves
//! (normal dependencies; the tests and benches may use anything):
//!
//! - deltalake is named by `ingot-delta` only, wasmtime by `ingot-sandbox`
//!   only, rdkafka by `ingot-kafka` only;
//! - no crate below the pipeline knows the pipeline, and the registry
//!   depends on the pipeline, never the reverse;
//! - `ingot-core` depends on no other ingot crate.

use std::collections::BTreeSet;
use std::process::Command;

/// The ingot crates `cargo tree` lists with `args` (normal edges, depth 1),
/// less `package` itself.
fn tree(package: &str, args: &[&str]) -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("invariant: the crate lives at host/<crate>");
    let out = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["tree", "--edges", "normal", "--depth", "1"])
        .args(["--prefix", "none", "--format", "{p}"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != package && (name.starts_with("ingot-") || *name == "ingot"))
        .map(str::to_owned)
        .collect()
}

/// The workspace crates that depend directly on `package`.
fn direct_dependents(package: &str) -> BTreeSet<String> {
    tree(package, &["--workspace", "--invert", package])
}

/// The ingot crates `package` depends on directly.
fn direct_dependencies(package: &str) -> BTreeSet<String> {
    tree(package, &["--package", package])
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn deltalake_wasmtime_and_rdkafka_each_have_one_crate() {
    assert_eq!(direct_dependents("deltalake"), set(&["ingot-delta"]));
    assert_eq!(direct_dependents("wasmtime"), set(&["ingot-sandbox"]));
    assert_eq!(direct_dependents("rdkafka"), set(&["ingot-kafka"]));
}

#[test]
fn only_the_registry_and_the_binary_know_the_pipeline() {
    assert_eq!(
        direct_dependents("ingot-pipeline"),
        set(&["ingot", "ingot-registry"])
    );
    assert_eq!(direct_dependents("ingot-registry"), set(&["ingot"]));
}

#[test]
fn the_layers_below_the_pipeline_know_only_the_core() {
    for layer in ["ingot-delta", "ingot-sandbox", "ingot-kafka"] {
        let users = direct_dependents(layer);
        assert!(
            users.is_subset(&set(&["ingot-pipeline", "ingot-registry", "ingot"])),
            "{layer} is used by {users:?}"
        );
    }
    for layer in ["ingot-delta", "ingot-sandbox", "ingot-kafka"] {
        assert_eq!(direct_dependencies(layer), set(&["ingot-core"]), "{layer}");
    }
    assert_eq!(direct_dependencies("ingot-core"), set(&[]));
}
