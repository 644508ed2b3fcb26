//! `ingot reprocess`: the quarantine entries added since the last reprocess,
//! sent through the stage's current module (the registry's, as a running
//! host would use), with the stage's own parts: each entry's input row is
//! found again in the input table's Change Data Feed at its
//! `source_version`, the rows are run like a step's ([`super::execute`]),
//! and the commits follow [`Progress::reprocess`]: rows refused again go to
//! the quarantine as new entries, then the output is written, both under txn
//! `reprocess/<pipeline>/<stage>` = the last quarantine version read. The
//! quarantine is a log: an entry stays in it after its row is recovered,
//! and the lineage of the output commit names the quarantine versions
//! replayed.

use std::collections::BTreeMap;

use ingot_core::{
    arrow::{
        array::{Array, AsArray, RecordBatch},
        compute::concat_batches,
        datatypes::Int64Type,
    },
    short_digest,
};
use tracing::Instrument as _;

use super::{
    StageRunner,
    input::Changes,
    progress::{Produced, Progress},
    sink,
};
use crate::{Error, Result, quarantine};

/// What [`StageRunner::reprocess`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Reprocessed {
    /// The quarantine versions whose entries were sent through the module.
    pub quarantine_versions: Option<(i64, i64)>,
    /// Quarantine entries read.
    pub entries: usize,
    /// Entries whose input row was found and sent through the module.
    pub replayed: usize,
    /// Entries whose input row is no longer in the input table.
    pub missing: usize,
    /// Output rows written.
    pub rows_out: usize,
    /// Rows the module still rejects or fails on: quarantined again.
    pub still_quarantined: usize,
}

impl StageRunner {
    /// Sends the quarantine entries added since the last reprocess through
    /// the stage's current module, exactly once (see the module docs).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] naming the stage if its output table does not
    /// exist yet or it keeps tombstones (an upsert with deletes, which a
    /// replay of old events would have to screen); table errors.
    pub async fn reprocess(&mut self) -> Result<Reprocessed> {
        let span = self.span.clone();
        let result = self.reprocess_inner().instrument(span).await;
        result.map_err(|source| self.wrap(source))
    }

    async fn reprocess_inner(&mut self) -> Result<Reprocessed> {
        self.follow_registry().await?;
        if self.sinks.keeps_tombstones() {
            return Err(Error::Unsupported {
                what: format!(
                    "stage {}: reprocessing an upsert stage with deletes (tombstones)",
                    self.id
                ),
            });
        }
        let progress = Progress::reprocess(
            &self.layout,
            &self.id.stage,
            self.sinks.quarantine_uri().to_owned(),
        );
        let observed = self.sinks.observe(&progress).await?;
        if self.sinks.output().is_none() {
            return Err(Error::Unsupported {
                what: format!(
                    "stage {} has no output table yet: run it before reprocessing its quarantine",
                    self.id
                ),
            });
        }
        let Some(quarantine) = self.sinks.quarantine() else {
            return Ok(Reprocessed::default());
        };
        let Some(range) = progress.next_range(observed, quarantine.version()) else {
            return Ok(Reprocessed::default());
        };
        let mut report = Reprocessed {
            quarantine_versions: Some((range.from, range.to)),
            ..Default::default()
        };
        let entries = quarantine.changes(range.from, range.to).await?;
        let wanted = wanted_rows(&entries, &mut report);
        let Some(replay) = self.find_input_rows(wanted, &mut report).await? else {
            return Ok(report);
        };
        // A pinned range reproduces its first attempt, as a step's redo
        // does; the processing time is the quarantine's last version's time.
        let changes = Changes::from_batches(
            replay.schema(),
            vec![replay],
            self.executor.settings().batch_rows,
        );
        let (ran, digest, attempt) = self.execute(range, changes, progress.txn(), true).await?;
        report.still_quarantined = ran.rejects.len();
        report.rows_out = ran.outputs.rows();
        let produced = Produced {
            has_output: !ran.outputs.is_empty(),
            has_rejects: !ran.rejects.is_empty(),
            output_exists: true,
        };
        let plan = progress
            .plan(range, observed, produced, &digest, &attempt)
            .map_err(|_| Error::Internal("a reprocess with an output table has a commit".into()))?;
        self.sinks.commit(plan, ran.outputs, &ran.rejects).await?;
        tracing::info!(
            module = %short_digest(&digest), from = range.from, to = range.to, ?report,
            "quarantine reprocessed"
        );
        Ok(report)
    }
}

impl StageRunner {
    /// The input rows `wanted` names, found again in the input's Change Data
    /// Feed at their versions, as one batch; counts the replayed and the
    /// missing ones into `report`. `None` when the input table is gone.
    async fn find_input_rows(
        &mut self,
        wanted: BTreeMap<i64, Vec<String>>,
        report: &mut Reprocessed,
    ) -> Result<Option<RecordBatch>> {
        let Some(input) = sink::refresh_or_open(&mut self.input, &self.input_uri).await? else {
            return Ok(None);
        };
        let mut rows = Vec::new();
        for (version, json) in wanted {
            let (found, missing) =
                quarantine::select_rows(&input.changes(version, version).await?, json)?;
            report.missing += missing.len();
            rows.extend(found);
        }
        report.replayed = rows.iter().map(RecordBatch::num_rows).sum();
        concat_batches(&input.change_schema(), &rows)
            .map(Some)
            .map_err(|e| Error::Internal(format!("joining the rows to reprocess: {e}")))
    }
}

/// The input rows the quarantine entries name, by input version, as their
/// JSON; counts the entries (and those that name no row) into `report`.
fn wanted_rows(entries: &[RecordBatch], report: &mut Reprocessed) -> BTreeMap<i64, Vec<String>> {
    let mut wanted: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for batch in entries {
        let (Some(versions), Some(rows)) = (
            batch
                .column_by_name("source_version")
                .and_then(|c| c.as_primitive_opt::<Int64Type>()),
            batch
                .column_by_name("row")
                .and_then(|c| c.as_string_opt::<i32>()),
        ) else {
            continue;
        };
        for i in 0..batch.num_rows() {
            report.entries += 1;
            if versions.is_null(i) || rows.is_null(i) {
                report.missing += 1;
                continue;
            }
            wanted
                .entry(versions.value(i))
                .or_default()
                .push(rows.value(i).to_owned());
        }
    }
    wanted
}
