//! Reading back what a run wrote to its lake: row counts, gold's sum of
//! counts, and each table's commits (timestamp and, for a stage's output,
//! the input versions its lineage names).

use anyhow::{Context, Result};
use ingot_delta::Table;
use ingot_delta::arrow::array::AsArray;
use ingot_delta::arrow::datatypes::Int64Type;

/// One commit of a table's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitPoint {
    /// Its version.
    pub version: i64,
    /// Its timestamp, µs since the Unix epoch (the commit info's, in ms).
    pub timestamp_us: i64,
    /// Whether it carries an ingot lineage: every commit ingot makes but a
    /// table's creation.
    pub lineage: bool,
    /// The inclusive range of input versions it consumed: `Some` on a
    /// stage's output commits (its lineage), `None` on bronze's and on a
    /// table's creation.
    pub input_versions: Option<(i64, i64)>,
}

/// Runs `f` on a current-thread runtime of its own.
pub fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

/// The table at `uri`.
///
/// # Errors
///
/// When there is none, or it cannot be loaded.
pub async fn open(uri: &str) -> Result<Table> {
    Table::open(uri)
        .await
        .with_context(|| format!("open {uri}"))?
        .with_context(|| format!("no table at {uri}"))
}

/// The single BIGINT `sql` returns over the table (named `t`).
///
/// # Errors
///
/// When the query fails or returns no BIGINT.
pub async fn query_i64(table: &Table, sql: &str) -> Result<i64> {
    let batches = table
        .query(sql)
        .await
        .with_context(|| format!("{sql} on {}", table.uri()))?;
    let batch = batches.first().context("no result batch")?;
    Ok(batch
        .column(0)
        .as_primitive_opt::<Int64Type>()
        .context("a BIGINT")?
        .value(0))
}

/// The rows of the table.
///
/// # Errors
///
/// As [`query_i64`].
pub async fn rows(table: &Table) -> Result<i64> {
    query_i64(table, "SELECT CAST(count(*) AS BIGINT) FROM t").await
}

/// The sum of a gold table's `count` column: the records it has counted.
///
/// # Errors
///
/// As [`query_i64`].
pub async fn counted(gold: &Table) -> Result<i64> {
    query_i64(
        gold,
        "SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM t",
    )
    .await
}

/// Every commit of the table's log, in version order.
///
/// # Errors
///
/// When a commit cannot be read, or records no timestamp.
pub async fn commits(table: &Table) -> Result<Vec<CommitPoint>> {
    let mut out = Vec::new();
    for version in 0..=table.version() {
        let Some(record) = table.commit_record(version).await? else {
            continue;
        };
        out.push(CommitPoint {
            version,
            timestamp_us: record
                .timestamp
                .with_context(|| format!("{} version {version}: no timestamp", table.uri()))?,
            lineage: record.lineage.is_some(),
            input_versions: record.lineage.and_then(|l| l.input_versions),
        });
    }
    Ok(out)
}

/// The timestamp of the table's last commit.
///
/// # Errors
///
/// When the table has no commit.
pub fn last_timestamp(commits: &[CommitPoint]) -> Result<i64> {
    commits
        .last()
        .map(|c| c.timestamp_us)
        .context("a table without commits")
}

/// The first commit of `output` whose input range covers version `input`
/// (`output` in version order).
pub fn first_covering(output: &[CommitPoint], input: i64) -> Option<&CommitPoint> {
    output.iter().find(|c| {
        c.input_versions
            .is_some_and(|(from, to)| from <= input && input <= to)
    })
}
