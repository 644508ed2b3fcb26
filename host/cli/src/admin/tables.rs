//! The table operations (`history`, `optimize`, `vacuum`, `restore`,
//! `checkpoint`) on an authorised pipeline: what they do and what they
//! answer, for the commands to print and the admin API to send. The
//! decisions (what a vacuum may remove, what a restore does to a stage)
//! are `ingot_pipeline::maintenance`'s.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use ingot_delta::{Compacted, Compaction, HistoryEntry, Vacuumed};
use ingot_pipeline::{
    config::PipelineConfig,
    maintenance::{
        self,
        restore::{RestoreReport, Target},
    },
};

use crate::{Error, Result};

/// The versions of table `table` (the newest `limit`, or every one the
/// log still has), oldest first.
///
/// # Errors
///
/// An unknown table, or a log that cannot be read.
pub async fn history(
    config: &PipelineConfig,
    table: &str,
    limit: Option<u64>,
) -> Result<Vec<HistoryEntry>> {
    let opened = maintenance::open(config, table).await?;
    let from = limit.map(|n| opened.version() - i64::try_from(n).unwrap_or(i64::MAX) + 1);
    Ok(opened.history(from).await?)
}

/// What `optimize` is asked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizeRequest {
    /// Pack files up to this size (default: `[maintenance] target-file-mib`).
    #[serde(default)]
    pub target_mib: Option<u64>,
    /// Z-order by these columns (empty: the table's `[maintenance.zorder]`).
    #[serde(default)]
    pub zorder: Vec<String>,
}

/// What `optimize` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Optimized {
    /// The table.
    pub table: String,
    /// Its data files before.
    pub files_before: u64,
    /// The columns it Z-ordered by (empty: bin-packing).
    pub zorder: Vec<String>,
    /// The compaction.
    pub compacted: Compacted,
}

/// Compacts table `table`: bin-packing, or Z-order.
///
/// # Errors
///
/// An unknown table or column, a store error, a conflict.
pub async fn optimize(
    config: &PipelineConfig,
    table: &str,
    request: &OptimizeRequest,
) -> Result<Optimized> {
    let mut opened = maintenance::open(config, table).await?;
    let before = opened.file_stats(config.maintenance.small_file_bytes());
    let compaction = Compaction {
        target_size: request
            .target_mib
            .unwrap_or(config.maintenance.target_file_mib)
            .saturating_mul(1 << 20),
        zorder: if request.zorder.is_empty() {
            config
                .maintenance
                .zorder
                .get(table)
                .cloned()
                .unwrap_or_default()
        } else {
            request.zorder.clone()
        },
    };
    let compacted = maintenance::compact(config, &mut opened, &compaction).await?;
    Ok(Optimized {
        table: table.to_owned(),
        files_before: before.files,
        zorder: compaction.zorder,
        compacted,
    })
}

/// What `vacuum` is asked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VacuumRequest {
    /// Keep files removed less than this many seconds ago (default:
    /// `[maintenance] vacuum-retention-hours`).
    #[serde(default)]
    pub retention_secs: Option<u64>,
    /// List, delete nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Use the retention even if a stage reading the table needs longer.
    #[serde(default)]
    pub force: bool,
}

/// What `vacuum` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VacuumDone {
    /// The table.
    pub table: String,
    /// The retention used, in seconds.
    pub retention_secs: u64,
    /// The files.
    pub vacuumed: Vacuumed,
}

/// Deletes the files of table `table` older than the retention that no
/// version after it references, never those a stage reading it needs.
///
/// # Errors
///
/// A retention shorter than a reader needs (without `force`), an unknown
/// table, a store error.
pub async fn vacuum(
    config: &PipelineConfig,
    table: &str,
    request: &VacuumRequest,
) -> Result<VacuumDone> {
    let mut opened = maintenance::open(config, table).await?;
    let asked = request.retention_secs.map_or_else(
        || config.maintenance.vacuum_retention(),
        Duration::from_secs,
    );
    let needs = maintenance::needs(config, table, &opened).await?;
    let retention = maintenance::vacuum_retention(table, asked, &needs, request.force)?;
    let vacuumed = maintenance::vacuum(config, &mut opened, retention, request.dry_run).await?;
    Ok(VacuumDone {
        table: table.to_owned(),
        retention_secs: retention.as_secs(),
        vacuumed,
    })
}

/// What `restore` is asked: a version, or the newest version committed at
/// or before a time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// The version.
    #[serde(default)]
    pub version: Option<i64>,
    /// The time, in µs since the epoch (UTC).
    #[serde(default)]
    pub timestamp: Option<i64>,
}

/// Restores stage output `table` (see `ingot_pipeline::maintenance::restore`).
///
/// # Errors
///
/// A request naming neither or both of a version and a time, and the
/// restore's own refusals.
pub async fn restore(
    config: &PipelineConfig,
    table: &str,
    request: &RestoreRequest,
) -> Result<RestoreReport> {
    let target = match (request.version, request.timestamp) {
        (Some(v), None) => Target::Version(v),
        (None, Some(t)) => Target::Timestamp(t),
        _ => {
            return Err(Error::Request(
                "restore takes a version or a timestamp, one of the two".into(),
            ));
        }
    };
    Ok(maintenance::restore::restore(config, table, target).await?)
}

/// What `checkpoint` did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpointed {
    /// The table.
    pub table: String,
    /// The version checkpointed.
    pub version: i64,
}

/// Writes a checkpoint of table `table`'s current version.
///
/// # Errors
///
/// An unknown table, a store error.
pub async fn checkpoint(config: &PipelineConfig, table: &str) -> Result<Checkpointed> {
    let opened = maintenance::open(config, table).await?;
    Ok(Checkpointed {
        table: table.to_owned(),
        version: opened.checkpoint().await?,
    })
}
