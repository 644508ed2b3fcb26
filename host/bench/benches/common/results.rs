//! Machine-readable results: a bench's figures as one JSON file, with the
//! machine they were taken on and its load average when the bench started
//! and when it ended, and the folder its SVG plots go to.
//!
//! The file is `target/bench-results/<bench>.json` under the workspace
//! root. `INGOT_BENCH_RESULTS` moves it: a path ending in `.json` is the
//! file itself, anything else a folder that gets `<bench>.json`. Plots go to
//! `docs/benchmarks/` unless `INGOT_BENCH_PLOTS` names another folder.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::common::{machine, workspace_root};

/// A bench's results, opened when it starts and written when it ends.
pub struct Results {
    bench: &'static str,
    started_unix_s: u64,
    machine: String,
    load_start: Option<[f64; 3]>,
}

impl Results {
    /// Notes the start of bench `bench`: the time, the machine, the load.
    pub fn start(bench: &'static str) -> Self {
        Self {
            bench,
            started_unix_s: unix_seconds(),
            machine: machine(),
            load_start: load_average(),
        }
    }

    /// The machine line taken at the start (cores, CPU, load average).
    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// Writes `figures` (and `parameters`, what the run was asked to do)
    /// with the machine and both load averages; returns the file's path.
    ///
    /// # Errors
    ///
    /// When the folder cannot be created or the file written.
    pub fn write(self, parameters: Value, figures: Value) -> Result<PathBuf> {
        let path = results_path(self.bench);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("create the results folder {}", dir.display()))?;
        }
        let doc = json!({
            "bench": self.bench,
            "started_unix_s": self.started_unix_s,
            "ended_unix_s": unix_seconds(),
            "machine": self.machine,
            "load_average": {
                "what": "/proc/loadavg: 1, 5 and 15 minutes",
                "start": self.load_start,
                "end": load_average(),
            },
            "parameters": parameters,
            "figures": figures,
        });
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("write the results {}", path.display()))?;
        println!("results: {}", path.display());
        Ok(path)
    }
}

/// Where bench `bench` writes its JSON (see the module doc).
pub fn results_path(bench: &str) -> PathBuf {
    let file = format!("{bench}.json");
    match std::env::var_os("INGOT_BENCH_RESULTS").map(PathBuf::from) {
        Some(path) if path.extension().is_some_and(|e| e == "json") => path,
        Some(dir) => dir.join(file),
        None => workspace_root().join("target/bench-results").join(file),
    }
}

/// The folder the plots go to: `INGOT_BENCH_PLOTS`, else `docs/benchmarks`.
///
/// # Errors
///
/// When the folder cannot be created.
pub fn plots_dir() -> Result<PathBuf> {
    let dir = std::env::var_os("INGOT_BENCH_PLOTS")
        .map_or_else(|| workspace_root().join("docs/benchmarks"), PathBuf::from);
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("create the plots folder {}", dir.display()))?;
    Ok(dir)
}

/// The 1-, 5- and 15-minute load averages of `/proc/loadavg`, if readable.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    Some([
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    ])
}

/// Seconds since the Unix epoch.
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `x` as a JSON number rounded to `digits` decimals (`null` when not
/// finite), so the files stay readable.
pub fn num(x: f64, digits: i32) -> Value {
    let scale = 10f64.powi(digits);
    if x.is_finite() {
        json!((x * scale).round() / scale)
    } else {
        Value::Null
    }
}
