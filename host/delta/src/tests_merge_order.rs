//! What a MERGE's result may depend on: neither where the commits of an
//! upsert's events fall (the order of a key's versions is one rule, applied
//! alike by the in-batch reduce, the MERGE and the tombstone screen), nor a
//! compaction that commits between a step's read and its MERGE.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use super::arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use super::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use super::tests::{commit, rows, table_path};
use super::*;

/// One upsert event: key, sequence, value, deleted.
type Event = (i64, Option<i64>, &'static str, bool);

/// Events of four keys with equal sequences, null sequences and deletes;
/// the comment says what the rule makes of each.
const EVENTS: [Event; 17] = [
    (1, Some(5), "a1", false),
    (2, None, "b1", false),
    (1, Some(5), "a2", false),     // a tie: the later a2 wins
    (4, None, "d1", false),        //
    (2, None, "b2", false),        // null ties null: b2 wins
    (3, Some(1), "c1", false),     //
    (1, Some(5), "a-del", true),   // a tie: the delete wins, tombstone 5
    (4, Some(3), "d2", false),     // non-null beats null
    (1, None, "a-null", false),    // null is older than tombstone 5: dropped
    (2, None, "b-del", true),      // null ties null: deleted, null tombstone
    (3, None, "c-null", false),    // null loses to 1
    (2, None, "b3", false),        // ties the null tombstone: back
    (3, Some(1), "c-del", true),   // a tie: deleted, tombstone 1
    (4, Some(3), "d3", false),     // a tie: d3 wins
    (3, Some(0), "c-late", false), // older than tombstone 1: dropped
    (3, Some(1), "c2", false),     // ties tombstone 1: back
    (4, None, "d-null", false),    // null loses to 3
];

fn people_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("seq", DataType::Int64, true),
    ]))
}

/// The events as rows `id, name, seq` with the hidden `deleted` flag.
fn batch(events: &[Event]) -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.0))) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.2))),
        ),
        (
            "seq",
            Arc::new(Int64Array::from_iter(events.iter().map(|e| e.1))),
        ),
        (
            "deleted",
            Arc::new(BooleanArray::from_iter(events.iter().map(|e| Some(e.3)))),
        ),
    ])
    .expect("event batch")
}

fn upsert_mode() -> WriteMode {
    WriteMode::Upsert {
        keys: vec!["id".into()],
        sequence: Some("seq".into()),
        delete_column: Some("deleted".into()),
    }
}

/// The table the rule makes of `events`, computed without the code under
/// test: per key, the event with the highest sequence (Rust orders `None`
/// below every `Some`), the later one of equal sequences; a key whose
/// winner is a delete is absent.
fn expected(events: &[Event]) -> Vec<String> {
    let mut winner: BTreeMap<i64, Event> = BTreeMap::new();
    for event in events {
        if winner
            .get(&event.0)
            .is_none_or(|current| event.1 >= current.1)
        {
            winner.insert(event.0, *event);
        }
    }
    winner
        .values()
        .filter(|e| !e.3)
        .map(|e| {
            format!(
                "{}|{}|{}",
                e.0,
                e.2,
                e.1.map_or(String::new(), |s| s.to_string())
            )
        })
        .collect()
}

/// A stage's output and tombstones, written one commit at a time.
struct Upserts {
    _dir: tempfile::TempDir,
    table: Table,
    tombstones: Tombstones,
    commits: i64,
}

impl Upserts {
    async fn new() -> Upserts {
        let dir = tempfile::tempdir().expect("tempdir");
        let tombstones = Tombstones::new(table_path(&dir, "silver_tombstones"));
        let table = Table::open_or_create(&table_path(&dir, "silver"), people_schema())
            .await
            .expect("create");
        Upserts {
            _dir: dir,
            table,
            tombstones,
            commits: 0,
        }
    }

    /// Screens `events` by the tombstones, then upserts them: one step's
    /// two commits. Returns the output's new version.
    async fn commit(&mut self, events: &[Event]) -> i64 {
        self.commits += 1;
        let kept = self
            .tombstones
            .apply(
                vec![batch(events)],
                &["id".to_string()],
                "seq",
                "deleted",
                &commit(&[]),
            )
            .await
            .expect("tombstones");
        self.table
            .write(kept, &upsert_mode(), &commit(&[("s", self.commits)]))
            .await
            .expect("upsert")
    }

    async fn rows(&self) -> Vec<String> {
        let mut all = rows(&self.table.scan().await.expect("scan"));
        all.sort();
        all
    }

    async fn change_rows(&self, version: i64) -> usize {
        let changes = self.table.changes(version, version).await.expect("changes");
        changes.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Every way of cutting the events into commits the test tries: one
/// commit, two commits split at every boundary, one commit per event.
fn plans(n: usize) -> Vec<Vec<Range<usize>>> {
    let mut plans: Vec<Vec<Range<usize>>> = (1..n).map(|i| vec![0..i, i..n]).collect();
    plans.push(std::iter::once(0..n).collect());
    plans.push((0..n).map(|i| i..i + 1).collect());
    plans
}

#[tokio::test]
async fn upsert_results_do_not_depend_on_commit_boundaries() {
    let want = expected(&EVENTS);
    assert_eq!(want, vec!["2|b3|", "3|c2|1", "4|d3|3"], "the model");
    for plan in plans(EVENTS.len()) {
        let mut upserts = Upserts::new().await;
        for range in &plan {
            upserts.commit(&EVENTS[range.clone()]).await;
        }
        assert_eq!(upserts.rows().await, want, "commits {plan:?}");
        // Replays: the last commit again (a redo after a crash between the
        // tombstones and the output), then the whole stream.
        let last = plan.last().expect("a plan has a commit").clone();
        for replay in [last, 0..EVENTS.len()] {
            let version = upserts.commit(&EVENTS[replay.clone()]).await;
            assert_eq!(
                upserts.rows().await,
                want,
                "commits {plan:?}, replay {replay:?}"
            );
            assert_eq!(
                upserts.change_rows(version).await,
                0,
                "commits {plan:?}: a replay of {replay:?} changes nothing"
            );
        }
    }
}

/// A timestamp key of microsecond precision: delta-rs writes its file
/// statistics truncated to the millisecond, so a key like this one, the
/// largest of a compacted file, lies above that file's recorded maximum.
const LATE_KEY: i64 = 1_700_000_000_003_456;
const KEYS: [i64; 3] = [1_700_000_000_001_000, 1_700_000_000_002_000, LATE_KEY];

fn timestamp_schema(value: (&str, DataType)) -> SchemaRef {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("at", utc, true),
        Field::new(value.0, value.1, true),
        Field::new("seq", DataType::Int64, true),
    ]))
}

/// One row `at, value, seq` of `schema`.
fn timed(schema: &SchemaRef, at: i64, value: ArrayRef, seq: i64) -> RecordBatch {
    let at = TimestampMicrosecondArray::from(vec![at]).with_timezone("UTC");
    let seq = Arc::new(Int64Array::from(vec![seq]));
    RecordBatch::try_new(schema.clone(), vec![Arc::new(at), value, seq]).expect("timed row")
}

/// Three commits of one file each, then an OPTIMIZE through a second handle
/// between the step's read (its handle's snapshot) and its MERGE, which
/// replaces the row of [`LATE_KEY`]. delta-rs's conflict checker ignores the
/// OPTIMIZE's removes (`dataChange = false`) and, pruning by the truncated
/// statistics, finds the compacted file outside the MERGE's predicate: only
/// a MERGE that refuses every concurrent commit fails here. Redone from a
/// fresh snapshot, it leaves every key once. Returns the rows a fresh handle
/// scans, sorted.
async fn merge_after_a_compaction(
    schema: SchemaRef,
    mode: &WriteMode,
    files: Vec<RecordBatch>,
    step: RecordBatch,
) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "t");
    let mut table = Table::open_or_create(&path, schema).await.expect("create");
    for (version, file) in (1..).zip(files) {
        table
            .write(vec![file], mode, &commit(&[("s", version)]))
            .await
            .expect("a file");
    }
    let other = Table::open(&path).await.expect("open").expect("exists");
    let (_, metrics) = other.inner.clone().optimize().await.expect("optimize");
    assert_eq!(metrics.num_files_removed, 3, "compacted");
    let err = table
        .write(vec![step.clone()], mode, &commit(&[("s", 9)]))
        .await
        .expect_err("a MERGE on top of a concurrent OPTIMIZE");
    assert!(err.is_conflict(), "{err}");
    table.refresh().await.expect("refresh");
    table
        .write(vec![step], mode, &commit(&[("s", 9)]))
        .await
        .expect("the redo");
    let reopened = Table::open(&path).await.expect("open").expect("exists");
    let mut all = rows(&reopened.scan().await.expect("scan"));
    all.sort();
    let mut keys: HashMap<&str, usize> = HashMap::new();
    for row in &all {
        let key = row.split('|').next().unwrap_or_default();
        *keys.entry(key).or_default() += 1;
    }
    assert!(keys.values().all(|&n| n == 1), "duplicate keys: {all:?}");
    all
}

#[tokio::test]
async fn an_upsert_refuses_a_concurrent_compaction() {
    let schema = timestamp_schema(("name", DataType::Utf8));
    let row = |at: i64, name: &str, seq: i64| {
        timed(&schema, at, Arc::new(StringArray::from(vec![name])), seq)
    };
    let files = KEYS.iter().map(|&at| row(at, "old", 1)).collect();
    let mode = WriteMode::Upsert {
        keys: vec!["at".into()],
        sequence: Some("seq".into()),
        delete_column: None,
    };
    let all = merge_after_a_compaction(schema.clone(), &mode, files, row(LATE_KEY, "new", 2)).await;
    assert_eq!(
        all,
        vec![
            "2023-11-14T22:13:20.001Z|old|1",
            "2023-11-14T22:13:20.002Z|old|1",
            "2023-11-14T22:13:20.003456Z|new|2",
        ]
    );
}

#[tokio::test]
async fn an_accumulate_refuses_a_concurrent_compaction() {
    let schema = timestamp_schema(("n", DataType::Int64));
    let row = |at: i64, n: i64| timed(&schema, at, Arc::new(Int64Array::from(vec![n])), 0);
    let files = KEYS.iter().map(|&at| row(at, 1)).collect();
    let mode = WriteMode::Accumulate {
        keys: vec!["at".into()],
        measures: vec!["n".into()],
        reset_column: None,
    };
    let all = merge_after_a_compaction(schema.clone(), &mode, files, row(LATE_KEY, 10)).await;
    assert_eq!(
        all,
        vec![
            "2023-11-14T22:13:20.001Z|1|0",
            "2023-11-14T22:13:20.002Z|1|0",
            "2023-11-14T22:13:20.003456Z|11|0",
        ]
    );
}

/// The MERGE compares every column of a tie (a rewrite only where a value
/// changes): nested columns too.
#[tokio::test]
async fn a_tie_compares_nested_columns() {
    use super::arrow::array::{Array as _, ListArray, StructArray};
    use super::arrow::datatypes::Int32Type;
    let tags = |values: &[i32]| -> ArrayRef {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>([Some(
            values.iter().map(|&v| Some(v)).collect::<Vec<_>>(),
        )]);
        let field = Arc::new(Field::new("tags", list.data_type().clone(), true));
        Arc::new(StructArray::from(vec![(field, Arc::new(list) as ArrayRef)]))
    };
    let row = |values: &[i32]| {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1])) as ArrayRef),
            ("meta", tags(values)),
            ("seq", Arc::new(Int64Array::from(vec![7]))),
        ])
        .expect("nested row")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = Table::open_or_create(&table_path(&dir, "t"), row(&[1]).schema())
        .await
        .expect("create");
    let mode = WriteMode::Upsert {
        keys: vec!["id".into()],
        sequence: Some("seq".into()),
        delete_column: None,
    };
    for (version, values) in (1..).zip([&[1][..], &[1, 2], &[1, 2]]) {
        table
            .write(vec![row(values)], &mode, &commit(&[("s", version)]))
            .await
            .expect("a tie");
    }
    assert_eq!(
        rows(&table.scan().await.expect("scan")),
        vec!["1|{tags: [1, 2]}|7"]
    );
    let changes = |v: i64| table.changes(v, v);
    let count = |b: Vec<RecordBatch>| b.iter().map(RecordBatch::num_rows).sum::<usize>();
    let replaced = count(changes(2).await.expect("changes"));
    assert_eq!(
        replaced, 2,
        "the later tie replaced the row (pre- and postimage)"
    );
    let unchanged = count(changes(3).await.expect("changes"));
    assert_eq!(unchanged, 0, "the identical tie changed nothing");
}
