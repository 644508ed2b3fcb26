//! How rows are written to a table: the write modes a stage's `mode` key
//! names, and what each needs of the rows.

use std::sync::Arc;

use crate::TableError;
use crate::arrow::{self, array::RecordBatch, datatypes::SchemaRef};

/// How rows are written. In a pipeline file this is the stage's `mode` key
/// with the keys of that mode beside it (`mode = "upsert"`, `keys`,
/// `sequence`, `delete-column`): a mode's keys are refused in another mode.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "mode",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    deny_unknown_fields
)]
pub enum WriteMode {
    /// Rows are inserted.
    #[default]
    Append,
    /// Latest row per key. `sequence`: a column ordering versions of a key
    /// (higher wins, a null is lower than any value, a tie goes to the later
    /// row; without it the last row wins). A matched row is rewritten only
    /// where a value changes. `delete_column`: optional boolean column
    /// marking deletes; it is NOT stored in the table.
    Upsert {
        /// Key columns (compared null-safe).
        keys: Vec<String>,
        /// Optional ordering column, stored in the table.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sequence: Option<String>,
        /// Optional boolean delete marker, not stored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delete_column: Option<String>,
    },
    /// Measures are added into the existing row of the key (nulls count as
    /// 0); new keys are inserted; other columns take the batch's last value.
    Accumulate {
        /// Key columns (compared null-safe).
        keys: Vec<String>,
        /// Integer, float or decimal columns to add up.
        measures: Vec<String>,
        /// Optional boolean column, not stored: a row where it is true
        /// REPLACES the key's measures instead of adding to them (rows after
        /// it in the batch add to the replaced value). For sources that send
        /// a full state now and then, such as osquery snapshots.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reset_column: Option<String>,
    },
    /// Rows whose key the table does not hold yet are inserted; the others
    /// are dropped (the first row of a key in a batch wins). Replaying the
    /// same data adds nothing: an idempotent append.
    Dedupe {
        /// Key columns (compared null-safe) that identify a row.
        keys: Vec<String>,
    },
}

impl WriteMode {
    /// The boolean column the mode reads from the batches but does not
    /// store: the upsert's delete column, the accumulate's reset column.
    pub fn hidden_column(&self) -> Option<&str> {
        match self {
            WriteMode::Upsert { delete_column, .. } => delete_column.as_deref(),
            WriteMode::Accumulate { reset_column, .. } => reset_column.as_deref(),
            WriteMode::Append | WriteMode::Dedupe { .. } => None,
        }
    }

    /// The columns every batch must have in this mode: the keys, the
    /// sequence and delete column (upsert), the measures and reset column
    /// (accumulate).
    pub fn required_columns(&self) -> Vec<&str> {
        let mut columns: Vec<&str> = Vec::new();
        match self {
            WriteMode::Append => {}
            WriteMode::Upsert {
                keys,
                sequence,
                delete_column,
            } => {
                columns.extend(keys.iter().map(String::as_str));
                columns.extend(
                    sequence
                        .iter()
                        .chain(delete_column.iter())
                        .map(String::as_str),
                );
            }
            WriteMode::Accumulate {
                keys,
                measures,
                reset_column,
            } => {
                columns.extend(keys.iter().chain(measures.iter()).map(String::as_str));
                columns.extend(reset_column.iter().map(String::as_str));
            }
            WriteMode::Dedupe { keys } => columns.extend(keys.iter().map(String::as_str)),
        }
        columns
    }

    /// Checks that `batch` has the columns the mode needs (no table yet).
    ///
    /// # Errors
    /// [`TableError::MissingColumn`] naming the first missing one.
    pub fn check_columns(&self, table: &str, batch: &RecordBatch) -> Result<(), TableError> {
        let schema = batch.schema();
        match self
            .required_columns()
            .into_iter()
            .find(|c| schema.index_of(c).is_err())
        {
            Some(column) => Err(TableError::MissingColumn {
                table: table.to_owned(),
                column: column.to_owned(),
            }),
            None => Ok(()),
        }
    }

    /// The schema of a table that stores batches of `schema` in this mode:
    /// the batch's columns without the hidden one.
    ///
    /// An upsert with a delete column gets nullable columns: delta-rs 1.1's
    /// MERGE checks NOT NULL constraints on a null row it builds for every
    /// source row that matches nothing and is not inserted (a delete of an
    /// absent key), and would fail the whole commit.
    pub fn table_schema(&self, schema: &SchemaRef) -> SchemaRef {
        let Some(hidden) = self.hidden_column() else {
            return schema.clone();
        };
        let nullable = matches!(self, WriteMode::Upsert { .. });
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .filter(|f| f.name() != hidden)
            .map(|f| {
                if nullable && !f.is_nullable() {
                    Arc::new(f.as_ref().clone().with_nullable(true))
                } else {
                    f.clone()
                }
            })
            .collect();
        Arc::new(arrow::datatypes::Schema::new_with_metadata(
            fields,
            schema.metadata().clone(),
        ))
    }
}
