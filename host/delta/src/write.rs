//! Writing: rows, `txn` actions and lineage in one Delta commit.
//!
//! Appends skip DataFusion entirely: a parquet writer produces `add` actions
//! and the commit is built directly. Upserts, accumulates and dedupes reduce
//! the batch to one row per key in Arrow ([`super::reduce`]) and run a
//! delta-rs MERGE,
//! which writes `_change_data` files because the table has the Change Data
//! Feed on. Whenever no data changes (no rows, or a MERGE that matched
//! nothing it may change), a commit carrying only the `txn` actions and the
//! lineage is made instead, so progress still advances.

use std::sync::Arc;

use deltalake::datafusion::common::{Column, TableReference};
use deltalake::datafusion::logical_expr::{Expr, Operator, binary_expr, lit, when};
use deltalake::kernel::transaction::{
    CommitBuilder, CommitProperties, TableReference as SnapshotReference,
};
use deltalake::kernel::{Action, Transaction};
use deltalake::operations::merge::MergeBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::table::state::DeltaTableState;
use deltalake::{DeltaTableError, datafusion::functions::expr_fn::coalesce};

use super::arrow::array::RecordBatch;
use super::arrow::compute::concat_batches;
use super::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use super::{Commit, LINEAGE_KEY, Table, TableError, WriteMode, error, reduce, schema, session};

const SOURCE: &str = "source";
const TARGET: &str = "target";

/// What a MERGE does with the reduced source rows.
struct MergePlan<'a> {
    keys: &'a [String],
    kind: MergeKind<'a>,
}

enum MergeKind<'a> {
    Upsert {
        sequence: Option<&'a str>,
        delete_column: Option<&'a str>,
    },
    Accumulate {
        measures: &'a [String],
        reset_column: Option<&'a str>,
    },
    Dedupe,
}

impl Table {
    /// Writes rows (possibly none) with `mode`, plus the txns and lineage, in
    /// ONE Delta commit. Returns the new version.
    ///
    /// # Errors
    /// [`TableError::MissingColumn`] when a key, measure, sequence, delete or
    /// table column is not in the batches; [`TableError::SchemaMismatch`] for
    /// columns the table does not have; [`TableError::InvalidBatch`] for
    /// values that cannot be written; [`TableError::Conflict`] when a
    /// concurrent commit wins (refresh and redo); [`TableError::Write`] for
    /// other failures. Nothing is committed on error.
    pub async fn write(
        &mut self,
        batches: Vec<RecordBatch>,
        mode: &WriteMode,
        commit: &Commit,
    ) -> Result<i64, TableError> {
        for batch in &batches {
            mode.check_columns(&self.uri, batch)?;
        }
        let properties = commit_properties(commit);
        let state = match mode {
            WriteMode::Append => {
                let mut appender = self.appender()?;
                for batch in &batches {
                    appender.write(batch).await?;
                }
                return self.commit_append(appender, commit).await;
            }
            WriteMode::Upsert {
                keys,
                sequence,
                delete_column,
            } => {
                let plan = MergePlan {
                    keys,
                    kind: MergeKind::Upsert {
                        sequence: sequence.as_deref(),
                        delete_column: delete_column.as_deref(),
                    },
                };
                self.merge(batches, &plan, properties).await?
            }
            WriteMode::Accumulate {
                keys,
                measures,
                reset_column,
            } => {
                let plan = MergePlan {
                    keys,
                    kind: MergeKind::Accumulate {
                        measures,
                        reset_column: reset_column.as_deref(),
                    },
                };
                self.merge(batches, &plan, properties).await?
            }
            WriteMode::Dedupe { keys } => {
                let plan = MergePlan {
                    keys,
                    kind: MergeKind::Dedupe,
                };
                if let Some(version) = self.dedupe_by_index(&batches, &plan, commit).await? {
                    return Ok(version);
                }
                self.merge(batches, &plan, properties).await?
            }
        };
        Ok(self.committed(state, commit).await)
    }

    /// Moves the handle to `state`, the snapshot of the commit of `commit`
    /// it just made, with its txns; returns the new version.
    pub(super) async fn committed(&mut self, state: DeltaTableState, commit: &Commit) -> i64 {
        let before = self.state().version();
        self.set_state(state);
        if let Err(e) = self.advance_txns(before).await {
            // The commit is in: report it, and let the next refresh rebuild the map.
            tracing::warn!(table = %self.uri, version = self.version(), error = %e, "cannot read back txn versions after commit");
            for txn in &commit.txns {
                self.txns.insert(txn.app_id.clone(), txn.version);
            }
        }
        self.version()
    }

    /// Commits `actions` (possibly none) as an append with the txns and lineage.
    pub(super) async fn commit_actions(
        &self,
        actions: Vec<Action>,
        properties: CommitProperties,
    ) -> Result<DeltaTableState, TableError> {
        let partitions = self.state().metadata().partition_columns().to_vec();
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: (!partitions.is_empty()).then_some(partitions),
            predicate: None,
        };
        let finalized = CommitBuilder::from(properties)
            .with_actions(actions)
            .build(
                Some(self.state() as &dyn SnapshotReference),
                self.inner.log_store(),
                operation,
            )
            .await
            .map_err(|e| self.write_error(e))?;
        Ok(finalized.snapshot())
    }

    /// A dedupe through the key index when it is on and the batches hold
    /// rows; `Ok(None)` otherwise, having written nothing.
    async fn dedupe_by_index(
        &mut self,
        batches: &[RecordBatch],
        plan: &MergePlan<'_>,
        commit: &Commit,
    ) -> Result<Option<i64>, TableError> {
        if !self.key_index_on() || plan.keys.is_empty() {
            return Ok(None);
        }
        let source_schema = plan.source_schema(&self.schema(), &self.uri)?;
        let rows = self.conform_all(batches, &source_schema)?;
        if rows.is_empty() {
            return Ok(None);
        }
        let reduced = plan.reduce(&self.uri, &source_schema, &rows)?;
        self.dedupe_indexed(&reduced, plan.keys, commit).await
    }

    /// Reduce to one row per key, then MERGE (or commit only the txns).
    async fn merge(
        &self,
        batches: Vec<RecordBatch>,
        plan: &MergePlan<'_>,
        properties: CommitProperties,
    ) -> Result<DeltaTableState, TableError> {
        let table = self.schema();
        if plan.keys.is_empty() {
            return Err(TableError::InvalidBatch {
                table: self.uri.clone(),
                reason: "the write mode names no key column".into(),
            });
        }
        let source_schema = plan.source_schema(&table, &self.uri)?;
        let rows = self.conform_all(&batches, &source_schema)?;
        if rows.is_empty() {
            return self.commit_actions(Vec::new(), properties).await;
        }
        let reduced = plan.reduce(&self.uri, &source_schema, &rows)?;
        let before = self.state().version();
        let ctx = session().map_err(|e| self.write_error(e))?;
        let source = ctx
            .read_batch(reduced.clone())
            .map_err(|e| self.write_error(e.into()))?;
        let predicate = key_predicate(plan.keys, &reduced);
        let builder = self
            .inner
            .clone()
            .merge(source, predicate)
            .with_source_alias(SOURCE)
            .with_target_alias(TARGET)
            .with_session_state(Arc::new(ctx.state()))
            .with_commit_properties(plan.merge_properties(&properties));
        let builder = plan
            .clauses(builder, &table)
            .map_err(|e| self.write_error(e))?;
        let (merged, _metrics) = builder.await.map_err(|e| self.write_error(e))?;
        let state = merged
            .state
            .ok_or_else(|| self.write_error(DeltaTableError::NotInitialized))?;
        if state.version() == before {
            // delta-rs makes no commit when the MERGE changes nothing.
            return self.commit_actions(Vec::new(), properties).await;
        }
        Ok(state)
    }

    fn conform_all(
        &self,
        batches: &[RecordBatch],
        target: &SchemaRef,
    ) -> Result<Vec<RecordBatch>, TableError> {
        batches
            .iter()
            .filter(|b| b.num_rows() > 0)
            .map(|b| schema::conform(&self.uri, b, target))
            .collect()
    }

    pub(super) fn write_error(&self, source: DeltaTableError) -> TableError {
        if error::is_conflict(&source) {
            TableError::Conflict {
                table: self.uri.clone(),
                version: self.version(),
            }
        } else {
            TableError::Write {
                table: self.uri.clone(),
                version: self.version(),
                source: Box::new(source),
            }
        }
    }
}

impl MergePlan<'_> {
    /// The hidden (not stored) boolean column of the mode, if any.
    fn hidden_column(&self) -> Option<&str> {
        match &self.kind {
            MergeKind::Upsert { delete_column, .. } => *delete_column,
            MergeKind::Accumulate { reset_column, .. } => *reset_column,
            MergeKind::Dedupe => None,
        }
    }

    /// The MERGE's commit properties. An upsert or an accumulate removes
    /// the files holding the rows it replaces; committed on top of a
    /// concurrent commit that rewrote those files, such as an OPTIMIZE, it
    /// would leave the rewritten copies beside its new rows (delta-rs 1.1's
    /// conflict checker ignores removes with `dataChange = false` and proves
    /// overlap only through file statistics). So these MERGEs take no retry:
    /// any commit after the read snapshot fails them with a conflict, and the
    /// caller redoes from a fresh snapshot. A dedupe only adds files and
    /// keeps delta-rs's retry.
    fn merge_properties(&self, properties: &CommitProperties) -> CommitProperties {
        match self.kind {
            MergeKind::Upsert { .. } | MergeKind::Accumulate { .. } => {
                properties.clone().with_max_retries(0)
            }
            MergeKind::Dedupe => properties.clone(),
        }
    }

    /// The table schema plus the hidden delete column, if any.
    fn source_schema(&self, table: &SchemaRef, uri: &str) -> Result<SchemaRef, TableError> {
        let stored: Vec<&str> = match &self.kind {
            MergeKind::Upsert { sequence, .. } => self
                .keys
                .iter()
                .map(String::as_str)
                .chain(*sequence)
                .collect(),
            MergeKind::Accumulate { measures, .. } => self
                .keys
                .iter()
                .chain(measures.iter())
                .map(String::as_str)
                .collect(),
            MergeKind::Dedupe => self.keys.iter().map(String::as_str).collect(),
        };
        if let Some(column) = stored.iter().find(|c| table.field_with_name(c).is_err()) {
            return Err(TableError::SchemaMismatch {
                table: uri.to_string(),
                details: format!("column {column} named by the write mode is not in the table"),
            });
        }
        let Some(hidden) = self.hidden_column() else {
            return Ok(table.clone());
        };
        if table.field_with_name(hidden).is_ok() {
            return Err(TableError::SchemaMismatch {
                table: uri.to_string(),
                details: format!(
                    "column {hidden} marks rows for the write mode and must not be a table column"
                ),
            });
        }
        let mut fields: Vec<Field> = table.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new(hidden, DataType::Boolean, true));
        Ok(Arc::new(Schema::new(fields)))
    }

    /// One row per key.
    fn reduce(
        &self,
        uri: &str,
        source_schema: &SchemaRef,
        rows: &[RecordBatch],
    ) -> Result<RecordBatch, TableError> {
        let invalid = |e: super::arrow::error::ArrowError| TableError::InvalidBatch {
            table: uri.to_string(),
            reason: e.to_string(),
        };
        let batch = concat_batches(source_schema, rows).map_err(invalid)?;
        let index = |name: &str| {
            source_schema
                .index_of(name)
                .expect("invariant: columns were validated against the source schema")
        };
        let keys: Vec<usize> = self.keys.iter().map(|k| index(k)).collect();
        match &self.kind {
            MergeKind::Upsert { sequence, .. } => {
                reduce::latest_per_key(&batch, &keys, sequence.map(index)).map_err(invalid)
            }
            MergeKind::Accumulate {
                measures,
                reset_column,
            } => {
                let measures: Vec<usize> = measures.iter().map(|m| index(m)).collect();
                reduce::sum_per_key(&batch, &keys, &measures, reset_column.map(index))
                    .map_err(invalid)
            }
            MergeKind::Dedupe => reduce::first_per_key(&batch, &keys).map_err(invalid),
        }
    }

    /// The WHEN clauses of the MERGE.
    fn clauses(
        &self,
        builder: MergeBuilder,
        table: &SchemaRef,
    ) -> Result<MergeBuilder, DeltaTableError> {
        let all: Vec<&str> = table.fields().iter().map(|f| f.name().as_str()).collect();
        let non_keys: Vec<&str> = all
            .iter()
            .copied()
            .filter(|name| !self.keys.iter().any(|k| k == name))
            .collect();
        let builder = match &self.kind {
            MergeKind::Upsert {
                sequence,
                delete_column,
            } => upsert_clauses(builder, &non_keys, *sequence, *delete_column)?,
            MergeKind::Accumulate {
                measures,
                reset_column,
            } => accumulate_clauses(builder, &non_keys, measures, *reset_column)?,
            // Matched rows are already there: nothing to do.
            MergeKind::Dedupe => builder,
        };
        builder.when_not_matched_insert(|i| {
            let i = all.iter().fold(i, |i, c| i.set(unqualified(c), source(c)));
            match &self.kind {
                MergeKind::Upsert {
                    delete_column: Some(delete),
                    ..
                } => i.predicate(source(delete).is_not_true()),
                _ => i,
            }
        })
    }
}

/// Matched rows: deleted or replaced by a source row that is not older
/// ([`not_older`]); a replacement only where it changes a value, so a
/// re-delivered row rewrites nothing and leaves no change rows.
fn upsert_clauses(
    builder: MergeBuilder,
    non_keys: &[&str],
    sequence: Option<&str>,
    delete_column: Option<&str>,
) -> Result<MergeBuilder, DeltaTableError> {
    let wins = sequence.map(|s| not_older(source(s), target(s)));
    let mut builder = builder;
    if let Some(delete) = delete_column {
        let deleted = source(delete).is_true();
        let condition = match &wins {
            Some(w) => w.clone().and(deleted),
            None => deleted,
        };
        builder = builder.when_matched_delete(|d| d.predicate(condition))?;
    }
    let Some(changes) = non_keys
        .iter()
        .map(|c| binary_expr(source(c), Operator::IsDistinctFrom, target(c)))
        .reduce(Expr::or)
    else {
        // Only key columns: a matched row is already what the source says.
        return Ok(builder);
    };
    let condition = match wins {
        Some(w) => w.and(changes),
        None => changes,
    };
    builder.when_matched_update(|u| {
        non_keys
            .iter()
            .fold(u, |u, c| u.update(unqualified(c), source(c)))
            .predicate(condition)
    })
}

/// The upsert's order of a key's versions, as a predicate: whether the
/// `candidate` sequence is not older than the `current` one. A null
/// sequence is older than every non-null one and ties another null; a tie
/// goes to the candidate, the later row (later input commit, later row of a
/// commit). Never null: a null comparison would neither win nor lose.
/// [`super::reduce::latest_per_key`] orders rows of one batch the same way;
/// [`older`] is its negation.
pub(crate) fn not_older(candidate: Expr, current: Expr) -> Expr {
    let greater_or_equal = binary_expr(candidate.clone(), Operator::GtEq, current.clone());
    current
        .is_null()
        .or(candidate.is_not_null().and(greater_or_equal))
}

/// Whether the `candidate` sequence is strictly older than the `current`
/// one: the negation of [`not_older`], never null.
pub(crate) fn older(candidate: Expr, current: Expr) -> Expr {
    let less = binary_expr(candidate.clone(), Operator::Lt, current.clone());
    current.is_not_null().and(candidate.is_null().or(less))
}

/// Matched rows: measures added (nulls as 0), or replaced where the source
/// row is a reset; other columns replaced.
fn accumulate_clauses(
    builder: MergeBuilder,
    non_keys: &[&str],
    measures: &[String],
    reset_column: Option<&str>,
) -> Result<MergeBuilder, DeltaTableError> {
    builder.when_matched_update(|u| {
        non_keys.iter().fold(u, |u, c| {
            let value = if measures.iter().any(|m| m == c) {
                let sum = coalesce(vec![target(c), lit(0)]) + coalesce(vec![source(c), lit(0)]);
                match reset_column {
                    Some(reset) => when(source(reset).is_true(), coalesce(vec![source(c), lit(0)]))
                        .otherwise(sum)
                        .expect("invariant: a CASE with one WHEN and an ELSE is well formed"),
                    None => sum,
                }
            } else {
                source(c)
            };
            u.update(unqualified(c), value)
        })
    })
}

/// Key equality: `=` where the source has no null in the key (it keeps
/// delta-rs' file pruning), `IS NOT DISTINCT FROM` otherwise.
fn key_predicate(keys: &[String], reduced: &RecordBatch) -> Expr {
    keys.iter()
        .map(|k| {
            let has_nulls = reduced
                .column_by_name(k)
                .is_some_and(|c| c.null_count() > 0);
            let op = if has_nulls {
                Operator::IsNotDistinctFrom
            } else {
                Operator::Eq
            };
            binary_expr(target(k), op, source(k))
        })
        .reduce(Expr::and)
        .unwrap_or_else(|| lit(false))
}

fn source(column: &str) -> Expr {
    Expr::Column(Column::new(Some(TableReference::bare(SOURCE)), column))
}

fn target(column: &str) -> Expr {
    Expr::Column(Column::new(Some(TableReference::bare(TARGET)), column))
}

fn unqualified(column: &str) -> Column {
    Column::new_unqualified(column)
}

/// The txns and the lineage as delta-rs commit properties.
pub(super) fn commit_properties(commit: &Commit) -> CommitProperties {
    let lineage = serde_json::to_value(&commit.lineage)
        .expect("invariant: lineage is plain data and serializes to json");
    let now = chrono::Utc::now().timestamp_millis();
    // One txn per application id (the last one given wins).
    let mut txns: Vec<Transaction> = Vec::with_capacity(commit.txns.len());
    for t in &commit.txns {
        txns.retain(|seen| seen.app_id != t.app_id);
        txns.push(Transaction::new_with_last_update(
            &t.app_id,
            t.version,
            Some(now),
        ));
    }
    // No post-commit log cleanup: it removes commits by age alone, even
    // those a lagging stage has not read; the pipeline's maintenance cleans
    // up instead (`ingot_pipeline::maintenance`). The post-commit checkpoint
    // (every `delta.checkpointInterval` commits, 100) stays: without
    // checkpoints every commit replays the whole log to build its snapshot,
    // and commit time grows with the table's age (0.5 s per commit after
    // 2,000 commits on this machine).
    CommitProperties::default()
        .with_metadata([(LINEAGE_KEY.to_string(), lineage)])
        .with_application_transactions(txns)
        .with_cleanup_expired_logs(Some(false))
}
