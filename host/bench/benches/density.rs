//! Density and overhead of many tenants on one host (issue 6).
//!
//! 1. Instances: `log_parse` instantiated (pre-instantiated component,
//!    new store, `init`) N times and held, on the on-demand allocator and
//!    on the pooling allocator `ingot serve` uses: time per instance, and
//!    resident memory per idle instance (RSS growth over the N instances,
//!    after `init` and again after one 100-row call each).
//! 2. Tenants: tenant 0's log pipeline (ingest, `log_parse` silver,
//!    `level_counts` gold, `--once`) alone, then while 50 other tenants'
//!    pipelines run continuously on the same host (caught up: polling
//!    their input and the registry, as most tenants are most of the time),
//!    then while 50 other tenants process the same load (started 3 s
//!    earlier, so tenant 0 runs entirely beside them). Tenant 0's time
//!    comes from its own status document (`started_at` to the last save).
//!
//! Asserts row counts, never timings. Run: `./dev bench density`, or
//! `cargo bench --workspace --bench density`. `INGOT_BENCH_INSTANCES`
//! (default 500) and `INGOT_BENCH_DENSITY_RECORDS` (default 100,000) size it.

#[path = "../../../tests/e2e/harness/broker.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's broker module"
)]
mod broker;
#[path = "common/bronze.rs"]
mod bronze;
mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, atomic::AtomicBool, atomic::Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use ingot::tenancy::{HostConfig, token_sha256};
use ingot::{
    server::Live,
    tenancy::serve::{PipelineRun, serve},
};
use ingot_core::StageId;
use ingot_core::arrow::array::Int64Array;
use ingot_delta::Table as DeltaTable;
use ingot_kafka::producer::produce;
use ingot_pipeline::{RunMode, status};
use ingot_sandbox::{Instance, Limits, Runtime};
use tokio::task::JoinHandle;

use broker::Broker;
use bronze::bronze_batch;
use common::{Table, decimal, env_count, guest_module, log_records, thousands};

/// Tenants besides tenant 0.
const OTHERS: usize = 50;

fn main() -> Result<()> {
    let instances = env_count("INGOT_BENCH_INSTANCES", 500)?;
    let records = env_count("INGOT_BENCH_DENSITY_RECORDS", 100_000)?;
    println!("# ingot density benchmark\n");
    println!("machine: {}\n", common::machine());
    let module = guest_module("log_parse")?;
    print_instances(&module, instances)?;
    print_tenants(records)
}

/// Part 1: `instances` instances of `module` held at once, on each allocator.
fn print_instances(module: &Path, instances: usize) -> Result<()> {
    println!("## Stage instances ({instances} instances of log_parse, held at once)\n");
    let mut table = Table::new(&[
        "allocator",
        "µs per instance (instantiate + init)",
        "RSS per idle instance",
        "RSS per instance after one 100-row call",
    ]);
    for (label, runtime) in [
        ("on-demand (Runtime::new)", Runtime::new(None)?),
        (
            "pooling (Runtime::pooled, as ingot serve)",
            Runtime::pooled(None, u32::try_from(instances + 8)?)?,
        ),
    ] {
        let m = measure_instances(&runtime, module, instances)?;
        table.row(vec![
            label.to_owned(),
            decimal(m.micros_per_instance),
            kib(m.idle_bytes),
            kib(m.called_bytes),
        ]);
    }
    println!("{}\n", table.render());
    Ok(())
}

/// Part 2: tenant 0's pipeline over `records` records alone, beside caught-up
/// tenants and beside busy ones.
fn print_tenants(records: usize) -> Result<()> {
    println!("## Tenant 0's pipeline alone and beside {OTHERS} other tenants\n");
    println!(
        "{} log records per busy tenant, ~{} bytes each; log_parse silver, level_counts gold\n",
        thousands(records as f64),
        common::RECORD_BYTES
    );
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let broker = Broker::start();
    broker.create_topic("busy", 2);
    broker.create_topic("quiet", 1);
    let bootstrap = broker.bootstrap();
    ensure!(produce(&bootstrap, "busy", log_records(records), None)? as usize == records);
    ensure!(produce(&bootstrap, "quiet", log_records(100), None)? == 100);

    let mut table = Table::new(&[
        "scenario",
        "tenant 0's pipeline (s)",
        "tenant 0 records/s",
        "vs alone",
        "all tenants' records/s",
    ]);
    let alone = tokio.block_on(scenario(&bootstrap, records, Others::None))?;
    let quiet = tokio.block_on(scenario(&bootstrap, records, Others::Quiet))?;
    let busy = tokio.block_on(scenario(&bootstrap, records, Others::Busy))?;
    for (label, s) in [
        ("alone", &alone),
        (
            "beside 50 caught-up tenants' pipelines (running, polling)",
            &quiet,
        ),
        ("beside 50 tenants processing the same load", &busy),
    ] {
        table.row(vec![
            label.to_owned(),
            decimal(s.tenant0_seconds),
            thousands(records as f64 / s.tenant0_seconds),
            format!("{}×", decimal(alone.tenant0_seconds / s.tenant0_seconds)),
            s.all_records_per_second
                .map_or_else(|| "-".to_owned(), thousands),
        ]);
    }
    println!("{}\n", table.render());
    Ok(())
}

/// What `n` held instances of a module cost.
struct InstanceFigures {
    /// Instantiate + init, per instance.
    micros_per_instance: f64,
    /// Resident memory per instance after init.
    idle_bytes: f64,
    /// Resident memory per instance after one 100-row call each.
    called_bytes: f64,
}

/// Instantiates `module` `n` times on `runtime`, holds the instances, and
/// calls each once.
fn measure_instances(runtime: &Runtime, module: &Path, n: usize) -> Result<InstanceFigures> {
    let module = runtime.load(module)?;
    let limits = Limits::default();
    let batch = bronze_batch(100, 0)?;
    // One instance first, so one-time costs (lazy init, first pages of the
    // pool) are not charged to the N.
    drop(Instance::new(
        runtime,
        Arc::clone(&module),
        StageId::new("t", "p", "warm"),
        &limits,
        &[],
    )?);
    let before = rss_bytes()?;
    let started = Instant::now();
    let mut held = Vec::with_capacity(n);
    for i in 0..n {
        held.push(Instance::new(
            runtime,
            Arc::clone(&module),
            StageId::new(format!("t{i}"), "p", "silver"),
            &limits,
            &[],
        )?);
    }
    let micros_per_instance = started.elapsed().as_secs_f64() * 1e6 / n as f64;
    let idle = rss_bytes()?;
    for instance in &mut held {
        let out = instance.process(&batch)?;
        ensure!(out.batch.num_rows() == 100, "log_parse kept every row");
    }
    let called = rss_bytes()?;
    drop(held);
    Ok(InstanceFigures {
        micros_per_instance,
        idle_bytes: (idle - before) as f64 / n as f64,
        called_bytes: (called - before) as f64 / n as f64,
    })
}

/// The process's resident memory.
fn rss_bytes() -> Result<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .context("statm has a resident field")?
        .parse()?;
    Ok(pages * 4096)
}

/// `bytes` in KiB, for the table.
fn kib(bytes: f64) -> String {
    format!("{} KiB", thousands(bytes / 1024.0))
}

/// What the other tenants do while tenant 0 runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Others {
    /// Nothing: tenant 0 is alone.
    None,
    /// Running continuously, caught up on a 100-record topic.
    Quiet,
    /// Processing the same topic as tenant 0, `--once`, from 3 s before
    /// tenant 0 starts.
    Busy,
}

/// Tenant 0's figures in one scenario.
struct Scenario {
    /// Its pipeline's run, by its status document.
    tenant0_seconds: f64,
    /// Every tenant's records over the scenario's time, with busy others.
    all_records_per_second: Option<f64>,
}

/// Runs tenant 0's pipeline over `records` records beside `others`, checks
/// what every tenant ingested and what tenant 0's gold counts.
async fn scenario(bootstrap: &str, records: usize, others: Others) -> Result<Scenario> {
    let dir = tempfile::Builder::new()
        .prefix("ingot-bench-density-")
        .tempdir()?;
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake)?;
    let tenant0 = host_file(dir.path(), &lake, bootstrap, 0..1, "busy")?;
    let stop = Arc::new(AtomicBool::new(false));
    // The others start first: caught up (continuous, on the quiet topic)
    // or mid-way through the same load as tenant 0 (`--once`), so tenant 0
    // runs entirely beside them.
    let started = Instant::now();
    let background = start_others(dir.path(), &lake, bootstrap, others, &stop).await?;
    let mine = serve(
        &HostConfig::load(&tenant0)?,
        None,
        RunMode::Once,
        Arc::new(AtomicBool::new(false)),
        &Live::default(),
    )
    .await?;
    stop.store(true, Ordering::SeqCst);
    let theirs = match background {
        Some(task) => task.await??,
        None => Vec::new(),
    };
    let all_seconds = started.elapsed().as_secs_f64();
    check_ingested(mine.into_iter().chain(theirs), records, others)?;
    Ok(Scenario {
        tenant0_seconds: tenant0_seconds(&tenant0, records).await?,
        all_records_per_second: (others == Others::Busy)
            .then(|| ((OTHERS + 1) * records) as f64 / all_seconds),
    })
}

/// The other tenants' host, served in the background until `stop` (or to
/// the end of their input) once it has had its head start; `None` for
/// [`Others::None`].
async fn start_others(
    dir: &Path,
    lake: &Path,
    bootstrap: &str,
    others: Others,
    stop: &Arc<AtomicBool>,
) -> Result<Option<JoinHandle<ingot::Result<Vec<PipelineRun>>>>> {
    if others == Others::None {
        return Ok(None);
    }
    let (topic, mode, head_start) = if others == Others::Quiet {
        ("quiet", RunMode::Continuous, Duration::from_secs(10))
    } else {
        ("busy", RunMode::Once, Duration::from_secs(3))
    };
    let file = host_file(dir, lake, bootstrap, 1..OTHERS + 1, topic)?;
    let host = HostConfig::load(&file)?;
    let stop = Arc::clone(stop);
    let task = tokio::spawn(async move { serve(&host, None, mode, stop, &Live::default()).await });
    tokio::time::sleep(head_start).await;
    Ok(Some(task))
}

/// Every run succeeded and ingested `records` (a caught-up tenant: up to 100).
fn check_ingested(
    runs: impl Iterator<Item = PipelineRun>,
    records: usize,
    others: Others,
) -> Result<()> {
    for run in runs {
        let report = run
            .result
            .with_context(|| format!("tenant {}", run.tenant))?;
        ensure!(
            report.errors.is_empty(),
            "tenant {}: {:?}",
            run.tenant,
            report.errors
        );
        let expected = if others == Others::Quiet && run.tenant != "t0" {
            0..=100
        } else {
            records..=records
        };
        ensure!(
            expected.contains(&(report.ingest.records as usize)),
            "tenant {} ingested {}",
            run.tenant,
            report.ingest.records
        );
    }
    Ok(())
}

/// Checks that tenant 0's gold (host file `tenant0`) counts `records`;
/// returns the seconds its run took by its status document.
async fn tenant0_seconds(tenant0: &Path, records: usize) -> Result<f64> {
    let config = &HostConfig::load(tenant0)?.pipelines()[0].config;
    let config = config.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
    let gold = DeltaTable::open(&config.table_uri("gold"))
        .await?
        .context("tenant 0's gold exists")?;
    let counted = gold
        .query("SELECT CAST(sum(count) AS BIGINT) AS n FROM t")
        .await?;
    let n = counted[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .context("a BIGINT")?
        .value(0);
    ensure!(n as usize == records, "tenant 0's gold counts {n} records");
    let status = status::read(config).await?;
    let s = status.first().context("tenant 0 saved its status")?;
    Ok((s.updated_at - s.started_at) as f64 / 1e6)
}

/// A host file for tenants `t<range>`, each with a log pipeline reading `topic`.
fn host_file(
    dir: &Path,
    lake: &Path,
    bootstrap: &str,
    tenants: std::ops::Range<usize>,
    topic: &str,
) -> Result<PathBuf> {
    let log_parse = guest_module("log_parse")?;
    let level_counts = guest_module("level_counts")?;
    let mut text = format!(
        "[lake]\nroot = {:?}\n[runtime]\nmax-instances = 256\n",
        lake.display().to_string()
    );
    for t in tenants.clone() {
        let pipeline = dir.join(format!("t{t}.toml"));
        std::fs::write(
            &pipeline,
            format!(
                r#"name = "logs"
tenant = "t{t}"
[kafka]
brokers = "{bootstrap}"
topics = ["{topic}"]
assignment = "all"
[lake]
root = {lake:?}
[[stages]]
name = "silver"
module = {log_parse:?}
[[stages]]
name = "gold"
module = {level_counts:?}
mode = "accumulate"
keys = ["level"]
measures = ["count", "latency_ms_sum"]
"#,
                lake = lake.display().to_string(),
                log_parse = log_parse.display().to_string(),
                level_counts = level_counts.display().to_string(),
            ),
        )?;
        text.push_str(&format!(
            "[[tenants]]\nname = \"t{t}\"\npipelines = [{:?}]\ntoken-sha256 = \"{}\"\n",
            pipeline.display().to_string(),
            token_sha256(&format!("token-{t}"))
        ));
    }
    let file = dir.join(format!("host-{}-{}.toml", tenants.start, tenants.end));
    std::fs::write(&file, text)?;
    Ok(file)
}
