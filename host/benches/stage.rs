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
//! Run: `./dev bench`, or `cargo bench -p ingot-host --bench stage`.

#[path = "common/bronze.rs"]
mod bronze;
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use ingot::runtime::{Instance, Limits, LoadOrigin, Module, Runtime, StageId};
use ingot_guest::testing::Harness;
use ingot_guest::{Config, Transform};
use log_parse::LogParse;

use bronze::bronze_batch;
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
        let wasm = measure(min_time, || {
            let out = instance.process(&batch)?;
            check(rows, out.batch.num_rows(), out.rejected.len())
        })?;
        let harness = measure(min_time, || {
            let out = harness
                .process(&batch)
                .map_err(|e| anyhow::anyhow!("harness: {e}"))?;
            check(rows, out.batch.num_rows(), out.rejected.len())
        })?;
        let native = measure(min_time, || {
            let out = native
                .process(&batch)
                .map_err(|e| anyhow::anyhow!("native: {e}"))?;
            check(rows, out.batch.num_rows(), out.rejected.len())
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

/// Every row parsed, none rejected: the lines are well-formed.
fn check(rows: usize, out_rows: usize, rejected: usize) -> Result<()> {
    ensure!(
        out_rows == rows && rejected == 0,
        "{rows} rows in, {out_rows} out, {rejected} rejected"
    );
    Ok(())
}

/// The median duration of `call`, after one warm-up call, over at least
/// [`MIN_CALLS`] calls and `min_time`.
fn measure(min_time: Duration, mut call: impl FnMut() -> Result<()>) -> Result<Duration> {
    call()?;
    let mut times = Vec::new();
    let started = Instant::now();
    while times.len() < MAX_CALLS && (times.len() < MIN_CALLS || started.elapsed() < min_time) {
        let t = Instant::now();
        call()?;
        times.push(t.elapsed());
    }
    Ok(median(times))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// Measures compiling the component into a fresh cache, loading it from the
/// disk cache (a new runtime, as after a restart) and from the memory cache,
/// and instantiating it; prints them and returns a runtime and its module.
fn load_figures(path: &std::path::Path) -> Result<(Runtime, Arc<Module>)> {
    let cache = tempfile::Builder::new()
        .prefix("ingot-bench-cache-")
        .tempdir()?;
    let mut compile = Vec::new();
    for run in 0..COMPILE_RUNS {
        let runtime = Runtime::new(Some(cache.path().join(format!("fresh-{run}"))))?;
        let t = Instant::now();
        let module = runtime.load(path)?;
        compile.push(t.elapsed());
        ensure!(
            module.origin() == LoadOrigin::Compiled,
            "fresh cache, yet {:?}",
            module.origin()
        );
    }
    let dir = cache.path().join("fresh-0");
    let mut disk = Vec::new();
    let mut memory = Vec::new();
    let mut last = None;
    for _ in 0..LOAD_RUNS {
        let runtime = Runtime::new(Some(dir.clone()))?;
        let t = Instant::now();
        let module = runtime.load(path)?;
        disk.push(t.elapsed());
        ensure!(
            module.origin() == LoadOrigin::DiskCache,
            "warm cache, yet {:?}",
            module.origin()
        );
        let t = Instant::now();
        let again = runtime.load(path)?;
        memory.push(t.elapsed());
        ensure!(
            again.origin() == LoadOrigin::MemoryCache,
            "loaded twice, yet {:?}",
            again.origin()
        );
        last = Some((runtime, module));
    }
    let (runtime, module) = last.context("invariant: LOAD_RUNS > 0")?;
    let mut instantiate = Vec::new();
    for _ in 0..MIN_CALLS {
        let t = Instant::now();
        let instance = Instance::new(
            &runtime,
            Arc::clone(&module),
            stage_id(),
            &Limits::default(),
            &[],
        )?;
        instantiate.push(t.elapsed());
        drop(instance);
    }
    let size = std::fs::metadata(path)?.len();
    println!(
        "## Loading `log_parse.wasm` ({} KiB)\n",
        thousands(size as f64 / 1024.0)
    );
    let mut table = Table::new(&["step", "median ms", "runs"]);
    let ms = |d: Duration| decimal(d.as_secs_f64() * 1e3);
    let (c, d, m, i) = (compile.len(), disk.len(), memory.len(), instantiate.len());
    table.row(vec![
        "compile (fresh cache dir; validate, cranelift, write cache)".into(),
        ms(median(compile)),
        c.to_string(),
    ]);
    table.row(vec![
        "load from disk cache (new runtime)".into(),
        ms(median(disk)),
        d.to_string(),
    ]);
    table.row(vec![
        "load from memory cache (same runtime)".into(),
        ms(median(memory)),
        m.to_string(),
    ]);
    table.row(vec![
        "instantiate + init".into(),
        ms(median(instantiate)),
        i.to_string(),
    ]);
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
