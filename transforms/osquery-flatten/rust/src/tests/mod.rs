//! The transform through the native harness: the real-format samples, every
//! message shape, the typed columns, and every reason to reject.

mod config;
mod rejects;
mod samples;
mod shapes;

use super::*;
use ingot_guest::arrow_array::cast::AsArray;
use ingot_guest::arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, TimestampMicrosecondArray,
};
use ingot_guest::testing::{Harness, bronze, bronze_utf8, with_cdf};
use ingot_guest::{Level, Rejected};

/// The Kafka topic of every bronze row; bronze row `i` has offset `100 + i`.
const TOPIC: &str = "osquery";

/// Inserted records; an empty string stands for a null value (a tombstone),
/// as in the sample files.
fn inserts(values: &[&str]) -> RecordBatch {
    let rows: Vec<_> = values
        .iter()
        .map(|v| (ChangeType::Insert, (!v.is_empty()).then_some(v.as_bytes())))
        .collect();
    bronze(TOPIC, &rows)
}

/// The lines of a sample file in `tests/fixtures`.
fn lines(sample: &str) -> Vec<&str> {
    sample.lines().collect()
}

fn harness(config: &[(&str, &str)]) -> Harness<OsqueryFlatten> {
    Harness::<OsqueryFlatten>::new(config.iter().copied()).expect("init succeeds")
}

/// Runs one batch through a fresh instance configured with `config`; the
/// output schema must be the one `init` promised.
fn run(config: &[(&str, &str)], input: &RecordBatch) -> Output {
    let mut harness = harness(config);
    let output = harness.process(input).expect("process succeeds");
    let plan = Plan::from_config(&config.iter().copied().collect()).expect("valid config");
    assert_eq!(output.batch.schema(), silver_schema(&plan));
    assert!(harness.logs().iter().all(|(level, _)| *level < Level::Warn));
    output
}

/// `run` on inserted records, asserting none is rejected.
fn accept(config: &[(&str, &str)], values: &[&str]) -> RecordBatch {
    let output = run(config, &inserts(values));
    assert_eq!(output.rejected, [], "no message may be rejected");
    output.batch
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = column::<StringArray>(batch, name).expect("string column");
    array.iter().map(|v| v.map(str::to_owned)).collect()
}

/// A non-null string column.
fn texts(batch: &RecordBatch, name: &str) -> Vec<String> {
    let array = column::<StringArray>(batch, name).expect("string column");
    assert_eq!(array.null_count(), 0, "{name} has nulls");
    array.iter().flatten().map(str::to_owned).collect()
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    column::<Int64Array>(batch, name)
        .expect("int64 column")
        .iter()
        .collect()
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    column::<Float64Array>(batch, name)
        .expect("float64 column")
        .iter()
        .collect()
}

fn bools(batch: &RecordBatch, name: &str) -> Vec<Option<bool>> {
    column::<BooleanArray>(batch, name)
        .expect("bool column")
        .iter()
        .collect()
}

fn micros(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    column::<TimestampMicrosecondArray>(batch, name)
        .expect("timestamp column")
        .iter()
        .collect()
}

/// A map column as sorted (key, value) lists, `None` where null.
type Entries = Option<Vec<(String, Option<String>)>>;

fn maps(batch: &RecordBatch, name: &str) -> Vec<Entries> {
    let array = batch.column_by_name(name).expect("map column").as_map();
    (0..array.len())
        .map(|row| {
            array.is_valid(row).then(|| {
                let entries = array.value(row);
                let keys = entries.column(0).as_string::<i32>();
                let values = entries.column(1).as_string::<i32>();
                let mut pairs: Vec<_> = keys
                    .iter()
                    .zip(values.iter())
                    .map(|(k, v)| {
                        (
                            k.expect("keys are non-null").to_owned(),
                            v.map(str::to_owned),
                        )
                    })
                    .collect();
                pairs.sort();
                pairs
            })
        })
        .collect()
}

/// A map of non-null string values.
fn entries(pairs: &[(&str, &str)]) -> Entries {
    let mut pairs: Vec<_> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned())))
        .collect();
    pairs.sort();
    Some(pairs)
}

/// The row id the documentation specifies, computed independently: FNV-1a
/// 64 over each `name=value` (sorted by name) after its length, then the
/// occurrence index.
fn row_id(columns: &[(&str, &str)], occurrence: u64) -> i64 {
    let mut sorted = columns.to_vec();
    sorted.sort();
    let mut bytes = Vec::new();
    for (name, value) in sorted {
        let entry = format!("{name}={value}");
        bytes.extend((entry.len() as u64).to_le_bytes());
        bytes.extend(entry.as_bytes());
    }
    bytes.extend(occurrence.to_le_bytes());
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// `unixTime` seconds as the `time` column holds them.
fn at(seconds: i64) -> Option<i64> {
    Some(seconds * 1_000_000)
}
