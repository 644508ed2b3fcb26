//! The peak memory of `ingot run --once` over a large backlog: how much a
//! process holds while its stages work through millions of bronze rows.
//!
//! 1. Tansu on a free loopback port, topic `bench` (4 partitions), filled
//!    with `INGOT_BENCH_RECORDS` (default 5,000,000) log lines of 300 bytes.
//! 2. For each budget of `INGOT_BENCH_BUDGETS` (default `default,16,256`:
//!    the stages' `max-mib-per-commit`, `default` leaving the key out), a
//!    fresh lake and a child process (this bench's binary again, with
//!    `--child`) that runs the log pipeline with `--once` semantics exactly
//!    as `ingot run --once` does (`Pipeline::prepare`, then `run`): ingest
//!    of the whole topic, then silver (`log_parse.wasm`, append), then gold
//!    (`level_counts.wasm`, accumulate).
//!    The modules are compiled into the runs' disk cache beforehand, so no
//!    peak includes Cranelift's.
//! 3. The child's own peak resident set (`wait4`), its wall time, and the
//!    silver and gold row counts.
//!
//! Prints one markdown table. Asserts row counts only, never memory.
//!
//! Run: `./dev bench memory`, or `cargo bench --workspace --bench memory`.

#[path = "../../../tests/e2e/harness/broker.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's broker module"
)]
mod broker;
mod common;
#[path = "common/log_pipeline.rs"]
mod log_pipeline;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, atomic::AtomicBool};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use ingot_kafka::producer::produce;
use ingot_pipeline::{Pipeline, RunMode, config::PipelineConfig};
use ingot_sandbox::Runtime;

use broker::Broker;
use common::{Table, decimal, env_count, guest_module, log_records, machine, thousands};
use log_pipeline::{LogPipeline, local_lake};

/// The topic the pipeline reads.
const TOPIC: &str = "bench";
/// Its partitions.
const PARTITIONS: i32 = 4;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let file = args.get(at + 1).context("--child needs a pipeline file")?;
        return child(Path::new(file));
    }
    let records = env_count("INGOT_BENCH_RECORDS", 5_000_000)?;
    let budgets = std::env::var("INGOT_BENCH_BUDGETS").unwrap_or_else(|_| "default,16,256".into());
    println!(
        "# ingot step memory: `run --once` over {} records of ~{} bytes\n",
        thousands(records as f64),
        common::RECORD_BYTES
    );
    let broker = Broker::start();
    broker.create_topic(TOPIC, PARTITIONS);
    let bootstrap = broker.bootstrap();
    eprintln!("bench: tansu at {bootstrap}, producing {records} records");
    let mut bytes = 0usize;
    let counted =
        log_records(records).inspect(|(k, v)| bytes += k.len() + v.as_ref().map_or(0, Vec::len));
    let sent = produce(&bootstrap, TOPIC, counted, None)?;
    ensure!(sent as usize == records, "produced {sent} of {records}");
    let dir = tempfile::Builder::new()
        .prefix("ingot-bench-memory-")
        .tempdir()?;
    // Compile the modules into the runs' disk cache first, so no run's peak
    // includes Cranelift's.
    let modules = dir.path().join("modules");
    let runtime = Runtime::new(Some(modules.clone()))?;
    for name in ["log_parse", "level_counts"] {
        runtime.load(&guest_module(name)?)?;
    }
    let mut table = Table::new(&[
        "max-mib-per-commit",
        "peak RSS (MiB)",
        "peak RSS / input bytes",
        "seconds",
        "silver commits",
        "gold rows",
    ]);
    for (i, budget) in budgets.split(',').map(str::trim).enumerate() {
        let run = dir.path().join(format!("run-{i}"));
        std::fs::create_dir_all(&run)?;
        let file = write_pipeline(&bootstrap, &run, &modules, budget)?;
        eprintln!("bench: run --once with max-mib-per-commit {budget}");
        let measured = measure_child(&file)?;
        let (silver_rows, silver_commits, gold_rows) = counts(&run)?;
        ensure!(
            silver_rows == records as i64,
            "silver holds {silver_rows} of {records} rows"
        );
        table.row(vec![
            budget.to_owned(),
            decimal(measured.peak_mib),
            decimal(measured.peak_mib * f64::from(1 << 20) / bytes as f64),
            decimal(measured.seconds),
            silver_commits.to_string(),
            gold_rows.to_string(),
        ]);
    }
    println!("{}", table.render());
    println!(
        "input: {} MiB of keys and values; machine: {}",
        decimal(bytes as f64 / f64::from(1 << 20)),
        machine()
    );
    Ok(())
}

/// What one child run measured.
struct Measured {
    peak_mib: f64,
    seconds: f64,
}

/// Runs this binary with `--child file` and reads its peak resident set
/// (`wait4` reports that child's own, in KiB).
#[expect(
    unsafe_code,
    reason = "wait4 is the one call that reports a given child's own peak resident set"
)]
fn measure_child(file: &Path) -> Result<Measured> {
    let started = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .arg("--child")
        .arg(file)
        .spawn()?;
    let pid = libc::pid_t::try_from(child.id())?;
    let mut status = 0;
    // SAFETY: wait4 writes only the status and the struct it is given; the
    // child is ours and not waited for elsewhere.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        ensure!(
            libc::wait4(pid, &raw mut status, 0, &raw mut usage) == pid,
            "wait4 failed: {}",
            std::io::Error::last_os_error()
        );
        usage
    };
    let seconds = started.elapsed().as_secs_f64();
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child run failed (wait status {status})"
    );
    Ok(Measured {
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        seconds,
    })
}

/// The log pipeline of the run in `dir`, with `max-mib-per-commit` =
/// `budget` on both stages (none for `default`).
fn write_pipeline(bootstrap: &str, dir: &Path, modules: &Path, budget: &str) -> Result<PathBuf> {
    let key = match budget {
        "default" => String::new(),
        mib => format!("max-mib-per-commit = {}\n", mib.parse::<u64>()?),
    };
    let text = LogPipeline {
        name: "memory",
        brokers: bootstrap,
        topic: TOPIC,
        lake: &local_lake(&dir.join("lake")),
        ingest: "",
        stage_keys: &key,
    }
    .toml()?;
    let file = dir.join("pipeline.toml");
    std::fs::write(&file, text)?;
    std::fs::write(
        dir.join("module-cache"),
        modules.to_string_lossy().as_bytes(),
    )?;
    Ok(file)
}

/// The child: `ingot run --once` on `file`, as the command runs it.
fn child(file: &Path) -> Result<()> {
    let config = PipelineConfig::load(file)?;
    let cache = std::fs::read_to_string(file.with_file_name("module-cache"))?;
    let runtime = Arc::new(Runtime::new(Some(PathBuf::from(cache)))?);
    let brokers = config.kafka.brokers.clone();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = tokio.block_on(async {
        let pipeline = Pipeline::prepare(config, runtime)?;
        pipeline
            .run(brokers, RunMode::Once, Arc::new(AtomicBool::new(false)))
            .await
    })?;
    ensure!(
        report.errors.is_empty(),
        "the run failed: {:?}",
        report.errors
    );
    Ok(())
}

/// Silver's rows and output commits, and gold's rows, read back.
fn counts(run: &Path) -> Result<(i64, usize, i64)> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async {
        let table = |name: &str| {
            let uri = run.join("lake/default/memory").join(name);
            async move {
                ingot_delta::Table::open(&uri.to_string_lossy())
                    .await?
                    .with_context(|| format!("no table at {}", uri.display()))
            }
        };
        let silver = table("silver").await?;
        let gold = table("gold").await?;
        let commits = (0..=silver.version())
            .filter(|&v| silver_commit(run, v))
            .count();
        Ok((count(&silver).await?, commits, count(&gold).await?))
    })
}

/// The rows of `table`.
async fn count(table: &ingot_delta::Table) -> Result<i64> {
    let batches = table
        .query("SELECT CAST(count(*) AS BIGINT) FROM t")
        .await?;
    Ok(batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<ingot_core::arrow::array::Int64Array>()
        .context("a count")?
        .value(0))
}

/// Whether version `v` of silver is an output commit of the stage (its
/// commit carries the stage's txn).
fn silver_commit(run: &Path, v: i64) -> bool {
    let file = run.join(format!(
        "lake/default/memory/silver/_delta_log/{v:020}.json"
    ));
    std::fs::read_to_string(file).is_ok_and(|text| text.contains("\"stage/memory/silver\""))
}
