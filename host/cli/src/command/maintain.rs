//! The table commands: `history`, `optimize`, `vacuum`, `restore` and
//! `checkpoint`, over any table of a pipeline, authorised per tenant like
//! `deploy`, on the lake or through a server (`--server`). What they do is
//! [`crate::admin::tables`]'s; this prints it.

use std::{future::Future, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Serialize, de::DeserializeOwned};

use ingot_core::short_digest as short;
use ingot_delta::HistoryEntry;
use ingot_pipeline::{config::PipelineConfig, maintenance::restore::RestoreReport};

use super::{CheckpointArgs, HistoryArgs, OptimizeArgs, RestoreArgs, TableArgs, VacuumArgs};
use crate::{
    Error, Result,
    admin::tables::{
        self, Checkpointed, OptimizeRequest, Optimized, RestoreRequest, VacuumDone, VacuumRequest,
    },
    tenancy::Action,
};

/// Runs table command `operation` with `request`: through the server's
/// admin API with `--server`, else `local` on the pipeline once the token
/// is checked (with a spinner saying `what`).
async fn run_op<T, R>(
    args: &TableArgs,
    operation: &str,
    request: &R,
    what: String,
    local: impl AsyncFnOnce(PipelineConfig) -> Result<T>,
) -> Result<T>
where
    T: DeserializeOwned,
    R: Serialize,
{
    if let Some(remote) = args.admin.remote(&args.pipeline)? {
        let path = format!("/tables/{}/{operation}", args.table);
        return with_spinner(what, remote.post_json(&path, request)).await;
    }
    let config = args.admin.pipeline(&args.pipeline, Action::Maintain)?;
    with_spinner(what, local(config)).await
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
    let t = &args.table;
    let what = format!("reading the log of {}", t.table);
    let entries: Vec<HistoryEntry> = match t.admin.remote(&t.pipeline)? {
        Some(remote) => {
            let query: Vec<(&str, String)> = args
                .limit
                .iter()
                .map(|n| ("limit", n.to_string()))
                .collect();
            let path = format!("/tables/{}/history", t.table);
            with_spinner(what, remote.get(&path, &query)).await?
        }
        None => {
            let config = t.admin.pipeline(&t.pipeline, Action::Maintain)?;
            with_spinner(what, tables::history(&config, &t.table, args.limit)).await?
        }
    };
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
    let request = OptimizeRequest {
        target_mib: args.target_mib,
        zorder: args.zorder.clone(),
    };
    let name = &args.table.table;
    let what = format!("compacting {name}");
    let done: Optimized = run_op(&args.table, "optimize", &request, what, async |config| {
        tables::optimize(&config, name, &request).await
    })
    .await?;
    let c = &done.compacted;
    let how = if done.zorder.is_empty() {
        String::new()
    } else {
        format!(", Z-ordered by {}", done.zorder.join(", "))
    };
    match c.version {
        Some(version) => println!(
            "{name}: version {version}: {} files ({} MiB) rewritten into {} ({} MiB){how}; no data changed",
            c.files_removed,
            c.bytes_removed >> 20,
            c.files_added,
            c.bytes_added >> 20,
        ),
        None => println!("{name}: nothing to compact ({} files)", done.files_before),
    }
    Ok(0)
}

/// `ingot vacuum`: files older than the retention that no version after
/// it references, never those a stage reading the table still needs.
pub(super) async fn vacuum(args: &VacuumArgs) -> Result<i32> {
    let request = VacuumRequest {
        retention_secs: args.retention.map(|d| Duration::from(d).as_secs()),
        dry_run: args.dry_run,
        force: args.force,
    };
    let name = &args.table.table;
    let verb = if args.dry_run { "listing" } else { "vacuuming" };
    let done: VacuumDone = run_op(
        &args.table,
        "vacuum",
        &request,
        format!("{verb} {name}"),
        async |config| tables::vacuum(&config, name, &request).await,
    )
    .await?;
    for file in &done.vacuumed.files {
        println!("{file}");
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    eprintln!(
        "{name}: {verb} {} files (retention {})",
        done.vacuumed.files.len(),
        humantime::format_duration(Duration::from_secs(done.retention_secs))
    );
    Ok(0)
}

/// `ingot restore`: a stage back to a version of its output.
pub(super) async fn restore(args: &RestoreArgs) -> Result<i32> {
    let request = RestoreRequest {
        version: args.version,
        timestamp: args.timestamp.map(|t| t.timestamp_micros()),
    };
    let name = &args.table.table;
    let report: RestoreReport = run_op(
        &args.table,
        "restore",
        &request,
        format!("restoring {name}"),
        async |config| tables::restore(&config, name, &request).await,
    )
    .await?;
    print_restored(name, &report);
    Ok(0)
}

fn print_restored(name: &str, report: &RestoreReport) {
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
}

/// `ingot checkpoint`: a checkpoint of the table's current version.
pub(super) async fn checkpoint(args: &CheckpointArgs) -> Result<i32> {
    let name = &args.table.table;
    let done: Checkpointed = run_op(
        &args.table,
        "checkpoint",
        &serde_json::json!({}),
        format!("checkpointing {name}"),
        async |config| tables::checkpoint(&config, name).await,
    )
    .await?;
    println!("{name}: checkpoint at version {}", done.version);
    Ok(0)
}
