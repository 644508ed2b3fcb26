//! The medallion as users run it: the release `ingot` binary, `ingot run
//! --once` on a pipeline file, timed as a whole process, and per phase from
//! the commits it wrote.
//!
//! `--once` runs ingest to the end of every partition, then silver until
//! idle, then gold until idle, one after the other. So each phase ends at
//! its table's last commit, and starts where the one before ended:
//!
//! - ingest: from the process's start (module loading from the warm cache,
//!   joining the group included) to bronze's last commit;
//! - silver: from there to silver's last commit;
//! - gold: from there to gold's last commit;
//! - the process: from its start to its exit (what follows gold's last
//!   commit is gold's idle step, the status report and the exit).
//!
//! Commit timestamps are the commit infos', in milliseconds.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, ensure};
use ingot_pipeline::config::PipelineConfig;

use crate::ingot_process::{IngotRun, RunSpec, warm_module_cache};
use crate::lake::{self, CommitPoint};
use crate::log_pipeline::{LogPipeline, local_lake};

/// What to run.
pub struct BinaryRun<'a> {
    /// The `ingot` binary.
    pub bin: &'a Path,
    /// Bootstrap servers.
    pub bootstrap: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// Records on it, all of which must reach gold.
    pub records: usize,
    /// A fresh folder for the lake, the module cache and the log.
    pub dir: &'a Path,
    /// `[ingest] max-records`, as the in-process run has it.
    pub max_records: usize,
}

/// One phase of the run, from the commit log.
#[derive(Debug, Clone, Copy)]
pub struct Phase {
    /// Its seconds.
    pub seconds: f64,
    /// The output commits it made.
    pub commits: u64,
}

/// What the run took.
#[derive(Debug, Clone, Copy)]
pub struct BinaryFigures {
    /// Kafka -> bronze.
    pub ingest: Phase,
    /// bronze -> silver.
    pub silver: Phase,
    /// silver -> gold.
    pub gold: Phase,
    /// The whole process, start to exit.
    pub process_seconds: f64,
}

/// Runs `ingot run --once` as `run` says; checks that bronze and silver
/// hold every record and gold counts every one.
///
/// # Errors
///
/// When the module cache cannot be warmed, the process fails or takes more
/// than ten minutes (plus a second per 2,000 records), or a count is off.
pub fn run(run: &BinaryRun<'_>) -> Result<BinaryFigures> {
    let cache = run.dir.join("module-cache");
    warm_module_cache(&cache)?;
    let text = LogPipeline {
        name: "bench-binary",
        brokers: run.bootstrap,
        topic: run.topic,
        lake: &local_lake(&run.dir.join("lake")),
        ingest: &format!("max-records = {}", run.max_records),
        stage_keys: "",
    }
    .toml()?;
    let file = run.dir.join("pipeline.toml");
    std::fs::write(&file, &text)?;
    let config = PipelineConfig::parse(&text, &file)?;
    let mut process = IngotRun::start(&RunSpec {
        bin: run.bin,
        pipeline: &file,
        cache: &cache,
        once: true,
        log: &run.dir.join("ingot.log"),
    })?;
    let timeout = Duration::from_secs(600 + run.records as u64 / 2_000);
    let process_seconds = process.wait(timeout)?;
    let logs = read_logs(&config, run.records)?;
    let end = |commits: &[CommitPoint]| lake::last_timestamp(commits).map(|t| t as f64 / 1e6);
    let (bronze, silver, gold) = (end(&logs.bronze)?, end(&logs.silver)?, end(&logs.gold)?);
    let start = process.started_us as f64 / 1e6;
    Ok(BinaryFigures {
        ingest: phase(bronze - start, &logs.bronze),
        silver: phase(silver - bronze, &logs.silver),
        gold: phase(gold - silver, &logs.gold),
        process_seconds,
    })
}

/// A phase of `seconds` whose table has `commits`: its output commits are
/// those with an ingot lineage (not the table's creation).
fn phase(seconds: f64, commits: &[CommitPoint]) -> Phase {
    Phase {
        seconds,
        commits: commits.iter().filter(|c| c.lineage).count() as u64,
    }
}

/// The three tables' commits, read after the run.
struct Logs {
    bronze: Vec<CommitPoint>,
    silver: Vec<CommitPoint>,
    gold: Vec<CommitPoint>,
}

/// Reads the commits of bronze, silver and gold, checking that bronze and
/// silver hold `records` rows and gold counts `records`.
fn read_logs(config: &PipelineConfig, records: usize) -> Result<Logs> {
    let expected = records as i64;
    lake::block_on(async {
        let bronze = lake::open(&config.table_uri("bronze")).await?;
        let silver = lake::open(&config.table_uri("silver")).await?;
        let gold = lake::open(&config.table_uri("gold")).await?;
        let (b, s, g) = (
            lake::rows(&bronze).await?,
            lake::rows(&silver).await?,
            lake::counted(&gold).await?,
        );
        ensure!(
            b == expected && s == expected && g == expected,
            "ingot run --once: bronze holds {b}, silver {s} and gold counts {g} of {records} records"
        );
        Ok(Logs {
            bronze: lake::commits(&bronze).await?,
            silver: lake::commits(&silver).await?,
            gold: lake::commits(&gold).await?,
        })
    })
}
