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
//! 4. `scripts/bench-peer.sh`: the Python peer on the same topic.
//!
//! Prints one markdown table. Asserts row counts only, never timings.
//!
//! Run: `./dev bench`, or `cargo bench -p ingot-bench --bench medallion`.

// The e2e harness's broker (Tansu on a free loopback port), shared so the
// bench and the tests start it the same way.
#[path = "../../../tests/e2e/harness/broker.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's broker module"
)]
mod broker;
mod common;
#[path = "common/log_pipeline.rs"]
mod log_pipeline;
#[path = "medallion/peer.rs"]
mod peer;
#[path = "common/pipeline.rs"]
mod pipeline;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use ingot_kafka::producer::produce;
use ingot_pipeline::config::PipelineConfig;
use ingot_sandbox::Runtime;
use rdkafka::Message;
use rdkafka::consumer::{BaseConsumer, Consumer};

use broker::{Broker, client_config};
use common::{Table, decimal, env_count, log_records, thousands, workspace_root};
use log_pipeline::{LogPipeline, local_lake};
use pipeline::{StageTotals, commits, run_ingest, run_stage};

/// The topic every reader drains.
const TOPIC: &str = "bench";
/// Its partitions.
const PARTITIONS: i32 = 4;
/// Records per bronze commit at most.
const MAX_RECORDS: usize = 200_000;
/// How long a reader may take to drain the topic.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(600);

/// One line of the result table.
struct Row {
    stage: String,
    records: u64,
    seconds: f64,
    /// Bytes (keys + values) the stage read, when that means something.
    bytes: Option<f64>,
    ratio: String,
}

impl Row {
    fn rate(&self) -> f64 {
        self.records as f64 / self.seconds
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.stage.clone(),
            thousands(self.records as f64),
            decimal(self.seconds),
            thousands(self.rate()),
            self.bytes
                .map_or_else(|| "—".into(), |b| decimal(b / self.seconds / 1e6)),
            decimal(self.seconds * 1e6 / self.records as f64),
            self.ratio.clone(),
        ]
    }
}

/// What ingot did, stage by stage.
struct IngotFigures {
    ingest: Row,
    silver: Row,
    gold: Row,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,deltalake_core=error".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let records = env_count("INGOT_BENCH_RECORDS", 1_000_000)?;
    println!(
        "# ingot medallion benchmark: {} records of ~{} bytes\n",
        thousands(records as f64),
        common::RECORD_BYTES
    );
    println!("machine: {}\n", common::machine());
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
    eprintln!("bench: ingot ingest, silver, gold");
    let lake = tempfile::Builder::new()
        .prefix("ingot-bench-lake-")
        .tempdir()?;
    let ingot = run_ingot(&tokio, &bootstrap, records, bytes, lake.path())?;
    eprintln!("bench: python peer");
    let peer = peer::run(&peer::PeerRun {
        root: &workspace_root(),
        brokers: &bootstrap,
        topic: TOPIC,
        records,
        lake: &lake.path().join("peer"),
        timeout: Duration::from_secs(600 + records as u64 / 2_000),
    });
    print_results(Results {
        records,
        bytes,
        produced,
        raw,
        ingot,
        peer,
    });
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
        stage: "produce (rdkafka, acks=all)".into(),
        records: sent,
        seconds,
        bytes: Some(bytes),
        ratio: "—".into(),
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
        stage: "raw consumer (rdkafka, count only)".into(),
        records: count,
        seconds,
        bytes: Some(bytes as f64),
        ratio: "1.00 (baseline)".into(),
    })
}

/// The pipeline file of the benchmark: the log medallion on `bootstrap`.
fn pipeline_config(bootstrap: &str, lake: &std::path::Path) -> Result<PipelineConfig> {
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

/// Ingest, then silver, then gold, each timed to completion.
fn run_ingot(
    tokio: &tokio::runtime::Runtime,
    bootstrap: &str,
    records: usize,
    bytes: f64,
    lake: &std::path::Path,
) -> Result<IngotFigures> {
    let config = Arc::new(pipeline_config(bootstrap, lake)?);
    let (report, seconds) = run_ingest(tokio, &config, bootstrap)?;
    ensure!(
        report.records as usize == records,
        "ingest wrote {} of {records} records",
        report.records
    );
    let ingest = Row {
        stage: format!("ingot ingest -> bronze ({})", commits(report.commits)),
        records: report.records,
        seconds,
        bytes: Some(bytes),
        ratio: String::new(),
    };
    let runtime = Arc::new(Runtime::new(Some(lake.join("module-cache")))?);
    let silver = run_stage(tokio, &config, 0, &runtime)?;
    ensure!(
        silver.rows_in as usize == records,
        "silver read {} of {records} bronze rows",
        silver.rows_in
    );
    ensure!(
        silver.rows_out as usize == records,
        "silver wrote {} of {records} rows",
        silver.rows_out
    );
    let gold = run_stage(tokio, &config, 1, &runtime)?;
    ensure!(
        gold.rows_in as usize == records,
        "gold read {} of {records} silver rows",
        gold.rows_in
    );
    Ok(IngotFigures {
        ingest,
        silver: stage_row("silver: log_parse.wasm, append", &silver, Some(bytes)),
        gold: stage_row("gold: level_counts.wasm, accumulate", &gold, None),
    })
}

/// The row of a stage run to completion: `what` names the stage, module
/// and mode.
fn stage_row(what: &str, totals: &StageTotals, bytes: Option<f64>) -> Row {
    Row {
        stage: format!("ingot {what} ({})", commits(totals.commits)),
        records: totals.rows_in,
        seconds: totals.seconds,
        bytes,
        ratio: String::new(),
    }
}

/// What the one table shows.
struct Results {
    /// Records on the topic.
    records: usize,
    /// Their bytes (keys + values).
    bytes: f64,
    /// Filling the topic.
    produced: Row,
    /// The raw consumer, the baseline.
    raw: Row,
    /// ingot's stages.
    ingot: IngotFigures,
    /// The Python peer's phases, or why it could not run.
    peer: Result<peer::PeerFigures>,
}

/// Prints the one table: produce, raw, ingot, peer, with ratios.
fn print_results(results: Results) {
    let Results {
        records,
        bytes,
        produced,
        raw,
        mut ingot,
        peer,
    } = results;
    ingot.ingest.ratio = format!("{}× raw", decimal(vs(&ingot.ingest, &raw)));
    let total = ingot.ingest.seconds + ingot.silver.seconds + ingot.gold.seconds;
    let mut end_to_end = Row {
        stage: "ingot end to end (ingest + silver + gold)".into(),
        records: records as u64,
        seconds: total,
        bytes: Some(bytes),
        ratio: String::new(),
    };
    let (peer_rows, peer_note) = match peer {
        Ok(p) => compare_with_peer(&p, records, bytes, &mut ingot, &mut end_to_end),
        Err(e) => (
            Vec::new(),
            Some(format!("the Python peer could not run: {e:#}")),
        ),
    };
    let mut table = Table::new(&[
        "stage",
        "records",
        "seconds",
        "records/s",
        "MB/s",
        "µs/record",
        "ratio",
    ]);
    for row in [
        &produced,
        &raw,
        &ingot.ingest,
        &ingot.silver,
        &ingot.gold,
        &end_to_end,
    ]
    .into_iter()
    .chain(&peer_rows)
    {
        table.row(row.cells());
    }
    println!("{}\n", table.render());
    println!(
        "MB = 10^6 bytes of Kafka keys + values ({} bytes per record on average).",
        decimal(bytes / records as f64)
    );
    println!(
        "ratio: records/s of the row ÷ records/s of the named reference (raw consumer, or the peer's same phase)."
    );
    if let Some(note) = peer_note {
        println!("\nnote: {note}");
    }
}

/// How many times `theirs`'s rate `mine` runs at.
fn vs(mine: &Row, theirs: &Row) -> f64 {
    mine.rate() / theirs.rate()
}

/// The peer's rows (bronze, silver, gold, end to end), with ingot's ratios to
/// them set; and a note when the peer did not read or parse every record.
fn compare_with_peer(
    p: &peer::PeerFigures,
    records: usize,
    bytes: f64,
    ingot: &mut IngotFigures,
    end_to_end: &mut Row,
) -> (Vec<Row>, Option<String>) {
    let row = |stage: &str, seconds: f64, bytes: Option<f64>| Row {
        stage: format!("python peer {stage}"),
        records: records as u64,
        seconds,
        bytes,
        ratio: "—".into(),
    };
    let pb = row(
        "bronze (confluent-kafka + deltalake)",
        p.bronze.seconds,
        Some(bytes),
    );
    let ps = row("silver (polars json_decode)", p.silver.seconds, Some(bytes));
    let pg = row(
        &format!("gold (polars group_by + merge, {} groups)", p.gold.count),
        p.gold.seconds,
        None,
    );
    let pe = row(
        "end to end",
        p.bronze.seconds + p.silver.seconds + p.gold.seconds,
        Some(bytes),
    );
    ingot
        .ingest
        .ratio
        .push_str(&format!("; {}× peer", decimal(vs(&ingot.ingest, &pb))));
    ingot.silver.ratio = format!("{}× peer", decimal(vs(&ingot.silver, &ps)));
    ingot.gold.ratio = format!("{}× peer", decimal(vs(&ingot.gold, &pg)));
    end_to_end.ratio = format!("{}× peer", decimal(vs(end_to_end, &pe)));
    let note =
        (p.bronze.count as usize != records || p.silver.count as usize != records).then(|| {
            format!(
                "the peer read {} and parsed {} of {records} records",
                p.bronze.count, p.silver.count
            )
        });
    (vec![pb, ps, pg, pe], note)
}
