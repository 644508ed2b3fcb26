//! Tests of the read-only SQL over several tables: a join across schemas,
//! the row limit, the time limit, and every statement that is not a query
//! refused with nothing changed.

use std::{sync::Arc, time::Duration};

use super::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use super::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use super::sql::{Named, QueryLimits, query};
use super::tests::{commit, rows, table_path};
use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("level", DataType::Utf8, true),
    ]))
}

async fn table_of(dir: &tempfile::TempDir, name: &str, n: i64) -> Table {
    let mut table = Table::open_or_create(&table_path(dir, name), schema())
        .await
        .expect("create");
    let ids: Vec<i64> = (0..n).collect();
    let levels: Vec<String> = ids
        .iter()
        .map(|i| ["info", "warn"][(i % 2) as usize].into())
        .collect();
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids)) as ArrayRef,
            Arc::new(StringArray::from(levels)),
        ],
    )
    .expect("batch");
    table
        .write(vec![batch], &WriteMode::Append, &commit(&[("p/t/0", 1)]))
        .await
        .expect("append");
    table
}

const LIMITS: QueryLimits = QueryLimits {
    max_rows: 1000,
    timeout: Duration::from_secs(30),
};

#[tokio::test]
async fn a_query_joins_tables_of_two_schemas_and_is_cut_at_the_row_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (silver, gold) = (
        table_of(&dir, "silver", 100).await,
        table_of(&dir, "gold", 10).await,
    );
    let tables = [
        Named {
            schema: "logs",
            name: "silver",
            table: &silver,
        },
        Named {
            schema: "cdc",
            name: "gold",
            table: &gold,
        },
    ];
    let sql = "SELECT s.level, count(*) AS n FROM logs.silver s JOIN cdc.gold g ON s.id = g.id \
               GROUP BY s.level ORDER BY s.level";
    let answer = query(&tables, sql, LIMITS).await.expect("the join");
    assert_eq!(rows(&answer.batches), ["info|5", "warn|5"]);
    assert!(!answer.truncated);
    let limits = QueryLimits {
        max_rows: 7,
        ..LIMITS
    };
    let cut = query(&tables, "SELECT * FROM logs.silver", limits)
        .await
        .expect("a scan");
    assert_eq!(
        cut.batches.iter().map(RecordBatch::num_rows).sum::<usize>(),
        7
    );
    assert!(cut.truncated, "100 rows, 7 returned");
}

#[tokio::test]
async fn a_query_past_its_time_limit_is_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let silver = table_of(&dir, "silver", 2000).await;
    let tables = [Named {
        schema: "logs",
        name: "silver",
        table: &silver,
    }];
    // 8e9 rows of a cross join: minutes, stopped at 200 ms.
    let sql = "SELECT count(*) FROM logs.silver a, logs.silver b, logs.silver c WHERE a.id + b.id + c.id = -1";
    let limits = QueryLimits {
        timeout: Duration::from_millis(200),
        ..LIMITS
    };
    let started = std::time::Instant::now();
    let err = query(&tables, sql, limits).await.expect_err("too long");
    assert!(matches!(err, TableError::SqlTimeout { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn statements_other_than_queries_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let silver = table_of(&dir, "silver", 10).await;
    let tables = [Named {
        schema: "logs",
        name: "silver",
        table: &silver,
    }];
    for sql in [
        "INSERT INTO logs.silver VALUES (99, 'x')",
        "DELETE FROM logs.silver",
        "CREATE TABLE logs.evil AS SELECT 1",
        "DROP TABLE logs.silver",
        "SET datafusion.execution.batch_size = 1",
        "COPY logs.silver TO '/tmp/ingot-copy-out.parquet'",
    ] {
        let err = query(&tables, sql, LIMITS).await.expect_err(sql);
        assert!(matches!(err, TableError::SqlRefused { .. }), "{sql}: {err}");
        assert_eq!(err.class(), ingot_core::ErrorClass::User);
    }
    let reopened = Table::open(&table_path(&dir, "silver"))
        .await
        .expect("open")
        .expect("exists");
    assert_eq!(reopened.version(), silver.version(), "no commit");
    let all = query(&tables, "SELECT count(*) FROM logs.silver", LIMITS)
        .await
        .expect("count");
    assert_eq!(rows(&all.batches), ["10"]);
}
