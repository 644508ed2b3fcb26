//! Tests of ingot's guest SDKs in languages other than Rust: each SDK's own
//! code run by its language's interpreter, checked against arrow-rs (the
//! Arrow implementation the host uses).
//!
//! Run them with `cargo nextest run --workspace -E 'binary(sdk)'`. The Python SDK's
//! need Python 3.11+ as `python3` (or the interpreter `INGOT_PYTHON` names);
//! the JavaScript SDK's need Node.js and `guest-sdk/js/node_modules`
//! (`./dev build-ports` installs it). A missing interpreter fails the test,
//! it is never skipped.

mod python_ipc;
mod units;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("invariant: the crate lives at host/<crate> in the workspace")
        .to_path_buf()
}

/// A finished process's status and output, for an assertion message.
pub fn driver_output(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn python() -> String {
    std::env::var("INGOT_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Runs `python3 args...` in `dir` (relative to the repository root) with
/// `guest-sdk/python` on the module path.
pub fn run_python_in(dir: &str, args: &[&str]) -> Output {
    let python = python();
    let root = repo_root();
    Command::new(&python)
        .args(args)
        .current_dir(root.join(dir))
        .env("PYTHONPATH", root.join("guest-sdk/python"))
        // No __pycache__ left in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start `{python}` ({e}): Python 3.11+ is required to test the Python SDK; \
                 install it as python3 or point INGOT_PYTHON at it"
            )
        })
}

/// Runs `python3 args...` at the repository root.
pub fn run_python(args: &[&str]) -> Output {
    run_python_in(".", args)
}
