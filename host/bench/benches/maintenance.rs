//! What table maintenance buys and costs.
//!
//! 1. Small commits (`maintenance/commits.rs`): `INGOT_BENCH_COMMITS`
//!    (default 10,000) appends of 100 rows each into a table, once with
//!    no maintenance and once with the pipeline's automatic maintenance
//!    (`ingot_pipeline::maintenance::Maintainer`, its default settings)
//!    making a pass every 100 commits. Then, for each: the files, the
//!    log's size, the time to open the table, to read it whole, and the
//!    step latency of a next stage (read the newest 10 versions' change
//!    feed, append them to another table); the commit latencies while
//!    maintenance ran beside them; and the compaction's throughput over
//!    the unmaintained table.
//! 2. MERGE cost against the table's size (`maintenance/merge.rs`): a
//!    table of 0, 1M and 10M stored rows (`INGOT_BENCH_MERGE_ROWS`), then
//!    `dedupe` and `upsert` steps of 10,000 rows, half of them keys the
//!    table has: keys spread over the whole key range ("random") and keys
//!    near the newest ("recent", as time-ordered keys are), in µs per
//!    record.
//!
//! Prints markdown tables, writes the figures as JSON
//! (`target/bench-results/maintenance.json`) and plots the MERGE costs
//! (`docs/benchmarks/maintenance-merge.svg`). Asserts row counts only.
//!
//! Run: `./dev bench maintenance`, or `cargo bench --workspace --bench
//! maintenance` after `cargo build --release --workspace --benches --bins`.

#[path = "maintenance/commits.rs"]
mod commits;
#[expect(
    dead_code,
    reason = "this bench writes its own rows: no guest module, no log records"
)]
mod common;
#[path = "maintenance/merge.rs"]
mod merge;
#[path = "common/plot.rs"]
#[expect(dead_code, reason = "this bench draws bars only")]
mod plot;
#[path = "common/results.rs"]
mod results;

use anyhow::Result;
use serde_json::json;

fn main() -> Result<()> {
    let results = results::Results::start("maintenance");
    println!("machine: {}", results.machine());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let commits = if std::env::var("INGOT_BENCH_COMMITS").as_deref() == Ok("0") {
        0
    } else {
        common::env_count("INGOT_BENCH_COMMITS", 10_000)?
    };
    let sizes = merge::sizes()?;
    // INGOT_BENCH_COMMITS=0 skips part 1.
    let small = if commits == 0 {
        serde_json::Value::Null
    } else {
        runtime.block_on(commits::run(commits))?
    };
    let merges = runtime.block_on(merge::run(&sizes))?;
    merge::plot(&merges, &sizes)?;
    results.write(
        json!({ "commits": commits, "rows_per_commit": commits::ROWS_PER_COMMIT, "merge_rows": sizes, "merge_batch": merge::BATCH }),
        json!({ "small_commits": small, "merges": merges }),
    )?;
    Ok(())
}
