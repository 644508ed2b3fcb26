//! Keeping a pipeline's tables healthy: compaction, checkpoints,
//! expired-log cleanup and vacuum ([`Maintainer`], run by `run` and `serve`
//! on the one host holding the pipeline's maintenance lease, and by the
//! table commands), and restoring a stage's tables with pipeline semantics
//! ([`restore`]).
//!
//! Nothing here waits for ingest or a stage, and nothing they do waits for
//! it: a compaction commits with `dataChange = false` on top of whatever
//! landed meanwhile (an append that races it is kept, delta-rs rebases the
//! compaction over it), and the MERGEs of upserts and accumulates take no
//! retry, so one that loses to a compaction is redone from a fresh
//! snapshot instead of leaving a stale copy of a row (docs/exactly-once.md,
//! "Upsert ordering and concurrent compaction"). What a log cleanup or a
//! vacuum removes is bounded by the stages still reading the table
//! ([`readers`]).

mod readers;
pub mod restore;
#[cfg(test)]
mod tests;

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use ingot_core::{BRONZE, ErrorClass, clock::now_micros};
use ingot_delta::{ColumnEncoding, Compacted, Compaction, Lineage, Table, Vacuumed};
use ingot_kafka::bronze;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    config::{MaintenanceConfig, PipelineConfig},
};
pub use readers::{Needs, Reader, needs};

/// Files no version references (left by failed or in-flight writes) are
/// deleted only once they are this old, whatever the retention: a step's
/// uncommitted files must outlive the step.
pub const ORPHAN_AGE: Duration = Duration::from_secs(24 * 3600);

/// How much longer than a reader's lag an automatic vacuum keeps removed
/// files: the removal and the commit the reader has not read may be
/// stamped by two hosts whose clocks differ.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(5 * 60);

/// The stage name maintenance commits record in their lineage.
pub const MAINTENANCE: &str = "maintenance";

/// Why a maintenance operation cannot be done as asked.
#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    /// The table is not one of the pipeline's.
    #[error("pipeline {pipeline} has no table {table} (its tables: {known})")]
    UnknownTable {
        /// The pipeline.
        pipeline: String,
        /// The name given.
        table: String,
        /// The tables it has.
        known: String,
    },
    /// The table has not been created yet.
    #[error("table {table} of pipeline {pipeline} does not exist yet ({uri})")]
    NoTable {
        /// The pipeline.
        pipeline: String,
        /// The table.
        table: String,
        /// Where it would be.
        uri: String,
    },
    /// A vacuum would delete files a reader of the table still needs.
    #[error(
        "vacuum of {table} with a retention of {retention}: {reader} has not read version \
         {version} yet, committed {lag} ago, whose files a shorter retention than {lag} \
         may delete; use a longer --retention, let {reader} catch up, or --force"
    )]
    RetentionTooShort {
        /// The table.
        table: String,
        /// The retention asked for.
        retention: String,
        /// The reader furthest behind.
        reader: String,
        /// The oldest version it has not read.
        version: i64,
        /// How long ago that version was committed.
        lag: String,
    },
    /// A vacuum would delete files a reader that never ran may read.
    #[error(
        "vacuum of {table}: {readers} never committed and may read every version of it; \
         run them first, or --force"
    )]
    ReadersNotStarted {
        /// The table.
        table: String,
        /// The readers.
        readers: String,
    },
    /// A restore that would leave the pipeline inconsistent.
    #[error("cannot restore {table}: {reason}")]
    RestoreRefused {
        /// The table.
        table: String,
        /// Why, and what to do instead.
        reason: String,
    },
}

impl MaintenanceError {
    /// Every one of these is the user's to decide.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::User
    }
}

/// The lineage of a maintenance commit of `config`'s tables.
pub fn lineage(config: &PipelineConfig) -> Lineage {
    Lineage {
        ingot_version: ingot_core::VERSION.into(),
        pipeline: config.name.clone(),
        stage: MAINTENANCE.into(),
        module: None,
        input_table: None,
        input_versions: None,
        attempt: None,
    }
}

/// Opens table `name` of `config`, which must be one of its tables and
/// exist; bronze with the encoding ingest writes it with, so a compaction
/// keeps it.
///
/// # Errors
/// [`MaintenanceError::UnknownTable`], [`MaintenanceError::NoTable`], or
/// the table cannot be opened.
pub async fn open(config: &PipelineConfig, name: &str) -> Result<Table> {
    open_existing(config, name).await?.ok_or_else(|| {
        MaintenanceError::NoTable {
            pipeline: config.name.clone(),
            table: name.to_owned(),
            uri: config.table_uri(name),
        }
        .into()
    })
}

/// As [`open`], `None` when the table does not exist yet.
pub async fn open_existing(config: &PipelineConfig, name: &str) -> Result<Option<Table>> {
    if config.table_role(name).is_none() {
        return Err(unknown_table(config, name));
    }
    let Some(mut table) = Table::open(&config.table_uri(name)).await? else {
        return Ok(None);
    };
    if name == BRONZE {
        let (unique, opaque) = bronze::column_kinds();
        table.set_column_encoding(ColumnEncoding { unique, opaque });
    }
    Ok(Some(table))
}

/// [`MaintenanceError::UnknownTable`] for `name`.
pub(crate) fn unknown_table(config: &PipelineConfig, name: &str) -> Error {
    MaintenanceError::UnknownTable {
        pipeline: config.name.clone(),
        table: name.to_owned(),
        known: config.table_names().join(", "),
    }
    .into()
}

/// The retention a vacuum of a table uses: the one asked for, unless its
/// readers need longer ([`MaintenanceError`] then, unless `force`, which
/// takes the one asked for).
///
/// # Errors
/// [`MaintenanceError::RetentionTooShort`] or
/// [`MaintenanceError::ReadersNotStarted`] when not forced.
pub fn vacuum_retention(
    table: &str,
    asked: Duration,
    needs: &Needs,
    force: bool,
) -> Result<Duration> {
    if force {
        return Ok(asked);
    }
    let unstarted = needs.unstarted();
    if !unstarted.is_empty() {
        return Err(MaintenanceError::ReadersNotStarted {
            table: table.to_owned(),
            readers: unstarted.join(", "),
        }
        .into());
    }
    let lag = Duration::from_micros(u64::try_from(needs.lag_micros()).unwrap_or(0));
    match &needs.oldest {
        Some((version, reader)) if asked <= lag => Err(MaintenanceError::RetentionTooShort {
            table: table.to_owned(),
            retention: humantime::format_duration(asked).to_string(),
            reader: reader.clone(),
            version: *version,
            lag: humantime::format_duration(Duration::from_secs(lag.as_secs())).to_string(),
        }
        .into()),
        _ => Ok(asked),
    }
}

/// Vacuums `table` with `retention` (already checked against its readers):
/// removed files older than it, and files no version references older than
/// it and [`ORPHAN_AGE`].
///
/// # Errors
/// The table's.
pub async fn vacuum(
    config: &PipelineConfig,
    table: &mut Table,
    retention: Duration,
    dry_run: bool,
) -> Result<Vacuumed> {
    let lineage = lineage(config);
    let mut vacuumed = table.vacuum(retention, dry_run, &lineage, false).await?;
    let orphans = table
        .vacuum(retention.max(ORPHAN_AGE), dry_run, &lineage, true)
        .await?;
    vacuumed.files.extend(orphans.files);
    Ok(vacuumed)
}

/// What one pass did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableMaintenance {
    /// The table.
    pub table: String,
    /// Its version after the pass.
    pub version: i64,
    /// Its active files, and those of them that are small.
    pub files: u64,
    /// Small files (under `small-file-mib`).
    pub small_files: u64,
    /// Files a compaction removed and added, if one ran.
    pub compacted: Option<(u64, u64)>,
    /// The version a checkpoint was written at, if one was.
    pub checkpoint: Option<i64>,
    /// Log files a cleanup removed.
    pub log_files_removed: usize,
    /// Files a vacuum removed, if one ran.
    pub vacuumed: Option<usize>,
    /// What was left undone and why (readers behind, ...).
    pub skipped: Vec<String>,
}

/// Automatic maintenance of one pipeline's tables (`[maintenance]`).
#[derive(Debug)]
pub struct Maintainer {
    config: PipelineConfig,
    last_vacuum: HashMap<String, Instant>,
}

impl Maintainer {
    /// Maintenance of `config`'s tables with its `[maintenance]` settings.
    pub fn new(config: PipelineConfig) -> Self {
        Self {
            config,
            last_vacuum: HashMap::new(),
        }
    }

    /// The pipeline it maintains.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    fn settings(&self) -> &MaintenanceConfig {
        &self.config.maintenance
    }

    /// One pass over every existing table of the pipeline; a table that
    /// fails is reported and the others still done.
    pub async fn pass(&mut self) -> Vec<Result<TableMaintenance>> {
        let mut reports = Vec::new();
        for name in self.config.table_names() {
            let report = match open_existing(&self.config, &name).await {
                Ok(Some(table)) => self.table(&name, table).await,
                Ok(None) => continue,
                Err(e) => Err(e),
            };
            if let Err(e) = &report {
                tracing::warn!(table = %name, error = %e, "table maintenance failed");
            }
            reports.push(report);
        }
        reports
    }

    /// Compaction, checkpoint, log cleanup and vacuum of table `name`, each
    /// when due.
    async fn table(&mut self, name: &str, mut table: Table) -> Result<TableMaintenance> {
        let settings = self.settings().clone();
        let mut report = TableMaintenance {
            table: name.to_owned(),
            ..Default::default()
        };
        let stats = table.file_stats(settings.small_file_bytes());
        if stats.small_files >= settings.compact_min_files {
            let compaction = Compaction {
                target_size: settings.target_file_bytes(),
                zorder: settings.zorder.get(name).cloned().unwrap_or_default(),
            };
            let done = compact(&self.config, &mut table, &compaction).await?;
            report.compacted = Some((done.files_removed, done.files_added));
        }
        let last = table.last_checkpoint().await;
        if table.version() - last.unwrap_or(-1) >= settings.checkpoint_interval {
            report.checkpoint = Some(table.checkpoint().await?);
            tracing::info!(table = %table.uri(), version = table.version(), "wrote a checkpoint");
        }
        // Readers are read after the table: a version they have not read
        // is then in the snapshot a cleanup or vacuum works from.
        let needs = needs(&self.config, name, &table).await?;
        if last.is_some() || report.checkpoint.is_some() {
            // The newest commits stay whatever the readers: a stage's redo
            // reads back its own last commits.
            let keep_from = needs
                .keep_from(table.version())
                .min(table.version() - settings.checkpoint_interval);
            let cutoff = now_micros() / 1000 - millis(settings.log_retention());
            report.log_files_removed = table.cleanup_log(keep_from, cutoff).await?;
        }
        self.vacuum_if_due(name, &mut table, &needs, &mut report)
            .await?;
        let stats = table.file_stats(settings.small_file_bytes());
        report.version = table.version();
        report.files = stats.files;
        report.small_files = stats.small_files;
        Ok(report)
    }

    async fn vacuum_if_due(
        &mut self,
        name: &str,
        table: &mut Table,
        needs: &Needs,
        report: &mut TableMaintenance,
    ) -> Result<()> {
        let settings = self.settings();
        let due = self
            .last_vacuum
            .get(name)
            .is_none_or(|at| at.elapsed() >= settings.vacuum_interval());
        if !due {
            return Ok(());
        }
        let unstarted = needs.unstarted();
        if !unstarted.is_empty() {
            report.skipped.push(format!(
                "vacuum waits for {}, which never committed and may read every version",
                unstarted.join(", ")
            ));
            return Ok(());
        }
        // Automatic vacuums keep what readers need rather than refuse.
        let mut retention = settings.vacuum_retention();
        if needs.oldest.is_some() {
            let lag = Duration::from_micros(u64::try_from(needs.lag_micros()).unwrap_or(0));
            retention = retention.max(lag + CLOCK_SKEW_MARGIN);
        }
        let vacuumed = vacuum(&self.config, table, retention, false).await?;
        self.last_vacuum.insert(name.to_owned(), Instant::now());
        if !vacuumed.files.is_empty() {
            tracing::info!(table = %table.uri(), files = vacuumed.files.len(), retention = %humantime::format_duration(retention), "vacuumed");
        }
        report.vacuumed = Some(vacuumed.files.len());
        Ok(())
    }
}

/// Compacts `table`, logging what it did.
///
/// # Errors
/// The table's.
pub async fn compact(
    config: &PipelineConfig,
    table: &mut Table,
    compaction: &Compaction,
) -> Result<Compacted> {
    let started = Instant::now();
    let done = table.optimize(compaction, &lineage(config)).await?;
    if let Some(version) = done.version {
        tracing::info!(
            table = %table.uri(),
            version,
            files_removed = done.files_removed,
            files_added = done.files_added,
            mib = done.bytes_removed >> 20,
            took = ?started.elapsed(),
            "compacted"
        );
    }
    Ok(done)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl From<MaintenanceError> for Error {
    fn from(e: MaintenanceError) -> Self {
        Error::Maintenance(e)
    }
}
