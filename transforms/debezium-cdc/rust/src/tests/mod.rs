//! The transform through the native harness, on bronze batches shaped like
//! the host's: the sample files line by line, every reject reason, every
//! type conversion, the configuration, and the order `_seq` gives.

mod config_errors;
mod ordering;
mod rejects;
mod samples;
mod types;

use std::sync::Arc;

use ingot_guest::arrow_array::cast::AsArray;
use ingot_guest::arrow_array::types::{
    Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use ingot_guest::arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use ingot_guest::arrow_schema::DataType;
use ingot_guest::testing::{Harness, bronze, bronze_utf8, with_cdf};
use ingot_guest::{ChangeType, Error, Output, Rejected};

use crate::DebeziumCdc;

/// The columns of the voters table in the PostgreSQL sample.
const VOTERS: [(&str, &str); 2] = [
    ("key", "id"),
    (
        "columns",
        "id:int64, name:string, city:string, party:string",
    ),
];

/// The Kafka topic of every bronze row; bronze row `i` has offset `100 + i`.
const TOPIC: &str = "cdc";

/// Inserted bronze rows; an empty string is a null Kafka value (a
/// tombstone), as in the sample files.
fn inserts<S: AsRef<str>>(values: &[S]) -> RecordBatch {
    let rows: Vec<_> = values
        .iter()
        .map(|v| {
            let v = v.as_ref();
            (ChangeType::Insert, (!v.is_empty()).then_some(v.as_bytes()))
        })
        .collect();
    bronze(TOPIC, &rows)
}

fn harness(config: &[(&str, &str)]) -> Harness<DebeziumCdc> {
    Harness::<DebeziumCdc>::new(config.iter().copied()).expect("init succeeds")
}

fn run(config: &[(&str, &str)], input: &RecordBatch) -> Output {
    harness(config).process(input).expect("process succeeds")
}

/// Each output row as `|`-separated cells, null as `∅`.
fn table(batch: &RecordBatch) -> Vec<String> {
    (0..batch.num_rows())
        .map(|row| {
            batch
                .columns()
                .iter()
                .map(|column| cell(column, row))
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

fn cell(array: &ArrayRef, row: usize) -> String {
    if array.is_null(row) {
        return "∅".into();
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().value(row).to_owned(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        DataType::Date32 => array.as_primitive::<Date32Type>().value(row).to_string(),
        DataType::Timestamp(_, _) => array
            .as_primitive::<TimestampMicrosecondType>()
            .value(row)
            .to_string(),
        DataType::Decimal128(_, _) => array.as_primitive::<Decimal128Type>().value_as_string(row),
        other => panic!("no cell format for {other}"),
    }
}

/// A PostgreSQL event of the voters table: `op`, the `before` and `after`
/// JSON, the LSN.
fn pg_event(op: &str, before: &str, after: &str, lsn: u64) -> String {
    format!(
        r#"{{"before":{before},"after":{after},"source":{{"connector":"postgresql","ts_ms":1795428000000,"snapshot":"false","db":"registry","schema":"public","table":"voters","lsn":{lsn}}},"op":"{op}","ts_ms":1795428000100}}"#
    )
}

/// The reasons of the rejected rows, asserting that nothing came out.
fn reasons<S: AsRef<str>>(config: &[(&str, &str)], values: &[S]) -> Vec<String> {
    let output = run(config, &inserts(values));
    assert_eq!(
        table(&output.batch),
        Vec::<String>::new(),
        "nothing may come out"
    );
    let rows: Vec<u32> = output.rejected.iter().map(|r| r.row).collect();
    assert_eq!(
        rows,
        (0..values.len() as u32).collect::<Vec<_>>(),
        "every row is rejected once, in order"
    );
    output.rejected.into_iter().map(|r| r.reason).collect()
}
