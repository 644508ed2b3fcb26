//! The cost of the Wasm boundary, measured on the `log-parse` transform.
//!
//! The same bronze-shaped Arrow batches (built by [`BronzeBuilder`] from
//! Kafka messages holding 300-byte JSON log lines, with the three CDF columns
//! appended, as a stage reads them) of 1 to 65,536 rows go through three paths:
//!
//! - **wasm**: `Instance::process` on `log_parse.wasm`: Arrow IPC encode,
//!   copy into the sandbox, decode, parse, encode, copy out, decode.
//! - **native + ipc**: the same transform compiled natively, driven by
//!   `ingot_guest::testing::Harness`, which runs the same IPC encode/decode
//!   glue as the component export: the difference to **wasm** is the sandbox.
//! - **native**: `Transform::process` called directly, no IPC at all.
//!
//! Each point is the median of at least 20 calls and at least
//! `INGOT_BENCH_MIN_MS` (default 1000) milliseconds. Also measured: compiling
//! the component (fresh cache), loading it from the disk cache, and
//! instantiating it. Asserts row counts only, never timings.
//!
//! Run: `./dev bench`, or `cargo bench -p ingot-bench --bench stage`.

#[path = "common/bronze.rs"]
mod bronze;
mod common;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ingot_core::StageId;
use ingot_guest::testing::Harness;
use ingot_guest::{Config, Transform};
use ingot_sandbox::{Instance, Limits, Module, Runtime};
use log_parse::LogParse;

use bronze::bronze_batch;
use common::timing::{LoadRuns, check_rows, load_times, measure, median};
use common::{Table, decimal, env_count, guest_module, thousands};

/// Batch sizes, in rows.
const SIZES: [usize; 5] = [1, 16, 256, 4_096, 65_536];
/// Calls per measurement at least.
const MIN_CALLS: usize = 20;
/// Calls per measurement at most (the 1-row batch would otherwise make
/// hundreds of thousands in a second).
const MAX_CALLS: usize = 20_000;
/// Compilations into a fresh cache measured.
const COMPILE_RUNS: usize = 3;
/// Loads from the disk cache measured.
const LOAD_RUNS: usize = 5;
/// The processing time every path sees (2025-11-21T10:00:00Z).
const PROCESSING_TIME: i64 = 1_763_719_200_000_000;

/// The three paths, in the order of [`Point::times`].
const PATHS: [&str; 3] = ["wasm", "native + ipc", "native"];

/// The median time of one call on each path, for one batch size.
struct Point {
    rows: usize,
    /// Per path of [`PATHS`].
    times: [Duration; 3],
}

impl Point {
    fn wasm(&self) -> Duration {
        self.times[0]
    }
}

fn main() -> Result<()> {
    let min_time = Duration::from_millis(env_count("INGOT_BENCH_MIN_MS", 1_000)? as u64);
    println!("# ingot stage benchmark: log-parse, Wasm against native\n");
    println!("machine: {}\n", common::machine());
    let path = guest_module("log_parse")?;
    let (runtime, module) = load_figures(&path)?;
    let limits = Limits {
        memory_bytes: 512 << 20,
        ..Limits::default()
    };
    let mut instance = Instance::new(&runtime, module, stage_id(), &limits, &[])?;
    instance.set_processing_time(PROCESSING_TIME);
    let mut harness = Harness::<LogParse>::new(Vec::<(String, String)>::new())
        .map_err(|e| anyhow::anyhow!("log-parse init: {e}"))?
        .with_processing_time(PROCESSING_TIME);
    let mut native = LogParse::init(&Config::from_iter(Vec::<(String, String)>::new()))
        .map_err(|e| anyhow::anyhow!("log-parse init: {e}"))?;
    let mut points = Vec::new();
    for rows in SIZES {
        let batch = bronze_batch(rows, PROCESSING_TIME)?;
        eprintln!(
            "bench: {rows} rows ({} bytes of values)",
            rows * common::RECORD_BYTES
        );
        let wasm = measure(min_time, MIN_CALLS, MAX_CALLS, || {
            let out = instance.process(&batch)?;
            check_rows(rows, out.batch.num_rows(), out.rejected.len())
        })?;
        let harness = measure(min_time, MIN_CALLS, MAX_CALLS, || {
            let out = harness
                .process(&batch)
                .map_err(|e| anyhow::anyhow!("harness: {e}"))?;
            check_rows(rows, out.batch.num_rows(), out.rejected.len())
        })?;
        let native = measure(min_time, MIN_CALLS, MAX_CALLS, || {
            let out = native
                .process(&batch)
                .map_err(|e| anyhow::anyhow!("native: {e}"))?;
            check_rows(rows, out.batch.num_rows(), out.rejected.len())
        })?;
        points.push(Point {
            rows,
            times: [wasm, harness, native],
        });
    }
    print_points(&points);
    print_derived(&points);
    Ok(())
}

fn stage_id() -> StageId {
    StageId::new("bench", "logs", "silver")
}

/// Measures compiling the component into a fresh cache, loading it from the
/// disk cache (a new runtime, as after a restart) and from the memory cache,
/// and instantiating it; prints them and returns a runtime and its module.
fn load_figures(path: &std::path::Path) -> Result<(Runtime, Arc<Module>)> {
    let runs = LoadRuns {
        compile: COMPILE_RUNS,
        load: LOAD_RUNS,
        instantiate: MIN_CALLS,
    };
    let (times, runtime, module) = load_times(path, runs, &stage_id(), &Limits::default())?;
    let size = std::fs::metadata(path)?.len();
    println!(
        "## Loading `log_parse.wasm` ({} KiB)\n",
        thousands(size as f64 / 1024.0)
    );
    let mut table = Table::new(&["step", "median ms", "runs"]);
    let ms = |d: Duration| decimal(d.as_secs_f64() * 1e3);
    let steps = [
        (
            "compile (fresh cache dir; validate, cranelift, write cache)",
            times.compile,
        ),
        ("load from disk cache (new runtime)", times.disk),
        ("load from memory cache (same runtime)", times.memory),
        ("instantiate + init", times.instantiate),
    ];
    for (step, runs) in steps {
        let n = runs.len();
        table.row(vec![step.into(), ms(median(runs)), n.to_string()]);
    }
    println!("{}\n", table.render());
    Ok((runtime, module))
}

/// The per-size table: every path at every batch size.
fn print_points(points: &[Point]) {
    println!("## log-parse per call (median)\n");
    let mut table = Table::new(&[
        "batch rows",
        "path",
        "µs/call",
        "ns/row",
        "rows/s",
        "wasm ÷ path",
    ]);
    for p in points {
        for (name, d) in PATHS.into_iter().zip(p.times) {
            let secs = d.as_secs_f64();
            table.row(vec![
                thousands(p.rows as f64),
                name.into(),
                decimal(secs * 1e6),
                thousands(secs * 1e9 / p.rows as f64),
                thousands(p.rows as f64 / secs),
                decimal(p.wasm().as_secs_f64() / secs),
            ]);
        }
    }
    println!("{}\n", table.render());
}

/// The fixed cost of a call (the 1-row batch) and the cost of one more row
/// (the slope between the two largest batches), per path.
fn print_derived(points: &[Point]) {
    let (Some(one), [.., big_a, big_b]) = (points.first(), points) else {
        return;
    };
    println!("## Fixed and per-row cost\n");
    let mut table = Table::new(&[
        "path",
        "per call, 1-row batch (µs)",
        "per row (ns)",
        "per row, wasm ÷ path",
    ]);
    let slope = |a: Duration, b: Duration| {
        (b.as_secs_f64() - a.as_secs_f64()) * 1e9 / (big_b.rows - big_a.rows) as f64
    };
    let wasm_slope = slope(big_a.wasm(), big_b.wasm());
    for (i, name) in PATHS.into_iter().enumerate() {
        let per_row = slope(big_a.times[i], big_b.times[i]);
        table.row(vec![
            name.into(),
            decimal(one.times[i].as_secs_f64() * 1e6),
            decimal(per_row),
            decimal(wasm_slope / per_row),
        ]);
    }
    println!("{}\n", table.render());
    println!(
        "per row: (time at {} rows − time at {} rows) ÷ {} rows.",
        thousands(big_b.rows as f64),
        thousands(big_a.rows as f64),
        thousands((big_b.rows - big_a.rows) as f64)
    );
}
