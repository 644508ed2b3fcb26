//! The log-parse transform end to end through the runtime, on a
//! bronze-shaped batch.

use std::sync::Arc;

use ingot_core::arrow::array::{
    Array, BinaryArray, Int32Array, Int64Array, ListArray, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use ingot_core::arrow::buffer::OffsetBuffer;
use ingot_core::arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};

use super::*;

/// Microsecond UTC timestamps, one per row, all `micros`.
fn utc(micros: i64, rows: usize) -> Arc<dyn Array> {
    Arc::new(TimestampMicrosecondArray::from(vec![micros; rows]).with_timezone("UTC"))
}

fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ])
}

/// The bronze table's columns plus the Change Data Feed columns.
fn bronze_schema() -> Arc<Schema> {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let header_item = Field::new("item", DataType::Struct(header_fields()), true);
    Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("timestamp", ts.clone(), true),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("headers", DataType::List(Arc::new(header_item)), true),
        Field::new("ingest_time", ts.clone(), false),
        Field::new("_change_type", DataType::Utf8, false),
        Field::new("_commit_version", DataType::Int64, false),
        Field::new("_commit_timestamp", ts, false),
    ]))
}

/// A bronze-shaped batch as the stage reads it from the CDF: one Kafka
/// record (no key, no headers) per JSON value, all inserts of commit
/// version 1.
pub(super) fn bronze_batch(values: &[&str]) -> RecordBatch {
    let n = values.len();
    let schema = bronze_schema();
    let DataType::List(header_item) = schema
        .field_with_name("headers")
        .expect("headers")
        .data_type()
    else {
        unreachable!("headers is a list")
    };
    let no_headers = StructArray::new(
        header_fields(),
        vec![
            Arc::new(StringArray::from(Vec::<&str>::new())),
            Arc::new(BinaryArray::from(Vec::<Option<&[u8]>>::new())),
        ],
        None,
    );
    let headers = ListArray::new(
        header_item.clone(),
        OffsetBuffer::new_zeroed(n),
        Arc::new(no_headers),
        None,
    );
    let offsets: Vec<i64> = (0..n).map(|i| i64::try_from(i).expect("small")).collect();
    let values: Vec<Option<&[u8]>> = values.iter().map(|v| Some(v.as_bytes())).collect();
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from(vec!["app-logs"; n])),
        Arc::new(Int32Array::from(vec![0; n])),
        Arc::new(Int64Array::from(offsets)),
        utc(1_700_000_000_000_000, n),
        Arc::new(BinaryArray::from(vec![None::<&[u8]>; n])),
        Arc::new(BinaryArray::from(values)),
        Arc::new(headers),
        utc(1_700_000_000_500_000, n),
        Arc::new(StringArray::from(vec!["insert"; n])),
        Arc::new(Int64Array::from(vec![1; n])),
        utc(1_700_000_001_000_000, n),
    ];
    RecordBatch::try_new(schema, columns).expect("valid bronze batch")
}

#[test]
fn log_parse_end_to_end() {
    let module = runtime().load(&guest("log_parse")).expect("load log_parse");
    let mut inst = Instance::new(runtime(), module, stage("silver"), &Limits::default(), &[])
        .expect("instance");
    let processing_time = 1_700_000_002_000_000;
    inst.set_processing_time(processing_time);
    let input = bronze_batch(&[
        r#"{"ts":"2026-11-21T10:00:01.123Z","level":"INFO","service":"api","msg":"started"}"#,
        "this is not json",
        r#"{"ts":"2026-11-21T10:00:02Z","level":"error","service":"db","latency_ms":42,"msg":"boom"}"#,
    ]);
    let out = inst.process(&input).expect("process");
    let batch = &out.batch;
    assert_eq!(batch.num_rows(), 2, "two good rows");
    assert_eq!(out.rejected.len(), 1, "one reject: {:?}", out.rejected);
    assert_eq!(out.rejected[0].row, 1);
    assert!(
        out.rejected[0].reason.contains("JSON"),
        "{:?}",
        out.rejected
    );
    let strings = |name: &str| -> Vec<Option<String>> {
        let col = batch.column_by_name(name).expect("column");
        let col = col.as_any().downcast_ref::<StringArray>().expect("utf8");
        col.iter().map(|v| v.map(str::to_owned)).collect()
    };
    assert_eq!(
        strings("level"),
        [Some("INFO".to_owned()), Some("ERROR".to_owned())]
    );
    assert_eq!(
        strings("message"),
        [Some("started".to_owned()), Some("boom".to_owned())]
    );
    let offsets = batch.column_by_name("offset").expect("offset");
    let offsets = offsets
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("int64");
    assert_eq!(offsets.values(), &[0, 2], "lineage of the kept rows");
    let processed = batch.column_by_name("processed_at").expect("processed_at");
    let processed = processed
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("ts");
    assert_eq!(processed.values(), &[processing_time, processing_time]);
    let ts = batch.column_by_name("ts").expect("ts");
    let ts = ts
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("ts");
    assert_eq!(
        ts.value(0),
        1_795_255_201_123_000,
        "2026-11-21T10:00:01.123Z"
    );
}
