//! The table commands: `history`, `optimize`, `vacuum`, `restore` and
//! `checkpoint`, over any table of a pipeline, authorised per tenant like
//! `deploy`. The decisions (what a vacuum may remove, what a restore does
//! to a stage) are `ingot_pipeline::maintenance`'s; this prints them.

use std::{future::Future, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use ingot_core::short_digest as short;
use ingot_delta::{Compaction, HistoryEntry};
use ingot_pipeline::{
    config::PipelineConfig,
    maintenance::{self, restore::Target},
};

use super::{CheckpointArgs, HistoryArgs, OptimizeArgs, RestoreArgs, TableArgs, VacuumArgs};
use crate::{Error, Result, tenancy::Action};

/// The pipeline of a table command, once the token is checked.
fn pipeline(args: &TableArgs) -> Result<PipelineConfig> {
    args.admin.pipeline(&args.pipeline, Action::Maintain)
}

/// Runs `work` with a spinner on stderr saying `what` and the time taken.
async fn with_spinner<T>(what: String, work: impl Future<Output = T>) -> T {
    let spinner = ProgressBar::new_spinner().with_message(what);
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    let out = work.await;
    spinner.finish_and_clear();
    out
}

/// `ingot history`: every version the log still has (or the newest
/// `--limit`), with what wrote it and what it changed.
pub(super) async fn history(args: &HistoryArgs) -> Result<i32> {
    let config = pipeline(&args.table)?;
    let table = maintenance::open(&config, &args.table.table).await?;
    let from = args
        .limit
        .map(|n| table.version() - i64::try_from(n).unwrap_or(i64::MAX) + 1);
    let entries = with_spinner(
        format!("reading the log of {}", args.table.table),
        table.history(from),
    )
    .await?;
    if args.json {
        let rows: Vec<serde_json::Value> = entries.iter().map(history_json).collect();
        let text = serde_json::to_string_pretty(&rows)
            .map_err(|e| Error::Internal(format!("history as JSON: {e}")))?;
        println!("{text}");
        return Ok(0);
    }
    println!(
        "{:<8} {:<20} {:<13} {:<13} {:<15} {:>9} {:>9} {:>7} {:>7}",
        "version",
        "time (UTC)",
        "operation",
        "module",
        "input",
        "rows +",
        "rows -",
        "files +",
        "files -"
    );
    for e in &entries {
        let r = &e.record;
        let lineage = r.lineage.as_ref();
        let stage = lineage.map_or("-", |l| l.stage.as_str());
        let operation = match (r.operation.as_deref(), r.data_change) {
            (Some(op), false) if !r.added.is_empty() || !r.removed.is_empty() => {
                format!("{op} (no data change)")
            }
            (Some(op), _) => op.to_owned(),
            (None, _) => "-".to_owned(),
        };
        println!(
            "{:<8} {:<20} {:<13} {:<13} {:<15} {:>9} {:>9} {:>7} {:>7}  {stage}",
            e.version,
            r.timestamp.map_or("-".into(), time),
            operation,
            lineage.and_then(|l| l.module.as_deref()).map_or("-", short),
            lineage
                .and_then(|l| l.input_versions)
                .map_or("-".into(), |(a, b)| format!("{a}..={b}")),
            count(e.rows_added),
            count(e.rows_removed),
            r.added.len(),
            r.removed.len(),
        );
    }
    Ok(0)
}

fn history_json(e: &HistoryEntry) -> serde_json::Value {
    let r = &e.record;
    serde_json::json!({
        "version": e.version,
        "timestamp": r.timestamp.map(time),
        "operation": r.operation,
        "data_change": r.data_change,
        "lineage": r.lineage,
        "rows_added": e.rows_added,
        "rows_removed": e.rows_removed,
        "files_added": r.added.len(),
        "files_removed": r.removed.len(),
    })
}

fn time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(
        || micros.to_string(),
        |t| t.format("%Y-%m-%dT%H:%M:%S").to_string(),
    )
}

fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "?".to_owned(), |n| n.to_string())
}

/// `ingot optimize`: bin-packing compaction, or Z-order with `--zorder`.
pub(super) async fn optimize(args: &OptimizeArgs) -> Result<i32> {
    let config = pipeline(&args.table)?;
    let name = &args.table.table;
    let mut table = maintenance::open(&config, name).await?;
    let before = table.file_stats(config.maintenance.small_file_bytes());
    let compaction = Compaction {
        target_size: args
            .target_mib
            .unwrap_or(config.maintenance.target_file_mib)
            .saturating_mul(1 << 20),
        zorder: if args.zorder.is_empty() {
            config
                .maintenance
                .zorder
                .get(name)
                .cloned()
                .unwrap_or_default()
        } else {
            args.zorder.clone()
        },
    };
    let what = if compaction.zorder.is_empty() {
        format!("compacting {name} ({} files)", before.files)
    } else {
        format!(
            "Z-ordering {name} by {} ({} files)",
            compaction.zorder.join(", "),
            before.files
        )
    };
    let done = with_spinner(what, maintenance::compact(&config, &mut table, &compaction)).await?;
    match done.version {
        Some(version) => println!(
            "{name}: version {version}: {} files ({} MiB) rewritten into {} ({} MiB); no data changed",
            done.files_removed,
            done.bytes_removed >> 20,
            done.files_added,
            done.bytes_added >> 20,
        ),
        None => println!("{name}: nothing to compact ({} files)", before.files),
    }
    Ok(0)
}

/// `ingot vacuum`: files older than the retention that no version after
/// it references, never those a stage reading the table still needs.
pub(super) async fn vacuum(args: &VacuumArgs) -> Result<i32> {
    let config = pipeline(&args.table)?;
    let name = &args.table.table;
    let mut table = maintenance::open(&config, name).await?;
    let asked = args
        .retention
        .map_or_else(|| config.maintenance.vacuum_retention(), Duration::from);
    let needs = maintenance::needs(&config, name, &table).await?;
    let retention = maintenance::vacuum_retention(name, asked, &needs, args.force)?;
    let verb = if args.dry_run { "listing" } else { "vacuuming" };
    let vacuumed = with_spinner(
        format!("{verb} {name}"),
        maintenance::vacuum(&config, &mut table, retention, args.dry_run),
    )
    .await?;
    for file in &vacuumed.files {
        println!("{file}");
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    eprintln!(
        "{name}: {verb} {} files (retention {})",
        vacuumed.files.len(),
        humantime::format_duration(retention)
    );
    Ok(0)
}

/// `ingot restore`: a stage back to a version of its output.
pub(super) async fn restore(args: &RestoreArgs) -> Result<i32> {
    let config = pipeline(&args.table)?;
    let target = match (args.version, &args.timestamp) {
        (Some(v), _) => Target::Version(v),
        (None, Some(t)) => Target::Timestamp(t.timestamp_micros()),
        (None, None) => {
            return Err(Error::Internal(
                "restore without --version or --timestamp (clap should have refused it)".into(),
            ));
        }
    };
    let name = &args.table.table;
    let report = with_spinner(
        format!("restoring {name}"),
        maintenance::restore::restore(&config, name, target),
    )
    .await?;
    println!(
        "{name}: version {} is version {} again ({} files removed, {} brought back); \
         stage {} resumes after input version {}",
        report.output.version,
        report.version,
        report.output.files_removed,
        report.output.files_restored,
        report.stage,
        report.progress,
    );
    if let Some(rows) = report.quarantine_rows_removed.filter(|n| *n > 0) {
        println!("{name}_quarantine: {rows} rejects of the undone input versions removed");
    }
    if let Some(t) = report.tombstones {
        println!("{name}_tombstones: restored (version {})", t.version);
    }
    for stage in &report.downstream_keeping {
        eprintln!(
            "note: stage {stage} reads {name} in a mode that does not apply deletes; it keeps \
             what it derived from the undone rows"
        );
    }
    Ok(0)
}

/// `ingot checkpoint`: a checkpoint of the table's current version.
pub(super) async fn checkpoint(args: &CheckpointArgs) -> Result<i32> {
    let config = pipeline(&args.table)?;
    let name = &args.table.table;
    let table = maintenance::open(&config, name).await?;
    let version = with_spinner(format!("checkpointing {name}"), table.checkpoint()).await?;
    println!("{name}: checkpoint at version {version}");
    Ok(0)
}
