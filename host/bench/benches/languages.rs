//! The same transform written in Rust, Python and JavaScript, side by side.
//!
//! `log-parse` (silver of the log pipeline: JSON line to typed row) exists in
//! three languages that write identical rows:
//!
//! - **Rust**: `transforms/log-parse`, built by `scripts/build-transforms.sh`
//!   (`./dev build-transforms`) into `target/guests/wasm32-wasip2/guest`.
//! - **Python**: `transforms/python/log-parse/app.py`, componentize-py and
//!   `sdk/python`: CPython compiled to Wasm, interpreting the transform.
//! - **JavaScript**: `transforms/js/log-parse`, ComponentizeJS and `sdk/js`:
//!   the StarlingMonkey (SpiderMonkey) engine compiled to Wasm.
//!
//! The Python and JavaScript components are built here by
//! `scripts/build-transform.sh` (which skips an up-to-date build) into
//! `target/guests/<lang>/log_parse.wasm`; a language whose source folder does
//! not exist yet is skipped with a note, one whose build fails stops the
//! bench. `INGOT_BENCH_LANGUAGES` (default `python,js`) picks the languages
//! measured next to Rust, which is always measured: it is the baseline.
//!
//! Per language: the component's size; compiling it into a fresh cache
//! directory (median of 3), loading it from the disk cache in a new runtime
//! and from the memory cache (median of 5 each), and `Instance::new`
//! (instantiate + `init`, median of 20); then the median time of a `process`
//! call on bronze-shaped batches (see `stage.rs`) of 1 row (the fixed cost
//! of a call), 1,024 and 16,384 rows (the cost per row). Each point is the
//! median of at least 20 calls (5 for the largest batch) and at least
//! `INGOT_BENCH_MIN_MS` (default 1000) milliseconds, after one warm-up call.
//! Asserts row counts only (every row parsed, none rejected), never timings.
//!
//! Run: `./dev bench languages`, or
//! `cargo bench --workspace --bench languages`.

#[path = "common/bronze.rs"]
mod bronze;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use ingot_core::StageId;
use ingot_sandbox::{Instance, Limits};

use bronze::bronze_batch;
use common::timing::{LoadRuns, LoadTimes, check_rows, load_times, measure, median};
use common::{Table, decimal, env_count, guest_module, thousands, workspace_root};

/// Batch sizes, in rows, and the least number of calls measured at each.
const SIZES: [(usize, usize); 3] = [(1, 20), (1_024, 20), (16_384, 5)];
/// Calls per measurement at most (the 1-row batch would otherwise make
/// tens of thousands in a second).
const MAX_CALLS: usize = 20_000;
/// How many times each loading step is measured.
const LOAD_RUNS: LoadRuns = LoadRuns {
    compile: 3,
    load: 5,
    instantiate: 20,
};
/// The processing time every call sees (2025-11-21T10:00:00Z).
const PROCESSING_TIME: i64 = 1_763_719_200_000_000;
/// The ported languages measured when `INGOT_BENCH_LANGUAGES` is unset.
const DEFAULT_PORTED: &str = "python,js";

/// One implementation of `log-parse`.
struct Language {
    /// The name in the tables.
    name: &'static str,
    /// The name `INGOT_BENCH_LANGUAGES` uses.
    key: &'static str,
    /// Where its source is and how it is built.
    source: Source,
}

enum Source {
    /// The Rust guest, built by `scripts/build-transforms.sh`.
    Rust,
    /// A source folder `scripts/build-transform.sh` builds into `out`, both
    /// relative to the workspace root.
    Ported {
        dir: &'static str,
        out: &'static str,
    },
}

const LANGUAGES: [Language; 3] = [
    Language {
        name: "Rust",
        key: "rust",
        source: Source::Rust,
    },
    Language {
        name: "Python",
        key: "python",
        source: Source::Ported {
            dir: "transforms/python/log-parse",
            out: "target/guests/python/log_parse.wasm",
        },
    },
    Language {
        name: "JavaScript",
        key: "js",
        source: Source::Ported {
            dir: "transforms/js/log-parse",
            out: "target/guests/js/log_parse.wasm",
        },
    },
];

/// What was measured for one language.
struct Figures {
    name: &'static str,
    path: PathBuf,
    size: u64,
    load: LoadTimes,
    /// The median time of one call, per entry of [`SIZES`].
    calls: Vec<Duration>,
}

impl Figures {
    /// The median time of a call on the batch of `rows` rows.
    fn call(&self, rows: usize) -> Option<Duration> {
        SIZES
            .iter()
            .zip(&self.calls)
            .find(|((r, _), _)| *r == rows)
            .map(|(_, d)| *d)
    }
}

fn main() -> Result<()> {
    let min_time = Duration::from_millis(env_count("INGOT_BENCH_MIN_MS", 1_000)? as u64);
    let wanted = std::env::var("INGOT_BENCH_LANGUAGES").unwrap_or_else(|_| DEFAULT_PORTED.into());
    let wanted: Vec<String> = wanted
        .split(',')
        .map(|k| k.trim().to_ascii_lowercase())
        .filter(|k| !k.is_empty())
        .collect();
    for key in &wanted {
        ensure!(
            LANGUAGES.iter().any(|l| l.key == key.as_str()),
            "INGOT_BENCH_LANGUAGES: unknown language `{key}` (known: rust, python, js)"
        );
    }
    println!("# ingot languages benchmark: log-parse in Rust, Python and JavaScript\n");
    println!("machine: {}\n", common::machine());
    let batches = SIZES
        .iter()
        .map(|&(rows, _)| bronze_batch(rows, PROCESSING_TIME))
        .collect::<Result<Vec<_>>>()?;
    let mut figures = Vec::new();
    let mut notes = Vec::new();
    for language in &LANGUAGES {
        let path = match &language.source {
            Source::Rust => guest_module("log_parse")?,
            Source::Ported { .. } if !wanted.iter().any(|k| k == language.key) => continue,
            Source::Ported { dir, out } => {
                if !workspace_root().join(dir).is_dir() {
                    let note =
                        format!("{}: not measured, no source folder at {dir}", language.name);
                    eprintln!("bench: {note}");
                    notes.push(note);
                    continue;
                }
                build(dir, out)?
            }
        };
        figures.push(measure_language(language, path, &batches, min_time)?);
    }
    print_components(&figures);
    print_loading(&figures);
    print_calls(&figures);
    print_costs(&figures);
    for note in notes {
        println!("{note}.\n");
    }
    Ok(())
}

fn stage_id() -> StageId {
    StageId::new("bench", "logs", "silver")
}

/// Builds the source folder `dir` into `out` (both relative to the workspace
/// root) with `scripts/build-transform.sh`, which does nothing when `out` is
/// up to date; returns the component's path.
fn build(dir: &str, out: &str) -> Result<PathBuf> {
    let root = workspace_root();
    eprintln!("bench: scripts/build-transform.sh {dir} {out}");
    // The script's progress (and a failure's reason) goes to our stderr.
    let status = Command::new("bash")
        .arg(root.join("scripts/build-transform.sh"))
        .arg(dir)
        .arg(out)
        .current_dir(&root)
        .stdout(Stdio::null())
        .status()
        .context("run scripts/build-transform.sh")?;
    if !status.success() {
        bail!(
            "scripts/build-transform.sh {dir} {out} failed ({status}): see above; \
             INGOT_BENCH_LANGUAGES picks the languages to measure"
        );
    }
    let path = root.join(out);
    ensure!(path.is_file(), "the build wrote no {}", path.display());
    Ok(path)
}

/// Loads, instantiates and calls the component at `path` on every batch of
/// `batches` (one per entry of [`SIZES`]).
fn measure_language(
    language: &Language,
    path: PathBuf,
    batches: &[ingot_core::arrow::array::RecordBatch],
    min_time: Duration,
) -> Result<Figures> {
    eprintln!("bench: {}: loading {}", language.name, path.display());
    // Interpreters need more than Rust's few MiB, and a 16,384-row call in
    // Python takes seconds: generous caps, so the figures measure speed only.
    let limits = Limits {
        memory_bytes: 1 << 30,
        call_timeout: Duration::from_secs(300),
        ..Limits::default()
    };
    let (load, runtime, module) = load_times(&path, LOAD_RUNS, &stage_id(), &limits)?;
    let mut instance = Instance::new(&runtime, module, stage_id(), &limits, &[])?;
    instance.set_processing_time(PROCESSING_TIME);
    let mut calls = Vec::new();
    for (&(rows, min_calls), batch) in SIZES.iter().zip(batches) {
        eprintln!("bench: {}: {rows}-row batches", language.name);
        let time = measure(min_time, min_calls, MAX_CALLS, || {
            let out = instance.process(batch)?;
            check_rows(rows, out.batch.num_rows(), out.rejected.len())
        })?;
        calls.push(time);
    }
    Ok(Figures {
        name: language.name,
        size: std::fs::metadata(&path)?.len(),
        path,
        load,
        calls,
    })
}

/// `a ÷ b` with two decimals, or `–` without a baseline.
fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 => format!("{}×", decimal(a / b)),
        _ => "–".into(),
    }
}

/// A duration in µs: thousands separators from 1 ms, decimals below.
fn micros(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us >= 1_000.0 {
        thousands(us)
    } else {
        decimal(us)
    }
}

/// A duration in ms: thousands separators from 1 s, decimals below.
fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 1_000.0 {
        thousands(ms)
    } else {
        decimal(ms)
    }
}

/// The path relative to the workspace root, for the tables.
fn shown(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn print_components(figures: &[Figures]) {
    let rust = figures.first().map(|f| f.size as f64);
    println!("## Components\n");
    let mut table = Table::new(&["language", "component", "bytes", "MiB", "÷ Rust"]);
    for f in figures {
        table.row(vec![
            f.name.into(),
            format!("`{}`", shown(&f.path)),
            thousands(f.size as f64),
            decimal(f.size as f64 / f64::from(1 << 20)),
            ratio(f.size as f64, rust),
        ]);
    }
    println!("{}\n", table.render());
}

fn print_loading(figures: &[Figures]) {
    println!("## Loading (median ms)\n");
    let runs = LOAD_RUNS;
    let compile = format!("compile, fresh cache dir ({})", runs.compile);
    let disk = format!("disk cache, new runtime ({})", runs.load);
    let memory = format!("memory cache ({})", runs.load);
    let instantiate = format!("instantiate + init ({})", runs.instantiate);
    let mut table = Table::new(&["language", &compile, &disk, &memory, &instantiate]);
    for f in figures {
        table.row(vec![
            f.name.into(),
            millis(median(f.load.compile.clone())),
            millis(median(f.load.disk.clone())),
            millis(median(f.load.memory.clone())),
            millis(median(f.load.instantiate.clone())),
        ]);
    }
    println!("{}\n", table.render());
}

fn print_calls(figures: &[Figures]) {
    println!("## log-parse per call (median)\n");
    let mut table = Table::new(&[
        "batch rows",
        "language",
        "µs/call",
        "ns/row",
        "rows/s",
        "÷ Rust",
    ]);
    for &(rows, _) in &SIZES {
        let rust = figures
            .first()
            .and_then(|f| f.call(rows))
            .map(|d| d.as_secs_f64());
        for f in figures {
            let Some(d) = f.call(rows) else { continue };
            let secs = d.as_secs_f64();
            table.row(vec![
                thousands(rows as f64),
                f.name.into(),
                micros(d),
                thousands(secs * 1e9 / rows as f64),
                thousands(rows as f64 / secs),
                ratio(secs, rust),
            ]);
        }
    }
    println!("{}\n", table.render());
}

/// The fixed cost of a call (the 1-row batch) and the cost of one more row
/// (the slope between the two largest batches), per language.
fn print_costs(figures: &[Figures]) {
    let [(one, _), .., (small, _), (big, _)] = SIZES;
    let slope = |f: &Figures| {
        let (a, b) = (f.call(small)?, f.call(big)?);
        Some((b.as_secs_f64() - a.as_secs_f64()) * 1e9 / (big - small) as f64)
    };
    println!("## Fixed and per-row cost\n");
    let mut table = Table::new(&[
        "language",
        "per call, 1-row batch (µs)",
        "÷ Rust",
        "per row (ns)",
        "÷ Rust",
        "rows/s (per-row cost alone)",
    ]);
    let rust_call = figures
        .first()
        .and_then(|f| f.call(one))
        .map(|d| d.as_secs_f64());
    let rust_row = figures.first().and_then(slope);
    for f in figures {
        let (Some(call), Some(row)) = (f.call(one), slope(f)) else {
            continue;
        };
        table.row(vec![
            f.name.into(),
            micros(call),
            ratio(call.as_secs_f64(), rust_call),
            if row >= 1_000.0 {
                thousands(row)
            } else {
                decimal(row)
            },
            ratio(row, rust_row),
            thousands(1e9 / row),
        ]);
    }
    println!("{}\n", table.render());
    println!(
        "per row: (time at {} rows − time at {} rows) ÷ {} rows.\n",
        thousands(big as f64),
        thousands(small as f64),
        thousands((big - small) as f64)
    );
}
