//! Bronze-shaped Arrow batches, as a stage reads them from bronze's Change
//! Data Feed, for the benchmarks that call a module directly.

use std::sync::Arc;

use anyhow::Result;
use ingot_core::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use ingot_core::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use ingot_kafka::bronze::BronzeBuilder;
use rdkafka::Timestamp;
use rdkafka::message::OwnedMessage;

use crate::common::log_records;

/// A bronze batch of `rows` log records, as a stage reads it from bronze's
/// Change Data Feed: the bronze columns plus `_change_type` (`insert`),
/// `_commit_version` and `_commit_timestamp`.
pub fn bronze_batch(rows: usize, processing_time: i64) -> Result<RecordBatch> {
    let mut builder = BronzeBuilder::new();
    for (i, (key, value)) in log_records(rows).enumerate() {
        let i = i64::try_from(i)?;
        let timestamp = Timestamp::CreateTime(processing_time / 1_000 + i);
        let message = OwnedMessage::new(
            value,
            Some(key),
            "bench".into(),
            timestamp,
            (i % 4) as i32,
            i / 4,
            None,
        );
        builder.push(&message, processing_time);
    }
    let (bronze, _) = builder.finish();
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let cdf: [(Field, ArrayRef); 3] = [
        (
            Field::new("_change_type", DataType::Utf8, false),
            Arc::new(StringArray::from(vec!["insert"; rows])),
        ),
        (
            Field::new("_commit_version", DataType::Int64, false),
            Arc::new(Int64Array::from(vec![1; rows])),
        ),
        (
            Field::new("_commit_timestamp", utc, false),
            Arc::new(
                TimestampMicrosecondArray::from(vec![processing_time; rows]).with_timezone("UTC"),
            ),
        ),
    ];
    let mut fields: Vec<Field> = bronze
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let mut columns = bronze.columns().to_vec();
    for (field, column) in cdf {
        fields.push(field);
        columns.push(column);
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
