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

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};

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
            export::process_slot(&mut self.slot, &bytes)
        })?;
        Ok(Output {
            batch: ipc::decode(&batch)?,
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
}
