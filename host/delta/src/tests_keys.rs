//! Tests of dedupe through the stored-key index (`keys.rs`): the same
//! table as the MERGE makes, whatever else writes the table.

use std::collections::HashSet;
use std::sync::Arc;

use super::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use super::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use super::tests::{commit, lineage, rows, table_path};
use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, true),
        Field::new("n", DataType::Int64, true),
        Field::new("body", DataType::Utf8, true),
    ]))
}

/// Rows `(host, n, body)`; a host of `None` is a null key part.
fn batch(rows: &[(Option<&str>, i64, &str)]) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
    .expect("batch")
}

fn mode() -> WriteMode {
    WriteMode::Dedupe {
        keys: vec!["host".into(), "n".into()],
    }
}

async fn sorted(table: &Table) -> Vec<String> {
    let mut all = rows(&table.scan().await.expect("scan"));
    all.sort();
    all
}

async fn indexed(path: &str) -> Table {
    let mut table = Table::open_or_create(path, schema()).await.expect("create");
    table.set_key_index_limit(1_000_000);
    table
}

/// Steps of rows with repeats within and across steps, null key parts
/// among them.
fn steps() -> Vec<Vec<(Option<&'static str>, i64, &'static str)>> {
    (0..6_i64)
        .map(|step| {
            (0..40_i64)
                .map(|i| {
                    let n = (i * 7 + step * 13) % 50;
                    let host = match n % 3 {
                        0 => None,
                        1 => Some("a"),
                        _ => Some("b"),
                    };
                    let body = if step % 2 == 0 { "even" } else { "odd" };
                    (host, n, body)
                })
                .collect()
        })
        .collect()
}

/// The first row of every key over all steps, in the test's own terms.
fn first_rows(steps: &[Vec<(Option<&'static str>, i64, &'static str)>]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out: Vec<String> = steps
        .iter()
        .flatten()
        .filter(|(host, n, _)| seen.insert((*host, *n)))
        .map(|(host, n, body)| format!("{}|{n}|{body}", host.unwrap_or("")))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn indexed_dedupe_keeps_the_first_row_of_every_key_as_the_merge_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut with_index = indexed(&table_path(&dir, "indexed")).await;
    let mut merged = Table::open_or_create(&table_path(&dir, "merged"), schema())
        .await
        .expect("create");
    let steps = steps();
    for (version, step) in (1..).zip(&steps) {
        let c = commit(&[("s", version)]);
        let a = with_index.write(vec![batch(step)], &mode(), &c).await;
        let b = merged.write(vec![batch(step)], &mode(), &c).await;
        assert_eq!(a.expect("indexed"), b.expect("merged"), "same versions");
        let (a, b) = (
            with_index.changes(version, version).await.expect("cdf"),
            merged.changes(version, version).await.expect("cdf"),
        );
        let (mut a, mut b) = (rows(&a), rows(&b));
        a.sort();
        b.sort();
        // The commit timestamp differs; the rows and change types do not.
        let strip = |r: &String| r.rsplit_once('|').map(|(rest, _)| rest.to_string());
        assert_eq!(
            a.iter().map(strip).collect::<Vec<_>>(),
            b.iter().map(strip).collect::<Vec<_>>(),
            "the change feed of version {version}"
        );
    }
    let expected = first_rows(&steps);
    assert_eq!(sorted(&with_index).await, expected);
    assert_eq!(sorted(&merged).await, expected);
    assert_eq!(with_index.indexed_keys(), Some(expected.len()));
    assert_eq!(with_index.txn_version("s"), Some(6));
}

#[tokio::test]
async fn compaction_keeps_the_index_and_other_writers_rebuild_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut stage = indexed(&path).await;
    for n in 0..3 {
        let rows = [(Some("a"), n, "first")];
        stage
            .write(vec![batch(&rows)], &mode(), &commit(&[("s", n)]))
            .await
            .expect("write");
    }
    let mut other = Table::open(&path).await.expect("open").expect("table");
    other
        .optimize(
            &Compaction {
                target_size: 1 << 20,
                zorder: Vec::new(),
            },
            &lineage("maintenance"),
        )
        .await
        .expect("optimize");
    // Another writer (by MERGE) adds a key the stage then sees again.
    other
        .write(
            vec![batch(&[(Some("z"), 9, "other")])],
            &mode(),
            &commit(&[("other", 1)]),
        )
        .await
        .expect("other write");
    stage.refresh().await.expect("refresh");
    stage
        .write(
            vec![batch(&[(Some("z"), 9, "again"), (Some("a"), 1, "again")])],
            &mode(),
            &commit(&[("s", 3)]),
        )
        .await
        .expect("after the other writer");
    assert_eq!(
        sorted(&stage).await,
        vec!["a|0|first", "a|1|first", "a|2|first", "z|9|other"]
    );
    assert_eq!(stage.indexed_keys(), Some(4));
}

#[tokio::test]
async fn a_commit_after_the_snapshot_fails_the_indexed_append() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut stage = indexed(&path).await;
    stage
        .write(
            vec![batch(&[(Some("a"), 1, "x")])],
            &mode(),
            &commit(&[("s", 1)]),
        )
        .await
        .expect("write");
    let mut other = Table::open(&path).await.expect("open").expect("table");
    other
        .write(
            vec![batch(&[(Some("a"), 2, "other")])],
            &WriteMode::Append,
            &commit(&[("other", 1)]),
        )
        .await
        .expect("other append");
    let step = vec![batch(&[(Some("a"), 2, "stage")])];
    let lost = stage
        .write(step.clone(), &mode(), &commit(&[("s", 2)]))
        .await;
    assert!(matches!(lost, Err(TableError::Conflict { .. })), "{lost:?}");
    stage.refresh().await.expect("refresh");
    stage
        .write(step, &mode(), &commit(&[("s", 2)]))
        .await
        .expect("redo");
    assert_eq!(sorted(&stage).await, vec!["a|1|x", "a|2|other"]);
}

#[tokio::test]
async fn keys_a_restore_undid_are_new_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut stage = indexed(&path).await;
    let v1 = stage
        .write(
            vec![batch(&[(Some("a"), 1, "kept")])],
            &mode(),
            &commit(&[("s", 1)]),
        )
        .await
        .expect("first");
    stage
        .write(
            vec![batch(&[(Some("a"), 2, "undone")])],
            &mode(),
            &commit(&[("s", 2)]),
        )
        .await
        .expect("second");
    let mut other = Table::open(&path).await.expect("open").expect("table");
    other
        .restore(v1, &commit(&[("s", 1)]))
        .await
        .expect("restore");
    stage.refresh().await.expect("refresh");
    stage
        .write(
            vec![batch(&[(Some("a"), 2, "redone"), (Some("a"), 1, "dup")])],
            &mode(),
            &commit(&[("s", 2)]),
        )
        .await
        .expect("redo");
    assert_eq!(sorted(&stage).await, vec!["a|1|kept", "a|2|redone"]);
}

#[tokio::test]
async fn a_table_over_the_limit_dedupes_by_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut stage = Table::open_or_create(&path, schema())
        .await
        .expect("create");
    stage.set_key_index_limit(3);
    let three = [
        (Some("a"), 1, "x"),
        (Some("a"), 2, "x"),
        (Some("a"), 3, "x"),
    ];
    stage
        .write(vec![batch(&three)], &mode(), &commit(&[("s", 1)]))
        .await
        .expect("first");
    assert_eq!(stage.indexed_keys(), Some(3));
    stage
        .write(
            vec![batch(&[(Some("a"), 3, "dup"), (Some("a"), 4, "y")])],
            &mode(),
            &commit(&[("s", 2)]),
        )
        .await
        .expect("second");
    // Four keys pass the limit of three: the index is dropped, the next
    // write is a MERGE.
    assert_eq!(stage.indexed_keys(), None);
    stage
        .write(
            vec![batch(&[(Some("a"), 4, "dup"), (Some("a"), 5, "z")])],
            &mode(),
            &commit(&[("s", 3)]),
        )
        .await
        .expect("third");
    assert_eq!(stage.indexed_keys(), None);
    assert_eq!(
        sorted(&stage).await,
        vec!["a|1|x", "a|2|x", "a|3|x", "a|4|y", "a|5|z"]
    );
}
