//! The transform through the native harness: diffs, signs, snapshots,
//! rejects.

use super::*;
use ChangeType::{Delete, Insert, UpdatePostimage, UpdatePreimage};
use ingot_guest::Rejected;
use ingot_guest::testing::{Harness, with_cdf};

/// One silver change row.
#[derive(Debug, Clone, Copy)]
struct Row {
    change: ChangeType,
    host: Option<&'static str>,
    query: Option<&'static str>,
    action: Option<&'static str>,
    /// Seconds.
    time: Option<i64>,
    epoch: i64,
    counter: i64,
    snapshot_rows: Option<i64>,
}

fn diff(action: &'static str, host: &'static str, query: &'static str, time: i64) -> Row {
    Row {
        change: Insert,
        host: Some(host),
        query: Some(query),
        action: Some(action),
        time: Some(time),
        epoch: 0,
        counter: 0,
        snapshot_rows: None,
    }
}

fn added(host: &'static str, query: &'static str, time: i64) -> Row {
    diff("added", host, query, time)
}

fn removed(host: &'static str, query: &'static str, time: i64) -> Row {
    diff("removed", host, query, time)
}

/// One row of a snapshot of `rows` rows taken at `time` by run `counter`.
fn snapshot(host: &'static str, query: &'static str, time: i64, counter: i64, rows: i64) -> Row {
    Row {
        counter,
        snapshot_rows: Some(rows),
        ..diff("snapshot", host, query, time)
    }
}

impl Row {
    fn with(self, change: ChangeType) -> Row {
        Row { change, ..self }
    }
}

/// A silver CDF batch of `rows`, with a column the stage does not read.
fn silver(rows: &[Row]) -> RecordBatch {
    let utc = |values: Vec<Option<i64>>| {
        Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC")) as ArrayRef
    };
    let strings = |f: fn(&Row) -> Option<&'static str>| {
        Arc::new(rows.iter().map(f).collect::<StringArray>()) as ArrayRef
    };
    let ints = |f: fn(&Row) -> Option<i64>| {
        Arc::new(rows.iter().map(f).collect::<Int64Array>()) as ArrayRef
    };
    let batch = RecordBatch::try_from_iter([
        ("host", strings(|r| r.host)),
        ("query", strings(|r| r.query)),
        ("action", strings(|r| r.action)),
        (
            "time",
            utc(rows.iter().map(|r| r.time.map(|t| t * 1_000_000)).collect()),
        ),
        ("epoch", ints(|r| Some(r.epoch))),
        ("counter", ints(|r| Some(r.counter))),
        ("row_id", ints(|_| Some(7))),
        ("snapshot_rows", ints(|r| r.snapshot_rows)),
    ])
    .expect("valid silver batch");
    with_cdf(&batch, &rows.iter().map(|r| r.change).collect::<Vec<_>>())
}

/// An output row: host, query, row_count, last_time in seconds, reset.
type Count = (String, String, i64, i64, bool);

fn count(host: &str, query: &str, row_count: i64, last_time: i64, reset: bool) -> Count {
    (host.into(), query.into(), row_count, last_time, reset)
}

/// The output rows and the rejects.
fn counts(rows: &[Row]) -> (Vec<Count>, Vec<Rejected>) {
    let mut harness = Harness::<OsqueryCounts>::new(Vec::<(String, String)>::new()).expect("init");
    let output = harness.process(&silver(rows)).expect("process succeeds");
    let batch = &output.batch;
    assert_eq!(batch.schema(), gold_schema());
    let host = column::<StringArray>(batch, "host").expect("host");
    let query = column::<StringArray>(batch, "query").expect("query");
    let row_count = column::<Int64Array>(batch, "row_count").expect("row_count");
    let last_time = column::<TimestampMicrosecondArray>(batch, "last_time").expect("last_time");
    let reset = column::<BooleanArray>(batch, "reset").expect("reset");
    let rows = (0..batch.num_rows())
        .map(|i| {
            assert_eq!(last_time.value(i) % 1_000_000, 0);
            count(
                host.value(i),
                query.value(i),
                row_count.value(i),
                last_time.value(i) / 1_000_000,
                reset.value(i),
            )
        })
        .collect();
    (rows, output.rejected)
}

/// The output rows, asserting nothing is rejected.
fn accepted(rows: &[Row]) -> Vec<Count> {
    let (counts, rejected) = counts(rows);
    assert_eq!(rejected, []);
    counts
}

#[test]
fn added_and_removed_rows_are_deltas_per_host_and_query() {
    let rows = accepted(&[
        added("web-01", "processes", 100),
        added("web-01", "processes", 100),
        added("db-02", "processes", 110),
        removed("web-01", "users", 120),
        added("web-01", "processes", 130),
        removed("web-01", "processes", 125),
        // Nets to zero: left out.
        added("db-02", "ports", 90),
        removed("db-02", "ports", 95),
    ]);
    assert_eq!(
        rows,
        [
            count("db-02", "processes", 1, 110, false),
            count("web-01", "processes", 2, 130, false),
            count("web-01", "users", -1, 120, false),
        ]
    );
}

#[test]
fn deletes_and_preimages_undo_what_they_remove() {
    let rows = accepted(&[
        // -1 for the deleted `added`, +1 for the retracted `removed`: 0.
        added("h", "q", 10).with(Delete),
        removed("h", "q", 20).with(UpdatePreimage),
        // An update from one `added` row to another: 0.
        added("h", "r", 30).with(UpdatePreimage),
        added("h", "r", 40).with(UpdatePostimage),
        removed("h", "s", 50).with(Delete),
        added("h", "t", 60).with(Delete),
        removed("h", "u", 70).with(UpdatePostimage),
    ]);
    assert_eq!(
        rows,
        [
            count("h", "s", 1, 50, false),
            count("h", "t", -1, 60, false),
            count("h", "u", -1, 70, false),
        ]
    );
}

#[test]
fn a_snapshot_counts_once_and_replaces_earlier_deltas() {
    let rows = accepted(&[
        added("h", "users", 100),
        added("h", "users", 100),
        // Three silver rows of one snapshot of three rows.
        snapshot("h", "users", 200, 4, 3),
        snapshot("h", "users", 200, 4, 3),
        snapshot("h", "users", 200, 4, 3),
        // Diffs after the snapshot add to it.
        added("h", "users", 300),
        added("h", "users", 300),
        removed("h", "users", 300),
    ]);
    assert_eq!(rows, [count("h", "users", 4, 300, true)]);
}

#[test]
fn an_empty_snapshot_resets_to_zero() {
    let rows = accepted(&[added("h", "users", 100), snapshot("h", "users", 200, 1, 0)]);
    assert_eq!(rows, [count("h", "users", 0, 200, true)]);
}

#[test]
fn a_newer_snapshot_replaces_and_an_older_one_is_ignored() {
    let rows = accepted(&[
        snapshot("h", "q", 200, 2, 5),
        added("h", "q", 210),
        // Older: ignored, and so is the diff it would have discarded.
        snapshot("h", "q", 100, 1, 50),
        snapshot("h", "q", 100, 1, 50),
        added("h", "q", 220),
    ]);
    assert_eq!(rows, [count("h", "q", 7, 220, true)]);
    let rows = accepted(&[
        snapshot("h", "q", 200, 2, 5),
        added("h", "q", 210),
        snapshot("h", "q", 300, 3, 8),
        removed("h", "q", 310),
    ]);
    assert_eq!(rows, [count("h", "q", 7, 310, true)]);
}

#[test]
fn at_the_same_time_the_later_run_wins() {
    // Run 3 came after run 2, whichever order silver lists them in.
    let rows = accepted(&[
        snapshot("h", "q", 200, 3, 5),
        snapshot("h", "q", 200, 2, 9),
        snapshot("h", "q", 200, 3, 5),
    ]);
    assert_eq!(rows, [count("h", "q", 5, 200, true)]);
    let rows = accepted(&[
        snapshot("h", "q", 200, 2, 9),
        snapshot("h", "q", 200, 3, 5),
        snapshot("h", "q", 200, 2, 9),
    ]);
    assert_eq!(rows, [count("h", "q", 5, 200, true)]);
    let epochs = accepted(&[
        snapshot("h", "q", 200, 3, 5),
        Row {
            epoch: 1,
            ..snapshot("h", "q", 200, 0, 6)
        },
    ]);
    assert_eq!(epochs, [count("h", "q", 6, 200, true)]);
}

#[test]
fn snapshots_are_per_host_and_query() {
    let rows = accepted(&[
        snapshot("a", "q", 200, 1, 2),
        snapshot("b", "q", 100, 1, 3),
        snapshot("a", "r", 50, 1, 4),
        added("b", "q", 300),
    ]);
    assert_eq!(
        rows,
        [
            count("a", "q", 2, 200, true),
            count("a", "r", 4, 50, true),
            count("b", "q", 4, 300, true),
        ]
    );
}

#[test]
fn retracted_snapshot_rows_are_ignored() {
    let rows = accepted(&[
        snapshot("h", "q", 200, 1, 5).with(Delete),
        snapshot("h", "r", 200, 1, 5).with(UpdatePreimage),
        snapshot("h", "r", 200, 1, 5).with(UpdatePostimage),
        added("h", "s", 100),
        snapshot("h", "s", 200, 1, 5).with(Delete),
    ]);
    assert_eq!(
        rows,
        [
            count("h", "r", 5, 200, true),
            count("h", "s", 1, 200, false),
        ]
    );
}

#[test]
fn bad_rows_are_rejected_and_the_rest_counted() {
    let (rows, rejected) = counts(&[
        Row {
            host: None,
            ..added("h", "q", 1)
        },
        Row {
            query: None,
            ..added("h", "q", 1)
        },
        Row {
            action: None,
            ..added("h", "q", 1)
        },
        diff("changed", "h", "q", 1),
        Row {
            snapshot_rows: None,
            ..snapshot("h", "q", 1, 1, 1)
        },
        Row {
            time: None,
            ..added("h", "q", 1)
        },
        added("h", "q", 2),
    ]);
    assert_eq!(rows, [count("h", "q", 1, 2, false)]);
    let reasons: Vec<(u32, &str)> = rejected
        .iter()
        .map(|r| (r.row, r.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (0, "`host` is null"),
            (1, "`query` is null"),
            (2, "`action` is null"),
            (3, "unknown action `changed`"),
            (4, "`snapshot_rows` is null on a snapshot row"),
            (5, "`time` is null"),
        ]
    );
}

#[test]
fn empty_input_gives_empty_output() {
    assert_eq!(accepted(&[]), []);
}

#[test]
fn configuration_is_refused() {
    assert!(Harness::<OsqueryCounts>::new(Vec::<(String, String)>::new()).is_ok());
    assert_eq!(
        Harness::<OsqueryCounts>::new([("window", "5m")]).map(|_| ()),
        Err(Error::InvalidConfig(
            "unknown key `window` (osquery-counts takes no configuration)".into()
        ))
    );
}

#[test]
fn a_batch_without_snapshot_rows_is_invalid_input() {
    let batch = silver(&[added("h", "q", 1)]);
    let position = batch.schema().index_of("snapshot_rows").expect("column");
    let mut batch = batch;
    batch.remove_column(position);
    let mut harness = Harness::<OsqueryCounts>::new(Vec::<(String, String)>::new()).expect("init");
    assert_eq!(
        harness.process(&batch).map(|_| ()),
        Err(Error::InvalidInput("missing column `snapshot_rows`".into()))
    );
}
