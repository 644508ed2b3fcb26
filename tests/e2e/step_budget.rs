//! A step bounded by bytes: a stage far behind its input takes the input in
//! ranges whose data files sum to at most `max-mib-per-commit`, one commit
//! each, and the tables still hold every record exactly once.

use std::path::Path;

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Broker, Lake},
    lake,
    medallion::{assert_tables, log_pipeline, run_once, uri},
};

/// The data bytes (`add` and `cdc` sizes) of every version of the table at
/// `dir`, read from its `_delta_log` JSON with serde_json.
fn data_bytes_by_version(dir: &Path) -> Vec<(i64, u64)> {
    let mut versions = Vec::new();
    for entry in std::fs::read_dir(dir.join("_delta_log")).expect("the table's log") {
        let path = entry.expect("log entry").path();
        let Some(version) = path
            .file_name()
            .and_then(|n| n.to_str()?.strip_suffix(".json")?.parse::<i64>().ok())
        else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("a commit");
        let bytes = text
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("an action"))
            .filter_map(|action| {
                ["add", "cdc"]
                    .iter()
                    .find_map(|kind| action.get(kind)?.get("size")?.as_u64())
            })
            .sum();
        versions.push((version, bytes));
    }
    versions.sort_unstable();
    versions
}

/// `line` as a Kafka record whose JSON object carries a field of 300
/// pseudo-random hex digits (which parquet cannot compress away), so a few
/// thousand records make a MiB of bronze; other values are sent as they are.
fn padded(line: &LogLine, seed: u64) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let (key, value) = line.to_kafka();
    let value = value.map(|v| match v.strip_prefix(b"{") {
        Some(rest) if v.ends_with(b"}") && rest != b"}" => {
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let noise: String = (0..300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    char::from_digit((x % 16) as u32, 16).expect("a hex digit")
                })
                .collect();
            [format!("{{\"pad\":\"{noise}\",").as_bytes(), rest].concat()
        }
        _ => v,
    });
    (key, value)
}

#[test]
fn a_stage_far_behind_commits_its_input_in_ranges_within_the_byte_budget() {
    const RECORDS: usize = 24_000;
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    // Bronze commits of 3,000 records (about 0.5 MiB of parquet each) in
    // one ingest; the run's stages then find all of them new.
    let toml = log_pipeline(&broker.bootstrap(), &lake, "")
        .replace("max-records = 2000", "max-records = 3000")
        .replace("max-latency-ms = 200", "max-latency-ms = 30000")
        .replace(
            "batch-rows = 1000",
            "batch-rows = 1000\nmax-mib-per-commit = 1",
        );
    let pipeline = lake.write_pipeline(&toml);
    let lines = logs::generate(RECORDS, 17);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().zip(1..).map(|(line, i)| padded(line, i)),
    );
    run_once(&pipeline);
    assert_tables(&lake, &lines);

    let bronze = data_bytes_by_version(&lake.root().join("default/logs/bronze"));
    let total: u64 = bronze.iter().map(|(_, b)| b).sum();
    assert!(
        total > 3 << 20,
        "bronze holds several budgets of data: {total} bytes in {} versions",
        bronze.len()
    );
    let silver = uri(&lake, "silver");
    let last = lake::open(&silver).version();
    let mut ranges = Vec::new();
    for version in 0..=last {
        let Some(lineage) = lake::lineage_opt(&silver, version) else {
            continue;
        };
        let Some((from, to)) = lineage.input_versions else {
            continue;
        };
        let bytes: u64 = bronze
            .iter()
            .filter(|(v, _)| (from..=to).contains(v))
            .map(|(_, b)| b)
            .sum();
        assert!(
            from == to || bytes <= 1 << 20,
            "silver v{version} covers bronze {from}..={to}: {bytes} bytes, over the 1 MiB budget"
        );
        ranges.push((from, to));
    }
    assert!(
        ranges.len() >= 3,
        "silver took bronze in several budgeted ranges: {ranges:?}"
    );
    let covered: Vec<i64> = ranges.iter().flat_map(|&(f, t)| f..=t).collect();
    let expected: Vec<i64> = (0..=covered.last().copied().unwrap_or(-1)).collect();
    assert_eq!(
        covered, expected,
        "the ranges follow each other, no version twice or skipped"
    );
}
