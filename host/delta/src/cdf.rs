//! Reading the Change Data Feed of a version range as a stream of batches in
//! version order.
//!
//! delta-rs plans a CDF read as a union of parquet scans whose file groups
//! are keyed by commit version (and change type), but in hash-map order. The
//! reader maps every output partition to its version and executes the
//! partitions one after the other in ascending version order, so a 1M-row
//! range streams with one file open at a time and nothing is sorted in
//! memory. Work stealing between file groups is off in [`super::session`],
//! so a partition reads only its own files.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use deltalake::datafusion::common::ScalarValue;
use deltalake::datafusion::datasource::physical_plan::FileScanConfig;
use deltalake::datafusion::datasource::source::DataSourceExec;
use deltalake::datafusion::physical_plan::projection::ProjectionExec;
use deltalake::datafusion::physical_plan::union::UnionExec;
use deltalake::datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties as _};
use futures::stream::{self, BoxStream, Stream, StreamExt as _, TryStreamExt as _};

use super::arrow::array::RecordBatch;
use super::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use super::{Table, TableError, schema, session};

/// Column naming the kind of change: `insert`, `delete`, `update_preimage`, `update_postimage`.
pub const CHANGE_TYPE_COLUMN: &str = "_change_type";
/// Column holding the table version of the change (Int64).
pub const COMMIT_VERSION_COLUMN: &str = "_commit_version";
/// Column holding the commit time of the change (Timestamp(µs, UTC)).
pub const COMMIT_TIMESTAMP_COLUMN: &str = "_commit_timestamp";

/// Change Data Feed batches of a version range, in version order. Every batch
/// has [`ChangeStream::schema`]: the table's columns followed by
/// `_change_type`, `_commit_version` and `_commit_timestamp`.
pub struct ChangeStream {
    schema: SchemaRef,
    inner: BoxStream<'static, Result<RecordBatch, TableError>>,
}

impl std::fmt::Debug for ChangeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeStream")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl ChangeStream {
    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// All remaining batches.
    ///
    /// # Errors
    /// The first read failure.
    pub async fn into_batches(self) -> Result<Vec<RecordBatch>, TableError> {
        self.inner.try_collect().await
    }
}

impl Stream for ChangeStream {
    type Item = Result<RecordBatch, TableError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl Table {
    /// Change Data Feed rows of versions `from..=to` (inclusive), with
    /// `_change_type`, `_commit_version` and `_commit_timestamp`, in version
    /// order, collected. Prefer [`Table::change_stream`] for large ranges.
    ///
    /// # Errors
    /// As [`Table::change_stream`].
    pub async fn changes(&self, from: i64, to: i64) -> Result<Vec<RecordBatch>, TableError> {
        self.change_stream(from, to).await?.into_batches().await
    }

    /// Change Data Feed rows of versions `from..=to` (inclusive) as a stream
    /// of batches in version order, reading one file at a time. `to` is
    /// capped at the loaded version; a range past it is empty.
    ///
    /// # Errors
    /// [`TableError::Read`] when the log or a data file cannot be read (also
    /// while streaming), for example when the Change Data Feed was not on for
    /// a version in the range.
    pub async fn change_stream(&self, from: i64, to: i64) -> Result<ChangeStream, TableError> {
        let out_schema = change_schema(&self.schema);
        let from = from.max(0);
        let to = to.min(self.version());
        if from > to {
            return Ok(ChangeStream {
                schema: out_schema,
                inner: stream::empty().boxed(),
            });
        }
        let read_error = |source| TableError::Read {
            table: self.uri.clone(),
            version: from,
            source: Box::new(source),
        };
        let ctx = session().map_err(read_error)?;
        let plan = self
            .inner
            .clone()
            .scan_cdf()
            .with_starting_version(u64::try_from(from).expect("invariant: from >= 0"))
            .with_ending_version(u64::try_from(to).expect("invariant: to >= from >= 0"))
            .build(&ctx.state(), None)
            .await
            .map_err(read_error)?;
        let order = version_order(&plan).ok_or_else(|| TableError::Internal {
            table: self.uri.clone(),
            reason: "the change data feed plan has an unexpected shape".into(),
        })?;
        let task_ctx = ctx.task_ctx();
        let table = self.uri.clone();
        let target = out_schema.clone();
        let batches = stream::iter(order)
            .map(move |partition| plan.execute(partition, task_ctx.clone()))
            .try_flatten()
            .map(move |batch| {
                let batch = batch.map_err(|e| TableError::Read {
                    table: table.clone(),
                    version: from,
                    source: Box::new(e.into()),
                })?;
                schema::conform(&table, &batch, &target)
            });
        Ok(ChangeStream {
            schema: out_schema,
            inner: batches.boxed(),
        })
    }
}

/// The table schema plus the three CDF columns, typed as the WIT contract
/// documents them (`_commit_timestamp` in microseconds, UTC).
pub fn change_schema(table: &SchemaRef) -> SchemaRef {
    let mut fields: Vec<Field> = table.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(CHANGE_TYPE_COLUMN, DataType::Utf8, false));
    fields.push(Field::new(COMMIT_VERSION_COLUMN, DataType::Int64, false));
    fields.push(Field::new(
        COMMIT_TIMESTAMP_COLUMN,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        true,
    ));
    Arc::new(Schema::new(fields))
}

/// The plan's output partitions sorted by commit version (stable, so within a
/// version change files come first, then added and removed files).
fn version_order(plan: &Arc<dyn ExecutionPlan>) -> Option<Vec<usize>> {
    let versions = partition_versions(plan)?;
    if versions.len() != plan.output_partitioning().partition_count() {
        return None;
    }
    let mut order: Vec<usize> = (0..versions.len()).collect();
    order.sort_by_key(|&i| versions[i]);
    Some(order)
}

/// The commit version of every output partition of a CDF plan
/// (projection over a union of file scans grouped by version).
fn partition_versions(plan: &Arc<dyn ExecutionPlan>) -> Option<Vec<u64>> {
    let node = plan.as_ref();
    if let Some(scan) = node.downcast_ref::<DataSourceExec>() {
        let config = scan.data_source().downcast_ref::<FileScanConfig>()?;
        let index = config
            .table_partition_cols()
            .iter()
            .position(|f| f.name() == COMMIT_VERSION_COLUMN)?;
        return config
            .file_groups
            .iter()
            .map(
                |group| match group.files().first()?.partition_values.get(index)? {
                    ScalarValue::UInt64(Some(v)) => Some(*v),
                    ScalarValue::Int64(Some(v)) => u64::try_from(*v).ok(),
                    _ => None,
                },
            )
            .collect();
    }
    if node.downcast_ref::<UnionExec>().is_some() {
        let mut all = Vec::new();
        for child in node.children() {
            all.extend(partition_versions(child)?);
        }
        return Some(all);
    }
    if node.downcast_ref::<ProjectionExec>().is_some() {
        return partition_versions(node.children().first()?);
    }
    None
}
