//! A step's input: the range cut to the stage's byte budget
//! ([`InputBudget`]), and the range's changes read as a stream of chunks
//! ([`Changes`]), so a step holds one chunk of its input at a time whatever
//! the range's size.

use std::collections::BTreeMap;

use futures::{StreamExt as _, stream::BoxStream};
use ingot_core::{StageId, arrow::array::RecordBatch, arrow::datatypes::SchemaRef};
use ingot_delta::{Table, TableError};

use super::progress::{Observed, Range};
use crate::{ProgressError, Result};

/// Rows a chunk of a range holds (the last one fewer), or a little more
/// when the batch-rows of the stage is larger: the unit the module's
/// retries and isolation work on, and the part of the input a step holds
/// at a time.
pub const CHUNK_ROWS: usize = 65_536;

/// The input bytes a step may take: a range is cut so that the data files
/// of its versions (as the input's log records their sizes) sum to at most
/// the budget, and holds at least one version whatever its size.
#[derive(Debug)]
pub struct InputBudget {
    max_bytes: u64,
    /// The data bytes of the input versions seen, from the oldest one a
    /// range may still start at (a committed version never changes).
    sizes: BTreeMap<i64, u64>,
}

impl InputBudget {
    /// A budget of `max_bytes` per step.
    pub fn new(max_bytes: u64) -> Self {
        InputBudget {
            max_bytes,
            sizes: BTreeMap::new(),
        }
    }

    /// `range` cut to the budget. A pinned range is kept whole: its first
    /// attempt committed under its end, and the redo must match it.
    ///
    /// # Errors
    /// [`TableError::Read`] when the input's log cannot be read.
    pub async fn fit(&mut self, input: &Table, range: Range) -> Result<Range> {
        if range.pinned || range.from == range.to {
            return Ok(range);
        }
        self.sizes = self.sizes.split_off(&range.from);
        let mut total = 0u64;
        for version in range.from..=range.to {
            total = total.saturating_add(self.size(input, version).await?);
            if total > self.max_bytes && version > range.from {
                tracing::debug!(
                    from = range.from,
                    to = version - 1,
                    cut = range.to,
                    max_bytes = self.max_bytes,
                    "range cut to the input budget"
                );
                return Ok(Range {
                    to: version - 1,
                    ..range
                });
            }
        }
        Ok(range)
    }

    async fn size(&mut self, input: &Table, version: i64) -> Result<u64> {
        if let Some(&size) = self.sizes.get(&version) {
            return Ok(size);
        }
        // A version whose log entry is gone counts as empty: the read that
        // follows reports the gap.
        let size = input
            .commit_record(version)
            .await?
            .map_or(0, |record| record.data_bytes);
        self.sizes.insert(version, size);
        Ok(size)
    }
}

/// The changes of a range, in chunks of [`CHUNK_ROWS`] rows.
pub struct Changes {
    batches: BoxStream<'static, Result<RecordBatch, TableError>>,
    schema: SchemaRef,
    chunk_rows: usize,
    started: bool,
}

impl Changes {
    /// Changes streamed from `batches`, each of `schema`, in chunks of at
    /// least `batch_rows` rows.
    pub fn new(
        batches: BoxStream<'static, Result<RecordBatch, TableError>>,
        schema: SchemaRef,
        batch_rows: usize,
    ) -> Self {
        Changes {
            batches,
            schema,
            chunk_rows: CHUNK_ROWS.max(batch_rows),
            started: false,
        }
    }

    /// The schema of every chunk.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Changes already in memory.
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>, batch_rows: usize) -> Self {
        let batches = futures::stream::iter(batches.into_iter().map(Ok)).boxed();
        Changes::new(batches, schema, batch_rows)
    }

    /// The next chunk; the first is one empty batch of the change schema
    /// when the range holds no changes (the module still reports its output
    /// schema); `None` after the last.
    ///
    /// # Errors
    /// [`TableError::Read`] when a data file cannot be read.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<RecordBatch>>> {
        let mut chunk = Vec::new();
        let mut rows = 0;
        while rows < self.chunk_rows {
            let Some(batch) = self.batches.next().await else {
                break;
            };
            let batch = batch?;
            rows += batch.num_rows();
            chunk.push(batch);
        }
        if chunk.is_empty() {
            if self.started {
                return Ok(None);
            }
            chunk.push(RecordBatch::new_empty(self.schema.clone()));
        }
        self.started = true;
        Ok(Some(chunk))
    }
}

/// The input's changes over `range`, once it is known the input's log
/// still holds them; a stage without progress whose input's log no
/// longer starts at version 0 takes the input's current snapshot as
/// inserts instead (and the range becomes `0..=` its version).
///
/// # Errors
/// [`ProgressError::HistoryGone`] when the log no longer holds the range
/// of a stage with progress; table errors.
pub async fn open_range(
    input: &Table,
    stage: &StageId,
    range: Range,
    observed: Observed,
    batch_rows: usize,
) -> Result<(Range, Changes)> {
    // One HEAD in the common case; the whole log is listed only when the
    // range's first commit is gone.
    let oldest = if input.has_commit(range.from).await? {
        range.from
    } else {
        input.oldest_commit().await?
    };
    if range.from >= oldest {
        let stream = input.change_stream(range.from, range.to).await?;
        let schema = stream.schema();
        return Ok((range, Changes::new(stream.boxed(), schema, batch_rows)));
    }
    let fresh = observed.processed().is_none();
    if fresh && (!range.pinned || range.to == input.version()) {
        let snapshot = Range {
            to: input.version(),
            ..range
        };
        tracing::warn!(
            input = %input.uri(), oldest, version = snapshot.to,
            "the input's log no longer starts at version 0: deriving the stage from its snapshot"
        );
        let changes = input.snapshot_as_changes().await?;
        let schema = input.change_schema();
        return Ok((snapshot, Changes::from_batches(schema, changes, batch_rows)));
    }
    Err(ProgressError::HistoryGone {
        stage: stage.to_string(),
        table: input.uri().to_owned(),
        from: range.from,
        to: range.to,
        oldest,
    }
    .into())
}

#[cfg(test)]
mod tests;
