//! Tombstones of an upsert table: the keys it deleted and the sequence of
//! each delete, kept in a sidecar Delta table (`<stage>_tombstones`).
//!
//! An upsert removes a deleted key's row, so the table alone cannot tell a
//! late event of that key (older than the delete but delivered after it, as
//! at-least-once CDC sources do) from a new row: the MERGE would insert it
//! and the deleted row would come back. Before each write of the stage,
//! [`Tombstones::apply`] drops every row strictly older than its key's
//! tombstone, by the upsert's order of a key's versions (a null sequence is
//! older than every non-null one, two nulls tie, a tie goes to the later
//! event: see [`super::write::not_older`]), and records the batch's own
//! deletes. So a null-sequence event of a key deleted with a sequence is
//! dropped; a null-sequence delete leaves a null tombstone, which drops
//! nothing (any later event of the key ties or beats it).
//!
//! Crashes: a batch's tombstones are committed before the batch. Writing
//! them is an upsert by key with the sequence, so doing it twice is
//! harmless; and only rows strictly older than a tombstone are dropped, so a
//! batch replayed after a crash between the two commits still applies its
//! own deletes.
//!
//! Limits: tombstones are kept forever (one small row per deleted key), and
//! keys are compared with `=`, so a key with a null column is never screened.

use std::sync::Arc;

use deltalake::datafusion::common::{Column, JoinType};
use deltalake::datafusion::logical_expr::{Expr, Operator, binary_expr};

use super::arrow::array::{AsArray, RecordBatch};
use super::arrow::compute::filter_record_batch;
use super::arrow::datatypes::{Field, Schema};
use super::write::older;
use super::{Commit, Table, TableError, WriteMode, session};

/// Prefix of the tombstone columns inside the screening join.
const PREFIX: &str = "__tombstone_";

/// The tombstones of one upsert table.
#[derive(Debug)]
pub struct Tombstones {
    uri: String,
    table: Option<Table>,
}

impl Tombstones {
    /// Tombstones kept at `uri` (the table is created on the first delete).
    pub fn new(uri: String) -> Self {
        Self { uri, table: None }
    }

    /// The URL of the tombstone table.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Drops the rows that a recorded delete supersedes, then records the
    /// deletes among the remaining rows (those whose `delete_column` is
    /// true); returns the remaining rows, ready for the upsert.
    ///
    /// # Errors
    /// [`TableError::MissingColumn`] when a batch lacks a key, the sequence
    /// or the delete column; read and write errors of the tombstone table.
    pub async fn apply(
        &mut self,
        rows: Vec<RecordBatch>,
        keys: &[String],
        sequence: &str,
        delete_column: &str,
        commit: &Commit,
    ) -> Result<Vec<RecordBatch>, TableError> {
        let rows: Vec<RecordBatch> = rows.into_iter().filter(|b| b.num_rows() > 0).collect();
        if rows.is_empty() {
            return Ok(rows);
        }
        let mut needed: Vec<&str> = keys.iter().map(String::as_str).collect();
        needed.extend([sequence, delete_column]);
        if let Some(column) = needed
            .iter()
            .find(|c| rows.iter().any(|b| b.schema().index_of(c).is_err()))
        {
            return Err(TableError::MissingColumn {
                table: self.uri.clone(),
                column: (*column).to_string(),
            });
        }
        match &mut self.table {
            Some(table) => table.refresh().await?,
            None => self.table = Table::open(&self.uri).await?,
        }
        let rows = match &self.table {
            Some(table) => screen(table, rows, keys, sequence).await?,
            None => rows,
        };
        let deletes = deletes_of(&self.uri, &rows, &needed[..needed.len() - 1], delete_column)?;
        let Some(deletes) = deletes else {
            return Ok(rows);
        };
        if self.table.is_none() {
            self.table = Some(Table::open_or_create(&self.uri, deletes.schema()).await?);
        }
        let table = self
            .table
            .as_mut()
            .expect("invariant: opened or created above");
        let mode = WriteMode::Upsert {
            keys: keys.to_vec(),
            sequence: Some(sequence.to_string()),
            delete_column: None,
        };
        let commit = Commit {
            txns: Vec::new(),
            lineage: commit.lineage.clone(),
        };
        table.write(vec![deletes], &mode, &commit).await?;
        Ok(rows)
    }
}

/// `rows` without those strictly older than their key's tombstone, by the
/// upsert's order ([`older`]: a null sequence is older than a non-null
/// tombstone; a null tombstone drops nothing).
async fn screen(
    tombstones: &Table,
    rows: Vec<RecordBatch>,
    keys: &[String],
    sequence: &str,
) -> Result<Vec<RecordBatch>, TableError> {
    let query_error = |source| TableError::Query {
        table: tombstones.uri.clone(),
        version: tombstones.version(),
        source: Box::new(source),
    };
    let read_error = |source| tombstones.read_error(tombstones.version(), source);
    let ctx = session().map_err(read_error)?;
    tombstones
        .inner
        .update_datafusion_session(&ctx.state())
        .map_err(read_error)?;
    let provider = tombstones
        .inner
        .table_provider()
        .await
        .map_err(query_error)?;
    let stored = ctx
        .read_table(provider)
        .map_err(query_error)?
        .select(
            keys.iter()
                .map(String::as_str)
                .chain([sequence])
                .map(|c| column(c).alias(format!("{PREFIX}{c}")))
                .collect::<Vec<_>>(),
        )
        .map_err(query_error)?;
    let mut on: Vec<Expr> = keys
        .iter()
        .map(|k| binary_expr(column(k), Operator::Eq, column(&format!("{PREFIX}{k}"))))
        .collect();
    on.push(older(
        column(sequence),
        column(&format!("{PREFIX}{sequence}")),
    ));
    ctx.read_batches(rows)
        .map_err(query_error)?
        .join_on(stored, JoinType::LeftAnti, on)
        .map_err(query_error)?
        .collect()
        .await
        .map_err(query_error)
}

/// The key and sequence columns of the rows marked deleted, as one batch of
/// nullable columns; `None` when no row is a delete.
fn deletes_of(
    uri: &str,
    rows: &[RecordBatch],
    columns: &[&str],
    delete_column: &str,
) -> Result<Option<RecordBatch>, TableError> {
    let invalid = |e: super::arrow::error::ArrowError| TableError::InvalidBatch {
        table: uri.to_string(),
        reason: e.to_string(),
    };
    let mut deletes = Vec::new();
    for batch in rows {
        let index = |c: &str| {
            batch
                .schema()
                .index_of(c)
                .expect("invariant: columns were checked by apply")
        };
        let flags = batch.column(index(delete_column));
        let Some(flags) = flags.as_boolean_opt() else {
            return Err(TableError::InvalidBatch {
                table: uri.to_string(),
                reason: format!(
                    "delete column {delete_column} is {}, not boolean",
                    flags.data_type()
                ),
            });
        };
        let projected = batch
            .project(&columns.iter().map(|c| index(c)).collect::<Vec<_>>())
            .map_err(invalid)?;
        let kept = filter_record_batch(&projected, flags).map_err(invalid)?;
        if kept.num_rows() > 0 {
            deletes.push(kept);
        }
    }
    let Some(first) = deletes.first() else {
        return Ok(None);
    };
    let schema = Arc::new(Schema::new(
        first
            .schema()
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), f.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let columns_of = |b: &RecordBatch| RecordBatch::try_new(schema.clone(), b.columns().to_vec());
    let deletes: Vec<RecordBatch> = deletes
        .iter()
        .map(columns_of)
        .collect::<Result<_, _>>()
        .map_err(invalid)?;
    super::arrow::compute::concat_batches(&schema, &deletes)
        .map(Some)
        .map_err(invalid)
}

fn column(name: &str) -> Expr {
    Expr::Column(Column::new_unqualified(name))
}
