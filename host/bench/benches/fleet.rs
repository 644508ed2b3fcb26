//! Lakes on an object store, and fleets of hosts on one lake.
//!
//! 1. **Commit latency**: `INGOT_BENCH_COMMITS` (default 50) commits of 100
//!    rows each, one after another, to a table in a local folder and on
//!    moto's S3 server (a process on loopback, as the e2e tests start it).
//! 2. **The medallion on each lake**: `INGOT_BENCH_RECORDS` (default
//!    300,000) log lines from Tansu through ingest, silver and gold, in
//!    process, on the folder and on S3.
//! 3. **Hosts**: 1, 2 and 3 `ingot run` processes of one pipeline on one
//!    S3 lake, fed by the mock cluster (librdkafka's, which rebalances a
//!    group) holding a backlog of `INGOT_BENCH_FLEET_RECORDS` (default
//!    96,000) records in 16 partitions: seconds until gold holds them all.
//! 4. **Failover**: two hosts under a producer of 2,000 records/s, with the
//!    product's defaults (a 10 s stage lease, a 10 s group session); the
//!    owner of silver is SIGKILLed; seconds until silver commits on the
//!    other host, and until each partition the dead host held gets a bronze
//!    commit again. `INGOT_BENCH_FAILOVERS` (default 3) runs.
//!
//! Prints markdown tables. Asserts row counts only, never timings.
//!
//! Run: `./dev bench fleet` (it builds the `ingot` binary with the
//! benches), or `cargo bench --workspace --bench fleet` after `cargo build
//! --release --workspace --benches --bins`, or with `INGOT_BIN` naming one.

#[path = "../../../tests/e2e/harness/broker.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's broker module"
)]
mod broker;
#[path = "common/bronze.rs"]
mod bronze;
mod common;
#[path = "common/ingot_process.rs"]
#[expect(
    dead_code,
    reason = "the fleet bench spawns its hosts itself: it needs only the binary's path"
)]
mod ingot_process;
#[path = "common/log_pipeline.rs"]
mod log_pipeline;
#[path = "common/pipeline.rs"]
mod pipeline;
#[path = "../../../tests/e2e/harness/s3.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's S3 module"
)]
mod s3;
#[path = "../../../tests/e2e/harness/tools.rs"]
mod tools;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use ingot_delta::Table as DeltaTable;
use ingot_delta::arrow::array::{AsArray, RecordBatch};
use ingot_delta::arrow::datatypes::Int64Type;
use ingot_kafka::embedded::EmbeddedBroker;
use ingot_kafka::producer::produce;
use ingot_pipeline::config::PipelineConfig;
use ingot_process::ingot_binary;
use ingot_sandbox::Runtime;

use broker::{Broker, tail};
use common::{Table, decimal, env_count, log_records, machine, thousands, workspace_root};
use log_pipeline::{LogPipeline, local_lake, quote};
use pipeline::{commits, run_ingest, run_stage};
use s3::S3Server;

/// The topic every run reads.
const TOPIC: &str = "bench";

fn main() -> Result<()> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let s3 = S3Server::start();
    let dir = tempfile::Builder::new()
        .prefix("ingot-bench-fleet-")
        .tempdir()?;
    println!("# Object-store lakes and fleets\n");
    print_commit_latency(&tokio, &s3, dir.path())?;
    print_medallion(&tokio, &s3, dir.path())?;
    let bin = ingot_binary()?;
    print_hosts(&bin, &s3, dir.path())?;
    print_failover(&bin, &s3, dir.path())?;
    println!("machine: {}", machine());
    Ok(())
}

/// Part 1: commit latency on a folder and on S3.
fn print_commit_latency(tokio: &tokio::runtime::Runtime, s3: &S3Server, dir: &Path) -> Result<()> {
    let n = env_count("INGOT_BENCH_COMMITS", 50)?;
    println!("## Commit latency ({n} commits of 100 rows, one after another)\n");
    let folder = dir.join("latency").to_string_lossy().into_owned();
    let root = s3.fresh_root();
    ingot_delta::register_lake(&root, &s3.reader_options())?;
    let on_folder = commit_latency(tokio, &folder, n)?;
    let on_s3 = commit_latency(tokio, &format!("{root}/latency"), n)?;
    let mut table = Table::new(&["lake", "p50 ms", "p99 ms", "mean ms", "vs folder"]);
    for (name, l) in [
        ("local folder", &on_folder),
        ("S3 (moto, loopback)", &on_s3),
    ] {
        table.row(vec![
            name.into(),
            decimal(l.p50 * 1e3),
            decimal(l.p99 * 1e3),
            decimal(l.mean * 1e3),
            format!("{}x", decimal(l.mean / on_folder.mean)),
        ]);
    }
    println!("{}", table.render());
    Ok(())
}

/// Part 2: the medallion in process on a folder and on S3.
fn print_medallion(tokio: &tokio::runtime::Runtime, s3: &S3Server, dir: &Path) -> Result<()> {
    let records = env_count("INGOT_BENCH_RECORDS", 300_000)?;
    println!(
        "## The medallion on each lake ({} records of ~{} bytes, Tansu, in process)\n",
        thousands(records as f64),
        common::RECORD_BYTES
    );
    let broker = Broker::start();
    broker.create_topic(TOPIC, 4);
    let sent = produce(&broker.bootstrap(), TOPIC, log_records(records), None)?;
    ensure!(sent as usize == records, "produced {sent} of {records}");
    let folder = medallion(tokio, &broker.bootstrap(), &dir.join("m-local"), None)?;
    let store = medallion(tokio, &broker.bootstrap(), &dir.join("m-s3"), Some(s3))?;
    let mut table = Table::new(&[
        "phase",
        "folder s",
        "S3 s",
        "folder rec/s",
        "S3 rec/s",
        "S3 rate / folder rate",
    ]);
    for (i, phase) in ["ingest", "silver", "gold"].iter().enumerate() {
        let (f, s) = (folder[i], store[i]);
        table.row(vec![
            format!("{phase} ({} / {})", commits(f.1), commits(s.1)),
            decimal(f.0),
            decimal(s.0),
            thousands(records as f64 / f.0),
            thousands(records as f64 / s.0),
            format!("{}x", decimal(f.0 / s.0)),
        ]);
    }
    println!("{}", table.render());
    Ok(())
}

/// Part 3: 1, 2 and 3 hosts draining one backlog.
fn print_hosts(bin: &Path, s3: &S3Server, dir: &Path) -> Result<()> {
    let records = env_count("INGOT_BENCH_FLEET_RECORDS", 96_000)?;
    println!(
        "## Hosts on one S3 lake ({} records in 16 partitions, mock cluster, `ingot run` processes)\n",
        thousands(records as f64)
    );
    let mut table = Table::new(&["hosts", "seconds to gold", "records/s", "vs 1 host"]);
    let mut one = None;
    for hosts in 1..=3 {
        let seconds = fleet_run(bin, s3, dir, hosts, records)?;
        let base = *one.get_or_insert(seconds);
        table.row(vec![
            hosts.to_string(),
            decimal(seconds),
            thousands(records as f64 / seconds),
            format!("{}x", decimal(base / seconds)),
        ]);
    }
    println!("{}", table.render());
    Ok(())
}

/// Part 4: failover times.
fn print_failover(bin: &Path, s3: &S3Server, dir: &Path) -> Result<()> {
    let runs = env_count("INGOT_BENCH_FAILOVERS", 3)?;
    println!("## Failover (2 hosts, defaults: 10 s stage lease, 10 s group session)\n");
    let mut table = Table::new(&[
        "run",
        "stage commits again after (s)",
        "partitions commit again after (s)",
    ]);
    for run in 1..=runs {
        let (stage, partitions) = failover(bin, s3, dir, run)?;
        table.row(vec![run.to_string(), decimal(stage), decimal(partitions)]);
    }
    println!("{}", table.render());
    Ok(())
}

/// Percentiles of one lake's commit times, in seconds.
struct Latency {
    p50: f64,
    p99: f64,
    mean: f64,
}

/// `n` appends of 100 rows (with a txn, as every ingot commit has) to a
/// new table at `uri`, each timed.
fn commit_latency(tokio: &tokio::runtime::Runtime, uri: &str, n: usize) -> Result<Latency> {
    let batch = bronze::bronze_batch(100, 0)?;
    let mut times = tokio.block_on(async {
        let mut table = DeltaTable::open_or_create(uri, batch.schema()).await?;
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let commit = ingot_delta::Commit {
                txns: vec![ingot_delta::Txn {
                    app_id: "bench".into(),
                    version: i as i64,
                }],
                lineage: ingot_delta::Lineage {
                    ingot_version: "bench".into(),
                    pipeline: "bench".into(),
                    stage: "bench".into(),
                    module: None,
                    input_table: None,
                    input_versions: None,
                    attempt: None,
                },
            };
            let started = Instant::now();
            table
                .write(
                    vec![batch.clone()],
                    &ingot_delta::WriteMode::Append,
                    &commit,
                )
                .await?;
            times.push(started.elapsed().as_secs_f64());
        }
        Ok::<_, anyhow::Error>(times)
    })?;
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok(Latency {
        p50: at(0.5),
        p99: at(0.99),
        mean: times.iter().sum::<f64>() / times.len() as f64,
    })
}

/// Ingest, silver and gold of every record on Tansu into a lake in `dir`
/// (or on `s3`): (seconds, commits) of each.
fn medallion(
    tokio: &tokio::runtime::Runtime,
    bootstrap: &str,
    dir: &Path,
    s3: Option<&S3Server>,
) -> Result<[(f64, u64); 3]> {
    std::fs::create_dir_all(dir)?;
    let lake = match s3 {
        Some(s3) => LakeToml::on_s3(s3),
        None => LakeToml::local(&dir.join("lake")),
    };
    let text = log_pipeline(bootstrap, &lake, "max-records = 200000")?;
    let config = Arc::new(PipelineConfig::parse(&text, &dir.join("bench.toml"))?);
    let (report, ingest) = run_ingest(tokio, &config, bootstrap)?;
    let runtime = Arc::new(Runtime::new(Some(dir.join("module-cache")))?);
    let silver = run_stage(tokio, &config, 0, &runtime)?;
    let gold = run_stage(tokio, &config, 1, &runtime)?;
    ensure!(
        report.records == silver.rows_in && silver.rows_in == gold.rows_in,
        "ingest {} / silver {} / gold {} rows",
        report.records,
        silver.rows_in,
        gold.rows_in
    );
    Ok([
        (ingest, report.commits),
        (silver.seconds, silver.commits),
        (gold.seconds, gold.commits),
    ])
}

/// The `[lake]` of a pipeline file, and what a process on it needs.
struct LakeToml {
    toml: String,
    root: String,
    env: Vec<(String, String)>,
}

impl LakeToml {
    fn local(root: &Path) -> Self {
        let root = root.to_string_lossy().into_owned();
        LakeToml {
            toml: local_lake(Path::new(&root)),
            root,
            env: Vec::new(),
        }
    }

    /// A fresh lake on `s3`. The in-process runs read `[lake.options]`
    /// only (this process has no credentials in its environment), so the
    /// test credentials go there too.
    fn on_s3(s3: &S3Server) -> Self {
        let root = s3.fresh_root();
        let options = s3.reader_options();
        ingot_delta::register_lake(&root, &options).expect("invariant: an s3:// root registers");
        let options: String = options
            .iter()
            .map(|(k, v)| format!("{k} = {}\n", quote(v)))
            .collect();
        LakeToml {
            toml: format!("[lake]\nroot = {}\n[lake.options]\n{options}", quote(&root)),
            root,
            env: s3.child_env(),
        }
    }

    fn table(&self, name: &str) -> String {
        format!("{}/default/bench/{name}", self.root)
    }
}

/// The bench's log pipeline on `lake`; `ingest` goes under `[ingest]`.
fn log_pipeline(bootstrap: &str, lake: &LakeToml, ingest: &str) -> Result<String> {
    LogPipeline {
        name: "bench",
        brokers: bootstrap,
        topic: TOPIC,
        lake: &lake.toml,
        ingest,
        stage_keys: "",
    }
    .toml()
}

/// An `ingot run` process, killed when dropped.
struct Host {
    child: Child,
    log: PathBuf,
    name: String,
}

impl Host {
    fn start(bin: &Path, pipeline: &Path, lake: &LakeToml, name: &str) -> Result<Self> {
        let log = pipeline.with_file_name(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(bin)
            .arg("run")
            .arg(pipeline)
            .env("INGOT_HOST_ID", name)
            .env("RUST_LOG", "ingot=info,warn")
            .envs(lake.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        Ok(Host {
            child,
            log,
            name: name.to_owned(),
        })
    }

    fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let status = self.child.wait()?;
        ensure!(
            status.success(),
            "host {} {status}:\n{}",
            self.name,
            tail(&self.log, 30)
        );
        Ok(())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh S3 lake and the mock cluster with `partitions` partitions of
/// [`TOPIC`]; the pipeline file's path.
fn fleet_setup(
    s3: &S3Server,
    dir: &Path,
    name: &str,
    partitions: i32,
) -> Result<(LakeToml, EmbeddedBroker, PathBuf)> {
    let lake = LakeToml::on_s3(s3);
    let broker = EmbeddedBroker::start(&[TOPIC.to_owned()], partitions)?;
    let run = dir.join(name);
    std::fs::create_dir_all(&run)?;
    let text = log_pipeline(broker.bootstrap(), &lake, "max-latency-ms = 500")?;
    let file = run.join("pipeline.toml");
    std::fs::write(&file, text)?;
    Ok((lake, broker, file))
}

/// `hosts` hosts draining a backlog of `records`: seconds from their start
/// until gold counts every record.
fn fleet_run(bin: &Path, s3: &S3Server, dir: &Path, hosts: usize, records: usize) -> Result<f64> {
    let (lake, broker, file) = fleet_setup(s3, dir, &format!("hosts-{hosts}"), 16)?;
    let sent = produce(broker.bootstrap(), TOPIC, log_records(records), None)?;
    ensure!(sent as usize == records, "produced {sent} of {records}");
    let started = Instant::now();
    let running: Vec<Host> = (0..hosts)
        .map(|i| Host::start(bin, &file, &lake, &format!("h{i}")))
        .collect::<Result<_>>()?;
    wait_for(
        &format!("{hosts} hosts to fill gold"),
        Duration::from_secs(600),
        || Ok(gold_total(&lake)? == records as i64),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    for host in running {
        host.stop()?;
    }
    Ok(seconds)
}

/// One failover: (seconds until silver commits on the survivor, seconds
/// until every partition of the dead host has a bronze commit again).
fn failover(bin: &Path, s3: &S3Server, dir: &Path, run: usize) -> Result<(f64, f64)> {
    let (lake, broker, file) = fleet_setup(s3, dir, &format!("failover-{run}"), 4)?;
    let bootstrap = broker.bootstrap().to_owned();
    let producing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = Arc::clone(&producing);
    let producer = thread::spawn(move || {
        let mut records = log_records(usize::MAX);
        while flag.load(std::sync::atomic::Ordering::SeqCst) {
            let slice: Vec<_> = records.by_ref().take(200).collect();
            if produce(&bootstrap, TOPIC, slice, None).is_err() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
    });
    let mut hosts: BTreeMap<String, Host> = ["a", "b"]
        .iter()
        .map(|n| Ok((n.to_string(), Host::start(bin, &file, &lake, n)?)))
        .collect::<Result<_>>()?;
    wait_for("silver to commit", Duration::from_secs(120), || {
        Ok(version(&lake.table("silver"))?.is_some_and(|v| v > 2))
    })?;
    // Let both hosts hold partitions.
    thread::sleep(Duration::from_secs(12));
    let (epoch, dead) = owner(&lake, "silver")?.context("silver has an owner")?;
    let held = partitions_of(&lake, &dead)?;
    let before = bronze_offsets(&lake, &held)?;
    let silver = version(&lake.table("silver"))?.unwrap_or(-1);
    let killed = Instant::now();
    drop(hosts.remove(&dead));
    wait_for("silver to move", Duration::from_secs(120), || {
        Ok(
            owner(&lake, "silver")?.is_some_and(|(e, h)| e > epoch && h != dead)
                && version(&lake.table("silver"))?.is_some_and(|v| v > silver),
        )
    })?;
    let stage = killed.elapsed().as_secs_f64();
    wait_for(
        "the dead host's partitions",
        Duration::from_secs(120),
        || {
            let now = bronze_offsets(&lake, &held)?;
            Ok(now.iter().zip(&before).all(|(n, b)| n > b))
        },
    )?;
    let partitions = killed.elapsed().as_secs_f64();
    producing.store(false, std::sync::atomic::Ordering::SeqCst);
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("producer panicked"))?;
    for (_, host) in hosts {
        host.stop()?;
    }
    Ok((stage, partitions))
}

/// Polls `done` every 100 ms until it holds, for up to `timeout`.
fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<()> {
    let started = Instant::now();
    while !done()? {
        if started.elapsed() > timeout {
            bail!("waited {timeout:?} for {what}");
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// The table's version, `None` before it exists.
fn version(uri: &str) -> Result<Option<i64>> {
    block_on(async { Ok(DeltaTable::open(uri).await?.map(|t| t.version())) })
}

/// `sql` over the table at `uri` (named `t`), `None` before it exists.
fn query(uri: &str, sql: &str) -> Result<Option<Vec<RecordBatch>>> {
    block_on(async {
        match DeltaTable::open(uri).await? {
            Some(table) => Ok(Some(table.query(sql).await?)),
            None => Ok(None),
        }
    })
}

/// The sum of gold's counts.
fn gold_total(lake: &LakeToml) -> Result<i64> {
    let sql = "SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM t";
    Ok(query(&lake.table("gold"), sql)?
        .map_or(0, |b| b[0].column(0).as_primitive::<Int64Type>().value(0)))
}

/// Bronze's highest offset of each partition of `partitions`.
fn bronze_offsets(lake: &LakeToml, partitions: &BTreeSet<i32>) -> Result<Vec<i64>> {
    partitions
        .iter()
        .map(|p| {
            let sql = format!(
                "SELECT CAST(coalesce(max(\"offset\"), -1) AS BIGINT) FROM t WHERE \"partition\" = {p}"
            );
            Ok(query(&lake.table("bronze"), &sql)?
                .map_or(-1, |b| b[0].column(0).as_primitive::<Int64Type>().value(0)))
        })
        .collect()
}

/// The latest epoch of `stage`'s lease and its holder.
fn owner(lake: &LakeToml, stage: &str) -> Result<Option<(u64, String)>> {
    let dir = format!("{}/default/_registry/leases/bench/{stage}", lake.root);
    block_on(async {
        let names = ingot_delta::objects::list(&dir).await?;
        let Some(name) = names.iter().max() else {
            return Ok(None);
        };
        let epoch: u64 = name.trim_end_matches(".json").parse()?;
        let Some(bytes) = ingot_delta::objects::read(&format!("{dir}/{name}")).await? else {
            return Ok(None);
        };
        let doc: serde_json::Value = serde_json::from_slice(&bytes)?;
        Ok(doc["host"].as_str().map(|h| (epoch, h.to_owned())))
    })
}

/// The partitions host `host`'s status says its ingest holds.
fn partitions_of(lake: &LakeToml, host: &str) -> Result<BTreeSet<i32>> {
    let uri = format!("{}/default/_registry/status/bench/{host}.json", lake.root);
    let bytes = block_on(async { Ok(ingot_delta::objects::read(&uri).await?) })?
        .with_context(|| format!("no status at {uri}"))?;
    let status: ingot_pipeline::status::PipelineStatus = serde_json::from_slice(&bytes)?;
    status
        .partitions
        .iter()
        .map(|p| {
            p.rsplit('/')
                .next()
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("partition {p}"))
        })
        .collect()
}
