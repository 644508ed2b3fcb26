//! The data path end to end: Kafka -> bronze -> silver -> gold, next to a
//! raw consumer and the Python peer, on one Tansu broker and one topic.
//!
//! 1. Tansu on a free loopback port, topic `bench` (4 partitions), filled
//!    with `INGOT_BENCH_RECORDS` (default 1,000,000) well-formed log lines of
//!    300 bytes.
//! 2. A raw rdkafka consumer that only counts: the ceiling for ingest.
//! 3. ingot's ingest loop (`--once`) into a temp lake, then the silver
//!    (`log_parse.wasm`, append) and gold (`level_counts.wasm`, accumulate)
//!    stages, each timed to completion.
//! 4. The release `ingot` binary, `ingot run --once` on a pipeline file of
//!    the same shape, into a fresh lake: the process's wall time, and each
//!    phase from the timestamps of the commits it wrote.
//! 5. `scripts/bench-peer.sh`: the Python peer on the same topic.
//!
//! Prints one markdown table, writes it as JSON (`common/results.rs`) and
//! plots it (`docs/benchmarks/medallion-throughput.svg`). Asserts row counts
//! only, never timings.
//!
//! Run: `./dev bench`, or `cargo bench --workspace --bench medallion`.

#[path = "medallion/binary.rs"]
mod binary;
// The e2e harness's broker (Tansu on a free loopback port), shared so the
// bench and the tests start it the same way.
#[path = "../../../tests/e2e/harness/broker.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's broker module"
)]
mod broker;
mod common;
#[path = "common/ingot_process.rs"]
#[expect(
    dead_code,
    reason = "the medallion runs `ingot run --once`: it needs no SIGTERM, CPU time or polling"
)]
mod ingot_process;
#[path = "common/lake.rs"]
#[expect(dead_code, reason = "the medallion reads no lineage ranges")]
mod lake;
#[path = "common/log_pipeline.rs"]
mod log_pipeline;
#[path = "medallion/peer.rs"]
mod peer;
#[path = "common/pipeline.rs"]
mod pipeline;
#[path = "common/plot.rs"]
#[expect(dead_code, reason = "the medallion draws bars only")]
mod plot;
#[path = "medallion/report.rs"]
mod report;
#[path = "common/results.rs"]
mod results;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use ingot_kafka::producer::produce;
use ingot_pipeline::config::PipelineConfig;
use ingot_sandbox::Runtime;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;

use broker::{Broker, client_config};
use common::{env_count, log_records, thousands, workspace_root};
use log_pipeline::{LogPipeline, local_lake};
use pipeline::{StageTotals, commits, run_ingest, run_stage};
use report::{Report, Row, Who};
use results::Results;

/// The topic every reader drains.
const TOPIC: &str = "bench";
/// Its partitions.
const PARTITIONS: i32 = 4;
/// Records per bronze commit at most.
const MAX_RECORDS: usize = 200_000;
/// How long a reader may take to drain the topic.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,deltalake_core=error".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let results = Results::start("medallion");
    let records = env_count("INGOT_BENCH_RECORDS", 1_000_000)?;
    let bin = ingot_process::ingot_binary()?;
    println!(
        "# ingot medallion benchmark: {} records of ~{} bytes\n",
        thousands(records as f64),
        common::RECORD_BYTES
    );
    println!("machine: {}\n", results.machine());
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let broker = Broker::start();
    broker.create_topic(TOPIC, PARTITIONS);
    let bootstrap = broker.bootstrap();
    eprintln!("bench: tansu at {bootstrap}, producing {records} records");
    let (produced, bytes) = fill_topic(&bootstrap, records)?;
    eprintln!("bench: raw consumer");
    let raw = raw_consume(&bootstrap, records)?;
    ensure!(
        raw.records as usize == records,
        "raw consumer read {} of {records}",
        raw.records
    );
    let dir = tempfile::Builder::new()
        .prefix("ingot-bench-lake-")
        .tempdir()?;
    eprintln!("bench: ingot ingest, silver, gold (in process)");
    let mut rows = vec![produced, raw];
    rows.extend(run_ingot(&tokio, &bootstrap, records, bytes, dir.path())?);
    eprintln!("bench: ingot run --once (the binary {})", bin.display());
    rows.extend(run_binary(&bin, &bootstrap, records, bytes, dir.path())?);
    eprintln!("bench: python peer");
    let peer = peer::run(&peer::PeerRun {
        root: &workspace_root(),
        brokers: &bootstrap,
        topic: TOPIC,
        records,
        lake: &dir.path().join("peer"),
        timeout: Duration::from_secs(600 + records as u64 / 2_000),
    });
    let report = with_peer(rows, peer, records, bytes);
    report.print(records, bytes);
    report.plot(records)?;
    results.write(
        json!({ "records": records, "topic_partitions": PARTITIONS, "max_records": MAX_RECORDS }),
        report.json(records, bytes),
    )?;
    Ok(())
}

/// Fills the topic; returns the produce row and the bytes (keys + values) sent.
fn fill_topic(bootstrap: &str, records: usize) -> Result<(Row, f64)> {
    let mut bytes = 0usize;
    let counted =
        log_records(records).inspect(|(k, v)| bytes += k.len() + v.as_ref().map_or(0, Vec::len));
    let started = Instant::now();
    let sent = produce(bootstrap, TOPIC, counted, None)?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(sent as usize == records, "produced {sent} of {records}");
    let bytes = bytes as f64;
    let row = Row {
        who: Who::Producer,
        phase: "produce",
        label: "produce (rdkafka, acks=all)".into(),
        records: sent,
        seconds,
        bytes: Some(bytes),
        commits: None,
    };
    Ok((row, bytes))
}

/// Drains the topic with a plain rdkafka consumer (the ingest loop's fetch
/// settings, its own group, counting only).
fn raw_consume(bootstrap: &str, records: usize) -> Result<Row> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "ingot-bench-raw")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760")
        .create()?;
    let started = Instant::now();
    consumer.subscribe(&[TOPIC])?;
    let (mut count, mut bytes) = (0u64, 0usize);
    while (count as usize) < records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                count += 1;
                bytes += m.key().map_or(0, <[u8]>::len) + m.payload().map_or(0, <[u8]>::len);
            }
            Some(Err(e)) => bail!("raw consumer on topic {TOPIC}: {e}"),
            None => ensure!(
                started.elapsed() < DRAIN_TIMEOUT,
                "raw consumer: {count} of {records} after {DRAIN_TIMEOUT:?}"
            ),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Row {
        who: Who::Raw,
        phase: "consume",
        label: "raw consumer (rdkafka, count only)".into(),
        records: count,
        seconds,
        bytes: Some(bytes as f64),
        commits: None,
    })
}

/// The pipeline file of the benchmark: the log medallion on `bootstrap`.
fn pipeline_config(bootstrap: &str, lake: &Path) -> Result<PipelineConfig> {
    let text = LogPipeline {
        name: "bench",
        brokers: bootstrap,
        topic: TOPIC,
        lake: &local_lake(&lake.join("lake")),
        ingest: &format!("max-records = {MAX_RECORDS}"),
        stage_keys: "",
    }
    .toml()?;
    Ok(PipelineConfig::parse(&text, &lake.join("bench.toml"))?)
}

/// Ingest, then silver, then gold, in process, each timed to completion:
/// their rows and the end-to-end row (the sum).
fn run_ingot(
    tokio: &tokio::runtime::Runtime,
    bootstrap: &str,
    records: usize,
    bytes: f64,
    lake: &Path,
) -> Result<Vec<Row>> {
    let config = Arc::new(pipeline_config(bootstrap, lake)?);
    let (report, seconds) = run_ingest(tokio, &config, bootstrap)?;
    ensure!(
        report.records as usize == records,
        "ingest wrote {} of {records} records",
        report.records
    );
    let runtime = Arc::new(Runtime::new(Some(lake.join("module-cache")))?);
    let silver = run_stage(tokio, &config, 0, &runtime)?;
    ensure!(
        silver.rows_in as usize == records && silver.rows_out as usize == records,
        "silver read {} and wrote {} of {records} rows",
        silver.rows_in,
        silver.rows_out
    );
    let gold = run_stage(tokio, &config, 1, &runtime)?;
    ensure!(
        gold.rows_in as usize == records,
        "gold read {} of {records} silver rows",
        gold.rows_in
    );
    let row = |phase, label: String, seconds, bytes, commits| Row {
        who: Who::InProcess,
        phase,
        label: format!("ingot {label}"),
        records: records as u64,
        seconds,
        bytes,
        commits,
    };
    let stage = |phase, what: &str, t: &StageTotals, bytes| {
        let label = format!("{what} ({})", commits(t.commits));
        row(phase, label, t.seconds, bytes, Some(t.commits))
    };
    let total = seconds + silver.seconds + gold.seconds;
    Ok(vec![
        row(
            "ingest",
            format!("ingest -> bronze ({})", commits(report.commits)),
            seconds,
            Some(bytes),
            Some(report.commits),
        ),
        stage(
            "silver",
            "silver: log_parse.wasm, append",
            &silver,
            Some(bytes),
        ),
        stage("gold", "gold: level_counts.wasm, accumulate", &gold, None),
        row(
            "end to end",
            "end to end (ingest + silver + gold)".into(),
            total,
            Some(bytes),
            None,
        ),
    ])
}

/// `ingot run --once` of the release binary in a fresh lake under `dir`:
/// its phases from the commit log and its wall time.
fn run_binary(
    bin: &Path,
    bootstrap: &str,
    records: usize,
    bytes: f64,
    dir: &Path,
) -> Result<Vec<Row>> {
    let dir = dir.join("binary");
    std::fs::create_dir_all(&dir)?;
    let figures = binary::run(&binary::BinaryRun {
        bin,
        bootstrap,
        topic: TOPIC,
        records,
        dir: &dir,
        max_records: MAX_RECORDS,
    })?;
    let row = |phase, what: &str, p: binary::Phase, bytes| Row {
        who: Who::Binary,
        phase,
        label: format!("ingot run --once (binary): {what} ({})", commits(p.commits)),
        records: records as u64,
        seconds: p.seconds,
        bytes,
        commits: Some(p.commits),
    };
    Ok(vec![
        row("ingest", "ingest -> bronze", figures.ingest, Some(bytes)),
        row("silver", "silver", figures.silver, Some(bytes)),
        row("gold", "gold", figures.gold, None),
        Row {
            who: Who::Binary,
            phase: "end to end",
            label: "ingot run --once (binary): end to end (process wall time)".into(),
            records: records as u64,
            seconds: figures.process_seconds,
            bytes: Some(bytes),
            commits: None,
        },
    ])
}

/// The report of `rows` and the peer's rows (bronze, silver, gold, end to
/// end), with a note when the peer did not run or did not read or parse
/// every record.
fn with_peer(
    mut rows: Vec<Row>,
    peer: Result<peer::PeerFigures>,
    records: usize,
    bytes: f64,
) -> Report {
    let p = match peer {
        Ok(p) => p,
        Err(e) => {
            return Report {
                rows,
                peer_note: Some(format!("the Python peer could not run: {e:#}")),
            };
        }
    };
    let row = |phase, label: String, seconds, bytes| Row {
        who: Who::Peer,
        phase,
        label: format!("python peer {label}"),
        records: records as u64,
        seconds,
        bytes,
        commits: None,
    };
    let total = p.bronze.seconds + p.silver.seconds + p.gold.seconds;
    rows.extend([
        row(
            "ingest",
            "bronze (confluent-kafka + deltalake)".into(),
            p.bronze.seconds,
            Some(bytes),
        ),
        row(
            "silver",
            "silver (polars json_decode)".into(),
            p.silver.seconds,
            Some(bytes),
        ),
        row(
            "gold",
            format!("gold (polars group_by + merge, {} groups)", p.gold.count),
            p.gold.seconds,
            None,
        ),
        row("end to end", "end to end".into(), total, Some(bytes)),
    ]);
    let peer_note = (p.bronze.count as usize != records || p.silver.count as usize != records)
        .then(|| {
            format!(
                "the peer read {} and parsed {} of {records} records",
                p.bronze.count, p.silver.count
            )
        });
    Report { rows, peer_note }
}
