//! The tools the setup scripts in `scripts/` install once per machine
//! (moto's S3 server, the independent readers), found the way every test
//! and bench finds them.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::workspace_root;

/// A tool a setup script installs: the path in environment variable `env`,
/// else the last line `scripts/<script>` prints (it installs the tool, or
/// finds it installed). It must be a file.
pub fn installed_tool(env: &str, script: &str) -> PathBuf {
    let bin = std::env::var_os(env).map_or_else(|| run_install_script(script), PathBuf::from);
    assert!(
        bin.is_file(),
        "no {env} at {}: run scripts/{script} (or ./dev test)",
        bin.display()
    );
    bin
}

fn run_install_script(script: &str) -> PathBuf {
    let script = workspace_root().join("scripts").join(script);
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().trim();
    assert!(
        out.status.success() && !last.is_empty(),
        "{} failed ({}):\n{stdout}",
        script.display(),
        out.status
    );
    PathBuf::from(last)
}
