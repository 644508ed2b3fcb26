//! The seed workloads' throughput: osquery and Debezium records through
//! bronze, silver and gold, with the pipelines of `examples/` as a user runs
//! them (the log workload is `benches/medallion.rs`).
//!
//! For each workload: Tansu on a free loopback port, a topic of 4 partitions
//! filled with `INGOT_BENCH_WORKLOAD_RECORDS` (default 200,000) records of
//! `ingot produce`'s generator, then ingot's ingest loop (`--once`) and the
//! two stages, each timed to completion; then the next as many records of
//! the same stream, into the tables the first pass filled. Prints one
//! markdown table; asserts row counts only, never timings.
//!
//! Run: `./dev bench workloads`, or `cargo bench --workspace --bench workloads`.

#[path = "../../../tests/e2e/harness/broker.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's broker module"
)]
mod broker;
#[expect(
    dead_code,
    reason = "the log records in common are for the medallion and stage benches"
)]
mod common;
#[path = "common/pipeline.rs"]
mod pipeline;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use ingot_kafka::producer::produce;
use ingot_pipeline::config::PipelineConfig;
use ingot_sample::{debezium::DebeziumSample, osquery::OsquerySample};
use ingot_sandbox::Runtime;

use broker::Broker;
use common::{Table, decimal, env_count, guest_module, thousands, workspace_root};
use pipeline::{StageTotals, commits, run_ingest, run_stage};

/// Partitions of each workload's topic.
const PARTITIONS: i32 = 4;
/// Malformed osquery records per thousand, as `ingot produce` defaults to.
const MALFORMED_PER_MILLE: u32 = 30;

/// A workload's records (key, value), as `produce` takes them.
type Records = Box<dyn Iterator<Item = (Vec<u8>, Option<Vec<u8>>)>>;

/// One workload: its example pipeline, its topic and its records.
struct Workload {
    name: &'static str,
    example: &'static str,
    topic: &'static str,
    records: fn(usize) -> Records,
}

/// The workloads, in the table's order.
const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "osquery",
        example: "osquery",
        topic: "osquery",
        records: |n| Box::new(OsquerySample::new(7, MALFORMED_PER_MILLE).take(n)),
    },
    Workload {
        name: "debezium",
        example: "debezium",
        topic: "voters",
        records: |n| Box::new(DebeziumSample::new(7).take(n)),
    },
];

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,deltalake_core=error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let records = env_count("INGOT_BENCH_WORKLOAD_RECORDS", 200_000)?;
    println!(
        "# ingot workload benchmark: {} records per workload\n",
        thousands(records as f64)
    );
    println!("machine: {}\n", common::machine());
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut table = Table::new(&[
        "workload",
        "stage",
        "rows in",
        "rows out",
        "seconds",
        "rows in/s",
        "µs/row",
    ]);
    for workload in &WORKLOADS {
        for row in run(&tokio, workload, records)? {
            table.row(row);
        }
    }
    println!("{}\n", table.render());
    println!(
        "rows in: Kafka records (ingest), bronze change rows (silver), silver change rows (gold). \
         rows out: bronze rows written (ingest), rows the module emitted (stages; the table's \
         dedupe, upsert or accumulate then reduces them). µs/row: per row in."
    );
    Ok(())
}

/// One workload: the first `records` of its stream from an empty topic to
/// gold, then the next `records` into the tables the first pass left (the
/// steady state: dedupe and upsert MERGEs against a table that holds data);
/// its table rows.
fn run(tokio: &tokio::runtime::Runtime, w: &Workload, records: usize) -> Result<Vec<Vec<String>>> {
    let broker = Broker::start();
    broker.create_topic(w.topic, PARTITIONS);
    let bootstrap = broker.bootstrap();
    let lake = tempfile::Builder::new()
        .prefix("ingot-bench-workload-")
        .tempdir()?;
    let config = Arc::new(example_config(w.example, &bootstrap, lake.path())?);
    let runtime = Arc::new(Runtime::new(Some(lake.path().join("module-cache")))?);
    let passes = Passes {
        tokio,
        workload: w,
        config: &config,
        runtime: &runtime,
        bootstrap: &bootstrap,
        records,
    };
    let mut rows = Vec::new();
    for pass in ["1st", "2nd"] {
        rows.extend(passes.run(pass)?);
    }
    Ok(rows)
}

/// What each pass of a workload runs on.
struct Passes<'a> {
    tokio: &'a tokio::runtime::Runtime,
    workload: &'a Workload,
    /// Its example pipeline, on the bench's broker and lake.
    config: &'a Arc<PipelineConfig>,
    /// The stages' runtime, shared by both passes.
    runtime: &'a Arc<Runtime>,
    bootstrap: &'a str,
    /// Records per pass.
    records: usize,
}

impl Passes<'_> {
    /// The `pass` ("1st" or "2nd") pass: its share of the stream produced,
    /// ingested, then through silver and gold; its table rows.
    fn run(&self, pass: &str) -> Result<Vec<Vec<String>>> {
        let (w, records) = (self.workload, self.records);
        let skip = if pass == "1st" { 0 } else { records };
        eprintln!(
            "bench {} ({pass} pass): producing {records} records",
            w.name
        );
        let started = Instant::now();
        let stream = (w.records)(2 * records).skip(skip).take(records);
        let sent = produce(self.bootstrap, w.topic, stream, None)?;
        ensure!(sent as usize == records, "produced {sent} of {records}");
        let produce_seconds = started.elapsed().as_secs_f64();
        eprintln!("bench {} ({pass} pass): ingest, silver, gold", w.name);
        let (report, ingest_seconds) = run_ingest(self.tokio, self.config, self.bootstrap)?;
        ensure!(
            report.records as usize == records,
            "ingest wrote {} of {records}",
            report.records
        );
        let silver = run_stage(self.tokio, self.config, 0, self.runtime)?;
        ensure!(
            silver.rows_in as usize == records,
            "silver read {} of {records} bronze rows",
            silver.rows_in
        );
        let gold = run_stage(self.tokio, self.config, 1, self.runtime)?;
        let line = |stage: String, rows_in: u64, rows_out: u64, seconds: f64| {
            line(
                format!("{} ({pass})", w.name),
                stage,
                rows_in,
                rows_out,
                seconds,
            )
        };
        let total = ingest_seconds + silver.seconds + gold.seconds;
        Ok(vec![
            line("produce (rdkafka)".into(), sent, sent, produce_seconds),
            line(
                format!("ingest -> bronze ({})", commits(report.commits)),
                report.records,
                report.records,
                ingest_seconds,
            ),
            line(
                self.stage_label(0, &silver),
                silver.rows_in,
                silver.rows_out,
                silver.seconds,
            ),
            line(
                self.stage_label(1, &gold),
                gold.rows_in,
                gold.rows_out,
                gold.seconds,
            ),
            line("end to end".into(), report.records, gold.rows_out, total),
        ])
    }

    /// Stage `index`'s label: its name, module file and commits.
    fn stage_label(&self, index: usize, t: &StageTotals) -> String {
        let stage = &self.config.stages[index];
        let module = stage
            .module
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{}: {module} ({})", stage.name, commits(t.commits))
    }
}

/// A table row: `workload`, `stage`, rows in and out, seconds, and the rates.
fn line(workload: String, stage: String, rows_in: u64, rows_out: u64, seconds: f64) -> Vec<String> {
    vec![
        workload,
        stage,
        thousands(rows_in as f64),
        thousands(rows_out as f64),
        decimal(seconds),
        thousands(rows_in as f64 / seconds),
        decimal(seconds * 1e6 / rows_in.max(1) as f64),
    ]
}

/// `examples/<name>.toml` pointed at `bootstrap`, a lake in `dir` and the
/// built transforms.
fn example_config(name: &str, bootstrap: &str, dir: &Path) -> Result<PipelineConfig> {
    let path = workspace_root()
        .join("examples")
        .join(format!("{name}.toml"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let flatten = guest_module("osquery_flatten")?;
    let modules = flatten
        .parent()
        .context("invariant: a module path has a parent")?;
    let text = text
        .replace("\"embedded\"", &quote(bootstrap))
        .replace("\"../lake\"", &quote(&dir.join("lake").to_string_lossy()))
        .replace(
            "\"../target/guests/wasm32-wasip2/guest/",
            &format!("\"{}/", modules.display()),
        );
    Ok(PipelineConfig::parse(
        &text,
        &dir.join(format!("{name}.toml")),
    )?)
}
