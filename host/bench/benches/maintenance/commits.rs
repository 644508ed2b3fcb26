//! Part 1 of the maintenance bench: a table after many small commits, with
//! and without automatic maintenance (see `maintenance.rs`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use ingot_delta::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use ingot_delta::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use ingot_delta::{Commit, Compaction, Lineage, Table, Txn, WriteMode};
use ingot_pipeline::{config::PipelineConfig, maintenance::Maintainer};
use serde_json::{Value, json};

use super::common::{Table as Markdown, decimal, thousands};
use super::results::num;

/// Rows of each small commit.
pub const ROWS_PER_COMMIT: usize = 100;
/// Commits between two maintenance passes.
const PASS_EVERY: usize = 100;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Utf8, false),
    ]))
}

/// Commit `i`'s rows: keys `i * ROWS_PER_COMMIT ..`, 100-byte values.
fn rows(i: usize) -> Result<RecordBatch> {
    let start = i64::try_from(i * ROWS_PER_COMMIT)?;
    let keys: Vec<i64> = (start..start + ROWS_PER_COMMIT as i64).collect();
    let values: Vec<String> = keys.iter().map(|k| format!("{k:0>100}")).collect();
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(keys)) as ArrayRef,
            Arc::new(StringArray::from(values)),
        ],
    )?)
}

fn commit(i: usize) -> Commit {
    commit_of("bench/t/0", "ingest", i64::try_from(i).unwrap_or(i64::MAX))
}

/// A commit of the bench's pipeline by `stage`, recording txn `app_id` =
/// `version`.
pub fn commit_of(app_id: &str, stage: &str, version: i64) -> Commit {
    Commit {
        txns: vec![Txn {
            app_id: app_id.into(),
            version,
        }],
        lineage: Lineage {
            ingot_version: ingot_core::VERSION.into(),
            pipeline: "bench".into(),
            stage: stage.into(),
            module: None,
            input_table: None,
            input_versions: None,
            attempt: None,
        },
    }
}

/// A pipeline `bench` without stages on the lake at `root`: its bronze is
/// the table the commits go to.
fn config(root: &Path) -> Result<PipelineConfig> {
    let text = format!(
        "name = \"bench\"\n[kafka]\nbrokers = \"embedded\"\ntopics = [\"t\"]\n[lake]\nroot = {:?}\n",
        root.display().to_string()
    );
    Ok(PipelineConfig::parse(&text, &root.join("bench.toml"))?)
}

/// What one variant measured.
struct Variant {
    name: &'static str,
    commit_ms: Vec<f64>,
    files: u64,
    log_bytes: u64,
    open: Duration,
    read: Duration,
    next_step: Duration,
    passes: Duration,
    /// Without maintenance: one compaction of the table afterwards
    /// (files, rows, seconds, bytes written).
    compaction: Option<(u64, u64, f64, f64)>,
}

impl Variant {
    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.commit_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted.get(at).copied().unwrap_or(0.0)
    }
}

/// Runs both variants of `commits` commits; prints and returns the figures.
pub async fn run(commits: usize) -> Result<Value> {
    let off = variant("maintenance off", commits, false).await?;
    let on = variant("maintenance on", commits, true).await?;
    let compaction = off
        .compaction
        .context("the unmaintained table's compaction")?;
    let mut table = Markdown::new(&[
        "variant",
        "files",
        "log MiB",
        "open ms",
        "read all ms",
        "next step ms",
        "commit p50 ms",
        "commit p99 ms",
        "maintenance s",
    ]);
    for v in [&off, &on] {
        table.row(vec![
            v.name.into(),
            thousands(v.files as f64),
            decimal(v.log_bytes as f64 / 1_048_576.0),
            decimal(ms(v.open)),
            decimal(ms(v.read)),
            decimal(ms(v.next_step)),
            decimal(v.percentile(0.5)),
            decimal(v.percentile(0.99)),
            decimal(v.passes.as_secs_f64()),
        ]);
    }
    println!(
        "\n{} commits of {ROWS_PER_COMMIT} rows:\n\n{}\n",
        thousands(commits as f64),
        table.render()
    );
    println!(
        "compaction of the unmaintained table: {} files, {} rows in {:.2} s = {} rows/s, {} MiB/s written\n",
        thousands(compaction.0 as f64),
        thousands(compaction.1 as f64),
        compaction.2,
        thousands(compaction.1 as f64 / compaction.2),
        decimal(compaction.3 / 1_048_576.0 / compaction.2)
    );
    let variants: Vec<Value> = [&off, &on]
        .iter()
        .map(|v| {
            json!({
            "name": v.name,
            "files": v.files,
            "log_bytes": v.log_bytes,
            "open_ms": num(ms(v.open), 2),
            "read_all_ms": num(ms(v.read), 2),
            "next_step_ms": num(ms(v.next_step), 2),
            "commit_p50_ms": num(v.percentile(0.5), 3),
            "commit_p99_ms": num(v.percentile(0.99), 3),
            "commit_max_ms": num(v.percentile(1.0), 3),
            "maintenance_s": num(v.passes.as_secs_f64(), 3),
            })
        })
        .collect();
    Ok(json!({
        "variants": variants,
        "compaction": {
            "files": compaction.0,
            "rows": compaction.1,
            "seconds": num(compaction.2, 3),
            "bytes_written": compaction.3,
        },
    }))
}

/// `commits` small commits into a fresh table, with a maintenance pass
/// every [`PASS_EVERY`] commits when `maintain`, on a task beside the
/// commits as `ingot run` does; then the reader figures.
async fn variant(name: &'static str, commits: usize, maintain: bool) -> Result<Variant> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path())?;
    let uri = config.table_uri("bronze");
    let mut table = Table::open_or_create(&uri, schema()).await?;
    let mut commit_ms = Vec::with_capacity(commits);
    let mut passes = Duration::ZERO;
    let mut pass: Option<tokio::task::JoinHandle<Result<Duration>>> = None;
    for i in 0..commits {
        let batch = rows(i)?;
        let started = Instant::now();
        write(&mut table, batch, &commit(i)).await?;
        commit_ms.push(ms(started.elapsed()));
        if maintain && (i + 1) % PASS_EVERY == 0 {
            if let Some(done) = pass.take() {
                passes += done.await??;
            }
            pass = Some(tokio::spawn(timed_pass(config.clone())));
        }
    }
    if let Some(done) = pass.take() {
        passes += done.await??;
    }
    let started = Instant::now();
    let reopened = Table::open(&uri).await?.context("the table")?;
    let open = started.elapsed();
    let started = Instant::now();
    let read_rows: usize = reopened
        .scan()
        .await?
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    let read = started.elapsed();
    ensure!(
        read_rows == commits * ROWS_PER_COMMIT,
        "{read_rows} rows read"
    );
    let next_step = next_step(&reopened, dir.path()).await?;
    let files = reopened.file_stats(0).files;
    let log_bytes = folder_bytes(&dir.path().join("default/bench/bronze/_delta_log"))?;
    let compaction = if maintain {
        None
    } else {
        Some(compact(reopened).await?)
    };
    Ok(Variant {
        name,
        commit_ms,
        files,
        log_bytes,
        open,
        read,
        next_step,
        passes,
        compaction,
    })
}

/// One maintenance pass over `config`'s tables; how long it took.
async fn timed_pass(config: PipelineConfig) -> Result<Duration> {
    let started = Instant::now();
    for report in Maintainer::new(config).pass().await {
        report.context("a maintenance pass")?;
    }
    Ok(started.elapsed())
}

/// One append, redone on a conflict with a compaction (appends are
/// rebased by delta-rs, so this is only for safety).
async fn write(table: &mut Table, batch: RecordBatch, commit: &Commit) -> Result<()> {
    loop {
        match table
            .write(vec![batch.clone()], &WriteMode::Append, commit)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.is_conflict() => table.refresh().await?,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A next stage's step: read the newest 10 versions' change feed, append
/// the rows to a table of its own.
async fn next_step(input: &Table, dir: &Path) -> Result<Duration> {
    let started = Instant::now();
    let latest = input.version();
    let changes = input.changes((latest - 9).max(1), latest).await?;
    let out_uri = dir.join("next").display().to_string();
    let mut out = Table::open_or_create(
        &out_uri,
        changes.first().map_or_else(schema, RecordBatch::schema),
    )
    .await?;
    out.write(changes, &WriteMode::Append, &commit(0)).await?;
    Ok(started.elapsed())
}

/// One compaction of `table`: (files, rows, seconds, bytes written).
async fn compact(mut table: Table) -> Result<(u64, u64, f64, f64)> {
    let stats = table.file_stats(0);
    let started = Instant::now();
    let done = table
        .optimize(
            &Compaction {
                target_size: 128 << 20,
                zorder: Vec::new(),
            },
            &commit(0).lineage,
        )
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    ensure!(done.files_removed == stats.files, "{done:?} of {stats:?}");
    Ok((stats.files, stats.rows, seconds, done.bytes_added as f64))
}

fn folder_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("list {}", dir.display()))? {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
