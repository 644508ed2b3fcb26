//! `osquery-counts`: the gold stage of the osquery pipeline.
//!
//! # Reads
//!
//! The Change Data Feed of the silver table `osquery-flatten` writes, using
//! only `host`, `query`, `action`, `time`, `epoch`, `counter` and
//! `snapshot_rows` (found by name, so typed columns do not matter).
//!
//! # Writes
//!
//! Per (`host`, `query`), how the batch changes the number of rows in the
//! query's current result on that host: `host`, `query`, `row_count`
//! (int64), `last_time` (the latest `time` of the key's rows in the batch,
//! timestamp µs UTC) and `reset` (bool). With `reset` false the host adds
//! `row_count` to the stored count; with `reset` true it replaces it.
//!
//! Rows are taken in batch order, per key:
//!
//! - the sign of a change is +1 for `insert` and `update_postimage`, -1 for
//!   `delete` and `update_preimage`;
//! - an `added` row adds its sign to the key's delta, a `removed` row
//!   subtracts it;
//! - the first row of a snapshot (one snapshot is one (`time`, `epoch`,
//!   `counter`)) with sign +1 sets the count to its `snapshot_rows` and
//!   marks the key `reset`, discarding the key's earlier deltas in the batch;
//!   diffs after it add to it. Its other rows change nothing (a snapshot
//!   message gives one silver row per result row, all carrying the total).
//!   A snapshot older than the one already applied (an earlier `time`, or the
//!   same `time` and a smaller (`epoch`, `counter`)) is ignored, as are
//!   snapshot rows with sign -1 (silver is deduplicated and never retracts a
//!   snapshot);
//! - a key is emitted when it was reset or its delta is not zero, in
//!   (`host`, `query`) order.
//!
//! A row with a null `host`, `query`, `action` or `time`, an unknown action,
//! or a snapshot row without `snapshot_rows` is rejected with the reason.
//!
//! # Configuration
//!
//! None; `init` refuses any key.
//!
//! # Pipeline
//!
//! ```toml
//! [[stages]]
//! name = "gold"
//! input = "silver"
//! module = "../target/guests/wasm32-wasip2/guest/osquery_counts.wasm"
//! mode = "accumulate"
//! keys = ["host", "query"]
//! measures = ["row_count"]
//! reset-column = "reset"
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use ingot_guest::arrow_array::types::ArrowPrimitiveType;
use ingot_guest::arrow_array::{
    Array, ArrayRef, BooleanArray, Int64Array, PrimitiveArray, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use ingot_guest::arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use ingot_guest::{ChangeType, Config, Error, Output, Transform, column, column_strings};

/// Turns silver row changes into per-(host, query) row-count changes.
pub struct OsqueryCounts {
    schema: SchemaRef,
}

/// How one batch changes one key's gold row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Change {
    /// Added to the stored count, or replacing it when `reset`.
    row_count: i64,
    reset: bool,
    last_time: i64,
    /// The (time, epoch, counter) of the snapshot applied in this batch.
    snapshot: Option<(i64, i64, i64)>,
}

/// The input columns the stage reads.
struct Silver<'a> {
    changes: Vec<ChangeType>,
    host: Vec<Option<&'a str>>,
    query: Vec<Option<&'a str>>,
    action: Vec<Option<&'a str>>,
    time: &'a TimestampMicrosecondArray,
    epoch: &'a Int64Array,
    counter: &'a Int64Array,
    snapshot_rows: &'a Int64Array,
}

impl Transform for OsqueryCounts {
    fn init(config: &Config) -> Result<Self, Error> {
        if let Some((key, _)) = config.iter().next() {
            return Err(Error::InvalidConfig(format!(
                "unknown key `{key}` (osquery-counts takes no configuration)"
            )));
        }
        Ok(Self {
            schema: gold_schema(),
        })
    }

    fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
        let silver = Silver {
            changes: ChangeType::column(input)?,
            host: column_strings(input, "host")?,
            query: column_strings(input, "query")?,
            action: column_strings(input, "action")?,
            time: column(input, "time")?,
            epoch: column(input, "epoch")?,
            counter: column(input, "counter")?,
            snapshot_rows: column(input, "snapshot_rows")?,
        };
        let mut keys: BTreeMap<(&str, &str), Change> = BTreeMap::new();
        let mut rejected = Vec::new();
        for row in 0..input.num_rows() {
            if let Err(reason) = apply(&silver, row, &mut keys) {
                rejected.push((row, reason));
            }
        }
        keys.retain(|_, change| change.reset || change.row_count != 0);

        let changes = || keys.values();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(keys.keys().map(|k| k.0))),
            Arc::new(StringArray::from_iter_values(keys.keys().map(|k| k.1))),
            Arc::new(Int64Array::from_iter_values(changes().map(|c| c.row_count))),
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(changes().map(|c| c.last_time))
                    .with_timezone("UTC"),
            ),
            Arc::new(BooleanArray::from(
                changes().map(|c| c.reset).collect::<Vec<_>>(),
            )),
        ];
        let mut output = Output::new(RecordBatch::try_new(self.schema.clone(), columns)?);
        for (row, reason) in rejected {
            output.push_reject(row, reason);
        }
        Ok(output)
    }
}

/// Applies input row `row` to its key's change, or says why it is rejected.
fn apply<'a>(
    silver: &Silver<'a>,
    row: usize,
    keys: &mut BTreeMap<(&'a str, &'a str), Change>,
) -> Result<(), String> {
    let host = silver.host[row].ok_or("`host` is null")?;
    let query = silver.query[row].ok_or("`query` is null")?;
    let action = silver.action[row].ok_or("`action` is null")?;
    let time = value(silver.time, row).ok_or("`time` is null")?;
    let sign = silver.changes[row].sign();
    let effect = match action {
        "added" => Effect::Delta(sign),
        "removed" => Effect::Delta(-sign),
        "snapshot" => {
            let rows = value(silver.snapshot_rows, row)
                .ok_or("`snapshot_rows` is null on a snapshot row")?;
            // Epoch and counter are non-null in silver; 0 is their default.
            let id = (
                time,
                value(silver.epoch, row).unwrap_or(0),
                value(silver.counter, row).unwrap_or(0),
            );
            // Silver is deduplicated and never retracts a snapshot row.
            if sign > 0 {
                Effect::Snapshot { id, rows }
            } else {
                Effect::Delta(0)
            }
        }
        other => return Err(format!("unknown action `{other}`")),
    };
    let change = keys.entry((host, query)).or_insert(Change {
        last_time: time,
        ..Change::default()
    });
    change.last_time = change.last_time.max(time);
    match effect {
        Effect::Delta(delta) => change.row_count += delta,
        // A later row of the applied snapshot, or an older snapshot: nothing.
        Effect::Snapshot { id, rows } if change.snapshot.is_none_or(|applied| id > applied) => {
            change.snapshot = Some(id);
            change.row_count = rows;
            change.reset = true;
        }
        Effect::Snapshot { .. } => {}
    }
    Ok(())
}

/// What one valid input row does to its key.
enum Effect {
    /// Adds to the count.
    Delta(i64),
    /// Sets the count, if `id` (time, epoch, counter) is newer than the
    /// snapshot already applied.
    Snapshot { id: (i64, i64, i64), rows: i64 },
}

/// The value at `row`, `None` where null.
fn value<T: ArrowPrimitiveType>(array: &PrimitiveArray<T>, row: usize) -> Option<T::Native> {
    array.is_valid(row).then(|| array.value(row))
}

/// The gold table: one row per (host, query), its count change.
fn gold_schema() -> SchemaRef {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, false),
        Field::new("query", DataType::Utf8, false),
        Field::new("row_count", DataType::Int64, false),
        Field::new("last_time", utc, false),
        Field::new("reset", DataType::Boolean, false),
    ]))
}

ingot_guest::export!(OsqueryCounts);

#[cfg(test)]
mod tests;
