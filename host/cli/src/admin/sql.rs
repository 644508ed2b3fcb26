//! The console's SQL box: one read-only query over every table of a
//! tenant's pipelines, each named `<pipeline>.<table>` (`logs.silver`,
//! `logs.silver_quarantine`), within the server's row and time limits
//! (`ingot_delta::sql`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use ingot_core::arrow::json::ArrayWriter;
use ingot_delta::sql::{self, Named, QueryLimits};
use ingot_pipeline::{config::PipelineConfig, maintenance};

use crate::{Error, Result};

/// A query.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// The query (DataFusion's dialect).
    pub sql: String,
    /// Rows wanted at most (capped by the server's `sql-max-rows`).
    #[serde(default)]
    pub max_rows: Option<usize>,
}

/// A query's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SqlAnswer {
    /// The columns, in order.
    pub columns: Vec<String>,
    /// The rows, as objects keyed by column (Arrow's JSON encoding).
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    /// Whether there were more rows than returned.
    pub truncated: bool,
    /// The tables the query could read, as `pipeline.table`.
    pub tables: Vec<String>,
}

/// Runs `request` over the existing tables of `pipelines`, at most
/// `max_rows` rows and `timeout`.
///
/// # Errors
///
/// A refused or failing query, a query past `timeout`, a table that cannot
/// be opened.
pub async fn query(
    pipelines: &[&PipelineConfig],
    request: &SqlRequest,
    max_rows: usize,
    timeout: Duration,
) -> Result<SqlAnswer> {
    let mut opened = Vec::new();
    for config in pipelines {
        for name in config.table_names() {
            if let Some(table) = maintenance::open_existing(config, &name).await? {
                opened.push((config.name.clone(), name, table));
            }
        }
    }
    let named: Vec<Named<'_>> = opened
        .iter()
        .map(|(schema, name, table)| Named {
            schema,
            name,
            table,
        })
        .collect();
    let limits = QueryLimits {
        max_rows: request.max_rows.unwrap_or(max_rows).min(max_rows),
        timeout,
    };
    let answer = sql::query(&named, &request.sql, limits)
        .await
        .map_err(ingot_pipeline::Error::from)?;
    let columns = answer.batches.first().map_or_else(Vec::new, |b| {
        b.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    });
    let mut writer = ArrayWriter::new(Vec::new());
    for batch in &answer.batches {
        writer
            .write(batch)
            .map_err(|e| Error::Internal(format!("rows as JSON: {e}")))?;
    }
    writer
        .finish()
        .map_err(|e| Error::Internal(format!("rows as JSON: {e}")))?;
    let bytes = writer.into_inner();
    let rows = if bytes.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| Error::Internal(format!("rows as JSON: {e}")))?
    };
    Ok(SqlAnswer {
        columns,
        rows,
        truncated: answer.truncated,
        tables: opened
            .iter()
            .map(|(schema, name, _)| format!("{schema}.{name}"))
            .collect(),
    })
}
