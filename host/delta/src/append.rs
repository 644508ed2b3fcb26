//! Appending rows as they come: an [`Appender`] streams batches into the
//! table's parquet files while a step is still producing them, and
//! [`Table::commit_append`] commits those files in one commit with the txns
//! and lineage. A step holds the files' `add` actions, not its rows.
//!
//! Nothing is visible before the commit: files written by an appender whose
//! commit never happens (a crash, a conflict, an error) are not in the log,
//! and a vacuum removes them.

use deltalake::kernel::Action;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter};

use super::arrow::array::RecordBatch;
use super::arrow::datatypes::SchemaRef;
use super::{Commit, Table, TableError, schema};

/// The size a file of an append reaches before the appender starts the
/// next one.
const TARGET_FILE_BYTES: u64 = 128 << 20;

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
    /// An appender of this table's rows (see the module docs).
    ///
    /// # Errors
    /// [`TableError::Write`] when the writer cannot be set up.
    pub fn appender(&self) -> Result<Appender, TableError> {
        let writer = RecordBatchWriter::for_table(&self.inner)
            .map_err(|e| self.write_error(e))?
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
        mut appender: Appender,
        commit: &Commit,
    ) -> Result<i64, TableError> {
        let adds = appender
            .writer
            .flush()
            .await
            .map_err(|e| self.write_error(e))?;
        let actions = adds.into_iter().map(Action::Add).collect();
        let state = self
            .commit_actions(actions, super::write::commit_properties(commit))
            .await?;
        Ok(self.committed(state, commit).await)
    }
}
