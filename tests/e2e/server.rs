//! The HTTP server of `ingot run --listen`: `/metrics` scraped during a
//! continuous run counts what was produced and what the tables hold (read
//! back with the independent readers), the consumer lag goes to zero once
//! caught up, and the probes answer.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{
        self, Broker, Lake,
        http::{Metrics, get, server_address, wait_ready},
        readers,
    },
    medallion::{log_pipeline, uri, wait_for_gold},
};

const RECORDS: usize = 3_000;

/// Commits of a table's history that wrote data (not its creation, not maintenance).
fn data_commits(read: &readers::Read) -> u64 {
    read.operations()
        .iter()
        .filter(|op| matches!(op.as_str(), "WRITE" | "MERGE"))
        .count() as u64
}

/// A continuous run with the server on: its counters equal what was
/// produced and what the tables hold, lag goes to zero, the run is ready.
#[test]
fn metrics_count_the_records_produced_and_the_rows_written() {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let lake = Lake::new();
    let toml = log_pipeline(&broker.bootstrap(), &lake, "") + "[maintenance]\nenabled = false\n";
    let pipeline = lake.write_pipeline(&toml);
    let mut host = lake.spawn_ingot([
        "run".as_ref(),
        pipeline.as_os_str(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]);
    let address = server_address(&mut host);
    assert_eq!(get(&address, "/healthz"), (200, "ok\n".to_owned()));
    // Not yet: the pipeline is starting, or waiting for its partitions' ends.
    let (status, body) = get(&address, "/readyz");
    assert_eq!(status, 503, "{body}");

    let lines: Vec<LogLine> = logs::generate(RECORDS, 18);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    wait_for_gold(&lake, &lines, &host);

    let expected = expected(&lake);
    // The counters land with the commits; the lag with librdkafka's next
    // statistics (every 5 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let got = loop {
        let m = Metrics::scrape(&address);
        let got = scraped(&m);
        if got == expected || Instant::now() > deadline {
            break (got, m);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let (got, m) = got;
    assert_eq!(
        got,
        expected,
        "metrics against the tables:\n{}",
        host.tail()
    );
    assert_eq!(
        m.sum("ingot_ingest_bytes_total", &[]),
        lines
            .iter()
            .map(|l| l.to_kafka().1.map_or(0, |v| v.len() as u64))
            .sum::<u64>(),
        "bytes ingested = the values' bytes"
    );
    let calls = m.values("ingot_module_call_seconds_count", &[("stage", "silver")]);
    assert!(
        calls.iter().sum::<f64>() >= 1.0,
        "module calls timed: {calls:?}"
    );
    let body = wait_ready(&address, Duration::from_secs(20));
    assert!(body.contains("\"ready\":true"), "{body}");

    let status = host.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}:\n{}", host.tail());
}

/// What the metrics must say, from the tables as the independent readers
/// see them.
fn expected(lake: &Lake) -> BTreeMap<&'static str, u64> {
    let read = |table: &str| readers::read(&uri(lake, table), None, &[], None);
    let (bronze, silver) = (read("bronze"), read("silver"));
    BTreeMap::from([
        ("ingest records", RECORDS as u64),
        ("bronze commits", data_commits(&bronze)),
        ("silver rows in", bronze.rows() as u64),
        ("silver rows out", silver.rows() as u64),
        ("silver rejected", read("silver_quarantine").rows() as u64),
        ("silver quarantine", read("silver_quarantine").rows() as u64),
        ("silver commits", data_commits(&silver)),
        ("gold rows in", silver.rows() as u64),
        ("gold commits", data_commits(&read("gold"))),
        ("lag", 0),
    ])
}

/// The same figures from a scrape.
fn scraped(m: &Metrics) -> BTreeMap<&'static str, u64> {
    let stage = |s: &'static str| [("stage", s)];
    let lags = m.values("ingot_consumer_lag_records", &[("pipeline", "logs")]);
    BTreeMap::from([
        ("ingest records", m.sum("ingot_ingest_records_total", &[])),
        (
            "bronze commits",
            m.sum("ingot_commits_total", &[("table", "bronze")]),
        ),
        (
            "silver rows in",
            m.sum("ingot_stage_rows_in_total", &stage("silver")),
        ),
        (
            "silver rows out",
            m.sum("ingot_stage_rows_out_total", &stage("silver")),
        ),
        (
            "silver rejected",
            m.sum("ingot_stage_rows_rejected_total", &stage("silver")),
        ),
        (
            "silver quarantine",
            m.sum("ingot_stage_quarantine_rows", &stage("silver")),
        ),
        (
            "silver commits",
            m.sum("ingot_commits_total", &stage("silver")),
        ),
        (
            "gold rows in",
            m.sum("ingot_stage_rows_in_total", &stage("gold")),
        ),
        ("gold commits", m.sum("ingot_commits_total", &stage("gold"))),
        // Both partitions' gauges, each at zero.
        (
            "lag",
            if lags.len() == 2 {
                lags.iter().sum::<f64>() as u64
            } else {
                u64::MAX
            },
        ),
    ])
}
