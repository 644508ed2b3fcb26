//! Freshness: how long after a record is produced its row is readable in
//! bronze, silver and gold, with the release `ingot run` running
//! continuously (its default settings) under a steady producer.
//!
//! 1. Tansu on a free loopback port, topic `fresh` (4 partitions), and
//!    `ingot run` (continuous) on the log pipeline (silver
//!    `log_parse.wasm` append, gold `level_counts.wasm` accumulate), its
//!    modules compiled into its cache beforehand.
//! 2. A warm-up: 1,000 records, until gold counts them (the host has
//!    joined the group and holds both stage leases by then).
//! 3. `INGOT_BENCH_RATE` (default 50,000) records per second for
//!    `INGOT_BENCH_SECONDS` (default 20), each stamped with its send time
//!    (Kafka CreateTime); then until gold counts every record.
//! 4. The host's CPU time (`/proc/<pid>/stat`), then SIGTERM.
//! 5. Per measured record, from the lake's commit log and lineage
//!    (`freshness/latency.rs`): produce -> bronze, -> silver, -> gold.
//!
//! Prints a markdown table, writes the figures as JSON (`common/results.rs`)
//! and plots the three distributions (`docs/benchmarks/freshness.svg`).
//! Asserts correctness only (gold counts every record produced), never
//! timings.
//!
//! Run: `./dev bench freshness`, or `cargo bench --workspace --bench
//! freshness` after `cargo build --release --workspace --benches --bins`.

#[path = "../../../tests/e2e/harness/broker.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's broker module"
)]
mod broker;
mod common;
#[path = "common/ingot_process.rs"]
#[expect(dead_code, reason = "a continuous run is stopped, never waited for")]
mod ingot_process;
#[path = "common/lake.rs"]
#[expect(dead_code, reason = "freshness counts no rows")]
mod lake;
#[path = "freshness/latency.rs"]
mod latency;
#[path = "common/log_pipeline.rs"]
mod log_pipeline;
#[path = "common/plot.rs"]
#[expect(dead_code, reason = "freshness draws lines on linear axes only")]
mod plot;
#[path = "freshness/producer.rs"]
mod producer;
#[path = "common/results.rs"]
mod results;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use ingot_kafka::producer::produce;
use ingot_pipeline::config::PipelineConfig;
use plotters::chart::SeriesLabelPosition;
use serde_json::{Value, json};

use broker::Broker;
use common::{Table, decimal, env_count, log_records, thousands};
use ingot_process::{IngotRun, RunSpec, cpu_seconds, wait_for, warm_module_cache};
use latency::{Latencies, cdf, percentile};
use log_pipeline::{LogPipeline, local_lake};
use plot::{Line, Lines, lines_linear};
use producer::Produced;
use results::{Results, load_average, num, plots_dir};

/// The topic.
const TOPIC: &str = "fresh";
/// Its partitions.
const PARTITIONS: i32 = 4;
/// Records of the warm-up, not measured.
const WARMUP: usize = 1_000;
/// How often the bench looks at gold while waiting for it.
const POLL: Duration = Duration::from_millis(250);

/// What the measured window gave.
struct Window {
    produced: Produced,
    /// Seconds from the first send until gold counted every record.
    seconds: f64,
    /// Seconds from the last send until then.
    catch_up: f64,
    /// The host's CPU seconds (user + system) over the window.
    cpu_window: f64,
    /// The host's CPU seconds from its start to the end of the window.
    cpu_total: f64,
}

fn main() -> Result<()> {
    let results = Results::start("freshness");
    let rate = env_count("INGOT_BENCH_RATE", 50_000)?;
    let seconds = env_count("INGOT_BENCH_SECONDS", 20)?;
    let bin = ingot_process::ingot_binary()?;
    println!(
        "# ingot freshness: {} records/s of ~{} bytes for {seconds} s, `ingot run` (continuous)\n",
        thousands(rate as f64),
        common::RECORD_BYTES
    );
    println!("machine: {}\n", results.machine());
    let broker = Broker::start();
    broker.create_topic(TOPIC, PARTITIONS);
    let bootstrap = broker.bootstrap();
    let dir = tempfile::Builder::new()
        .prefix("ingot-bench-freshness-")
        .tempdir()?;
    let config = write_pipeline(&bootstrap, dir.path())?;
    let cache = dir.path().join("module-cache");
    warm_module_cache(&cache)?;
    let mut host = IngotRun::start(&RunSpec {
        bin: &bin,
        pipeline: &dir.path().join("pipeline.toml"),
        cache: &cache,
        once: false,
        log: &dir.path().join("ingot.log"),
    })?;
    eprintln!("bench: ingot run (pid {}), warming up", host.pid());
    let warmup = produce(&bootstrap, TOPIC, log_records(WARMUP), None)?;
    wait_for_gold(&mut host, &config, warmup as i64, Duration::from_secs(180))?;
    let records: Vec<_> = log_records(rate * seconds).collect();
    eprintln!("bench: producing {} records at {rate}/s", records.len());
    let load = Load {
        bootstrap: &bootstrap,
        records: &records,
        rate,
        before: warmup,
    };
    let window = measure_window(&mut host, &config, &load)?;
    host.stop(Duration::from_secs(60))?;
    let latencies = read_back(&config, &window, warmup)?;
    print_figures(&window, &latencies);
    plot_latencies(&latencies, rate, seconds)?;
    results.write(
        json!({ "rate": rate, "seconds": seconds, "partitions": PARTITIONS, "warmup_records": WARMUP }),
        figures_json(&window, &latencies),
    )?;
    Ok(())
}

/// Writes the pipeline file (the log pipeline, default settings) into
/// `dir`; returns it parsed.
fn write_pipeline(bootstrap: &str, dir: &Path) -> Result<PipelineConfig> {
    let text = LogPipeline {
        name: "freshness",
        brokers: bootstrap,
        topic: TOPIC,
        lake: &local_lake(&dir.join("lake")),
        ingest: "",
        stage_keys: "",
    }
    .toml()?;
    let file = dir.join("pipeline.toml");
    std::fs::write(&file, &text)?;
    Ok(PipelineConfig::parse(&text, &file)?)
}

/// Waits until gold counts `records`, checking the host still runs.
fn wait_for_gold(
    host: &mut IngotRun,
    config: &PipelineConfig,
    records: i64,
    timeout: Duration,
) -> Result<()> {
    let gold = config.table_uri("gold");
    wait_for(
        &format!("gold to count {records} records"),
        timeout,
        POLL,
        || {
            host.check_running()?;
            lake::block_on(async {
                match ingot_delta::Table::open(&gold).await? {
                    Some(table) => Ok(lake::counted(&table).await? >= records),
                    None => Ok(false),
                }
            })
        },
    )
}

/// After the run: checks that gold counts exactly the records produced
/// (warm-up included), and measures the latency of every record of the
/// window, each of which must be in bronze.
fn read_back(config: &PipelineConfig, window: &Window, warmup: u64) -> Result<Latencies> {
    let produced = warmup + window.produced.sent;
    let counted = lake::block_on(async {
        lake::counted(&lake::open(&config.table_uri("gold")).await?).await
    })?;
    ensure!(
        u64::try_from(counted).ok() == Some(produced),
        "gold counts {counted} of the {produced} records produced"
    );
    let latencies = lake::block_on(latency::measure(config, window.produced.first_ms))?;
    ensure!(
        latencies.gold.len() as u64 == window.produced.sent,
        "bronze holds {} of the window's {} records",
        latencies.gold.len(),
        window.produced.sent
    );
    Ok(latencies)
}

/// What the measured window produces.
struct Load<'a> {
    /// Bootstrap servers.
    bootstrap: &'a str,
    /// The records, in order.
    records: &'a [ingot_sample::Record],
    /// Records per second.
    rate: usize,
    /// Records gold counted before the window (the warm-up).
    before: u64,
}

/// Produces `load`, waits until gold counts every record, and reads the
/// host's CPU time before it is stopped.
fn measure_window(host: &mut IngotRun, config: &PipelineConfig, load: &Load<'_>) -> Result<Window> {
    let cpu_before = cpu_seconds(host.pid())?;
    let started = Instant::now();
    let produced = producer::steady(load.bootstrap, TOPIC, load.records, load.rate)?;
    let sent_at = Instant::now();
    let total = i64::try_from(load.before + produced.sent)?;
    let timeout = Duration::from_secs(120 + produced.sent / 10_000);
    wait_for_gold(host, config, total, timeout)?;
    let cpu_total = cpu_seconds(host.pid())?;
    Ok(Window {
        produced,
        seconds: started.elapsed().as_secs_f64(),
        catch_up: sent_at.elapsed().as_secs_f64(),
        cpu_window: cpu_total - cpu_before,
        cpu_total,
    })
}

/// The three distributions, in the order of the tables.
fn distributions(latencies: &Latencies) -> [(&'static str, &[f64]); 3] {
    [
        ("produce -> bronze", latencies.bronze.as_slice()),
        ("produce -> silver", latencies.silver.as_slice()),
        ("produce -> gold", latencies.gold.as_slice()),
    ]
}

/// Prints the latency table and the run's rate, CPU and load.
fn print_figures(window: &Window, latencies: &Latencies) {
    let mut table = Table::new(&["latency (s)", "p50", "p90", "p99", "max", "commits"]);
    for ((name, sorted), commits) in distributions(latencies).into_iter().zip(latencies.commits) {
        let p = |q| decimal(percentile(sorted, q));
        table.row(vec![
            name.into(),
            p(0.5),
            p(0.9),
            p(0.99),
            p(1.0),
            commits.to_string(),
        ]);
    }
    println!("{}\n", table.render());
    let p = &window.produced;
    println!(
        "produced {} records in {} s: {} records/s achieved; gold caught up {} s after the last send",
        thousands(p.sent as f64),
        decimal(p.send_seconds),
        thousands(p.rate()),
        decimal(window.catch_up)
    );
    println!(
        "ingot's CPU: {} s over the {} s window ({} cores on average), {} s in all",
        decimal(window.cpu_window),
        decimal(window.seconds),
        decimal(window.cpu_window / window.seconds),
        decimal(window.cpu_total)
    );
    if let Some([one, five, fifteen]) = load_average() {
        println!("load average at the end: {one} {five} {fifteen}");
    }
}

/// The figures as JSON: percentiles, a sampled distribution, rate, CPU.
fn figures_json(window: &Window, latencies: &Latencies) -> Value {
    let mut dists = serde_json::Map::new();
    for ((name, sorted), commits) in distributions(latencies).into_iter().zip(latencies.commits) {
        let points: Vec<Value> = cdf(sorted, 200)
            .into_iter()
            .map(|(s, pct)| json!([num(s, 4), num(pct, 3)]))
            .collect();
        let key = name.trim_start_matches("produce -> ");
        dists.insert(
            key.into(),
            json!({
                "records": sorted.len(),
                "commits": commits,
                "p50_s": num(percentile(sorted, 0.5), 4),
                "p90_s": num(percentile(sorted, 0.9), 4),
                "p99_s": num(percentile(sorted, 0.99), 4),
                "max_s": num(percentile(sorted, 1.0), 4),
                "mean_s": num(sorted.iter().sum::<f64>() / sorted.len().max(1) as f64, 4),
                "cdf_s_percent": points,
            }),
        );
    }
    let p = &window.produced;
    json!({
        "produced": {
            "records": p.sent,
            "send_seconds": num(p.send_seconds, 3),
            "records_per_s": num(p.rate(), 1),
        },
        "window_seconds": num(window.seconds, 3),
        "catch_up_seconds": num(window.catch_up, 3),
        "cpu": {
            "window_seconds": num(window.cpu_window, 2),
            "total_seconds": num(window.cpu_total, 2),
            "cores_busy_in_window": num(window.cpu_window / window.seconds, 3),
        },
        "latency": dists,
    })
}

/// Draws `freshness.svg`: the three latency distributions.
fn plot_latencies(latencies: &Latencies, rate: usize, seconds: usize) -> Result<()> {
    let series = distributions(latencies)
        .into_iter()
        .map(|(name, sorted)| Line {
            label: name.into(),
            points: cdf(sorted, 400),
        })
        .collect();
    let title = format!(
        "Freshness: produce to readable, {} records/s for {seconds} s (ingot run, defaults)",
        thousands(rate as f64)
    );
    let path = plots_dir()?.join("freshness.svg");
    lines_linear(
        &path,
        &Lines {
            title: &title,
            x_desc: "seconds from produce (Kafka CreateTime) to the commit that makes the row readable",
            y_desc: "records at or below (%)",
            series,
            markers: false,
            legend: SeriesLabelPosition::LowerRight,
        },
    )?;
    println!("plot: {}", path.display());
    Ok(())
}
