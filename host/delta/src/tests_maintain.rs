//! Tests of maintenance: compaction, vacuum, log cleanup, restore, row
//! deletes, history, and MERGEs racing compactions, on real tables in
//! temporary directories.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch};
use super::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use super::tests::{commit, lineage, rows, table_path};
use super::*;

fn counts_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("n", DataType::Int64, true),
    ]))
}

fn counts(keys: &[i64], n: i64) -> RecordBatch {
    RecordBatch::try_new(
        counts_schema(),
        vec![
            Arc::new(Int64Array::from(keys.to_vec())) as ArrayRef,
            Arc::new(Int64Array::from(vec![n; keys.len()])),
        ],
    )
    .expect("counts batch")
}

fn accumulate() -> WriteMode {
    WriteMode::Accumulate {
        keys: vec!["k".into()],
        measures: vec!["n".into()],
        reset_column: None,
    }
}

/// A table of `appends` one-file appends of keys `10 i .. 10 i + 9`.
async fn appended(dir: &tempfile::TempDir, appends: i64) -> Table {
    let mut table = Table::open_or_create(&table_path(dir, "t"), counts_schema())
        .await
        .expect("create");
    for i in 0..appends {
        let keys: Vec<i64> = (10 * i..10 * i + 10).collect();
        table
            .write(
                vec![counts(&keys, 1)],
                &WriteMode::Append,
                &commit(&[("s", i)]),
            )
            .await
            .expect("append");
    }
    table
}

fn compaction() -> Compaction {
    Compaction {
        target_size: 128 << 20,
        zorder: Vec::new(),
    }
}

#[tokio::test]
async fn a_compaction_changes_no_row_and_no_change_feed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = appended(&dir, 6).await;
    assert_eq!(table.file_stats(1 << 20).small_files, 6);
    let before = table.version();
    let mut scanned = rows(&table.scan().await.expect("scan"));
    let done = table
        .optimize(&compaction(), &lineage("maintenance"))
        .await
        .expect("optimize");
    assert_eq!((done.files_removed, done.files_added), (6, 1));
    assert_eq!(done.version, Some(before + 1));
    let stats = table.file_stats(1 << 20);
    assert_eq!((stats.files, stats.rows), (1, 60));
    let mut after = rows(&table.scan().await.expect("scan"));
    scanned.sort();
    after.sort();
    assert_eq!(after, scanned, "the same rows");
    let changes = table.changes(before + 1, before + 1).await.expect("cdf");
    assert_eq!(
        rows(&changes).len(),
        0,
        "a compaction is no change to readers of the feed"
    );
    let record = table
        .commit_record(before + 1)
        .await
        .expect("read")
        .expect("commit");
    assert_eq!(record.operation.as_deref(), Some("OPTIMIZE"));
    assert!(!record.data_change);
    assert_eq!(record.lineage.map(|l| l.stage), Some("maintenance".into()));
    let again = table
        .optimize(&compaction(), &lineage("maintenance"))
        .await
        .expect("optimize");
    assert_eq!(again.version, None, "nothing left to compact");
}

#[tokio::test]
async fn z_order_names_missing_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = appended(&dir, 2).await;
    let err = table
        .optimize(
            &Compaction {
                target_size: 1 << 20,
                zorder: vec!["nope".into()],
            },
            &lineage("maintenance"),
        )
        .await
        .expect_err("no such column");
    assert!(err.to_string().contains("nope"), "{err}");
    let done = table
        .optimize(
            &Compaction {
                target_size: 1 << 20,
                zorder: vec!["k".into()],
            },
            &lineage("maintenance"),
        )
        .await
        .expect("z-order");
    assert_eq!(done.files_removed, 2);
}

#[tokio::test]
async fn history_counts_the_rows_each_version_added_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = appended(&dir, 3).await;
    table
        .optimize(&compaction(), &lineage("maintenance"))
        .await
        .expect("optimize");
    let history = table.history(None).await.expect("history");
    let versions: Vec<i64> = history.iter().map(|e| e.version).collect();
    assert_eq!(versions, vec![0, 1, 2, 3, 4]);
    assert_eq!(history[1].rows_added, Some(10));
    assert_eq!(
        history[1].record.lineage.as_ref().map(|l| l.stage.as_str()),
        Some("silver")
    );
    let optimize = &history[4];
    assert_eq!(
        (optimize.rows_added, optimize.rows_removed),
        (Some(30), Some(30))
    );
    assert_eq!(
        (optimize.record.added.len(), optimize.record.removed.len()),
        (1, 3)
    );
    let newest = table.history(Some(3)).await.expect("history");
    assert_eq!(
        newest.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![3, 4]
    );
}

#[tokio::test]
async fn vacuum_deletes_what_compactions_removed_once_past_the_retention() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = appended(&dir, 4).await;
    table
        .optimize(&compaction(), &lineage("maintenance"))
        .await
        .expect("optimize");
    let l = lineage("maintenance");
    let kept = table
        .vacuum(Duration::from_secs(3600), false, &l, false)
        .await
        .expect("vacuum");
    assert!(
        kept.files.is_empty(),
        "removed a moment ago: {:?}",
        kept.files
    );
    let listed = table
        .vacuum(Duration::ZERO, true, &l, false)
        .await
        .expect("dry run");
    assert_eq!(listed.files.len(), 4, "{:?}", listed.files);
    for file in &listed.files {
        assert!(
            dir.path().join("t").join(file).exists(),
            "a dry run deletes nothing"
        );
    }
    let deleted = table
        .vacuum(Duration::ZERO, false, &l, false)
        .await
        .expect("vacuum");
    assert_eq!(deleted.files.len(), 4);
    for file in &deleted.files {
        assert!(!dir.path().join("t").join(file).exists(), "{file} deleted");
    }
    assert_eq!(
        rows(&table.scan().await.expect("scan")).len(),
        40,
        "the table reads whole"
    );
}

#[tokio::test]
async fn restore_brings_a_version_back_with_the_txns_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = appended(&dir, 4).await;
    assert_eq!(table.txn_version("s"), Some(3));
    let restore = Commit {
        txns: vec![Txn {
            app_id: "s".into(),
            version: 1,
        }],
        lineage: lineage("silver"),
    };
    let restored = table.restore(2, &restore).await.expect("restore");
    assert_eq!(
        (
            restored.version,
            restored.files_removed,
            restored.files_restored
        ),
        (5, 2, 0)
    );
    assert_eq!(
        table.txn_version("s"),
        Some(1),
        "the txn goes back with the rows"
    );
    assert_eq!(rows(&table.scan().await.expect("scan")).len(), 20);
    let reopened = Table::open(&table_path(&dir, "t"))
        .await
        .expect("open")
        .expect("table");
    assert_eq!(reopened.txn_version("s"), Some(1), "and reads back so");
    let changes = table.changes(5, 5).await.expect("cdf");
    let kinds: Vec<&str> = changes
        .iter()
        .flat_map(|b| {
            let c = b
                .column_by_name(CHANGE_TYPE_COLUMN)
                .expect("change type")
                .as_string::<i32>();
            (0..b.num_rows()).map(|i| c.value(i)).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(kinds.len(), 20, "the rows of versions 3 and 4 leave");
    assert!(kinds.iter().all(|k| *k == "delete"), "{kinds:?}");
    let err = table.restore(5, &restore).await.expect_err("not older");
    assert!(
        matches!(err, TableError::VersionUnavailable { .. }),
        "{err}"
    );
    assert_eq!(err.class(), ingot_core::ErrorClass::User);
}

#[tokio::test]
async fn delete_rows_commits_its_txns_even_when_nothing_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = appended(&dir, 3).await;
    let (version, deleted) = table
        .delete_rows("k >= 20", &commit(&[("s", 1)]))
        .await
        .expect("delete");
    assert_eq!((version, deleted), (4, Some(10)));
    assert_eq!(table.txn_version("s"), Some(1));
    let (version, deleted) = table
        .delete_rows("k >= 1000", &commit(&[("s", 0)]))
        .await
        .expect("delete nothing");
    assert_eq!(version, 5);
    assert!(deleted.unwrap_or(0) == 0);
    assert_eq!(
        table.txn_version("s"),
        Some(0),
        "recorded by a commit of its own"
    );
    assert_eq!(rows(&table.scan().await.expect("scan")).len(), 20);
}

#[tokio::test]
async fn log_cleanup_keeps_every_version_a_reader_needs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = appended(&dir, 12).await;
    table.checkpoint().await.expect("checkpoint");
    assert_eq!(table.last_checkpoint().await, Some(12));
    let log = dir.path().join("t/_delta_log");
    let json = |v: i64| log.join(format!("{v:020}.json")).exists();
    let now = chrono::Utc::now().timestamp_millis() + 1_000;
    // A reader still needs version 5: nothing below a checkpoint at or
    // under 5 exists, so nothing goes.
    assert_eq!(table.cleanup_log(5, now).await.expect("cleanup"), 0);
    assert!(json(0));
    let removed = table.cleanup_log(12, now).await.expect("cleanup");
    assert!(
        removed >= 12,
        "versions 0..=11, below the checkpoint: {removed}"
    );
    assert!((0..12).all(|v| !json(v)) && json(12));
    assert_eq!(table.oldest_commit().await.expect("oldest"), 12);
    let reopened = Table::open(&table_path(&dir, "t"))
        .await
        .expect("open")
        .expect("table");
    assert_eq!(
        (reopened.version(), reopened.txn_version("s")),
        (12, Some(11))
    );
}

#[tokio::test]
async fn version_at_a_time_is_the_newest_committed_by_then() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = appended(&dir, 0).await;
    for i in 0..5 {
        // Commit times are in milliseconds: one version per millisecond.
        tokio::time::sleep(Duration::from_millis(3)).await;
        table
            .write(
                vec![counts(&[i], 1)],
                &WriteMode::Append,
                &commit(&[("s", i)]),
            )
            .await
            .expect("append");
    }
    let at = |v| {
        let table = &table;
        async move {
            table
                .commit_timestamp(v)
                .await
                .expect("read")
                .expect("timestamp")
        }
    };
    assert_eq!(table.version_at(at(3).await).await.expect("find"), Some(3));
    assert_eq!(table.version_at(at(0).await - 1).await.expect("find"), None);
    assert_eq!(table.version_at(i64::MAX).await.expect("find"), Some(5));
}

/// Accumulate MERGEs committed while another handle compacts the table in
/// a loop: a MERGE that loses to a compaction is redone from a fresh
/// snapshot, and every key ends with exactly the sum of what was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accumulates_racing_compactions_count_every_row_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "t");
    let mut table = Table::open_or_create(&path, counts_schema())
        .await
        .expect("create");
    let steps: Vec<Vec<i64>> = (0..24_i64)
        .map(|i| (0..40).map(|j| (i * 7 + j * 13) % 97).collect())
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let compactor = {
        let (path, done) = (path.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut compactions = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let mut other = Table::open(&path).await.expect("open").expect("table");
                if let Ok(c) = other.optimize(&compaction(), &lineage("maintenance")).await {
                    compactions += usize::from(c.version.is_some());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            compactions
        })
    };
    let mut conflicts = 0;
    for (i, keys) in (0..).zip(&steps) {
        loop {
            match table
                .write(vec![counts(keys, 1)], &accumulate(), &commit(&[("s", i)]))
                .await
            {
                Ok(_) => break,
                Err(e) if e.is_conflict() => {
                    conflicts += 1;
                    table.refresh().await.expect("refresh");
                }
                Err(e) => panic!("write: {e}"),
            }
        }
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let compactions = compactor.await.expect("compactor");
    assert!(compactions > 0, "the compactor ran ({conflicts} conflicts)");
    let mut expected: HashMap<i64, i64> = HashMap::new();
    for key in steps.iter().flatten() {
        *expected.entry(*key).or_default() += 1;
    }
    let reopened = Table::open(&path).await.expect("open").expect("table");
    let mut found: HashMap<i64, i64> = HashMap::new();
    for batch in reopened.scan().await.expect("scan") {
        let k = batch.column(0).as_primitive::<Int64Type>();
        let n = batch.column(1).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            assert!(
                found.insert(k.value(row), n.value(row)).is_none(),
                "key {} twice",
                k.value(row)
            );
        }
    }
    assert_eq!(
        found, expected,
        "{compactions} compactions, {conflicts} conflicts"
    );
}
