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
//! instantiating it. Prints markdown tables, writes the figures as JSON
//! (`common/results.rs`) and plots µs per row against batch size
//! (`docs/benchmarks/stage-cost.svg`). Asserts row counts only, never
//! timings.
//!
//! Run: `./dev bench`, or `cargo bench --workspace --bench stage`.

#[path = "common/bronze.rs"]
mod bronze;
mod common;
#[path = "common/plot.rs"]
#[expect(dead_code, reason = "the stage bench draws lines on log axes only")]
mod plot;
#[path = "common/results.rs"]
mod results;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ingot_core::StageId;
use ingot_guest::testing::Harness;
use ingot_guest::{Config, Transform};
use ingot_sandbox::{Instance, Limits, Module, Runtime};
use log_parse::LogParse;
use plotters::chart::SeriesLabelPosition;
use serde_json::{Value, json};

use bronze::bronze_batch;
use common::timing::{LoadRuns, check_rows, load_times, measure, median};
use common::{Table, decimal, env_count, guest_module, thousands};
use plot::{Line, Lines, lines_log_log};
use results::{Results, num, plots_dir};

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
    let results = Results::start("stage");
    let min_ms = env_count("INGOT_BENCH_MIN_MS", 1_000)?;
    let min_time = Duration::from_millis(min_ms as u64);
    println!("# ingot stage benchmark: log-parse, Wasm against native\n");
    println!("machine: {}\n", results.machine());
    let path = guest_module("log_parse")?;
    let (runtime, module, loading) = load_figures(&path)?;
    let points = measure_points(&runtime, module, min_time)?;
    print_points(&points);
    print_derived(&points);
    plot_cost(&points)?;
    results.write(
        json!({ "min_ms": min_ms, "min_calls": MIN_CALLS, "max_calls": MAX_CALLS }),
        json!({
            "loading": loading,
            "points": points_json(&points),
            "derived": derived(&points).map(|d| d.json()),
        }),
    )?;
    Ok(())
}

/// Times every path at every batch size of [`SIZES`].
fn measure_points(
    runtime: &Runtime,
    module: Arc<Module>,
    min_time: Duration,
) -> Result<Vec<Point>> {
    let limits = Limits {
        memory_bytes: 512 << 20,
        ..Limits::default()
    };
    let mut instance = Instance::new(runtime, module, stage_id(), &limits, &[])?;
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
    Ok(points)
}

fn stage_id() -> StageId {
    StageId::new("bench", "logs", "silver")
}

/// Measures compiling the component into a fresh cache, loading it from the
/// disk cache (a new runtime, as after a restart) and from the memory cache,
/// and instantiating it; prints them and returns a runtime, its module and
/// the figures as JSON.
fn load_figures(path: &std::path::Path) -> Result<(Runtime, Arc<Module>, Value)> {
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
    let mut steps_json = Vec::new();
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
        let all: Vec<Value> = runs.iter().map(|d| num(d.as_secs_f64() * 1e3, 4)).collect();
        let mid = median(runs);
        steps_json.push(json!({
            "step": step,
            "median_ms": num(mid.as_secs_f64() * 1e3, 4),
            "runs_ms": all,
        }));
        table.row(vec![step.into(), ms(mid), n.to_string()]);
    }
    println!("{}\n", table.render());
    let loading = json!({ "module_bytes": size, "steps": steps_json });
    Ok((runtime, module, loading))
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

/// The fixed cost of a call and the cost of one more row, per path of
/// [`PATHS`].
struct Derived {
    /// The time of a 1-row call, µs.
    fixed_us: [f64; 3],
    /// The slope between the two largest batches, ns per row.
    per_row_ns: [f64; 3],
    /// The two batch sizes of the slope.
    between: (usize, usize),
}

impl Derived {
    fn json(&self) -> Value {
        let paths: Vec<Value> = PATHS
            .iter()
            .enumerate()
            .map(|(i, path)| {
                json!({
                    "path": path,
                    "per_call_1_row_us": num(self.fixed_us[i], 3),
                    "per_row_ns": num(self.per_row_ns[i], 1),
                })
            })
            .collect();
        json!({ "slope_between_rows": [self.between.0, self.between.1], "paths": paths })
    }
}

/// The fixed cost of a call (the 1-row batch) and the cost of one more row
/// (the slope between the two largest batches), per path; `None` with
/// fewer than two sizes.
fn derived(points: &[Point]) -> Option<Derived> {
    let (Some(one), [.., a, b]) = (points.first(), points) else {
        return None;
    };
    let slope = |i: usize| {
        (b.times[i].as_secs_f64() - a.times[i].as_secs_f64()) * 1e9 / (b.rows - a.rows) as f64
    };
    Some(Derived {
        fixed_us: [0, 1, 2].map(|i| one.times[i].as_secs_f64() * 1e6),
        per_row_ns: [0, 1, 2].map(slope),
        between: (a.rows, b.rows),
    })
}

/// Prints [`derived`]'s table.
fn print_derived(points: &[Point]) {
    let Some(d) = derived(points) else {
        return;
    };
    println!("## Fixed and per-row cost\n");
    let mut table = Table::new(&[
        "path",
        "per call, 1-row batch (µs)",
        "per row (ns)",
        "per row, wasm ÷ path",
    ]);
    for (i, name) in PATHS.into_iter().enumerate() {
        table.row(vec![
            name.into(),
            decimal(d.fixed_us[i]),
            decimal(d.per_row_ns[i]),
            decimal(d.per_row_ns[0] / d.per_row_ns[i]),
        ]);
    }
    println!("{}\n", table.render());
    println!(
        "per row: (time at {} rows − time at {} rows) ÷ {} rows.",
        thousands(d.between.1 as f64),
        thousands(d.between.0 as f64),
        thousands((d.between.1 - d.between.0) as f64)
    );
}

/// Every point as JSON: per batch size and path, the median call.
fn points_json(points: &[Point]) -> Vec<Value> {
    points
        .iter()
        .flat_map(|p| {
            PATHS.into_iter().zip(p.times).map(move |(path, d)| {
                let secs = d.as_secs_f64();
                json!({
                    "rows": p.rows,
                    "path": path,
                    "us_per_call": num(secs * 1e6, 3),
                    "ns_per_row": num(secs * 1e9 / p.rows as f64, 1),
                    "rows_per_s": num(p.rows as f64 / secs, 1),
                })
            })
        })
        .collect()
}

/// Draws `stage-cost.svg`: µs per row against the batch size, per path.
fn plot_cost(points: &[Point]) -> Result<()> {
    let series = PATHS
        .iter()
        .enumerate()
        .map(|(i, path)| Line {
            label: (*path).into(),
            points: points
                .iter()
                .map(|p| {
                    (
                        p.rows as f64,
                        p.times[i].as_secs_f64() * 1e6 / p.rows as f64,
                    )
                })
                .collect(),
        })
        .collect();
    let path = plots_dir()?.join("stage-cost.svg");
    lines_log_log(
        &path,
        &Lines {
            title: "log-parse: cost per row against batch size (median call)",
            x_desc: "rows per batch (log scale)",
            y_desc: "µs per row (log scale)",
            series,
            markers: true,
            legend: SeriesLabelPosition::UpperRight,
        },
    )?;
    println!("plot: {}", path.display());
    Ok(())
}
