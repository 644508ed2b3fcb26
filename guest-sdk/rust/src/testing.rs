//! Run a transform natively, in `cargo test`, through the real boundary.
//!
//! [`Harness`] plays the host: it builds the transform from a configuration,
//! encodes each input batch as an Arrow IPC stream, hands it to the same
//! glue the component export uses, decodes the output, and captures the
//! transform's logs. Only the Wasm runtime is missing.
//!
//! ```
//! use ingot_guest::arrow_array::{ArrayRef, Int64Array, RecordBatch};
//! use ingot_guest::testing::{Harness, inserts};
//! use ingot_guest::{Config, Error, Output, Transform, is_cdf_column};
//! use std::sync::Arc;
//!
//! /// Drops the CDF columns.
//! struct Strip;
//!
//! impl Transform for Strip {
//!     fn init(_: &Config) -> Result<Self, Error> {
//!         Ok(Strip)
//!     }
//!     fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
//!         let keep: Vec<usize> = (0..input.num_columns())
//!             .filter(|&i| !is_cdf_column(input.schema().field(i).name()))
//!             .collect();
//!         Ok(Output::new(input.project(&keep)?))
//!     }
//! }
//!
//! let rows = RecordBatch::try_from_iter([("n", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef)])?;
//! let mut harness = Harness::<Strip>::new([("unused", "config")])?;
//! let output = harness.process(&inserts(&rows))?;
//! assert_eq!(output.batch, rows);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StructBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::host::{NativeHost, with_native_host};
use crate::{
    CHANGE_TYPE, COMMIT_TIMESTAMP, COMMIT_VERSION, ChangeType, Error, Level, Output, Transform,
    export, ipc,
};

/// A transform instance driven natively, as the host would drive the
/// component.
#[derive(Debug)]
pub struct Harness<T> {
    slot: Option<T>,
    host: NativeHost,
}

impl<T: Transform> Harness<T> {
    /// Builds the transform with the stage configuration `config`; the
    /// processing time is 0 until [`Harness::with_processing_time`].
    ///
    /// # Errors
    ///
    /// Whatever [`Transform::init`] returns.
    pub fn new<K, V>(config: impl IntoIterator<Item = (K, V)>) -> Result<Self, Error>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut harness = Self {
            slot: None,
            host: NativeHost::default(),
        };
        let config = config.into_iter().map(|(k, v)| (k.into(), v.into()));
        with_native_host(&mut harness.host, || {
            export::init_slot(&mut harness.slot, config)
        })?;
        Ok(harness)
    }

    /// Sets what [`processing_time`](crate::processing_time) returns, in
    /// microseconds since the Unix epoch.
    #[must_use]
    pub fn with_processing_time(mut self, micros: i64) -> Self {
        self.host.processing_time = micros;
        self
    }

    /// Runs one `process` call: `input` is encoded as an Arrow IPC stream,
    /// passed through the component export's glue, and the output decoded.
    ///
    /// # Errors
    ///
    /// Whatever the transform or the boundary returns (see
    /// [`Transform::process`]).
    pub fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
        let bytes = ipc::encode(input)?;
        let (batch, rejected) = with_native_host(&mut self.host, || {
            export::process_slot(&mut self.slot, bytes)
        })?;
        Ok(Output {
            batch: ipc::decode(batch)?,
            rejected,
        })
    }

    /// Every message the transform logged so far, oldest first.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.host.logs.clone()
    }
}

/// `batch` with the CDF columns appended: `changes` as [`CHANGE_TYPE`],
/// commit version 1 and commit timestamp 0 on every row.
///
/// # Panics
///
/// When `changes` and `batch` differ in length or `batch` already has a
/// CDF column (a mistake in the test).
pub fn with_cdf(batch: &RecordBatch, changes: &[ChangeType]) -> RecordBatch {
    assert_eq!(
        batch.num_rows(),
        changes.len(),
        "one change type per row of the batch"
    );
    let rows = changes.len();
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let cdf: [(Field, ArrayRef); 3] = [
        (
            Field::new(CHANGE_TYPE, DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(
                changes.iter().map(|c| c.as_str()),
            )),
        ),
        (
            Field::new(COMMIT_VERSION, DataType::Int64, false),
            Arc::new(Int64Array::from(vec![1; rows])),
        ),
        (
            Field::new(COMMIT_TIMESTAMP, utc, false),
            Arc::new(TimestampMicrosecondArray::from(vec![0; rows]).with_timezone("UTC")),
        ),
    ];
    let schema = batch.schema();
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns = batch.columns().to_vec();
    for (field, column) in cdf {
        fields.push(field);
        columns.push(column);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("the batch must not already have CDF columns")
}

/// `batch` as a CDF batch of inserts; see [`with_cdf`].
///
/// # Panics
///
/// When `batch` already has a CDF column.
pub fn inserts(batch: &RecordBatch) -> RecordBatch {
    with_cdf(batch, &vec![ChangeType::Insert; batch.num_rows()])
}

/// The partition of every row of [`bronze`].
pub const BRONZE_PARTITION: i32 = 3;

/// The offset of the first row of [`bronze`]; row `i` has offset
/// `BRONZE_FIRST_OFFSET + i`.
pub const BRONZE_FIRST_OFFSET: i64 = 100;

/// The Kafka timestamp of every row of [`bronze`], in microseconds since the
/// Unix epoch (2026-11-23T10:00:00Z).
pub const BRONZE_TIMESTAMP: i64 = 1_795_428_000_000_000;

/// The ingest time of every row of [`bronze`]: one second after
/// [`BRONZE_TIMESTAMP`].
pub const BRONZE_INGEST_TIME: i64 = BRONZE_TIMESTAMP + 1_000_000;

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ])
}

/// The item field of the `headers` list, named `element` as the host (and
/// Delta) spell it.
fn header_item() -> Field {
    Field::new("element", DataType::Struct(header_fields()), true)
}

/// The bronze table's schema, as the host defines it.
fn bronze_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("timestamp", utc(), true),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("headers", DataType::List(Arc::new(header_item())), true),
        Field::new("ingest_time", utc(), false),
    ]))
}

/// A CDF batch of a bronze table, as the host hands it to a stage reading
/// bronze: one row per entry of `rows`, whose change type goes to
/// [`CHANGE_TYPE`] and whose bytes are the Kafka `value` (`None` for a
/// tombstone).
///
/// The columns and their types are exactly the host's bronze schema (`topic`
/// Utf8, `partition` Int32, `offset` Int64, `timestamp` Timestamp(µs, UTC),
/// `key` Binary, `value` Binary, `headers` List of Struct{`key` Utf8,
/// `value` Binary} with item field `element`, `ingest_time` Timestamp(µs,
/// UTC)), followed by the CDF columns of [`with_cdf`]. Every row comes from
/// Kafka topic `topic`, partition [`BRONZE_PARTITION`] (3), row `i` at
/// offset [`BRONZE_FIRST_OFFSET`] (100) `+ i`, with a null key, no headers
/// (an empty list), timestamp [`BRONZE_TIMESTAMP`] and ingest time
/// [`BRONZE_INGEST_TIME`].
///
/// ```
/// use ingot_guest::arrow_array::{Int64Array, StringArray};
/// use ingot_guest::testing::bronze;
/// use ingot_guest::{ChangeType, column, column_bytes};
///
/// let batch = bronze(
///     "logs",
///     &[(ChangeType::Insert, Some(&b"{}"[..])), (ChangeType::Delete, None)],
/// );
/// assert_eq!(column::<StringArray>(&batch, "topic")?.value(1), "logs");
/// assert_eq!(column::<Int64Array>(&batch, "offset")?.values(), &[100, 101]);
/// assert_eq!(column_bytes(&batch, "value")?, [Some(&b"{}"[..]), None]);
/// assert_eq!(
///     ChangeType::column(&batch)?,
///     [ChangeType::Insert, ChangeType::Delete]
/// );
/// # Ok::<(), ingot_guest::Error>(())
/// ```
pub fn bronze(topic: &str, rows: &[(ChangeType, Option<&[u8]>)]) -> RecordBatch {
    let n = rows.len();
    let timestamps = |micros: i64| {
        Arc::new(TimestampMicrosecondArray::from(vec![micros; n]).with_timezone("UTC")) as ArrayRef
    };
    let mut headers = ListBuilder::new(StructBuilder::from_fields(header_fields(), 0))
        .with_field(Arc::new(header_item()));
    for _ in 0..n {
        headers.append(true);
    }
    let first = BRONZE_FIRST_OFFSET;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![topic; n])),
        Arc::new(Int32Array::from(vec![BRONZE_PARTITION; n])),
        Arc::new(Int64Array::from_iter_values(first..first + n as i64)),
        timestamps(BRONZE_TIMESTAMP),
        Arc::new(BinaryArray::from(vec![None::<&[u8]>; n])),
        Arc::new(rows.iter().map(|(_, v)| *v).collect::<BinaryArray>()),
        Arc::new(headers.finish()),
        timestamps(BRONZE_INGEST_TIME),
    ];
    let batch = RecordBatch::try_new(bronze_schema(), columns)
        .expect("invariant: the columns match the bronze schema");
    let changes: Vec<ChangeType> = rows.iter().map(|(c, _)| *c).collect();
    with_cdf(&batch, &changes)
}

/// [`bronze`] with the `value` column as Utf8 instead of Binary (still
/// nullable, same place), as a stage reading a table with text values sees
/// it.
///
/// ```
/// use ingot_guest::arrow_array::StringArray;
/// use ingot_guest::arrow_schema::DataType;
/// use ingot_guest::testing::bronze_utf8;
/// use ingot_guest::{ChangeType, column};
///
/// let batch = bronze_utf8("logs", &[(ChangeType::Insert, Some(&b"{}"[..]))]);
/// let values = column::<StringArray>(&batch, "value")?;
/// assert_eq!(values.value(0), "{}");
/// assert_eq!(batch.schema().field(5).data_type(), &DataType::Utf8);
/// # Ok::<(), ingot_guest::Error>(())
/// ```
///
/// # Panics
///
/// When a value is not UTF-8 (a mistake in the test).
pub fn bronze_utf8(topic: &str, rows: &[(ChangeType, Option<&[u8]>)]) -> RecordBatch {
    let batch = bronze(topic, rows);
    let position = batch
        .schema()
        .index_of("value")
        .expect("invariant: bronze has a value column");
    let values: BinaryArray = rows.iter().map(|(_, v)| *v).collect();
    let values = StringArray::try_from_binary(values).expect("every value must be UTF-8");
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields[position] = Field::new("value", DataType::Utf8, true);
    let mut columns = batch.columns().to_vec();
    columns[position] = Arc::new(values);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .expect("invariant: only the value column changed, to a matching type")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, column};

    /// Logs at init and per call, stamps rows with the processing time,
    /// rejects rows whose change type is a delete.
    struct Stamp;

    impl Transform for Stamp {
        fn init(config: &Config) -> Result<Self, Error> {
            crate::info!("init with {} keys", config.len());
            Ok(Stamp)
        }

        fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
            crate::debug!("{} rows", input.num_rows());
            let changes = ChangeType::column(input)?;
            let kept = changes.iter().filter(|c| **c != ChangeType::Delete).count();
            let stamps = vec![crate::processing_time(); kept];
            let batch = RecordBatch::try_from_iter([(
                "stamp",
                Arc::new(Int64Array::from(stamps)) as ArrayRef,
            )])?;
            let deletes = changes
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == ChangeType::Delete);
            Ok(deletes.fold(Output::new(batch), |out, (row, _)| {
                out.reject(row, "deleted")
            }))
        }
    }

    fn ids(n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([(
            "id",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        )])
        .expect("valid batch")
    }

    #[test]
    fn harness_runs_the_boundary_and_captures_logs() {
        let mut harness = Harness::<Stamp>::new([("a", "1"), ("b", "2")])
            .expect("init succeeds")
            .with_processing_time(42);
        let input = with_cdf(
            &ids(3),
            &[ChangeType::Insert, ChangeType::Delete, ChangeType::Insert],
        );
        let output = harness.process(&input).expect("process succeeds");
        assert_eq!(
            column::<Int64Array>(&output.batch, "stamp")
                .expect("stamp")
                .values(),
            &[42, 42]
        );
        assert_eq!(
            output.rejected,
            vec![crate::Rejected {
                row: 1,
                reason: "deleted".into()
            }]
        );
        assert_eq!(
            harness.logs(),
            vec![
                (Level::Info, "init with 2 keys".into()),
                (Level::Debug, "3 rows".into())
            ]
        );
    }

    #[test]
    fn harness_reports_errors_from_the_boundary() {
        let mut harness = Harness::<Stamp>::new(Vec::<(String, String)>::new()).expect("init");
        assert_eq!(
            harness.process(&ids(1)).map(|_| ()),
            Err(Error::InvalidInput("missing column `_change_type`".into()))
        );
    }

    #[test]
    fn cdf_helpers_append_the_three_columns() {
        let batch = inserts(&ids(2));
        let names: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["id", CHANGE_TYPE, COMMIT_VERSION, COMMIT_TIMESTAMP]);
        assert_eq!(ChangeType::column(&batch), Ok(vec![ChangeType::Insert; 2]));
    }

    #[test]
    fn bronze_has_the_host_schema_then_the_cdf_columns() {
        let rows = [
            (ChangeType::Insert, Some(&b"a"[..])),
            (ChangeType::Delete, None),
        ];
        let batch = bronze("t", &rows);
        let schema = batch.schema();
        let bronze_fields = &schema.fields()[..8];
        assert_eq!(
            bronze_fields
                .iter()
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>(),
            bronze_schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect::<Vec<_>>()
        );
        let DataType::List(item) = schema
            .field_with_name("headers")
            .expect("headers")
            .data_type()
        else {
            panic!("headers is a list");
        };
        assert_eq!(item.name(), "element");
        assert_eq!(
            batch.column(6).null_count(),
            0,
            "no headers is an empty list"
        );
        let names: Vec<_> = schema.fields()[8..]
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, [CHANGE_TYPE, COMMIT_VERSION, COMMIT_TIMESTAMP]);
        assert_eq!(
            column::<Int32Array>(&batch, "partition")
                .expect("partition")
                .values(),
            &[BRONZE_PARTITION; 2]
        );
        assert_eq!(bronze("t", &[]).num_rows(), 0);

        let text = bronze_utf8("t", &rows);
        assert_eq!(
            column::<StringArray>(&text, "value")
                .expect("utf8 value")
                .iter()
                .collect::<Vec<_>>(),
            [Some("a"), None]
        );
        let keep: Vec<usize> = (0..batch.num_columns()).filter(|&i| i != 5).collect();
        assert_eq!(
            text.project(&keep).expect("project"),
            batch.project(&keep).expect("project")
        );
    }
}
