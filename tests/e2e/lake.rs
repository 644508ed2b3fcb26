//! Reading the lake back, for assertions: through ingot's own `table` module
//! (delta-rs + DataFusion), the same reader a user's query engine would be.

use ingot_delta::{
    Table,
    arrow::{
        array::{Array, AsArray, RecordBatch},
        datatypes::Int64Type,
        util::display::array_value_to_string,
    },
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The table at `uri`, which must exist.
pub fn open(uri: &str) -> Table {
    runtime()
        .block_on(Table::open(uri))
        .unwrap_or_else(|e| panic!("open {uri}: {e}"))
        .unwrap_or_else(|| panic!("no delta table at {uri}"))
}

/// Runs `sql` over the table at `uri` (named `t`).
pub fn query(uri: &str, sql: &str) -> Vec<RecordBatch> {
    let table = open(uri);
    runtime()
        .block_on(table.query(sql))
        .unwrap_or_else(|e| panic!("query {uri}: {sql}: {e}"))
}

/// A query's single i64 column as a vector (nulls panic).
pub fn i64s(uri: &str, sql: &str) -> Vec<i64> {
    query(uri, sql)
        .iter()
        .flat_map(|b| {
            let c = b.column(0).as_primitive::<Int64Type>();
            assert_eq!(c.null_count(), 0, "{sql}: unexpected nulls");
            c.values().to_vec()
        })
        .collect()
}

/// A query's rows as (string, i64, i64) triples.
pub fn string_i64_i64(uri: &str, sql: &str) -> Vec<(String, i64, i64)> {
    query(uri, sql)
        .iter()
        .flat_map(|b| {
            let s = b.column(0).as_string::<i32>().clone();
            let x = b.column(1).as_primitive::<Int64Type>().clone();
            let y = b.column(2).as_primitive::<Int64Type>().clone();
            (0..b.num_rows()).map(move |i| (s.value(i).to_owned(), x.value(i), y.value(i)))
        })
        .collect()
}

/// `SELECT count(*)` of the table.
pub fn count(uri: &str) -> i64 {
    i64s(uri, "SELECT CAST(count(*) AS BIGINT) FROM t")[0]
}

/// The stage progress txn (`stage/<pipeline>/<stage>`) on a stage's output table.
pub fn stage_progress(uri: &str, pipeline: &str, stage: &str) -> Option<i64> {
    open(uri).txn_version(&format!("stage/{pipeline}/{stage}"))
}

/// The ingot lineage in the commit info of `version` of the table at `uri`.
pub fn lineage(uri: &str, version: i64) -> ingot_delta::Lineage {
    let table = open(uri);
    runtime()
        .block_on(table.lineage(version))
        .unwrap_or_else(|e| panic!("lineage of {uri} v{version}: {e}"))
        .unwrap_or_else(|| panic!("{uri} v{version} has no ingot lineage"))
}

/// The ingot lineage of `version`, if that commit has one.
pub fn lineage_opt(uri: &str, version: i64) -> Option<ingot_delta::Lineage> {
    let table = open(uri);
    runtime()
        .block_on(table.lineage(version))
        .unwrap_or_else(|e| panic!("lineage of {uri} v{version}: {e}"))
}

/// Whether a Delta table exists at `uri`.
pub fn exists(uri: &str) -> bool {
    runtime()
        .block_on(Table::open(uri))
        .unwrap_or_else(|e| panic!("open {uri}: {e}"))
        .is_some()
}

/// A query's rows, each as its cells joined by `|` (a null is empty).
pub fn strings(uri: &str, sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    for batch in query(uri, sql) {
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(row) {
                        String::new()
                    } else {
                        array_value_to_string(c, row)
                            .unwrap_or_else(|e| panic!("{sql}: cell {row}: {e}"))
                    }
                })
                .collect();
            out.push(cells.join("|"));
        }
    }
    out
}
