use std::sync::Arc;

use ingot_core::arrow::array::{Int64Array, RecordBatch};
use ingot_core::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use ingot_delta::{Commit, Lineage, Table, WriteMode};

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]))
}

fn batch(rows: usize) -> RecordBatch {
    let values: Vec<i64> = (0..rows as i64).collect();
    RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(values))]).expect("batch")
}

fn commit() -> Commit {
    Commit {
        txns: Vec::new(),
        lineage: Lineage {
            ingot_version: "test".into(),
            pipeline: "p".into(),
            stage: "ingest".into(),
            module: None,
            input_table: None,
            input_versions: None,
            attempt: None,
        },
    }
}

/// A table whose versions 1..=4 each append `rows[i]` rows.
async fn table(dir: &std::path::Path, rows: &[usize]) -> Table {
    let uri = dir.join("t").display().to_string();
    let mut table = Table::open_or_create(&uri, schema()).await.expect("create");
    for &n in rows {
        table
            .write(vec![batch(n)], &WriteMode::Append, &commit())
            .await
            .expect("append");
    }
    table
}

fn range(from: i64, to: i64, pinned: bool) -> Range {
    Range { from, to, pinned }
}

#[tokio::test]
async fn a_range_is_cut_where_its_data_passes_the_budget_but_keeps_one_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = table(dir.path(), &[50_000, 50_000, 50_000, 50_000]).await;
    let one = table
        .commit_record(1)
        .await
        .expect("read")
        .expect("v1")
        .data_bytes;
    assert!(one > 0, "an append records its file sizes");

    let mut budget = InputBudget::new(one * 2 + one / 2);
    let cut = budget.fit(&table, range(1, 4, false)).await.expect("fit");
    assert_eq!(cut, range(1, 2, false), "two versions fit, three do not");

    let mut tiny = InputBudget::new(1);
    let cut = tiny.fit(&table, range(2, 4, false)).await.expect("fit");
    assert_eq!(cut, range(2, 2, false), "a version over the budget alone");

    let pinned = tiny.fit(&table, range(1, 4, true)).await.expect("fit");
    assert_eq!(pinned, range(1, 4, true), "a pinned range is kept whole");

    let mut wide = InputBudget::new(u64::MAX);
    let whole = wide.fit(&table, range(0, 4, false)).await.expect("fit");
    assert_eq!(whole, range(0, 4, false));
}

fn rows(chunk: &[RecordBatch]) -> usize {
    chunk.iter().map(RecordBatch::num_rows).sum()
}

#[tokio::test]
async fn changes_come_in_chunks_of_at_least_chunk_rows_and_an_empty_range_as_one_empty_batch() {
    let batches = vec![batch(30_000), batch(30_000), batch(30_000), batch(10)];
    let mut changes = Changes::from_batches(schema(), batches, 1_000);
    let first = changes.next_chunk().await.expect("read").expect("a chunk");
    assert_eq!(rows(&first), 90_000, "batches until CHUNK_ROWS is reached");
    let second = changes.next_chunk().await.expect("read").expect("a chunk");
    assert_eq!(rows(&second), 10);
    assert!(changes.next_chunk().await.expect("read").is_none());

    let mut empty = Changes::from_batches(schema(), Vec::new(), 1_000);
    let only = empty.next_chunk().await.expect("read").expect("a chunk");
    assert_eq!((only.len(), rows(&only)), (1, 0), "one empty batch");
    assert_eq!(only[0].schema(), schema());
    assert!(empty.next_chunk().await.expect("read").is_none());

    let big = vec![batch(70_000), batch(70_000)];
    let mut changes = Changes::from_batches(schema(), big, 100_000);
    let first = changes.next_chunk().await.expect("read").expect("a chunk");
    assert_eq!(
        rows(&first),
        140_000,
        "a batch-rows above CHUNK_ROWS sets the chunk"
    );
}

#[tokio::test]
async fn a_table_range_streams_in_chunks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = table(dir.path(), &[40_000, 40_000, 40_000]).await;
    let stage = StageId::new("t", "p", "s");
    let (range, mut changes) = open_range(
        &table,
        &stage,
        range(1, 3, false),
        Observed::default(),
        1_000,
    )
    .await
    .expect("open");
    assert_eq!(
        range,
        Range {
            from: 1,
            to: 3,
            pinned: false
        }
    );
    let mut sizes = Vec::new();
    while let Some(chunk) = changes.next_chunk().await.expect("read") {
        sizes.push(rows(&chunk));
    }
    assert_eq!(sizes.iter().sum::<usize>(), 120_000, "every row once");
    assert!(sizes.len() >= 2, "more than one chunk: {sizes:?}");
    assert!(
        sizes[..sizes.len() - 1]
            .iter()
            .all(|n| (CHUNK_ROWS..CHUNK_ROWS + 40_000).contains(n)),
        "chunks of CHUNK_ROWS and up to one batch more: {sizes:?}"
    );
}
