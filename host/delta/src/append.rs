//! Appending rows as they come: an [`Appender`] streams batches into the
//! table's parquet files while a step is still producing them, and
//! [`Table::commit_append`] commits those files in one commit with the txns
//! and lineage. A step holds the files' `add` actions, not its rows.
//!
//! Nothing is visible before the commit: files written by an appender whose
//! commit never happens (a crash, a conflict, an error) are not in the log,
//! and a vacuum removes them.

use deltalake::kernel::Action;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::parquet::basic::{Compression, ZstdLevel};
use deltalake::parquet::file::properties::{EnabledStatistics, WriterProperties};
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};

use super::arrow::array::RecordBatch;
use super::arrow::datatypes::SchemaRef;
use super::{Commit, Table, TableError, schema};

/// The size a file of an append reaches before the appender starts the
/// next one.
const TARGET_FILE_BYTES: u64 = 128 << 20;

/// How the columns of a table's appended files are encoded, beyond the
/// defaults (zstd level 1 for every column: on 300-byte JSON log lines it
/// writes files 4.4 times smaller than delta-rs's snappy default, with 20%
/// less CPU when the unique columns are plain, and reads as fast; see
/// docs/benchmarks.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnEncoding {
    /// Columns whose values seldom repeat (offsets, times, payloads): no
    /// dictionary, which they would fill and fall back from.
    pub unique: Vec<String>,
    /// Columns of opaque bytes: no min/max statistics either (nothing
    /// prunes on them, and they bloat the footer).
    pub opaque: Vec<String>,
}

impl ColumnEncoding {
    pub(super) fn writer_properties(&self) -> WriterProperties {
        let zstd = ZstdLevel::try_new(1).expect("invariant: 1 is a valid zstd level");
        let mut builder = WriterProperties::builder()
            .set_created_by(format!("ingot {}", ingot_core::VERSION))
            .set_compression(Compression::ZSTD(zstd));
        for column in self.unique.iter().chain(&self.opaque) {
            builder =
                builder.set_column_dictionary_enabled(ColumnPath::from(column.as_str()), false);
        }
        for column in &self.opaque {
            builder = builder.set_column_statistics_enabled(
                ColumnPath::from(column.as_str()),
                EnabledStatistics::None,
            );
        }
        builder.build()
    }
}

/// Rows streamed into a table's files, not committed yet (see the module
/// docs).
pub struct Appender {
    writer: RecordBatchWriter,
    uri: String,
    target: SchemaRef,
    /// The table's version when the appender was made.
    version: i64,
    rows: usize,
}

impl std::fmt::Debug for Appender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appender")
            .field("table", &self.uri)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl Appender {
    /// Writes `batch` (conformed to the table's schema) to the appender's
    /// files.
    ///
    /// # Errors
    /// [`TableError::SchemaMismatch`] or [`TableError::InvalidBatch`] when the
    /// batch does not fit the table; [`TableError::Write`] when the store
    /// fails (the appender is then unusable: drop it and redo the step).
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<(), TableError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let batch = schema::conform(&self.uri, batch, &self.target)?;
        self.rows += batch.num_rows();
        self.writer
            .write(batch)
            .await
            .map_err(|source| TableError::Write {
                table: self.uri.clone(),
                version: self.version,
                source: Box::new(source),
            })
    }

    /// The rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

impl Table {
    /// Makes this handle's appends encode columns as `encoding` says.
    pub fn set_column_encoding(&mut self, encoding: ColumnEncoding) {
        self.encoding = encoding;
    }

    /// An appender of this table's rows (see the module docs).
    ///
    /// # Errors
    /// [`TableError::Write`] when the writer cannot be set up.
    pub fn appender(&self) -> Result<Appender, TableError> {
        let writer = RecordBatchWriter::for_table(&self.inner)
            .map_err(|e| self.write_error(e))?
            .with_writer_properties(self.encoding.writer_properties())
            .with_target_file_size(TARGET_FILE_BYTES);
        Ok(Appender {
            writer,
            uri: self.uri.clone(),
            target: self.schema(),
            version: self.version(),
            rows: 0,
        })
    }

    /// Commits the files of `appender` (possibly none) with the txns and
    /// lineage of `commit`, in one commit against the loaded snapshot.
    /// Returns the new version.
    ///
    /// # Errors
    /// [`TableError::Conflict`] when a concurrent commit wins;
    /// [`TableError::Write`] for other failures. Nothing is committed on
    /// error.
    pub async fn commit_append(
        &mut self,
        appender: Appender,
        commit: &Commit,
    ) -> Result<i64, TableError> {
        let properties = super::write::commit_properties(commit);
        self.commit_files(appender, commit, properties).await
    }

    /// As [`Table::commit_append`], but failing with
    /// [`TableError::Conflict`] when any commit landed after the loaded
    /// snapshot, instead of committing on top of it.
    pub(super) async fn commit_append_once(
        &mut self,
        appender: Appender,
        commit: &Commit,
    ) -> Result<i64, TableError> {
        let properties = super::write::commit_properties(commit).with_max_retries(0);
        self.commit_files(appender, commit, properties).await
    }

    async fn commit_files(
        &mut self,
        mut appender: Appender,
        commit: &Commit,
        properties: CommitProperties,
    ) -> Result<i64, TableError> {
        let adds = appender
            .writer
            .flush()
            .await
            .map_err(|e| self.write_error(e))?;
        let actions = adds.into_iter().map(Action::Add).collect();
        let state = self.commit_actions(actions, properties).await?;
        Ok(self.committed(state, commit).await)
    }
}
