//! What both benchmarks share: where the guest components are, the log
//! records they feed, the machine they ran on, and markdown tables.
//!
//! Benchmarks print figures and assert only correctness (row counts), never
//! timings: the figures belong in `docs/benchmarks.md`, not in a pass/fail.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use ingot_sample::{Record, logs::LogSample};

/// Where the guest profile puts the components, under the workspace root.
const GUEST_DIR: &str = "target/guests/wasm32-wasip2/guest";

/// Size of one record value, in bytes: a realistic application log line.
pub const RECORD_BYTES: usize = 300;

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("invariant: the crate lives at host/<crate> in the workspace")
        .to_path_buf()
}

/// The built guest component `name` (`log_parse`, `level_counts`).
///
/// # Errors
///
/// When the component has not been built (`./dev build-transforms`).
pub fn guest_module(name: &str) -> Result<PathBuf> {
    let path = workspace_root()
        .join(GUEST_DIR)
        .join(format!("{name}.wasm"));
    ensure!(
        path.is_file(),
        "no guest component at {}: run ./dev build-transforms (or ./dev bench)",
        path.display()
    );
    Ok(path)
}

/// `n` well-formed log records (key, value), the same on every run: the
/// logs sample of seed 42, each value padded to [`RECORD_BYTES`] by
/// lengthening its `msg` ([`LogSample::padded`]).
pub fn log_records(n: usize) -> impl Iterator<Item = Record> {
    LogSample::new(42, 0).padded(RECORD_BYTES).take(n)
}

/// One line naming the machine: cores, CPU model and load average.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    format!("{cores} cores, {cpu}, load average {load}")
}

/// A markdown table, printed with aligned columns.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as columns).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len(), "one cell per column");
        self.rows.push(cells);
    }

    /// The table as markdown, one line per row, columns padded to their
    /// widest cell (in characters: `µs` is one column wide).
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain([self.header[c].chars().count(), 3])
                    .max()
                    .unwrap_or(3)
            })
            .collect();
        let line = |cells: &[String]| {
            let mut out = String::from("|");
            for (cell, width) in cells.iter().zip(&widths) {
                let _ = write!(out, " {cell:<width$} |");
            }
            out
        };
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let mut out = vec![line(&self.header), line(&rule)];
        out.extend(self.rows.iter().map(|r| line(r)));
        out.join("\n")
    }
}

/// `x` rounded to an integer, with thousands separators (`1,234,567`).
pub fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` with two decimals, or three significant digits when it is small.
pub fn decimal(x: f64) -> String {
    if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Reads a positive count from the environment variable `name`.
///
/// # Errors
///
/// When the variable is set but is not a positive integer.
pub fn env_count(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => {
            let n: usize = text
                .replace('_', "")
                .parse()
                .with_context(|| format!("{name}={text} is not a count"))?;
            ensure!(n > 0, "{name} must be positive");
            Ok(n)
        }
    }
}

/// Timing a module called directly (`Runtime::load`, `Instance::new`,
/// `Instance::process`, no pipeline around it): what the `stage` and
/// `languages` benches share.
pub mod timing {
    #![allow(
        dead_code,
        reason = "only the benches that call a module directly use these; \
                  the others include `common` too"
    )]

    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use anyhow::{Context, Result, ensure};
    use ingot_core::StageId;
    use ingot_sandbox::{Instance, Limits, LoadOrigin, Module, Runtime};

    /// Every row parsed, none rejected: the benches feed well-formed lines.
    ///
    /// # Errors
    ///
    /// When a row is missing from the output or was rejected.
    pub fn check_rows(rows: usize, out_rows: usize, rejected: usize) -> Result<()> {
        ensure!(
            out_rows == rows && rejected == 0,
            "{rows} rows in, {out_rows} out, {rejected} rejected"
        );
        Ok(())
    }

    /// The median duration of `call`, after one warm-up call, over at least
    /// `min_calls` calls and `min_time`, and at most `max_calls` calls.
    ///
    /// # Errors
    ///
    /// The first error `call` returns.
    pub fn measure(
        min_time: Duration,
        min_calls: usize,
        max_calls: usize,
        mut call: impl FnMut() -> Result<()>,
    ) -> Result<Duration> {
        call()?;
        let mut times = Vec::new();
        let started = Instant::now();
        while times.len() < max_calls.max(1)
            && (times.len() < min_calls.max(1) || started.elapsed() < min_time)
        {
            let t = Instant::now();
            call()?;
            times.push(t.elapsed());
        }
        Ok(median(times))
    }

    /// The median of `times` (the upper one of an even count); zero when
    /// empty.
    pub fn median(mut times: Vec<Duration>) -> Duration {
        times.sort_unstable();
        times.get(times.len() / 2).copied().unwrap_or_default()
    }

    /// How many times [`load_times`] repeats each step.
    #[derive(Debug, Clone, Copy)]
    pub struct LoadRuns {
        /// Compilations, each into a fresh cache directory.
        pub compile: usize,
        /// Loads from the disk cache (a new runtime each) and, after each,
        /// from the memory cache (the same runtime).
        pub load: usize,
        /// Instantiations (`Instance::new`: instantiate + `init`).
        pub instantiate: usize,
    }

    /// The times of each step of getting a component to a running instance.
    #[derive(Debug, Clone, Default)]
    pub struct LoadTimes {
        /// Compiling into a fresh cache directory: validate, Cranelift,
        /// write the cache.
        pub compile: Vec<Duration>,
        /// Loading from the disk cache in a new runtime, as after a restart.
        pub disk: Vec<Duration>,
        /// Loading again in the same runtime.
        pub memory: Vec<Duration>,
        /// `Instance::new`: instantiate and call `init`.
        pub instantiate: Vec<Duration>,
    }

    /// Times compiling the component at `path` into fresh cache directories,
    /// loading it from the disk cache (a new runtime each time) and from the
    /// memory cache, and instantiating it for `stage` under `limits`;
    /// returns the times, the last runtime and its module. Checks each
    /// load's origin.
    ///
    /// # Errors
    ///
    /// When a load or an instantiation fails, or a load comes from another
    /// origin than the step expects.
    pub fn load_times(
        path: &Path,
        runs: LoadRuns,
        stage: &StageId,
        limits: &Limits,
    ) -> Result<(LoadTimes, Runtime, Arc<Module>)> {
        let cache = tempfile::Builder::new()
            .prefix("ingot-bench-cache-")
            .tempdir()?;
        let mut times = LoadTimes::default();
        for run in 0..runs.compile.max(1) {
            let runtime = Runtime::new(Some(cache.path().join(format!("fresh-{run}"))))?;
            let t = Instant::now();
            let module = runtime.load(path)?;
            times.compile.push(t.elapsed());
            ensure!(
                module.origin() == LoadOrigin::Compiled,
                "fresh cache, yet {:?}",
                module.origin()
            );
        }
        let dir = cache.path().join("fresh-0");
        let mut last = None;
        for _ in 0..runs.load {
            let runtime = Runtime::new(Some(dir.clone()))?;
            let t = Instant::now();
            let module = runtime.load(path)?;
            times.disk.push(t.elapsed());
            ensure!(
                module.origin() == LoadOrigin::DiskCache,
                "warm cache, yet {:?}",
                module.origin()
            );
            let t = Instant::now();
            let again = runtime.load(path)?;
            times.memory.push(t.elapsed());
            ensure!(
                again.origin() == LoadOrigin::MemoryCache,
                "loaded twice, yet {:?}",
                again.origin()
            );
            last = Some((runtime, module));
        }
        let (runtime, module) = last.context("load_times needs at least one load run")?;
        for _ in 0..runs.instantiate {
            let t = Instant::now();
            let instance =
                Instance::new(&runtime, Arc::clone(&module), stage.clone(), limits, &[])?;
            times.instantiate.push(t.elapsed());
            drop(instance);
        }
        Ok((times, runtime, module))
    }
}
