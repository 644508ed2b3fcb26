//! The guest components, built once per test process.
//!
//! `scripts/build-transforms.sh` builds them. `./dev test` runs it before
//! the tests, so here it is a no-op check; a test run on its own
//! (`cargo nextest run --test e2e`) builds them the first time. Parallel
//! test processes may build at once: cargo's lock on the guests' target dir
//! serialises them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::workspace_root;

/// Where the guest profile puts the components, under the workspace root.
const GUEST_DIR: &str = "target/guests/wasm32-wasip2/guest";

/// Paths of the built guest components.
#[derive(Debug)]
pub struct Modules {
    /// `transforms/log-parse/rust`: JSON log lines to typed rows, rejects the
    /// rest.
    pub log_parse: PathBuf,
    /// `transforms/level-counts/rust`: signed per-level counts and latency
    /// sums.
    pub level_counts: PathBuf,
    /// `tests/modules/hostile`: a module that misbehaves on request.
    pub hostile: PathBuf,
    /// The directory of the example transforms (the example pipelines'
    /// `module` paths point there).
    pub dir: PathBuf,
}

/// The guest components, built on first use.
///
/// Panics with the build's output when the build fails.
pub fn modules() -> &'static Modules {
    static MODULES: OnceLock<Modules> = OnceLock::new();
    MODULES.get_or_init(build)
}

fn build() -> Modules {
    let root = workspace_root();
    let script = root.join("scripts/build-transforms.sh");
    let output = Command::new("bash")
        .arg(&script)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("run the guest build in {}: {e}", root.display()));
    assert!(
        output.status.success(),
        "guest build failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The script prints each artifact's path (it may use another target dir).
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    let dir = root.join(GUEST_DIR);
    Modules {
        log_parse: component(&dir, &printed, "log_parse"),
        level_counts: component(&dir, &printed, "level_counts"),
        hostile: component(&dir, &printed, "hostile"),
        dir: component(&dir, &printed, "osquery_flatten")
            .parent()
            .expect("invariant: a file path has a parent")
            .to_path_buf(),
    }
}

/// The artifact `name` among the `printed` paths, else in `dir`.
fn component(dir: &Path, printed: &str, name: &str) -> PathBuf {
    let file = format!("{name}.wasm");
    let path = printed
        .lines()
        .map(|line| PathBuf::from(line.trim()))
        .find(|p| p.file_name().is_some_and(|f| f == file.as_str()))
        .unwrap_or_else(|| dir.join(&file));
    assert!(path.is_file(), "the guest build left no {}", path.display());
    path
}

/// A transform in another language, built from its source folder by
/// `scripts/build-transform.sh` into `target/guests/<lang>/<name>.wasm`
/// (`./dev test` builds them all first; the script skips an up-to-date
/// component). `source` is relative to the workspace root.
///
/// Panics with the build's output when the build fails.
pub fn ported(source: &str, lang: &str, name: &str) -> PathBuf {
    let root = workspace_root();
    let out = root.join(format!("target/guests/{lang}/{name}.wasm"));
    let output = Command::new("bash")
        .arg(root.join("scripts/build-transform.sh"))
        .arg(root.join(source))
        .arg(&out)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("run the build of {source}: {e}"));
    assert!(
        output.status.success(),
        "build of {source} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        out.is_file(),
        "the build of {source} left no {}",
        out.display()
    );
    out
}
