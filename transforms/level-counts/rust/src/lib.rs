//! `level-counts`: the gold stage of the application-log pipeline.
//!
//! Reads the silver log table's Change Data Feed and emits, per `level` in
//! the batch, how much the batch changes that level's row count and latency
//! sum. The stage's output runs in `accumulate` mode keyed by `level`: the
//! host adds these signed deltas to the gold table, so gold stays correct
//! when silver rows are updated or deleted, without rescanning silver.
//!
//! An `insert` or `update_postimage` row counts +1 and adds its
//! `latency_ms`; a `delete` or `update_preimage` row counts -1 and subtracts
//! it. A null latency adds nothing. Levels whose deltas are both zero are
//! left out. The stage takes no configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use ingot_guest::arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use ingot_guest::arrow_schema::{DataType, Field, Schema, SchemaRef};
use ingot_guest::{ChangeType, Config, Error, Output, Transform, column, column_strings};

/// Turns silver changes into signed per-level deltas.
pub struct LevelCounts {
    schema: SchemaRef,
}

/// How one batch changes one level's gold row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Delta {
    count: i64,
    latency_ms_sum: i64,
}

impl Transform for LevelCounts {
    fn init(_config: &Config) -> Result<Self, Error> {
        Ok(Self {
            schema: gold_schema(),
        })
    }

    fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
        let changes = ChangeType::column(input)?;
        let levels = column_strings(input, "level")?;
        let latency = column::<Int64Array>(input, "latency_ms")?;
        let mut deltas: BTreeMap<&str, Delta> = BTreeMap::new();
        let mut rejected = Vec::new();
        for (row, (change, level)) in changes.into_iter().zip(levels).enumerate() {
            let Some(level) = level else {
                rejected.push(row);
                continue;
            };
            let latency_ms = latency.is_valid(row).then(|| latency.value(row));
            let delta = deltas.entry(level).or_default();
            delta.count += change.sign();
            delta.latency_ms_sum += change.sign() * latency_ms.unwrap_or(0);
        }
        deltas.retain(|_, delta| *delta != Delta::default());

        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(deltas.keys())),
            Arc::new(Int64Array::from_iter_values(
                deltas.values().map(|d| d.count),
            )),
            Arc::new(Int64Array::from_iter_values(
                deltas.values().map(|d| d.latency_ms_sum),
            )),
        ];
        let mut output = Output::new(RecordBatch::try_new(self.schema.clone(), columns)?);
        for row in rejected {
            output.push_reject(row, "`level` is null");
        }
        Ok(output)
    }
}

/// The gold table: one row per level, its count and latency sum.
fn gold_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("level", DataType::Utf8, false),
        Field::new("count", DataType::Int64, false),
        Field::new("latency_ms_sum", DataType::Int64, false),
    ]))
}

ingot_guest::export!(LevelCounts);

#[cfg(test)]
mod tests {
    use super::*;
    use ChangeType::{Delete, Insert, UpdatePostimage, UpdatePreimage};
    use ingot_guest::Rejected;
    use ingot_guest::testing::{Harness, with_cdf};

    /// A silver CDF batch of (change, level, latency) rows.
    fn silver(rows: &[(ChangeType, Option<&str>, Option<i64>)]) -> RecordBatch {
        let levels: StringArray = rows.iter().map(|(_, level, _)| *level).collect();
        let latency: Int64Array = rows.iter().map(|(_, _, latency)| *latency).collect();
        let batch = RecordBatch::try_from_iter([
            ("level", Arc::new(levels) as ArrayRef),
            ("latency_ms", Arc::new(latency) as ArrayRef),
        ])
        .expect("valid silver batch");
        with_cdf(
            &batch,
            &rows
                .iter()
                .map(|(change, _, _)| *change)
                .collect::<Vec<_>>(),
        )
    }

    /// The output as (level, count, latency sum) rows, and the rejects.
    fn counts(input: &RecordBatch) -> (Vec<(String, i64, i64)>, Vec<Rejected>) {
        let mut harness =
            Harness::<LevelCounts>::new(Vec::<(String, String)>::new()).expect("init");
        let output = harness.process(input).expect("process succeeds");
        assert_eq!(output.batch.schema(), gold_schema());
        let level = column::<StringArray>(&output.batch, "level").expect("level");
        let count = column::<Int64Array>(&output.batch, "count").expect("count");
        let sum = column::<Int64Array>(&output.batch, "latency_ms_sum").expect("sum");
        let rows = (0..output.batch.num_rows())
            .map(|i| (level.value(i).to_owned(), count.value(i), sum.value(i)))
            .collect();
        (rows, output.rejected)
    }

    fn row(level: &str, count: i64, sum: i64) -> (String, i64, i64) {
        (level.to_owned(), count, sum)
    }

    #[test]
    fn inserts_count_up_and_sum_latency() {
        let (rows, rejected) = counts(&silver(&[
            (Insert, Some("INFO"), Some(10)),
            (Insert, Some("ERROR"), Some(500)),
            (Insert, Some("INFO"), Some(32)),
            (Insert, Some("INFO"), None),
        ]));
        assert_eq!(rows, vec![row("ERROR", 1, 500), row("INFO", 3, 42)]);
        assert!(rejected.is_empty());
    }

    #[test]
    fn deletes_count_down_and_net_zero_levels_are_omitted() {
        let (rows, _) = counts(&silver(&[
            (Insert, Some("INFO"), Some(10)),
            (Delete, Some("WARN"), Some(7)),
            (Insert, Some("DEBUG"), Some(3)),
            (Delete, Some("DEBUG"), Some(3)),
        ]));
        assert_eq!(rows, vec![row("INFO", 1, 10), row("WARN", -1, -7)]);
    }

    #[test]
    fn updates_move_a_row_between_levels() {
        let (rows, _) = counts(&silver(&[
            (UpdatePreimage, Some("WARN"), Some(40)),
            (UpdatePostimage, Some("ERROR"), Some(40)),
            // Same level, new latency: the count nets to zero, the sum does not.
            (UpdatePreimage, Some("INFO"), Some(40)),
            (UpdatePostimage, Some("INFO"), Some(45)),
        ]));
        assert_eq!(
            rows,
            vec![row("ERROR", 1, 40), row("INFO", 0, 5), row("WARN", -1, -40)]
        );
    }

    #[test]
    fn empty_input_gives_empty_output() {
        let (rows, rejected) = counts(&silver(&[]));
        assert!(rows.is_empty());
        assert!(rejected.is_empty());
    }

    #[test]
    fn a_null_level_is_rejected() {
        let (rows, rejected) = counts(&silver(&[
            (Insert, None, Some(1)),
            (Insert, Some("INFO"), Some(2)),
        ]));
        assert_eq!(rows, vec![row("INFO", 1, 2)]);
        assert_eq!(
            rejected,
            vec![Rejected {
                row: 0,
                reason: "`level` is null".into()
            }]
        );
    }

    #[test]
    fn a_batch_without_latency_is_invalid_input() {
        let levels = Arc::new(StringArray::from(vec!["INFO"])) as ArrayRef;
        let batch = RecordBatch::try_from_iter([("level", levels)]).expect("valid batch");
        let mut harness =
            Harness::<LevelCounts>::new(Vec::<(String, String)>::new()).expect("init");
        assert_eq!(
            harness.process(&with_cdf(&batch, &[Insert])).map(|_| ()),
            Err(Error::InvalidInput("missing column `latency_ms`".into()))
        );
    }
}
