//! Per record, how long after its production its row became readable in
//! bronze, silver and gold, read back from the lake after the run.
//!
//! A row is readable in a table from the commit that added it on. For a
//! record:
//! - its bronze version is the `_commit_version` of its row in bronze's
//!   Change Data Feed; bronze's moment is that commit's timestamp;
//! - silver's is the timestamp of the first silver commit whose input range
//!   (its lineage's `input_versions` over bronze) covers that version;
//! - gold's is the timestamp of the first gold commit whose input range
//!   (over silver) covers that silver commit's version.
//!
//! Each latency is that moment minus the record's Kafka timestamp (its
//! CreateTime, stamped by the producer when it sent it), both in
//! milliseconds of the same machine's clock.

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use futures::TryStreamExt as _;
use ingot_delta::COMMIT_VERSION_COLUMN;
use ingot_delta::arrow::array::{Array, AsArray, RecordBatch};
use ingot_delta::arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use ingot_pipeline::config::PipelineConfig;

use crate::lake::{self, CommitPoint, first_covering};

/// The latencies of every measured record, in seconds, each sorted.
pub struct Latencies {
    /// Produce -> readable in bronze.
    pub bronze: Vec<f64>,
    /// Produce -> readable in silver.
    pub silver: Vec<f64>,
    /// Produce -> readable in gold.
    pub gold: Vec<f64>,
    /// The output commits of bronze, silver and gold from the first
    /// measured record on.
    pub commits: [usize; 3],
}

/// When a bronze version became readable in each table, µs since the epoch.
type Moments = [i64; 3];

/// The latencies of every record of the pipeline's bronze produced at or
/// after `from_ms` (ms since the epoch).
///
/// # Errors
///
/// When a table cannot be read, or a bronze version has no silver commit
/// covering it (or a silver one no gold commit).
pub async fn measure(config: &PipelineConfig, from_ms: i64) -> Result<Latencies> {
    let bronze = lake::open(&config.table_uri("bronze")).await?;
    let silver = lake::commits(&lake::open(&config.table_uri("silver")).await?).await?;
    let gold = lake::commits(&lake::open(&config.table_uri("gold")).await?).await?;
    let bronze_commits = lake::commits(&bronze).await?;
    let moments = moments(&bronze_commits, &silver, &gold)?;
    let from_us = from_ms * 1000;
    let mut out = [Vec::new(), Vec::new(), Vec::new()];
    let mut stream = bronze.change_stream(0, bronze.version()).await?;
    while let Some(batch) = stream.try_next().await? {
        for (produced, version) in rows(&batch)? {
            if produced < from_us {
                continue;
            }
            let at = moments
                .get(&version)
                .with_context(|| format!("bronze version {version} has no commit"))?;
            for (latencies, moment) in out.iter_mut().zip(at) {
                latencies.push((moment - produced) as f64 / 1e6);
            }
        }
    }
    for latencies in &mut out {
        latencies.sort_by(f64::total_cmp);
    }
    let since = |commits: &[CommitPoint]| {
        commits
            .iter()
            .filter(|c| c.lineage && c.timestamp_us >= from_us)
            .count()
    };
    let [bronze_l, silver_l, gold_l] = out;
    Ok(Latencies {
        bronze: bronze_l,
        silver: silver_l,
        gold: gold_l,
        commits: [since(&bronze_commits), since(&silver), since(&gold)],
    })
}

/// Per bronze version, the moments it became readable in bronze, silver
/// and gold.
fn moments(
    bronze: &[CommitPoint],
    silver: &[CommitPoint],
    gold: &[CommitPoint],
) -> Result<BTreeMap<i64, Moments>> {
    bronze
        .iter()
        .filter(|b| b.lineage)
        .map(|b| {
            let s = first_covering(silver, b.version)
                .with_context(|| format!("no silver commit covers bronze version {}", b.version))?;
            let g = first_covering(gold, s.version)
                .with_context(|| format!("no gold commit covers silver version {}", s.version))?;
            Ok((b.version, [b.timestamp_us, s.timestamp_us, g.timestamp_us]))
        })
        .collect()
}

/// The (Kafka timestamp µs, bronze version) of each row of a bronze change
/// batch.
fn rows(batch: &RecordBatch) -> Result<Vec<(i64, i64)>> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .with_context(|| format!("bronze's change feed has no column {name}"))
    };
    let timestamps = column("timestamp")?
        .as_primitive_opt::<TimestampMicrosecondType>()
        .context("bronze's timestamp is not a µs timestamp")?;
    let versions = column(COMMIT_VERSION_COLUMN)?
        .as_primitive_opt::<Int64Type>()
        .context("the change feed's version is not an Int64")?;
    ensure!(
        timestamps.null_count() == 0,
        "a bronze row without a Kafka timestamp"
    );
    Ok(timestamps
        .values()
        .iter()
        .zip(versions.values().iter())
        .map(|(t, v)| (*t, *v))
        .collect())
}

/// Percentile `q` (0 to 1) of `sorted`, by nearest rank; 0 when empty.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// About `points` points of the distribution of `sorted`: (latency,
/// percent of records at or below it).
pub fn cdf(sorted: &[f64], points: usize) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let step = (n / points.max(1)).max(1);
    let mut out: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| (sorted[i], 100.0 * (i + 1) as f64 / n as f64))
        .collect();
    out.push((sorted[n - 1], 100.0));
    out
}
