//! Tests of opening, appending, txns, lineage, the change feed and conflicts
//! against real Delta tables in temporary directories.

use std::sync::Arc;

use super::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use super::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use super::arrow::util::display::array_value_to_string;
use super::*;
use ingot_core::ErrorClass;

pub(super) fn lineage(stage: &str) -> Lineage {
    Lineage {
        ingot_version: ingot_core::VERSION.to_string(),
        pipeline: "p".into(),
        stage: stage.into(),
        module: Some("ab".repeat(32)),
        input_table: Some("file:///lake/bronze".into()),
        input_versions: Some((3, 7)),
        attempt: None,
    }
}

pub(super) fn commit(txns: &[(&str, i64)]) -> Commit {
    Commit {
        txns: txns
            .iter()
            .map(|(app_id, version)| Txn {
                app_id: (*app_id).to_string(),
                version: *version,
            })
            .collect(),
        lineage: lineage("silver"),
    }
}

pub(super) fn table_path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path()
        .join(name)
        .to_str()
        .expect("utf-8 temp path")
        .to_string()
}

fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, true),
    ]))
}

fn events(ids: &[i64], body: &str) -> RecordBatch {
    let bodies: Vec<String> = ids.iter().map(|i| format!("{body}{i}")).collect();
    RecordBatch::try_new(
        events_schema(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef,
            Arc::new(StringArray::from(bodies)),
        ],
    )
    .expect("events batch")
}

/// Rows as `a|b|c` strings, in stream order.
pub(super) fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| array_value_to_string(c, row).expect("displayable"))
                .collect();
            out.push(cells.join("|"));
        }
    }
    out
}

#[tokio::test]
async fn open_missing_is_none_and_create_turns_cdf_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "bronze");
    assert!(Table::open(&path).await.expect("open").is_none());

    let table = Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    assert_eq!(table.version(), 0);
    assert!(table.uri().starts_with("file://"), "{}", table.uri());
    let config = table.state().metadata().configuration().clone();
    assert_eq!(
        config.get("delta.enableChangeDataFeed").map(String::as_str),
        Some("true")
    );
    assert_eq!(table.schema().field(0).name(), "id");

    let again = Table::open(&format!("file://{path}"))
        .await
        .expect("open url")
        .expect("table exists");
    assert_eq!(again.version(), 0);
    // Stricter nullability in the schema than in the table is fine.
    let stricter = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("body", DataType::Utf8, false),
    ]));
    Table::open_or_create(&path, stricter)
        .await
        .expect("compatible schema");
}

#[tokio::test]
async fn relative_paths_resolve_against_the_current_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let absolute = dir.path().join("rel");
    let cwd = std::env::current_dir().expect("cwd");
    let up = "../".repeat(cwd.components().count() - 1);
    let inside = absolute.strip_prefix("/").expect("absolute temp dir");
    let relative = format!("{up}{}", inside.display());
    let table = Table::open_or_create(&relative, events_schema())
        .await
        .expect("create via relative path");
    let canonical = absolute.canonicalize().expect("created");
    assert!(
        table.uri().contains(canonical.to_str().expect("utf-8")),
        "{} vs {}",
        table.uri(),
        canonical.display()
    );
    assert!(Table::open(&relative).await.expect("open").is_some());
}

#[tokio::test]
async fn open_or_create_names_mismatched_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "t");
    Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    let other = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("extra", DataType::Int32, true),
    ]));
    let err = Table::open_or_create(&path, other)
        .await
        .expect_err("mismatch");
    assert_eq!(err.class(), ErrorClass::User);
    let TableError::SchemaMismatch { details, .. } = &err else {
        panic!("expected a schema mismatch, got {err}");
    };
    assert!(details.contains("field id"), "{details}");
    assert!(details.contains("extra"), "{details}");
    assert!(details.contains("body"), "{details}");
}

#[tokio::test]
async fn a_lake_path_that_cannot_hold_a_table_is_the_users_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").expect("write file");
    let uri = file.join("bronze").display().to_string();
    let err = Table::open_or_create(&uri, events_schema())
        .await
        .expect_err("a table cannot live under a file");
    assert_eq!(err.class(), ErrorClass::User, "{err}");
    assert!(err.to_string().contains(&uri), "names the table: {err}");
}

#[tokio::test]
async fn unsupported_schemes_are_refused() {
    let err = Table::open("hdfs://cluster/lake/t")
        .await
        .expect_err("unsupported");
    assert!(matches!(err, TableError::UnsupportedScheme { .. }));
    assert_eq!(err.class(), ErrorClass::User);
}

#[tokio::test]
async fn append_commits_rows_txns_and_lineage_in_one_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "bronze");
    let mut table = Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    let c = Commit {
        txns: vec![
            Txn {
                app_id: "p/topic/0".into(),
                version: 41,
            },
            Txn {
                app_id: "p/topic/1".into(),
                version: 7,
            },
        ],
        lineage: lineage("ingest"),
    };
    let v = table
        .write(
            vec![events(&[1, 2], "a"), events(&[3], "b")],
            &WriteMode::Append,
            &c,
        )
        .await
        .expect("append");
    assert_eq!(v, 1);
    assert_eq!(table.txn_version("p/topic/0"), Some(41));
    // Rows, txns and lineage are in the very same commit file.
    let log = std::fs::read_to_string(
        dir.path()
            .join("bronze/_delta_log/00000000000000000001.json"),
    )
    .expect("commit file");
    assert!(log.contains(r#""ingot":{"ingot_version""#), "{log}");
    assert!(log.contains(r#""appId":"p/topic/0","version":41"#), "{log}");
    assert!(log.contains(r#""add":{"#), "{log}");

    let reopened = Table::open(&path).await.expect("open").expect("exists");
    assert_eq!(reopened.version(), 1);
    assert_eq!(reopened.txn_version("p/topic/0"), Some(41));
    assert_eq!(reopened.txn_version("p/topic/1"), Some(7));
    assert_eq!(reopened.txn_version("p/topic/2"), None);
    assert_eq!(reopened.lineage(1).await.expect("lineage"), Some(c.lineage));
    assert_eq!(reopened.lineage(0).await.expect("lineage"), None);
    assert_eq!(reopened.lineage(99).await.expect("lineage"), None);
    let scanned = reopened.scan().await.expect("scan");
    let mut all = rows(&scanned);
    all.sort();
    assert_eq!(all, vec!["1|a1", "2|a2", "3|b3"]);
    assert_eq!(scanned[0].schema(), reopened.schema());
}

#[tokio::test]
async fn zero_rows_still_commit_the_txns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut table = Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    let v1 = table
        .write(vec![], &WriteMode::Append, &commit(&[("stage/p/s", 3)]))
        .await
        .expect("empty append");
    let upsert = WriteMode::Upsert {
        keys: vec!["id".into()],
        sequence: None,
        delete_column: None,
    };
    let empty = events(&[], "x");
    let v2 = table
        .write(vec![empty], &upsert, &commit(&[("stage/p/s", 4)]))
        .await
        .expect("empty upsert");
    assert_eq!((v1, v2), (1, 2));
    let reopened = Table::open(&path).await.expect("open").expect("exists");
    assert_eq!(reopened.txn_version("stage/p/s"), Some(4));
    assert_eq!(
        reopened.lineage(2).await.expect("lineage"),
        Some(lineage("silver"))
    );
    assert!(
        reopened
            .scan()
            .await
            .expect("scan")
            .iter()
            .all(|b| b.num_rows() == 0)
    );
}

#[tokio::test]
async fn changes_of_appends_are_inclusive_and_in_version_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "bronze");
    let mut table = Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    for (i, ids) in [[1_i64, 2], [3, 4], [5, 6]].iter().enumerate() {
        let batches = vec![events(&ids[..1], "v"), events(&ids[1..], "v")];
        let v = table
            .write(batches, &WriteMode::Append, &commit(&[("a", i as i64)]))
            .await
            .expect("append");
        assert_eq!(v, i as i64 + 1);
    }
    let stream = table.change_stream(1, 3).await.expect("changes");
    let schema = stream.schema();
    assert_eq!(
        schema
            .field_with_name(COMMIT_VERSION_COLUMN)
            .expect("col")
            .data_type(),
        &DataType::Int64
    );
    assert_eq!(
        schema
            .field_with_name(COMMIT_TIMESTAMP_COLUMN)
            .expect("col")
            .data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    let batches = stream.into_batches().await.expect("read");
    let seen: Vec<(String, String)> = rows(&batches)
        .iter()
        .map(|r| {
            let cells: Vec<&str> = r.split('|').collect();
            (cells[3].to_string(), format!("{}:{}", cells[0], cells[2]))
        })
        .collect();
    let versions: Vec<&str> = seen.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(versions, vec!["1", "1", "2", "2", "3", "3"]);
    let mut ids: Vec<&str> = seen.iter().map(|(_, r)| r.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        vec![
            "1:insert", "2:insert", "3:insert", "4:insert", "5:insert", "6:insert"
        ]
    );

    let only_two = table.change_stream(2, 2).await.expect("changes");
    let only_two = rows(&only_two.into_batches().await.expect("read"));
    assert_eq!(only_two.len(), 2);
    assert!(
        only_two.iter().all(|r| r.contains("|insert|2|")),
        "{only_two:?}"
    );
    let past = table.change_stream(4, 10).await.expect("changes");
    assert!(past.into_batches().await.expect("read").is_empty());
    let capped = table.changes(0, 100).await.expect("changes");
    assert_eq!(rows(&capped).len(), 6);
}

#[tokio::test]
async fn concurrent_writers_of_one_app_id_conflict() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    let mut first = Table::open(&path).await.expect("open").expect("exists");
    let mut second = Table::open(&path).await.expect("open").expect("exists");
    let mut other_app = Table::open(&path).await.expect("open").expect("exists");

    first
        .write(
            vec![events(&[1], "a")],
            &WriteMode::Append,
            &commit(&[("stage/p/s", 5)]),
        )
        .await
        .expect("first wins");
    let err = second
        .write(
            vec![events(&[1], "b")],
            &WriteMode::Append,
            &commit(&[("stage/p/s", 5)]),
        )
        .await
        .expect_err("second loses");
    assert!(err.is_conflict(), "{err}");
    assert_eq!(err.class(), ErrorClass::External);
    assert_eq!(second.version(), 0, "nothing committed, snapshot unchanged");

    // A stale writer with another app id is not in conflict: it retries on top.
    let v = other_app
        .write(
            vec![events(&[2], "c")],
            &WriteMode::Append,
            &commit(&[("p/t/0", 9)]),
        )
        .await
        .expect("independent append");
    assert_eq!(v, 2);
    assert_eq!(
        other_app.txn_version("stage/p/s"),
        Some(5),
        "saw the winner"
    );

    second.refresh().await.expect("refresh");
    assert_eq!(second.version(), 2);
    assert_eq!(second.txn_version("stage/p/s"), Some(5));
    assert_eq!(second.txn_version("p/t/0"), Some(9));
    let mut all = rows(&second.scan().await.expect("scan"));
    all.sort();
    assert_eq!(all, vec!["1|a1", "2|c2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_writers_of_one_app_id_one_wins_one_conflicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    for round in 0..3_i64 {
        let mut a = Table::open(&path).await.expect("open").expect("exists");
        let mut b = Table::open(&path).await.expect("open").expect("exists");
        let ca = commit(&[("stage/p/s", round)]);
        let cb = commit(&[("stage/p/s", round)]);
        let (ra, rb) = tokio::join!(
            a.write(vec![events(&[1], "a")], &WriteMode::Append, &ca),
            b.write(vec![events(&[2], "b")], &WriteMode::Append, &cb),
        );
        let conflicts = [&ra, &rb]
            .iter()
            .filter(|r| matches!(r, Err(TableError::Conflict { .. })))
            .count();
        assert_eq!(conflicts, 1, "round {round}: {ra:?} / {rb:?}");
        assert!(ra.is_ok() || rb.is_ok(), "round {round}: one write lands");
    }
    let table = Table::open(&path).await.expect("open").expect("exists");
    assert_eq!(table.version(), 3, "one commit per round");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creators_share_one_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "gold");
    let (a, b) = tokio::join!(
        Table::open_or_create(&path, events_schema()),
        Table::open_or_create(&path, events_schema()),
    );
    let (a, b) = (a.expect("first creator"), b.expect("second creator"));
    assert_eq!((a.version(), b.version()), (0, 0));
    let table = Table::open(&path).await.expect("open").expect("exists");
    assert_eq!(table.version(), 0, "exactly one create commit");
}

#[tokio::test]
async fn txn_map_agrees_with_delta_rs_across_a_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "bronze");
    let mut table = Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    for v in 0..3 {
        table
            .write(
                vec![events(&[v], "x")],
                &WriteMode::Append,
                &commit(&[("a", v), ("b", 10 + v)]),
            )
            .await
            .expect("append");
    }
    deltalake::checkpoints::create_checkpoint(&table.inner, None)
        .await
        .expect("checkpoint");
    table
        .write(vec![], &WriteMode::Append, &commit(&[("a", 100), ("c", 1)]))
        .await
        .expect("append");
    let reopened = Table::open(&path).await.expect("open").expect("exists");
    let store = reopened.inner.log_store();
    for app in ["a", "b", "c", "d"] {
        let expected = reopened
            .state()
            .transaction_version(store.as_ref(), app)
            .await
            .expect("delta-rs txn");
        assert_eq!(reopened.txn_version(app), expected, "app {app}");
    }
    assert_eq!(reopened.txn_version("a"), Some(100));
    assert_eq!(reopened.txn_version("b"), Some(12));
}

#[tokio::test]
async fn query_sees_the_loaded_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "t");
    let mut table = Table::open_or_create(&path, events_schema())
        .await
        .expect("create");
    table
        .write(
            vec![events(&[1, 2, 3], "q")],
            &WriteMode::Append,
            &commit(&[]),
        )
        .await
        .expect("append");
    let out = table
        .query("SELECT body FROM t WHERE id >= 2 ORDER BY id DESC")
        .await
        .expect("query");
    assert_eq!(rows(&out), vec!["q3", "q2"]);
    assert_eq!(out[0].schema().field(0).data_type(), &DataType::Utf8);
    let err = table
        .query("SELECT nope FROM t")
        .await
        .expect_err("bad sql");
    assert_eq!(err.class(), ErrorClass::User);
}

#[tokio::test]
async fn nested_binary_and_timestamp_columns_round_trip() {
    use super::arrow::array::{BinaryArray, TimestampMicrosecondArray, new_null_array};
    let header = DataType::Struct(
        vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Binary, true),
        ]
        .into(),
    );
    let headers = DataType::List(Arc::new(Field::new("item", header, true)));
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let local = DataType::Timestamp(TimeUnit::Microsecond, None);
    let schema = Arc::new(Schema::new(vec![
        Field::new("value", DataType::Binary, true),
        Field::new("at", utc, false),
        Field::new("local", local, true),
        Field::new("headers", headers.clone(), true),
    ]));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "t");
    let mut table = Table::open_or_create(&path, schema.clone())
        .await
        .expect("create");
    let at = TimestampMicrosecondArray::from(vec![1_700_000_000_000_000]).with_timezone("UTC");
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(BinaryArray::from_vec(vec![b"raw"])) as ArrayRef,
            Arc::new(at),
            Arc::new(TimestampMicrosecondArray::from(vec![Some(5)])),
            new_null_array(&headers, 1),
        ],
    )
    .expect("batch");
    table
        .write(vec![batch], &WriteMode::Append, &commit(&[]))
        .await
        .expect("append");
    assert_eq!(table.schema().fields().len(), 4);
    let changes = table.changes(1, 1).await.expect("changes");
    assert_eq!(rows(&changes).len(), 1);
    let reopened = Table::open_or_create(&path, schema).await.expect("reopen");
    assert_eq!(rows(&reopened.scan().await.expect("scan")).len(), 1);
}
