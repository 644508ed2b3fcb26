//! Part 2 of the maintenance bench: what a `dedupe` and an `upsert` step
//! cost against the number of rows the table already stores (see
//! `maintenance.rs`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use ingot_delta::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use ingot_delta::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use ingot_delta::{Commit, Compaction, Table, WriteMode};
use serde_json::{Value, json};

use super::commits::commit_of;
use super::common::{Table as Markdown, decimal, thousands};
use super::plot::{BarSeries, Bars, bars};
use super::results::{num, plots_dir};

/// Rows of one MERGE step; half are keys the table has.
pub const BATCH: usize = 10_000;
/// Rows of one append while the table is filled.
const FILL_CHUNK: usize = 1_000_000;
/// Steps timed per size, mode and key spread (the median is reported).
const STEPS: usize = 3;

/// The stored-row counts: `INGOT_BENCH_MERGE_ROWS` (comma-separated),
/// default 0, 1M and 10M.
///
/// # Errors
/// A count that is not a number.
pub fn sizes() -> Result<Vec<usize>> {
    let text =
        std::env::var("INGOT_BENCH_MERGE_ROWS").unwrap_or_else(|_| "0,1000000,10000000".into());
    text.split(',')
        .map(|n| {
            n.trim()
                .replace('_', "")
                .parse()
                .with_context(|| format!("INGOT_BENCH_MERGE_ROWS: {n}"))
        })
        .collect()
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("seq", DataType::Int64, false),
        Field::new("v", DataType::Utf8, false),
    ]))
}

fn batch(keys: Vec<i64>, seq: i64) -> Result<RecordBatch> {
    let n = keys.len();
    let values: Vec<String> = keys.iter().map(|k| format!("value of {k:>12}")).collect();
    Ok(RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(keys)) as ArrayRef,
            Arc::new(Int64Array::from(vec![seq; n])),
            Arc::new(StringArray::from(values)),
        ],
    )?)
}

fn commit(version: i64) -> Commit {
    commit_of("stage/bench/silver", "silver", version)
}

/// Where a step's existing keys come from.
#[derive(Clone, Copy)]
enum Spread {
    /// Anywhere in the stored key range.
    Random,
    /// The newest stored keys (time-ordered keys: the new rows of a
    /// stream land near the last ones).
    Recent,
}

impl Spread {
    fn name(self) -> &'static str {
        match self {
            Spread::Random => "random",
            Spread::Recent => "recent",
        }
    }
}

/// Step `step`'s keys over a table of `stored` rows (keys `0..stored`):
/// half existing ones, half new ones above every stored key.
fn keys(stored: usize, spread: Spread, step: usize) -> Vec<i64> {
    if stored == 0 {
        // Nothing to match: every key is new.
        let start = (step * BATCH) as i64;
        return (start..start + BATCH as i64).collect();
    }
    let half = BATCH / 2;
    let stored = stored as i64;
    let existing = (0..half as i64).map(|i| match spread {
        // A multiplicative hash spreads them over the range.
        Spread::Random => (i * 2_654_435_761 + step as i64 * 97).rem_euclid(stored),
        Spread::Recent => (stored - half as i64 + i).max(0),
    });
    let fresh = (0..half as i64).map(|i| stored + (step * BATCH) as i64 + i);
    existing.chain(fresh).collect()
}

/// One measured configuration.
struct Measured {
    stored: usize,
    mode: &'static str,
    spread: Spread,
    /// The handle's first step: it opens the table and, for an indexed
    /// dedupe, builds the key index.
    first_ms: f64,
    us_per_record: f64,
}

/// A write mode as the bench runs it.
struct Mode {
    name: &'static str,
    mode: WriteMode,
    /// The key index's limit (0: none).
    key_index: u64,
}

/// Every size, mode and spread; prints the table and returns the figures.
pub async fn run(sizes: &[usize]) -> Result<Value> {
    let mut measured = Vec::new();
    for &stored in sizes {
        let base = tempfile::tempdir()?;
        filled(&base.path().join("t"), stored).await?;
        for spread in [Spread::Recent, Spread::Random] {
            for mode in modes(sizes) {
                let (first_ms, us) = measure(base.path(), stored, spread, &mode).await?;
                println!(
                    "  {} {} over {} stored rows: first step {first_ms:.0} ms, then {us:.2} µs/record",
                    mode.name,
                    spread.name(),
                    thousands(stored as f64)
                );
                measured.push(Measured {
                    stored,
                    mode: mode.name,
                    spread,
                    first_ms,
                    us_per_record: us,
                });
            }
        }
    }
    let mut table = Markdown::new(&[
        "mode",
        "keys",
        "stored rows",
        "first step ms",
        "µs/record",
        "vs empty table",
    ]);
    for m in &measured {
        let empty = measured
            .iter()
            .find(|e| {
                e.stored == sizes[0] && e.mode == m.mode && e.spread.name() == m.spread.name()
            })
            .map_or(f64::NAN, |e| e.us_per_record);
        table.row(vec![
            m.mode.into(),
            m.spread.name().into(),
            thousands(m.stored as f64),
            decimal(m.first_ms),
            decimal(m.us_per_record),
            format!("{}x", decimal(m.us_per_record / empty)),
        ]);
    }
    println!(
        "\nMERGE steps of {} rows (half existing keys):\n\n{}\n",
        thousands(BATCH as f64),
        table.render()
    );
    Ok(json!(
        measured
            .iter()
            .map(|m| json!({
                "stored_rows": m.stored,
                "mode": m.mode,
                "keys": m.spread.name(),
                "first_step_ms": num(m.first_ms, 1),
                "us_per_record": num(m.us_per_record, 3),
            }))
            .collect::<Vec<_>>()
    ))
}

/// Dedupe as a stage runs it (through the key index, here with a limit
/// above every size measured), dedupe by MERGE (the index off), upsert.
fn modes(sizes: &[usize]) -> [Mode; 3] {
    let dedupe = WriteMode::Dedupe {
        keys: vec!["k".into()],
    };
    let limit = 2 * sizes.iter().copied().max().unwrap_or(0) as u64 + 1_000_000;
    [
        Mode {
            name: "dedupe",
            mode: dedupe.clone(),
            key_index: limit,
        },
        Mode {
            name: "dedupe by MERGE",
            mode: dedupe,
            key_index: 0,
        },
        Mode {
            name: "upsert",
            mode: WriteMode::Upsert {
                keys: vec!["k".into()],
                sequence: Some("seq".into()),
                delete_column: None,
            },
            key_index: 0,
        },
    ]
}

/// A table at `path` of `stored` rows (keys `0..stored`, appended in key
/// order), compacted as maintenance would leave it.
async fn filled(path: &Path, stored: usize) -> Result<()> {
    let mut table = Table::open_or_create(&path.display().to_string(), schema()).await?;
    for (version, start) in (0..).zip((0..stored).step_by(FILL_CHUNK)) {
        let end = (start + FILL_CHUNK).min(stored);
        let keys: Vec<i64> = (start as i64..end as i64).collect();
        table
            .write(vec![batch(keys, 0)?], &WriteMode::Append, &commit(version))
            .await?;
    }
    let compaction = Compaction {
        target_size: 128 << 20,
        zorder: Vec::new(),
    };
    table.optimize(&compaction, &commit(0).lineage).await?;
    Ok(())
}

/// A copy of the filled table in `base` (a Delta table's folder holds
/// only relative paths), then a first step of `mode` and [`STEPS`] more:
/// the first step's ms and the others' median µs per record.
async fn measure(base: &Path, stored: usize, spread: Spread, mode: &Mode) -> Result<(f64, f64)> {
    let dir = tempfile::tempdir()?;
    copy_dir(&base.join("t"), &dir.path().join("t"))?;
    let uri = dir.path().join("t").display().to_string();
    let mut table = Table::open(&uri).await?.context("the copied table")?;
    table.set_key_index_limit(mode.key_index);
    // The stage's progress goes on after the fill's commits.
    let first = i64::try_from(stored.div_ceil(FILL_CHUNK))?;
    let mut times = Vec::new();
    let mut first_ms = 0.0;
    for (version, step) in (first..).zip(0..=STEPS) {
        let rows = batch(keys(stored, spread, step), 1 + step as i64)?;
        let started = Instant::now();
        table
            .write(vec![rows], &mode.mode, &commit(version))
            .await?;
        let elapsed = started.elapsed().as_secs_f64();
        if step == 0 {
            first_ms = elapsed * 1e3;
        } else {
            times.push(elapsed * 1e6 / BATCH as f64);
        }
    }
    let counts = table
        .query("SELECT count(*), count(DISTINCT k) FROM t")
        .await?;
    let count = |column: usize| {
        counts
            .first()
            .and_then(|b| b.column(column).as_any().downcast_ref::<Int64Array>())
            .map(|a| a.value(0) as usize)
            .context("a count")
    };
    let (rows, keys) = (count(0)?, count(1)?);
    let fresh = if stored == 0 { BATCH } else { BATCH / 2 };
    ensure!(
        rows == stored + (STEPS + 1) * fresh && keys == rows,
        "{rows} rows of {keys} keys after the steps over {stored}"
    );
    times.sort_by(f64::total_cmp);
    Ok((first_ms, times[STEPS / 2]))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The µs per record of every configuration, one group per stored size.
///
/// # Errors
/// When the plot cannot be written.
pub fn plot(figures: &Value, sizes: &[usize]) -> Result<()> {
    let groups: Vec<String> = sizes
        .iter()
        .map(|n| format!("{} rows", thousands(*n as f64)))
        .collect();
    let group_refs: Vec<&str> = groups.iter().map(String::as_str).collect();
    let series = ["dedupe", "dedupe by MERGE", "upsert"]
        .iter()
        .flat_map(|mode| ["recent", "random"].map(move |keys| (*mode, keys)))
        .map(|(mode, keys)| BarSeries {
            label: format!("{mode}, {keys} keys"),
            values: sizes
                .iter()
                .map(|n| {
                    figures.as_array()?.iter().find_map(|f| {
                        (f["stored_rows"].as_u64() == Some(*n as u64)
                            && f["mode"] == mode
                            && f["keys"] == keys)
                            .then(|| f["us_per_record"].as_f64())
                            .flatten()
                    })
                })
                .collect(),
        })
        .collect();
    let path = plots_dir()?.join("maintenance-merge.svg");
    bars(
        &path,
        &Bars {
            title: "Keyed step cost against stored rows (10,000-row steps, half existing keys)",
            y_desc: "µs per record (log scale)",
            groups: &group_refs,
            series,
            reference: None,
        },
    )?;
    println!("plot: {}", path.display());
    Ok(())
}
