//! `ingot restore`: a stage's output back to an earlier version, with the
//! pipeline's semantics rather than Delta's alone.
//!
//! A Delta restore brings back the files of version `V`, not the txn
//! versions recorded then: left alone, the stage's progress would still
//! say it had read input it no longer shows, and those input versions
//! would never be derived again. So restoring stage `S`'s output to `V`
//! rewinds the stage to the input version `T` it had read at `V`:
//!
//! 1. the quarantine loses the rows rejected from input versions after
//!    `T` (a delete by `source_version`, not a restore, so its compactions
//!    stay), in a commit that sets its txns back to at most `T`;
//! 2. the tombstones (upserts with deletes) are restored to their newest
//!    version recorded for input up to `T`;
//! 3. the output is restored to `V` in a commit carrying txn
//!    `stage/<p>/<S>` = `T`.
//!
//! The stage then derives input versions `T + 1` on again, with the module
//! deployed now. Each step is one commit checked against concurrent ones
//! (a running step that commits in between makes the restore fail with a
//! conflict: run it again). Until step 3 lands the stage still goes on from
//! its old progress, so a restore cut short (a crash) must be run again,
//! and then finishes.
//!
//! Stages downstream of `S` read the restore commit from `S`'s Change Data
//! Feed as `delete`s of the undone rows and `insert`s of the rows brought
//! back, then the re-derived rows as inserts: a stage that applies changes
//! (an accumulate of signed counts, an upsert whose module turns deletes
//! into deletes) ends equal to a derivation from the restored `S`; an
//! append or dedupe stage keeps what it derived from the undone rows.
//!
//! Refused: bronze (its rows are Kafka's records, positioned by their
//! partition txns: a restore would make ingest skip or re-read records
//! without a trace; re-derive the stages instead), a quarantine or
//! tombstones table alone (restore their stage), and a stage whose
//! quarantine was reprocessed after `V` (the reprocessed rows would be
//! neither in the output nor due for another reprocess).

use ingot_core::Layout;
use ingot_delta::{Commit, Lineage, Restored, Table, Txn, WriteMode};

use super::{MaintenanceError, open, unknown_table};
use crate::{
    Result,
    config::{PipelineConfig, TableRole},
};

/// Which version to restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// This version.
    Version(i64),
    /// The newest version committed at or before this time (µs since the epoch).
    Timestamp(i64),
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestoreReport {
    /// The stage.
    pub stage: String,
    /// The output version restored.
    pub version: i64,
    /// The input version the stage now resumes after (-1: from the start).
    pub progress: i64,
    /// The output's restore commit.
    pub output: Restored,
    /// Quarantine rows removed (rejects of the undone input versions), if
    /// the stage has a quarantine.
    pub quarantine_rows_removed: Option<usize>,
    /// The tombstones' restore, if it had to go back.
    pub tombstones: Option<Restored>,
    /// Downstream stages that do not apply deletes (append, dedupe): they
    /// keep what they derived from the undone rows.
    pub downstream_keeping: Vec<String>,
}

/// Restores table `name` of `config` to `target` (see the module docs).
///
/// # Errors
/// [`MaintenanceError::RestoreRefused`] for bronze, side tables and
/// reprocessed quarantines; a version the table cannot go back to; a
/// conflict with a commit that landed meanwhile (run it again).
pub async fn restore(config: &PipelineConfig, name: &str, target: Target) -> Result<RestoreReport> {
    let i = restorable_stage(config, name)?;
    let stage = config.stages[i].name.clone();
    let layout = config.layout();
    let mut output = open(config, name).await?;
    let version = resolve(&output, target).await?;
    let at_version = output.txns_at(version).await?;
    let progress = at_version
        .get(&layout.stage_txn(&stage))
        .copied()
        .unwrap_or(-1);
    let reprocess = layout.reprocess_txn(&stage);
    let (then, now) = (
        at_version.get(&reprocess).copied(),
        output.txn_version(&reprocess),
    );
    if then != now {
        let shown = |v: Option<i64>| v.map_or("none".into(), |v| v.to_string());
        return Err(refused(
            name,
            format!(
                "its quarantine was reprocessed after version {version} (quarantine versions up                  to {} then, {} now): the reprocessed rows would be neither in the output nor                  due for another reprocess. Restore to a version at or after the last reprocess",
                shown(then),
                shown(now),
            ),
        ));
    }
    let lineage = restore_lineage(config, i, progress);
    let quarantine_rows_removed = rewind_quarantine(&layout, &stage, progress, &lineage).await?;
    let tombstones = if config.stages[i].keeps_tombstones() {
        rewind_tombstones(&layout, &stage, progress, &lineage).await?
    } else {
        None
    };
    let commit = Commit {
        txns: vec![Txn {
            app_id: layout.stage_txn(&stage),
            version: progress,
        }],
        lineage,
    };
    let restored = output.restore(version, &commit).await?;
    tracing::info!(table = %output.uri(), version, progress, restore_version = restored.version, "restored a stage's output");
    Ok(RestoreReport {
        stage,
        version,
        progress,
        output: restored,
        quarantine_rows_removed,
        tombstones,
        downstream_keeping: downstream_keeping(config, name),
    })
}

/// The index of the stage whose output `name` is; the refusal for any
/// other table.
fn restorable_stage(config: &PipelineConfig, name: &str) -> Result<usize> {
    match config.table_role(name) {
        Some(TableRole::Output(i)) => Ok(i),
        Some(TableRole::Bronze) => Err(refused(
            name,
            "bronze holds the Kafka records as ingest read them, positioned by its partition \
             txns; a restore would make ingest skip or read records again without a trace. \
             Restore the stages that read it instead"
                .into(),
        )),
        Some(TableRole::Quarantine(i) | TableRole::Tombstones(i)) => Err(refused(
            name,
            format!(
                "it belongs to stage {0}: restore {0}, and its quarantine and tombstones follow",
                config.stages[i].name
            ),
        )),
        None => Err(unknown_table(config, name)),
    }
}

fn refused(table: &str, reason: String) -> crate::Error {
    MaintenanceError::RestoreRefused {
        table: table.to_owned(),
        reason,
    }
    .into()
}

/// The version `target` names on `table`.
async fn resolve(table: &Table, target: Target) -> Result<i64> {
    let unavailable = |version, reason: String| ingot_delta::TableError::VersionUnavailable {
        table: table.uri().to_owned(),
        version,
        reason,
    };
    let version = match target {
        Target::Version(v) => v,
        Target::Timestamp(t) => table.version_at(t).await?.ok_or_else(|| {
            unavailable(
                -1,
                format!(
                    "no version the log still holds was committed at or before {}",
                    chrono::DateTime::from_timestamp_micros(t)
                        .map_or(t.to_string(), |d| d.to_rfc3339())
                ),
            )
        })?,
    };
    if version < 0 || version >= table.version() {
        return Err(unavailable(
            version,
            format!(
                "restore goes back to a version before the current one, {}",
                table.version()
            ),
        )
        .into());
    }
    if !table.has_commit(version).await? {
        return Err(unavailable(
            version,
            format!(
                "the log now starts at version {}",
                table.oldest_commit().await?
            ),
        )
        .into());
    }
    Ok(version)
}

/// Step 1: the quarantine without the rejects of input versions after
/// `progress`, its txns set back to at most `progress`. Returns the rows
/// removed (`None`: no quarantine).
async fn rewind_quarantine(
    layout: &Layout,
    stage: &str,
    progress: i64,
    lineage: &Lineage,
) -> Result<Option<usize>> {
    let Some(mut quarantine) = Table::open(&layout.quarantine_uri(stage)).await? else {
        return Ok(None);
    };
    let txns: Vec<Txn> = [layout.stage_txn(stage), layout.settled_txn(stage)]
        .into_iter()
        .filter_map(|app_id| {
            let now = quarantine.txn_version(&app_id)?;
            (now > progress).then_some(Txn {
                app_id,
                version: progress,
            })
        })
        .collect();
    let predicate = format!("source_version > {progress}");
    let count = quarantine
        .query(&format!("SELECT count(*) AS n FROM t WHERE {predicate}"))
        .await?;
    let rows = count
        .first()
        .and_then(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<ingot_core::arrow::array::Int64Array>()
                .map(|a| a.value(0))
        })
        .unwrap_or(0);
    if rows == 0 && txns.is_empty() {
        return Ok(Some(0));
    }
    let commit = Commit {
        txns,
        lineage: lineage.clone(),
    };
    let (version, _) = quarantine.delete_rows(&predicate, &commit).await?;
    tracing::info!(table = %quarantine.uri(), version, rows, "removed the rejects of undone input versions");
    Ok(Some(usize::try_from(rows).unwrap_or(0)))
}

/// Step 2: the tombstones back to their newest version recorded for input
/// versions up to `progress` (`None`: nothing to undo).
async fn rewind_tombstones(
    layout: &Layout,
    stage: &str,
    progress: i64,
    lineage: &Lineage,
) -> Result<Option<Restored>> {
    let Some(mut tombstones) = Table::open(&layout.tombstones_uri(stage)).await? else {
        return Ok(None);
    };
    let latest = tombstones.version();
    let mut keep = latest;
    while keep > 0 {
        let end = tombstones
            .lineage(keep)
            .await?
            .and_then(|l| l.input_versions)
            .map(|(_, to)| to);
        match end {
            Some(to) if to > progress => keep -= 1,
            _ => break,
        }
    }
    if keep == latest {
        return Ok(None);
    }
    let commit = Commit {
        txns: Vec::new(),
        lineage: lineage.clone(),
    };
    Ok(Some(tombstones.restore(keep, &commit).await?))
}

/// The lineage of a restore's commits of stage `i`: its tables now hold
/// what input versions up to `progress` derive.
fn restore_lineage(config: &PipelineConfig, i: usize, progress: i64) -> Lineage {
    Lineage {
        stage: config.stages[i].name.clone(),
        input_table: Some(config.table_uri(config.stage_input(i))),
        input_versions: (progress >= 0).then_some((0, progress)),
        ..super::lineage(config)
    }
}

/// Stages reading `name` whose write mode does not apply deletes.
fn downstream_keeping(config: &PipelineConfig, name: &str) -> Vec<String> {
    (0..config.stages.len())
        .filter(|&j| config.stage_input(j) == name)
        .filter(|&j| {
            matches!(
                config.stages[j].mode,
                WriteMode::Append | WriteMode::Dedupe { .. }
            )
        })
        .map(|j| config.stages[j].name.clone())
        .collect()
}
