//! Two ingest loops of one pipeline share a consumer group; one leaves, the
//! group hands its partitions to the other, which positions them from
//! bronze's txns: nothing lost, nothing written twice.
//!
//! This runs on librdkafka's mock cluster (the embedded broker), in process:
//! Tansu 0.6 does not rebalance a group when a member leaves or dies, so it
//! cannot exercise this path.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use ingot_kafka::embedded::EmbeddedBroker;
use ingot_pipeline::{
    config::PipelineConfig,
    ingest::{Ingest, IngestReport},
};
use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Lake},
    lake,
};

fn spawn_ingest(
    config: &Arc<PipelineConfig>,
    brokers: &str,
    rt: &tokio::runtime::Runtime,
) -> (Arc<AtomicBool>, thread::JoinHandle<IngestReport>) {
    let stop = Arc::new(AtomicBool::new(false));
    let ingest = Ingest::new(
        Arc::clone(config),
        brokers.to_owned(),
        rt.handle().clone(),
        Arc::clone(&stop),
        false,
    );
    (
        stop,
        thread::spawn(move || ingest.run().expect("ingest loop")),
    )
}

fn wait_for_rows(uri: &str, rows: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let now = if std::path::Path::new(uri).join("_delta_log").exists() {
            lake::count(uri)
        } else {
            0
        };
        if now == rows {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: bronze has {now} rows, expected {rows}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_leaving_host_hands_its_partitions_to_the_other_from_bronze() {
    let broker = EmbeddedBroker::start(&["logs".to_owned()], 4).expect("embedded broker");
    let lake_dir = Lake::new();
    let toml = format!(
        "name = \"logs\"\n[kafka]\nbrokers = \"{}\"\ntopics = [\"logs\"]\n[ingest]\nmax-records = 1000\nmax-latency-ms = 100\n[lake]\nroot = \"{}\"\n",
        broker.bootstrap(),
        lake_dir.root().display()
    );
    let config =
        Arc::new(PipelineConfig::parse(&toml, &lake_dir.write_pipeline(&toml)).expect("config"));
    let bronze = format!("{}/default/logs/bronze", lake_dir.root().display());
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let lines = logs::generate(8_000, 33);
    let (first, rest) = lines.split_at(4_000);

    let (stop_a, a) = spawn_ingest(&config, broker.bootstrap(), &rt);
    let (stop_b, b) = spawn_ingest(&config, broker.bootstrap(), &rt);
    harness::produce(
        broker.bootstrap(),
        "logs",
        first.iter().map(LogLine::to_kafka),
    );
    wait_for_rows(&bronze, 4_000, "both hosts ingesting");

    stop_a.store(true, Ordering::SeqCst);
    let report_a = a.join().expect("host a");
    harness::produce(
        broker.bootstrap(),
        "logs",
        rest.iter().map(LogLine::to_kafka),
    );
    wait_for_rows(&bronze, 8_000, "the survivor took over every partition");
    stop_b.store(true, Ordering::SeqCst);
    let report_b = b.join().expect("host b");

    assert!(
        report_a.records > 0,
        "host a ingested before leaving: {report_a:?}"
    );
    assert!(report_b.records > 0, "host b ingested: {report_b:?}");
    assert_eq!(
        report_a.records + report_b.records,
        8_000,
        "{report_a:?} {report_b:?}"
    );
    let distinct = lake::i64s(
        &bronze,
        "SELECT CAST(count(*) AS BIGINT) FROM (SELECT DISTINCT \"partition\", \"offset\" FROM t)",
    );
    assert_eq!(distinct, vec![8_000], "every offset once");
}
