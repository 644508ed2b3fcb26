//! Read-only SQL over several tables at once: the console's SQL box and the
//! admin API's `/sql`. A query may read any table it is given, under the
//! name `<schema>.<table>`; statements other than queries (DDL, DML,
//! `SET`, `COPY`...) are refused before they run, the answer is cut at a
//! row limit, and a query still running at its time limit is stopped.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use deltalake::datafusion::{
    catalog::MemorySchemaProvider, common::TableReference, execution::context::SQLOptions,
};

use crate::{Table, TableError, arrow::array::RecordBatch, schema};

/// The bounds of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Rows returned at most (the answer says when there were more).
    pub max_rows: usize,
    /// Time the query may run.
    pub timeout: Duration,
}

/// A query's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The rows, at most [`QueryLimits::max_rows`].
    pub batches: Vec<RecordBatch>,
    /// Whether the query had more rows than that.
    pub truncated: bool,
}

/// A table a query may read, as `schema.name`.
pub struct Named<'a> {
    /// The schema (a pipeline's name).
    pub schema: &'a str,
    /// The table's name in it.
    pub name: &'a str,
    /// The table.
    pub table: &'a Table,
}

/// Runs `sql`, a query, over `tables` within `limits`.
///
/// # Errors
///
/// [`TableError::SqlRefused`] for a statement that is not a query or SQL
/// that does not parse or plan, [`TableError::SqlTimeout`] past the time
/// limit, [`TableError::Read`] for a table that cannot be read.
pub async fn query(
    tables: &[Named<'_>],
    sql: &str,
    limits: QueryLimits,
) -> Result<Answer, TableError> {
    let refused = |e: &dyn std::fmt::Display| TableError::SqlRefused {
        reason: e.to_string(),
    };
    let ctx = crate::session().map_err(|e| refused(&e))?;
    let catalog = ctx
        .catalog("datafusion")
        .ok_or_else(|| TableError::Internal {
            table: tables
                .first()
                .map_or_else(String::new, |t| t.table.uri().to_owned()),
            reason: "the query session has no default catalog".into(),
        })?;
    let schemas: BTreeSet<&str> = tables.iter().map(|t| t.schema).collect();
    for name in schemas {
        catalog
            .register_schema(name, Arc::new(MemorySchemaProvider::new()))
            .map_err(|e| refused(&e))?;
    }
    for t in tables {
        t.table
            .inner
            .update_datafusion_session(&ctx.state())
            .map_err(|e| t.table.read_error(t.table.version(), e))?;
        let provider = t
            .table
            .inner
            .table_provider()
            .await
            .map_err(|e| refused(&e))?;
        ctx.register_table(TableReference::partial(t.schema, t.name), provider)
            .map_err(|e| refused(&e))?;
    }
    let read_only = SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false);
    let run = async {
        let frame = ctx
            .sql_with_options(sql, read_only)
            .await
            .map_err(|e| refused(&e))?;
        let limited = frame
            .limit(0, Some(limits.max_rows.saturating_add(1)))
            .map_err(|e| refused(&e))?;
        limited.collect().await.map_err(|e| refused(&e))
    };
    let batches = tokio::time::timeout(limits.timeout, run)
        .await
        .map_err(|_| TableError::SqlTimeout {
            seconds: limits.timeout.as_secs_f64(),
        })??;
    cut(batches, limits.max_rows)
}

/// The first `max_rows` rows of `batches`, and whether there were more.
fn cut(batches: Vec<RecordBatch>, max_rows: usize) -> Result<Answer, TableError> {
    let mut left = max_rows;
    let mut kept = Vec::new();
    let mut truncated = false;
    for batch in batches {
        let batch = schema::without_views(batch).map_err(|e| TableError::SqlRefused {
            reason: e.to_string(),
        })?;
        if batch.num_rows() > left {
            truncated = true;
            if left > 0 {
                kept.push(batch.slice(0, left));
            }
            break;
        }
        left -= batch.num_rows();
        kept.push(batch);
    }
    Ok(Answer {
        batches: kept,
        truncated,
    })
}
