//! Independent readers of the tables ingot writes: the `deltalake` Python
//! package and polars (`read_table.py` beside this file), in the venv
//! `scripts/install-readers.sh` installs. What they read is what a user's
//! other tools would see, computed without ingot's own reader.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
};

use serde_json::Value;

use super::workspace_root;

/// What the independent readers read of one table.
#[derive(Debug, Clone)]
pub struct Read {
    /// The whole JSON document `read_table.py` printed.
    pub json: Value,
}

impl Read {
    /// The table's version.
    pub fn version(&self) -> i64 {
        self.json["version"].as_i64().expect("version")
    }

    /// Active data files.
    pub fn files(&self) -> i64 {
        self.json["files"].as_i64().expect("files")
    }

    /// Rows, as polars read them (and checked equal to the deltalake
    /// package's count).
    pub fn rows(&self) -> i64 {
        let rows = self.json["rows"].as_i64().expect("rows");
        assert_eq!(
            Some(rows),
            self.json["rows_deltalake"].as_i64(),
            "polars and deltalake agree on the row count"
        );
        rows
    }

    /// Column `column` of group `group` (`rows` is the group's row count).
    pub fn group(&self, group: &str, column: &str) -> i64 {
        self.json["groups"][group][column]
            .as_i64()
            .unwrap_or_else(|| panic!("no {column} for group {group} in {}", self.json))
    }

    /// The groups' names.
    pub fn group_names(&self) -> Vec<String> {
        self.json["groups"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Change Data Feed rows of change type `kind` (0 when none).
    pub fn changes(&self, kind: &str) -> i64 {
        self.json["cdf"][kind].as_i64().unwrap_or(0)
    }

    /// The operations of the table's history, oldest first.
    pub fn operations(&self) -> Vec<String> {
        let mut history: Vec<(i64, String)> = self.json["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|h| {
                (
                    h["version"].as_i64().unwrap_or(-1),
                    h["operation"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        history.sort();
        history.into_iter().map(|(_, op)| op).collect()
    }
}

/// Reads the table at `uri` (a local `file://` URL or path): its rows,
/// grouped by `group_by` with `sums` summed when given, and its Change
/// Data Feed from version `cdf_from` when given.
pub fn read(uri: &str, group_by: Option<&str>, sums: &[&str], cdf_from: Option<i64>) -> Read {
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    let mut command = Command::new(python());
    command
        .arg(workspace_root().join("tests/e2e/harness/read_table.py"))
        .arg(path);
    if let Some(column) = group_by {
        command.args(["--group-by", column, "--sum", &sums.join(",")]);
    }
    if let Some(from) = cdf_from {
        command.args(["--cdf-from", &from.to_string()]);
    }
    let out = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run read_table.py: {e}"));
    assert!(
        out.status.success(),
        "read_table.py {path} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "read_table.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Read { json }
}

/// The readers' python: `INGOT_READERS`, else what
/// `scripts/install-readers.sh` installs (or finds) prints last.
fn python() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| super::tools::installed_tool("INGOT_READERS", "install-readers.sh"))
}
