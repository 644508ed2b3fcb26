//! Tests of the MERGE-based write modes (upsert, accumulate) and of the
//! change feed they produce.

use std::sync::Arc;

use super::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray,
};
use super::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use super::tests::{commit, rows, table_path};
use super::*;
use ingot_core::ErrorClass;

fn people_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("seq", DataType::Int64, true),
    ]))
}

/// People rows with a hidden `deleted` flag.
fn people(rows: &[(i64, &str, i64, bool)]) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("seq", DataType::Int64, true),
        Field::new("deleted", DataType::Boolean, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.3)))),
        ],
    )
    .expect("people batch")
}

fn upsert_mode() -> WriteMode {
    WriteMode::Upsert {
        keys: vec!["id".into()],
        sequence: Some("seq".into()),
        delete_column: Some("deleted".into()),
    }
}

async fn sorted_rows(table: &Table) -> Vec<String> {
    let mut all = rows(&table.scan().await.expect("scan"));
    all.sort();
    all
}

/// Change rows of one version as `id|name|change_type`, sorted.
async fn changes_of(table: &Table, version: i64) -> Vec<String> {
    let batches = table
        .change_stream(version, version)
        .await
        .expect("changes")
        .into_batches()
        .await
        .expect("read");
    let mut out: Vec<String> = rows(&batches)
        .iter()
        .map(|r| {
            let cells: Vec<&str> = r.split('|').collect();
            let n = cells.len();
            assert_eq!(cells[n - 2], version.to_string(), "commit version column");
            format!("{}|{}|{}", cells[0], cells[1], cells[n - 3])
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn upsert_keeps_the_latest_row_and_feeds_cdf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut table = Table::open_or_create(&path, people_schema())
        .await
        .expect("create");
    let v1 = table
        .write(
            vec![people(&[
                (1, "ann-old", 5, false),
                (1, "ann", 10, false),
                (2, "bob", 10, false),
            ])],
            &upsert_mode(),
            &commit(&[("stage/p/silver", 1)]),
        )
        .await
        .expect("first upsert");
    let second_batch = people(&[(3, "cy", 10, false)]);
    assert_eq!(v1, 1);
    table
        .write(
            vec![second_batch],
            &upsert_mode(),
            &commit(&[("stage/p/silver", 2)]),
        )
        .await
        .expect("second upsert");
    let v3 = table
        .write(
            vec![
                people(&[(1, "ann2", 11, false), (2, "bob-late", 9, false)]),
                people(&[
                    (3, "cy", 12, true),
                    (4, "dee", 1, false),
                    (5, "eve", 1, true),
                ]),
            ],
            &upsert_mode(),
            &commit(&[("stage/p/silver", 3)]),
        )
        .await
        .expect("third upsert");
    assert_eq!(v3, 3);
    assert_eq!(
        sorted_rows(&table).await,
        vec!["1|ann2|11", "2|bob|10", "4|dee|1"]
    );
    assert!(
        table.schema().field_with_name("deleted").is_err(),
        "delete flag not stored"
    );
    assert_eq!(
        changes_of(&table, 3).await,
        vec![
            "1|ann2|update_postimage",
            "1|ann|update_preimage",
            "3|cy|delete",
            "4|dee|insert",
        ]
    );
    assert_eq!(
        changes_of(&table, 1).await,
        vec!["1|ann|insert", "2|bob|insert"]
    );
    let change_dir = dir.path().join("silver").join("_change_data");
    assert!(change_dir.is_dir(), "delta-rs wrote _change_data files");
    assert_eq!(table.txn_version("stage/p/silver"), Some(3));
    let reopened = Table::open(&path).await.expect("open").expect("exists");
    assert_eq!(reopened.txn_version("stage/p/silver"), Some(3));
    assert_eq!(
        reopened.lineage(3).await.expect("lineage"),
        Some(super::tests::lineage("silver"))
    );
}

#[tokio::test]
async fn late_events_only_still_advance_the_txn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut table = Table::open_or_create(&path, people_schema())
        .await
        .expect("create");
    table
        .write(
            vec![people(&[(1, "ann", 10, false)])],
            &upsert_mode(),
            &commit(&[("s", 1)]),
        )
        .await
        .expect("upsert");
    let v = table
        .write(
            vec![people(&[
                (1, "ann-late", 3, false),
                (1, "gone-late", 4, true),
            ])],
            &upsert_mode(),
            &commit(&[("s", 2)]),
        )
        .await
        .expect("late upsert");
    assert_eq!(v, 2, "a txn-only commit");
    assert_eq!(sorted_rows(&table).await, vec!["1|ann|10"]);
    let reopened = Table::open(&path).await.expect("open").expect("exists");
    assert_eq!(reopened.txn_version("s"), Some(2));
    assert!(changes_of(&reopened, 2).await.is_empty());
}

#[tokio::test]
async fn upsert_without_sequence_matches_null_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "kv");
    let schema = Arc::new(Schema::new(vec![
        Field::new("region", DataType::Utf8, true),
        Field::new("id", DataType::Int32, true),
        Field::new("value", DataType::Utf8, true),
    ]));
    let batch = |region: Vec<Option<&str>>, id: Vec<i32>, value: Vec<&str>| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(region)) as ArrayRef,
                Arc::new(Int32Array::from(id)),
                Arc::new(StringArray::from(value)),
            ],
        )
        .expect("batch")
    };
    let mode = WriteMode::Upsert {
        keys: vec!["region".into(), "id".into()],
        sequence: None,
        delete_column: None,
    };
    let mut table = Table::open_or_create(&path, schema.clone())
        .await
        .expect("create");
    table
        .write(
            vec![batch(
                vec![None, Some("eu"), None],
                vec![1, 1, 2],
                vec!["a", "b", "c"],
            )],
            &mode,
            &commit(&[]),
        )
        .await
        .expect("first");
    table
        .write(
            vec![batch(vec![None, None], vec![1, 1], vec!["a2", "a3"])],
            &mode,
            &commit(&[]),
        )
        .await
        .expect("second");
    assert_eq!(sorted_rows(&table).await, vec!["eu|1|b", "|1|a3", "|2|c"]);
}

#[tokio::test]
async fn accumulate_adds_measures_per_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "gold");
    let schema = Arc::new(Schema::new(vec![
        Field::new("city", DataType::Utf8, true),
        Field::new("voters", DataType::Int64, true),
    ]));
    let batch = |cities: Vec<&str>, voters: Vec<Option<i64>>| {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(cities)) as ArrayRef,
                Arc::new(Int64Array::from(voters)),
            ],
        )
        .expect("batch")
    };
    let mode = WriteMode::Accumulate {
        reset_column: None,
        keys: vec!["city".into()],
        measures: vec!["voters".into()],
    };
    let mut table = Table::open_or_create(&path, schema.clone())
        .await
        .expect("create");
    table
        .write(
            vec![batch(vec!["x", "x", "y"], vec![Some(1), Some(1), Some(1)])],
            &mode,
            &commit(&[("g", 1)]),
        )
        .await
        .expect("first");
    assert_eq!(sorted_rows(&table).await, vec!["x|2", "y|1"]);
    table
        .write(
            vec![batch(vec!["x", "z", "y"], vec![Some(-1), Some(5), None])],
            &mode,
            &commit(&[("g", 2)]),
        )
        .await
        .expect("second");
    assert_eq!(sorted_rows(&table).await, vec!["x|1", "y|1", "z|5"]);
    let changed = changes_of(&table, 2).await;
    assert!(
        changed.contains(&"x|2|update_preimage".to_string()),
        "{changed:?}"
    );
    assert!(
        changed.contains(&"x|1|update_postimage".to_string()),
        "{changed:?}"
    );
    assert!(changed.contains(&"z|5|insert".to_string()), "{changed:?}");
}

#[tokio::test]
async fn missing_and_extra_columns_are_user_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut table = Table::open_or_create(&path, people_schema())
        .await
        .expect("create");
    let bad_key = WriteMode::Upsert {
        keys: vec!["nope".into()],
        sequence: None,
        delete_column: None,
    };
    let err = table
        .write(vec![people(&[(1, "a", 1, false)])], &bad_key, &commit(&[]))
        .await
        .expect_err("missing key");
    assert!(
        matches!(&err, TableError::MissingColumn { column, .. } if column == "nope"),
        "{err}"
    );
    assert_eq!(err.class(), ErrorClass::User);
    // Appending the batch with its `deleted` column: not a table column.
    let err = table
        .write(
            vec![people(&[(1, "a", 1, false)])],
            &WriteMode::Append,
            &commit(&[]),
        )
        .await
        .expect_err("extra column");
    assert!(matches!(err, TableError::SchemaMismatch { .. }), "{err}");
    let bad_measure = WriteMode::Accumulate {
        reset_column: None,
        keys: vec!["id".into()],
        measures: vec!["name".into()],
    };
    let plain = people(&[(1, "a", 1, false)])
        .project(&[0, 1, 2])
        .expect("project");
    let err = table
        .write(vec![plain], &bad_measure, &commit(&[]))
        .await
        .expect_err("string measure");
    assert!(matches!(err, TableError::InvalidBatch { .. }), "{err}");
    assert_eq!(table.version(), 0, "nothing committed");
}

#[tokio::test]
async fn accumulate_reset_rows_replace_the_stored_measures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "gold");
    let schema = Arc::new(Schema::new(vec![
        Field::new("host", DataType::Utf8, true),
        Field::new("rows", DataType::Int64, true),
    ]));
    let batch = |rows: &[(&str, i64, bool)]| {
        RecordBatch::try_from_iter([
            (
                "host",
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
            ),
            (
                "rows",
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            ),
            (
                "reset",
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.2)))),
            ),
        ])
        .expect("batch")
    };
    let mode = WriteMode::Accumulate {
        keys: vec!["host".into()],
        measures: vec!["rows".into()],
        reset_column: Some("reset".into()),
    };
    let mut table = Table::open_or_create(&path, schema).await.expect("create");
    table
        .write(
            vec![batch(&[("a", 5, false), ("b", 2, false), ("c", 4, true)])],
            &mode,
            &commit(&[("g", 1)]),
        )
        .await
        .expect("first");
    assert_eq!(sorted_rows(&table).await, vec!["a|5", "b|2", "c|4"]);
    // a: reset to 3, then +1 in the same batch; b: +2; c: reset to 0.
    table
        .write(
            vec![
                batch(&[("a", 7, false), ("a", 3, true), ("b", 2, false)]),
                batch(&[("a", 1, false), ("c", 0, true)]),
            ],
            &mode,
            &commit(&[("g", 2)]),
        )
        .await
        .expect("second");
    assert_eq!(sorted_rows(&table).await, vec!["a|4", "b|4", "c|0"]);
    assert!(
        table.schema().field_with_name("reset").is_err(),
        "the reset flag is not stored"
    );
}

#[tokio::test]
async fn dedupe_inserts_only_keys_the_table_lacks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mode = WriteMode::Dedupe {
        keys: vec!["id".into(), "seq".into()],
    };
    let plain = |rows: &[(i64, &str, i64)]| {
        let with_flag: Vec<(i64, &str, i64, bool)> =
            rows.iter().map(|&(i, n, s)| (i, n, s, false)).collect();
        let b = people(&with_flag);
        b.project(&[0, 1, 2]).expect("project")
    };
    let mut table = Table::open_or_create(&path, people_schema())
        .await
        .expect("create");
    table
        .write(
            vec![plain(&[(1, "ann", 1), (2, "bob", 1), (1, "ann-dup", 1)])],
            &mode,
            &commit(&[("s", 1)]),
        )
        .await
        .expect("first");
    assert_eq!(sorted_rows(&table).await, vec!["1|ann|1", "2|bob|1"]);
    let v2 = table
        .write(
            vec![plain(&[(1, "ann-replayed", 1), (1, "ann", 2)])],
            &mode,
            &commit(&[("s", 2)]),
        )
        .await
        .expect("second");
    assert_eq!(
        sorted_rows(&table).await,
        vec!["1|ann|1", "1|ann|2", "2|bob|1"]
    );
    assert_eq!(changes_of(&table, v2).await, vec!["1|ann|insert"]);
    // A full replay changes nothing, but the progress still advances.
    let v3 = table
        .write(
            vec![plain(&[(1, "ann", 1), (2, "bob", 1)])],
            &mode,
            &commit(&[("s", 3)]),
        )
        .await
        .expect("replay");
    assert_eq!(changes_of(&table, v3).await, Vec::<String>::new());
    assert_eq!(table.txn_version("s"), Some(3));
}

#[tokio::test]
async fn tombstones_keep_late_events_from_resurrecting_deleted_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let mut tombstones = Tombstones::new(table_path(&dir, "silver_tombstones"));
    let mut table = Table::open_or_create(&path, people_schema())
        .await
        .expect("create");
    async fn write(
        tombstones: &mut Tombstones,
        table: &mut Table,
        rows: &[(i64, &str, i64, bool)],
        v: i64,
    ) -> i64 {
        let kept = tombstones
            .apply(
                vec![people(rows)],
                &["id".to_string()],
                "seq",
                "deleted",
                &commit(&[]),
            )
            .await
            .expect("tombstones");
        table
            .write(kept, &upsert_mode(), &commit(&[("s", v)]))
            .await
            .expect("upsert")
    }
    write(
        &mut tombstones,
        &mut table,
        &[(1, "ann", 10, false), (2, "bob", 10, false)],
        1,
    )
    .await;
    write(&mut tombstones, &mut table, &[(1, "ann", 20, true)], 2).await;
    // An update older than the delete arrives late, and a replay of the
    // create: neither brings ann back. Bob's newer update applies.
    write(
        &mut tombstones,
        &mut table,
        &[
            (1, "ann-late", 15, false),
            (1, "ann", 10, false),
            (2, "bob2", 11, false),
        ],
        3,
    )
    .await;
    assert_eq!(sorted_rows(&table).await, vec!["2|bob2|11"]);
    // A re-create newer than the delete is a new row.
    write(
        &mut tombstones,
        &mut table,
        &[(1, "ann-again", 30, false)],
        4,
    )
    .await;
    assert_eq!(
        sorted_rows(&table).await,
        vec!["1|ann-again|30", "2|bob2|11"]
    );
    // A crash after the tombstones were recorded but before the upsert: the
    // replayed batch still applies its own delete (same sequence).
    let batch = [(2, "bob", 40, true)];
    let kept = tombstones
        .apply(
            vec![people(&batch)],
            &["id".to_string()],
            "seq",
            "deleted",
            &commit(&[]),
        )
        .await
        .expect("tombstones before the crash");
    assert_eq!(kept.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
    write(&mut tombstones, &mut table, &batch, 5).await;
    assert_eq!(sorted_rows(&table).await, vec!["1|ann-again|30"]);
    let stored = Table::open(tombstones.uri())
        .await
        .expect("open")
        .expect("tombstone table exists");
    let mut recorded = rows(&stored.scan().await.expect("scan"));
    recorded.sort();
    assert_eq!(recorded, vec!["1|20", "2|40"]);
}

/// delta-rs 1.1's MERGE fails NOT NULL checks on a null row it makes for a
/// delete of an absent key; the table schema an upsert with deletes creates
/// is therefore nullable, and the delete is then a no-op as it should be.
#[tokio::test]
async fn upsert_tables_with_deletes_are_nullable_so_absent_deletes_are_no_ops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = table_path(&dir, "silver");
    let batch = |rows: &[(i64, &str, i64, bool)]| {
        let b = people(rows);
        let fields = vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("seq", DataType::Int64, false),
            Field::new("deleted", DataType::Boolean, false),
        ];
        RecordBatch::try_new(Arc::new(Schema::new(fields)), b.columns().to_vec()).expect("batch")
    };
    let first = batch(&[
        (1, "ann", 1, false),
        (2, "bob", 1, true),
        (3, "cy", 1, false),
    ]);
    let schema = upsert_mode().table_schema(&first.schema());
    assert_eq!(schema.fields().len(), 3, "the delete column is not stored");
    assert!(schema.fields().iter().all(|f| f.is_nullable()));
    let mut table = Table::open_or_create(&path, schema).await.expect("create");
    table
        .write(vec![first], &upsert_mode(), &commit(&[("s", 1)]))
        .await
        .expect("deletes of absent keys next to inserts");
    table
        .write(
            vec![batch(&[
                (1, "ann", 2, true),
                (4, "dee", 1, true),
                (3, "cy2", 2, false),
            ])],
            &upsert_mode(),
            &commit(&[("s", 2)]),
        )
        .await
        .expect("a delete of a present key");
    assert_eq!(sorted_rows(&table).await, vec!["3|cy2|2"]);
}
