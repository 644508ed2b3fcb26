//! Delta tables: the only crate of ingot that names deltalake types.
//!
//! A [`Table`] is one Delta table in a local folder (a path, relative or
//! absolute, or a `file://` URL) or on an object store (`s3://`, `gs://`,
//! `abfss://`, ... with the options of its lake, [`register_lake`]), held at
//! a loaded snapshot. It
//! - creates tables with the Change Data Feed on (`delta.enableChangeDataFeed
//!   = true`), so every stage can read the previous table incrementally;
//! - writes rows in one of four [`WriteMode`]s — append, upsert (latest row
//!   per key, CDC), accumulate (measures added per key), dedupe (append of
//!   keys not yet present) — together with the
//!   Delta `txn` actions that record progress and the ingot [`Lineage`] (in
//!   the commit info under the key `"ingot"`), all in **one** commit, even when
//!   there are no rows;
//! - reads the Change Data Feed of a version range in version order, as a
//!   stream of batches ([`Table::change_stream`]) or collected
//!   ([`Table::changes`]);
//! - keeps the `txn` versions of its snapshot in memory
//!   ([`Table::txn_version`]), since delta-rs 1.x only answers that with a log
//!   replay per application id;
//! - maintains itself when asked ([`Table::optimize`], [`Table::checkpoint`],
//!   [`Table::cleanup_log`], [`Table::vacuum`], [`Table::restore`],
//!   [`Table::delete_rows`]) and lists its history ([`Table::history`]); no
//!   commit cleans the log after itself.
//!
//! This crate knows no Kafka, no Wasm and no pipeline: txn app ids and
//! lineage reach it as values ([`Txn`], [`Lineage`]), decided above it.
//!
//! Exactly-once rests on two properties. A commit carries the rows and the
//! `txn` together, so a crash leaves either both or neither. And delta-rs'
//! conflict checker refuses a commit whose `txn` application id was updated by
//! a concurrent winner: the loser gets [`TableError::Conflict`], refreshes and
//! redoes its work from the `txn` version it then reads.
//!
//! The snapshot only moves forward on [`Table::refresh`] or on this handle's
//! own writes; nothing here re-reads the whole table per write.
//!
//! Limits, stated plainly:
//! - Upsert deletes remove the key's row; the table itself keeps no
//!   tombstone. [`Tombstones`] (a sidecar table the stage keeps when an
//!   upsert has both a sequence and a delete column) screens out events
//!   older than a key's delete, so a late event cannot bring the row back.
//! - In an upsert, a null sequence is lower than any value and ties go to
//!   the later row (later commit, later row of a commit), alike within a
//!   batch, in the MERGE and in the tombstone screen.
//! - Accumulate keeps rows whose measures sum to zero.
//! - Other URL schemes than local paths, `file://` and
//!   [`OBJECT_STORE_SCHEMES`] fail with [`TableError::UnsupportedScheme`].
//! - Change Data Feed columns: `_change_type` (Utf8: `insert`, `delete`,
//!   `update_preimage`, `update_postimage`), `_commit_version` (Int64) and
//!   `_commit_timestamp` (Timestamp(µs, UTC)).

mod append;
mod cdf;
mod error;
mod history;
mod keys;
mod location;
mod maintain;
mod mode;
pub mod objects;
mod reduce;
mod schema;
pub mod sql;
mod tombstones;
mod txns;
mod write;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_keys;
#[cfg(test)]
mod tests_maintain;
#[cfg(test)]
mod tests_merge;
#[cfg(test)]
mod tests_merge_order;
#[cfg(test)]
mod tests_sql;

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::kernel::engine::arrow_conversion::TryIntoArrow as _;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::table::state::DeltaTableState;
use deltalake::{DeltaTable, DeltaTableError, TableProperty};

pub use deltalake::arrow;
pub use deltalake::datafusion;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::prelude::SessionContext;

pub use append::{Appender, ColumnEncoding};
pub use cdf::{
    CHANGE_TYPE_COLUMN, COMMIT_TIMESTAMP_COLUMN, COMMIT_VERSION_COLUMN, ChangeStream, change_schema,
};
pub use error::TableError;
pub use history::{CommitRecord, HistoryEntry};
pub use location::{OBJECT_STORE_SCHEMES, register_lake};
pub use maintain::{Compacted, Compaction, FileStats, Restored, Vacuumed};
pub use mode::WriteMode;
pub use tombstones::Tombstones;

/// The commit-info key under which ingot records its [`Lineage`].
pub const LINEAGE_KEY: &str = "ingot";

/// How long the JSON commits of a table ingot creates are kept once a
/// checkpoint covers them (`delta.logRetentionDuration`): a stage further
/// behind than this can no longer read its input's change feed.
pub const LOG_RETENTION: &str = "interval 30 days";

/// How long files a commit removed, and `_change_data` files, are kept
/// before a vacuum may delete them (`delta.deletedFileRetentionDuration`).
pub const DELETED_FILE_RETENTION: &str = "interval 7 days";

/// A Delta `txn` (SetTransaction) action: app id + version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// Application id, e.g. `<pipeline>/<topic>/<partition>` or `stage/<pipeline>/<stage>`.
    pub app_id: String,
    /// The application's progress, e.g. the last Kafka offset or input version written.
    pub version: i64,
}

/// Provenance recorded in the commitInfo of every commit ingot makes
/// (serialized as a JSON object under the key [`LINEAGE_KEY`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Lineage {
    /// The ingot version that made the commit.
    pub ingot_version: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Stage name; `ingest` for bronze.
    pub stage: String,
    /// sha256 hex of the module that produced the rows.
    pub module: Option<String>,
    /// The input table the rows were computed from.
    pub input_table: Option<String>,
    /// Inclusive range of input table versions consumed.
    pub input_versions: Option<(i64, i64)>,
    /// What a stage's module ran with over that range (absent on bronze and
    /// registry commits, and on commits of ingot before 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<Attempt>,
}

/// What one attempt of a stage's step ran with: a redo of the same range
/// after a crash must run with the same, so it reproduces the first attempt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attempt {
    /// sha256 hex of the module's configuration (its `init` pairs as JSON).
    pub config_digest: String,
    /// The processing time the module was given (µs since the epoch).
    pub processing_time: i64,
    /// The configuration itself: recorded in quarantine commits, whose redo
    /// must reuse it even if the pipeline file or the registry changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Vec<(String, String)>>,
}

/// What one commit carries besides rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// `txn` actions committed with the rows.
    pub txns: Vec<Txn>,
    /// Lineage recorded in the commit info.
    pub lineage: Lineage,
}

/// One Delta table at a loaded snapshot.
pub struct Table {
    inner: DeltaTable,
    uri: String,
    schema: SchemaRef,
    /// `txn` versions as of the loaded snapshot.
    txns: txns::TxnMap,
    /// False when advancing `txns` failed; the next refresh rebuilds it.
    txns_current: bool,
    /// How appends encode their columns.
    encoding: ColumnEncoding,
    /// The stored-key index of dedupe writes.
    keys: keys::KeyState,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("uri", &self.uri)
            .field("version", &self.version())
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Opens an existing table; `Ok(None)` if there is no Delta table at `uri`.
    ///
    /// # Errors
    /// An unsupported scheme or invalid location, or a table that exists but
    /// cannot be loaded.
    pub async fn open(uri: &str) -> Result<Option<Table>, TableError> {
        let location = location::locate(uri)?;
        if !location.may_hold_table() {
            return Ok(None);
        }
        match location.builder(uri)?.load().await {
            Ok(inner) => Table::from_loaded(inner).await.map(Some),
            Err(DeltaTableError::NotATable(_)) => Ok(None),
            Err(source) => Err(TableError::Open {
                table: uri.to_string(),
                source: Box::new(source),
            }),
        }
    }

    /// Opens the table, or creates it with this schema and
    /// `delta.enableChangeDataFeed=true` if absent.
    ///
    /// # Errors
    /// [`TableError::SchemaMismatch`] naming the fields when an existing table
    /// does not have the same fields by name and type (the table may be
    /// nullable where `schema` is not); open and create failures otherwise.
    pub async fn open_or_create(uri: &str, schema: SchemaRef) -> Result<Table, TableError> {
        let wanted = schema::to_delta(uri, &schema)?;
        if let Some(table) = Table::open(uri).await? {
            return table.ensure_fits(&wanted);
        }
        let created = location::locate(uri)?
            .builder(uri)?
            .build()
            .map_err(|source| TableError::Create {
                table: uri.to_string(),
                source: Box::new(source),
            })?
            .create()
            .with_columns(wanted.fields().cloned())
            .with_configuration_property(TableProperty::EnableChangeDataFeed, Some("true"))
            // Stated, not inherited: a stage can read this table's history
            // for as long as these keep it (docs/operations.md, retention).
            .with_configuration_property(TableProperty::LogRetentionDuration, Some(LOG_RETENTION))
            .with_configuration_property(
                TableProperty::DeletedFileRetentionDuration,
                Some(DELETED_FILE_RETENTION),
            )
            // No retry: a create that loses the race for version 0 must fail,
            // not land a second create commit on top of the winner's.
            .with_commit_properties(CommitProperties::default().with_max_retries(0))
            .await;
        match created {
            Ok(inner) => Table::from_loaded(inner).await,
            // Lost a race with another creator: use its table if it fits.
            Err(source) => match Table::open(uri).await? {
                Some(table) => table.ensure_fits(&wanted),
                None => Err(TableError::Create {
                    table: uri.to_string(),
                    source: Box::new(source),
                }),
            },
        }
    }

    /// Checks, without writing, that [`Table::write`] would accept `batch`
    /// in `mode`: the mode's columns are there, and every column fits the
    /// table's (same names, castable types).
    ///
    /// # Errors
    /// As [`Table::write`] for a bad batch: [`TableError::MissingColumn`],
    /// [`TableError::SchemaMismatch`], [`TableError::InvalidBatch`].
    pub fn check(&self, batch: &RecordBatch, mode: &WriteMode) -> Result<(), TableError> {
        mode.check_columns(&self.uri, batch)?;
        let mut target: Vec<arrow::datatypes::FieldRef> =
            self.schema.fields().iter().cloned().collect();
        if let Some(hidden) = mode.hidden_column() {
            target.push(Arc::new(arrow::datatypes::Field::new(
                hidden,
                arrow::datatypes::DataType::Boolean,
                true,
            )));
        }
        let target = Arc::new(arrow::datatypes::Schema::new(target));
        schema::conform(&self.uri, batch, &target).map(|_| ())
    }

    /// The table's URL (`file:///...`), as used in errors and lineage.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The version of the loaded snapshot.
    pub fn version(&self) -> i64 {
        version_i64(self.state().version())
    }

    /// The Arrow schema of the table.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The schema of this table's Change Data Feed batches: its columns plus
    /// `_change_type`, `_commit_version` and `_commit_timestamp`.
    pub fn change_schema(&self) -> SchemaRef {
        cdf::change_schema(&self.schema())
    }

    /// Loads the latest version (incrementally: only new commits are read).
    ///
    /// # Errors
    /// [`TableError::Read`] when the log cannot be read.
    pub async fn refresh(&mut self) -> Result<(), TableError> {
        let before = self.state().version();
        self.inner
            .update_state()
            .await
            .map_err(|source| self.read_error(version_i64(before), source))?;
        self.schema = arrow_schema(&self.uri, self.state())?;
        self.advance_txns(before).await
    }

    /// The version of application transaction `app_id` in the loaded
    /// snapshot (`None` if it never committed). Opening, [`Table::refresh`]
    /// and this handle's own writes bring it up to date; a commit of another
    /// writer is seen after the next refresh.
    pub fn txn_version(&self, app_id: &str) -> Option<i64> {
        self.txns.get(app_id).copied()
    }

    /// All current rows of the loaded snapshot.
    ///
    /// # Errors
    /// [`TableError::Query`] when the scan fails.
    pub async fn scan(&self) -> Result<Vec<RecordBatch>, TableError> {
        let batches = self.query("SELECT * FROM t").await?;
        batches
            .iter()
            .map(|b| schema::conform(&self.uri, b, &self.schema))
            .collect()
    }

    /// Current rows through a SQL query over the table named `t` (DataFusion
    /// dialect; identifiers are case-sensitive).
    ///
    /// # Errors
    /// [`TableError::Query`] for invalid SQL or a failed scan.
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, TableError> {
        let query_error = |source| TableError::Query {
            table: self.uri.clone(),
            version: self.version(),
            source: Box::new(source),
        };
        let ctx = session().map_err(|e| self.read_error(self.version(), e))?;
        self.inner
            .update_datafusion_session(&ctx.state())
            .map_err(|e| self.read_error(self.version(), e))?;
        let provider = self.inner.table_provider().await.map_err(query_error)?;
        ctx.register_table("t", provider).map_err(query_error)?;
        let batches = ctx
            .sql(sql)
            .await
            .map_err(query_error)?
            .collect()
            .await
            .map_err(query_error)?;
        batches
            .into_iter()
            .map(|b| schema::without_views(b).map_err(|e| query_error(e.into())))
            .collect()
    }

    async fn from_loaded(inner: DeltaTable) -> Result<Table, TableError> {
        let uri = inner.table_url().as_str().trim_end_matches('/').to_string();
        let open_error = |source| TableError::Open {
            table: uri.clone(),
            source: Box::new(source),
        };
        let state = inner.snapshot().map_err(open_error)?;
        let schema = arrow_schema(&uri, state)?;
        let txns = txns::load(inner.log_store().as_ref(), state.version())
            .await
            .map_err(open_error)?;
        Ok(Table {
            inner,
            uri,
            schema,
            txns,
            txns_current: true,
            encoding: ColumnEncoding::default(),
            keys: keys::KeyState::Off,
        })
    }

    /// Brings the `txn` map from version `before` to the loaded snapshot.
    async fn advance_txns(&mut self, before: u64) -> Result<(), TableError> {
        let now = self.state().version();
        let store = self.inner.log_store();
        let result = if self.txns_current {
            self.txns_current = false;
            txns::apply_commits(store.as_ref(), before + 1, now, &mut self.txns).await
        } else {
            txns::load(store.as_ref(), now).await.map(|map| {
                self.txns = map;
            })
        };
        result.map_err(|source| self.read_error(version_i64(now), source))?;
        self.txns_current = true;
        Ok(())
    }

    fn ensure_fits(self, wanted: &deltalake::kernel::StructType) -> Result<Table, TableError> {
        let problems = schema::incompatibilities(&self.state().schema(), wanted);
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(TableError::SchemaMismatch {
                table: self.uri.clone(),
                details: problems.join("; "),
            })
        }
    }

    fn state(&self) -> &DeltaTableState {
        self.inner
            .state
            .as_ref()
            .expect("invariant: a Table always holds a loaded snapshot")
    }

    /// Installs a snapshot this handle just committed (infallible: the commit
    /// is in, whatever happens next).
    fn set_state(&mut self, state: DeltaTableState) {
        match arrow_schema(&self.uri, &state) {
            Ok(schema) => self.schema = schema,
            Err(e) => {
                tracing::warn!(table = %self.uri, error = %e, "keeping the previous arrow schema")
            }
        }
        self.inner.state = Some(state);
    }

    fn read_error(&self, version: i64, source: DeltaTableError) -> TableError {
        TableError::Read {
            table: self.uri.clone(),
            version,
            source: Box::new(source),
        }
    }
}

/// The Arrow schema of a snapshot.
fn arrow_schema(table: &str, state: &DeltaTableState) -> Result<SchemaRef, TableError> {
    let schema = state.schema();
    let arrow: arrow::datatypes::Schema =
        schema
            .as_ref()
            .try_into_arrow()
            .map_err(|e| TableError::SchemaMismatch {
                table: table.to_string(),
                details: format!("the table schema has no arrow form: {e}"),
            })?;
    Ok(Arc::new(arrow))
}

/// A DataFusion session for reads and merges: classic (non-view) string
/// types, and no work stealing between file groups so a partition reads only
/// its own files (the CDF reader relies on it for version order).
fn session() -> Result<SessionContext, DeltaTableError> {
    let overrides = HashMap::from([
        (
            "datafusion.execution.parquet.schema_force_view_types".to_string(),
            "false".to_string(),
        ),
        (
            "datafusion.execution.enable_file_stream_work_stealing".to_string(),
            "false".to_string(),
        ),
    ]);
    Ok(
        deltalake::delta_datafusion::DeltaSessionContext::new_with_session_overrides(&overrides)?
            .into_inner(),
    )
}

fn version_i64(version: u64) -> i64 {
    i64::try_from(version).expect("invariant: delta versions fit in i64")
}
