//! What a module swap costs a running stage.
//!
//! A silver stage (`log_parse.wasm`, append) works through a backlog of
//! bronze versions, one input version per commit, so commits follow each
//! other back to back and the time between two commits is one step. Then:
//!
//! 1. `ingot deploy` of a rebuilt `log_parse` (the same code under another
//!    digest) through [`ingot_registry::deploy`], on its own runtime sharing
//!    the host's module cache directory, as the CLI process does: validation
//!    compiles the module into that cache.
//! 2. The next step switches: registry poll, load from the disk cache,
//!    instantiate, init, then the step's own work.
//! 3. A rollback to the original module, still in the host's memory cache.
//! 4. A deploy validated with a *different* cache directory, so the host
//!    must compile the module itself when it switches (the worst case: a
//!    fleet host that did not run the validation and has a cold cache).
//!
//! Reported: the median step without a swap, each swap step, and the
//! difference (the pause a swap adds between two commits), plus compile,
//! disk-cache and memory-cache loads of the component. The registry is
//! polled at most once a second, so a deploy reaches a running stage within
//! that second plus the swap step; the bench waits out the poll interval
//! before each swap step so the step measured is the one that switches.
//! Asserts which module each commit names, never timings.
//!
//! Run: `./dev bench swap`, or `cargo bench --workspace --bench swap`.

#[path = "../../../tests/e2e/harness/broker.rs"]
#[expect(
    dead_code,
    reason = "the bench needs only part of the e2e harness's broker module"
)]
mod broker;
mod common;
#[path = "common/pipeline.rs"]
#[expect(dead_code, reason = "the swap bench drives its stage itself")]
mod pipeline;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use ingot_delta::Table as DeltaTable;
use ingot_kafka::producer::produce;
use ingot_pipeline::config::PipelineConfig;
use ingot_pipeline::stage::{StageRunner, StepOutcome};
use ingot_pipeline::swap::POLL_INTERVAL;
use ingot_registry as registry;
use ingot_sandbox::{LoadOrigin, Runtime};
use tempfile::TempDir;

use broker::Broker;
use common::{Table, decimal, env_count, guest_module, log_records, thousands};
use pipeline::run_ingest;

const TOPIC: &str = "bench";
/// Records per bronze commit: each stage step reads one such version.
const RECORDS_PER_VERSION: usize = 2_000;
/// Steps timed before the first swap.
const WARM_STEPS: usize = 20;

fn main() -> Result<()> {
    let versions = env_count("INGOT_BENCH_SWAP_VERSIONS", 60)?;
    println!(
        "# ingot swap benchmark: {} bronze versions of {} records\n",
        versions,
        thousands(RECORDS_PER_VERSION as f64)
    );
    println!("machine: {}\n", common::machine());
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let setup = Setup::new(&tokio, versions)?;
    let cache = setup.dir.path().join("module-cache");
    let host = Arc::new(Runtime::new(Some(cache.clone()))?);
    let mut stage = StageRunner::new(&setup.config, 0, Arc::clone(&host))?;
    let mut swaps = Swaps::warm_up(&tokio, &setup.config, &mut stage)?;
    let deploy_warm = swaps.swap(
        &mut stage,
        Swap {
            label: "switch to v2 (disk cache)",
            module: &setup.v2,
            validate_cache: cache.clone(),
            rollback: false,
        },
    )?;
    for _ in 0..3 {
        step(&tokio, &mut stage)?;
    }
    let rollback_ms = swaps.swap(
        &mut stage,
        Swap {
            label: "rollback to v1 (memory cache)",
            module: &setup.v1,
            validate_cache: cache.clone(),
            rollback: true,
        },
    )?;
    for _ in 0..3 {
        step(&tokio, &mut stage)?;
    }
    let deploy_cold = swaps.swap(
        &mut stage,
        Swap {
            label: "switch to v3 (cold: host compiles)",
            module: &setup.v3,
            validate_cache: setup.dir.path().join("other-cache"),
            rollback: false,
        },
    )?;
    swaps.print(deploy_warm, deploy_cold, rollback_ms);
    print_loads(&setup.v1, setup.dir.path())?;
    Ok(())
}

/// What the swap steps run on: the broker that holds the backlog, the lake
/// its ingest filled, and three builds of `log_parse`.
struct Setup {
    /// The pipeline, its silver stage on `v1`.
    config: Arc<PipelineConfig>,
    /// The built `log_parse`.
    v1: PathBuf,
    /// `v1` rebuilt under another digest.
    v2: PathBuf,
    /// `v1` rebuilt under a third digest.
    v3: PathBuf,
    /// Holds the lake, the module caches and the rebuilt modules.
    dir: TempDir,
    /// The broker, kept running until the bench ends.
    _broker: Broker,
}

impl Setup {
    /// Starts the broker, fills the topic with `versions` bronze versions'
    /// worth of records and ingests them all.
    fn new(tokio: &tokio::runtime::Runtime, versions: usize) -> Result<Self> {
        let records = versions * RECORDS_PER_VERSION;
        let broker = Broker::start();
        broker.create_topic(TOPIC, 4);
        let bootstrap = broker.bootstrap();
        let sent = produce(&bootstrap, TOPIC, log_records(records), None)?;
        ensure!(sent as usize == records, "produced {sent} of {records}");
        let dir = tempfile::Builder::new()
            .prefix("ingot-bench-swap-")
            .tempdir()?;
        let v1 = guest_module("log_parse")?;
        let v2 = rebuilt(&v1, dir.path(), "v2")?;
        let v3 = rebuilt(&v1, dir.path(), "v3")?;
        let config = Arc::new(pipeline_config(&bootstrap, dir.path(), &v1)?);
        let (report, _) = run_ingest(tokio, &config, &bootstrap)?;
        ensure!(
            report.records as usize == records,
            "ingest wrote {}",
            report.records
        );
        Ok(Self {
            config,
            v1,
            v2,
            v3,
            dir,
            _broker: broker,
        })
    }
}

/// One swap to time.
struct Swap<'a> {
    /// Its row's label.
    label: &'a str,
    /// The module deployed (unused by a rollback).
    module: &'a Path,
    /// The module cache the deploy command validates with.
    validate_cache: PathBuf,
    /// A rollback to the previous module rather than a deploy of `module`.
    rollback: bool,
}

/// The swap steps and their table.
struct Swaps<'a> {
    tokio: &'a tokio::runtime::Runtime,
    config: &'a PipelineConfig,
    /// The silver table's URI, whose commits name their module.
    silver: String,
    /// The median step without a swap, in seconds.
    median: f64,
    /// One row per swap step.
    timings: Table,
}

impl<'a> Swaps<'a> {
    /// Times [`WARM_STEPS`] steps of `stage` without a swap, for the median.
    fn warm_up(
        tokio: &'a tokio::runtime::Runtime,
        config: &'a PipelineConfig,
        stage: &mut StageRunner,
    ) -> Result<Self> {
        let mut plain = Vec::new();
        for _ in 0..WARM_STEPS {
            plain.push(step(tokio, stage)?);
        }
        Ok(Self {
            tokio,
            config,
            silver: config.table_uri("silver"),
            median: median(plain),
            timings: Table::new(&["step", "module", "ms", "vs median step"]),
        })
    }

    /// Deploys (or rolls back) as the CLI would, waits out the registry poll
    /// interval, then times the step that switches and checks that its
    /// commit names the deployed module; returns the deploy command's ms.
    fn swap(&mut self, stage: &mut StageRunner, swap: Swap<'_>) -> Result<f64> {
        let (config, label) = (self.config, swap.label);
        let cli = Arc::new(Runtime::new(Some(swap.validate_cache))?);
        let started = Instant::now();
        let deployed = self.tokio.block_on(async {
            if swap.rollback {
                registry::rollback(config, "silver", None, &cli).await
            } else {
                registry::deploy(config, "silver", swap.module, &[], None, &cli).await
            }
        })?;
        let deploy_ms = started.elapsed().as_secs_f64() * 1e3;
        std::thread::sleep(POLL_INTERVAL + Duration::from_millis(100));
        let took = step(self.tokio, stage)?;
        let digest = deployed.deployment.digest;
        let lineage = self.tokio.block_on(async {
            let table = DeltaTable::open(&self.silver)
                .await?
                .expect("invariant: the stage committed to silver");
            table.lineage(table.version()).await
        })?;
        ensure!(
            lineage.and_then(|l| l.module).as_deref() == Some(digest.as_str()),
            "{label}: the swap step's commit names the deployed module"
        );
        self.timings.row(vec![
            label.to_owned(),
            digest[..12].to_owned(),
            decimal(took * 1e3),
            format!("+{}", decimal((took - self.median) * 1e3)),
        ]);
        Ok(deploy_ms)
    }

    /// Prints the swap steps, the median step, and what the commands took.
    fn print(mut self, deploy_warm: f64, deploy_cold: f64, rollback_ms: f64) {
        self.timings.row(vec![
            format!("median of {WARM_STEPS} steps without a swap"),
            "—".into(),
            decimal(self.median * 1e3),
            "—".into(),
        ]);
        println!("{}\n", self.timings.render());
        println!(
            "deploy command (validate: load + init + dry run, store, record): {} ms with a cold cache \
             (v2), {} ms (v3, its own cache); rollback command: {} ms",
            decimal(deploy_warm),
            decimal(deploy_cold),
            decimal(rollback_ms)
        );
        println!(
            "a deploy reaches a running stage within the registry poll interval ({} ms) plus the swap step\n",
            POLL_INTERVAL.as_millis()
        );
    }
}

/// One stage step, which must commit; its seconds.
fn step(tokio: &tokio::runtime::Runtime, stage: &mut StageRunner) -> Result<f64> {
    let started = Instant::now();
    let outcome = tokio.block_on(stage.step())?;
    ensure!(
        matches!(outcome, StepOutcome::Committed { .. }),
        "the backlog ran out: raise INGOT_BENCH_SWAP_VERSIONS"
    );
    Ok(started.elapsed().as_secs_f64())
}

/// The median of `xs`, which must not be empty.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Compile, disk-cache and memory-cache loads of `module`, median of 3 each.
fn print_loads(module: &Path, dir: &Path) -> Result<()> {
    let mut table = Table::new(&["load", "ms (median of 3)"]);
    let mut compile = Vec::new();
    let mut disk = Vec::new();
    let mut memory = Vec::new();
    for run in 0..3 {
        let cache = dir.join(format!("load-cache-{run}"));
        let fresh = Runtime::new(Some(cache.clone()))?;
        let started = Instant::now();
        let m = fresh.load(module)?;
        compile.push(started.elapsed().as_secs_f64());
        ensure!(m.origin() == LoadOrigin::Compiled, "a fresh cache compiles");
        let started = Instant::now();
        let m = fresh.load(module)?;
        memory.push(started.elapsed().as_secs_f64());
        ensure!(
            m.origin() == LoadOrigin::MemoryCache,
            "a second load is in memory"
        );
        let restarted = Runtime::new(Some(cache))?;
        let started = Instant::now();
        let m = restarted.load(module)?;
        disk.push(started.elapsed().as_secs_f64());
        ensure!(
            m.origin() == LoadOrigin::DiskCache,
            "a new runtime reads the disk cache"
        );
    }
    for (label, xs) in [
        ("compile (fresh cache)", compile),
        ("disk cache (a restarted host)", disk),
        ("memory cache (same runtime)", memory),
    ] {
        table.row(vec![label.into(), decimal(median(xs) * 1e3)]);
    }
    println!("{}", table.render());
    Ok(())
}

/// `module` with a custom section appended: the same code, another digest.
fn rebuilt(module: &Path, dir: &Path, tag: &str) -> Result<PathBuf> {
    let mut bytes = std::fs::read(module)?;
    let name = b"ingot-bench-build";
    let mut body = vec![u8::try_from(name.len())?];
    body.extend_from_slice(name);
    body.extend_from_slice(tag.as_bytes());
    bytes.push(0);
    bytes.push(u8::try_from(body.len())?);
    bytes.extend_from_slice(&body);
    let path = dir.join(format!("log_parse-{tag}.wasm"));
    std::fs::write(&path, bytes)?;
    Ok(path)
}

/// The log pipeline's silver stage on `bootstrap`, one input version per commit.
fn pipeline_config(bootstrap: &str, dir: &Path, module: &Path) -> Result<PipelineConfig> {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let text = format!(
        r#"name = "swap"
[kafka]
brokers = {brokers}
topics = [{topic}]
[ingest]
max-records = {RECORDS_PER_VERSION}
[lake]
root = {root}
[[stages]]
name = "silver"
module = {module}
max-versions-per-commit = 1
"#,
        brokers = quote(bootstrap),
        topic = quote(TOPIC),
        root = quote(&dir.join("lake").to_string_lossy()),
        module = quote(&module.to_string_lossy()),
    );
    Ok(PipelineConfig::parse(&text, &dir.join("swap.toml"))?)
}
