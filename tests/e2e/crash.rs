//! Test 3 of the core: SIGKILL the host in the middle of a continuous run
//! under load, twice, restart it: no record lost, none duplicated, in any
//! table. Also: a clean stop on SIGTERM, and two hosts sharing a consumer
//! group when one of them dies.

use std::{thread, time::Duration};

use crate::{
    harness::{self, Broker, Lake, logs::LogLine, run_ingot, spawn_ingot},
    medallion::{assert_tables, log_pipeline},
};

#[test]
fn sigkill_under_load_loses_and_duplicates_nothing() {
    let broker = Broker::start();
    broker.create_topic("logs", 3);
    let lake = Lake::new();
    // One host reading every partition itself: a restart resumes at once.
    // (With a consumer group, Tansu 0.6 does not hand a SIGKILLed member's
    // partitions to its successor; the two-host test covers groups.)
    let toml = log_pipeline(&broker.bootstrap(), &lake, "").replace(
        "topics = [\"logs\"]",
        "topics = [\"logs\"]\nassignment = \"all\"",
    );
    let pipeline = lake.write_pipeline(&toml);
    let lines = harness::logs::generate(30_000, 3);

    // Load: records keep arriving in chunks while the host runs and dies.
    let producer = {
        let (bootstrap, chunks) = (
            broker.bootstrap(),
            lines
                .chunks(1_000)
                .map(<[LogLine]>::to_vec)
                .collect::<Vec<_>>(),
        );
        thread::spawn(move || {
            for chunk in chunks {
                harness::produce(&bootstrap, "logs", chunk.iter().map(LogLine::to_kafka));
                thread::sleep(Duration::from_millis(250));
            }
        })
    };

    for (round, wait) in [
        (1, Duration::from_millis(1_500)),
        (2, Duration::from_millis(700)),
    ] {
        let mut host = spawn_ingot(["run".as_ref(), pipeline.as_os_str()]);
        host.wait_for_log("stage commit", Duration::from_secs(120));
        thread::sleep(wait);
        host.kill();
        eprintln!("round {round}: killed the host mid-run");
    }
    producer.join().expect("producer thread");

    // A last, triggered run drains what is left; then every table is exact.
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    assert!(
        out.status.success(),
        "final run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_tables(&lake, &lines);
}

/// Ctrl-C or SIGTERM stops a continuous run cleanly after its current
/// commit: exit code 0, and the tables hold exactly what was committed.
#[test]
fn sigterm_stops_after_the_current_commit() {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let lake = Lake::new();
    let pipeline = lake.write_pipeline(&log_pipeline(&broker.bootstrap(), &lake, ""));
    let lines = harness::logs::generate(4_000, 9);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let mut host = spawn_ingot(["run".as_ref(), pipeline.as_os_str()]);
    host.wait_for_log("stage=gold", Duration::from_secs(120));
    let status = host.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "clean stop exits 0, got {status}:\n{}",
        host.tail()
    );
    assert!(
        host.log().contains("ingest stopped"),
        "the ingest loop stopped cleanly:\n{}",
        host.tail()
    );
    // Whatever was committed is consistent; a triggered run completes it.
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_tables(&lake, &lines);
}

/// Two hosts of one pipeline share the consumer group and the tables under
/// load; one is SIGKILLed, the group hands its partitions to the other,
/// which resumes them from bronze's txns. Concurrent stage commits conflict
/// and are redone. Nothing is lost or duplicated.
#[test]
fn two_hosts_one_killed_rebalance_resumes_from_bronze() {
    let broker = Broker::start();
    broker.create_topic("logs", 4);
    let lake = Lake::new();
    let pipeline = lake.write_pipeline(&log_pipeline(&broker.bootstrap(), &lake, ""));
    let lines = harness::logs::generate(20_000, 21);
    let (first, rest) = lines.split_at(10_000);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        first.iter().map(LogLine::to_kafka),
    );

    let mut a = spawn_ingot(["run".as_ref(), pipeline.as_os_str()]);
    let mut b = spawn_ingot(["run".as_ref(), pipeline.as_os_str()]);
    a.wait_for_log("bronze commit", Duration::from_secs(120));
    b.wait_for_log("partition assigned", Duration::from_secs(120));
    a.kill();
    harness::produce(
        &broker.bootstrap(),
        "logs",
        rest.iter().map(LogLine::to_kafka),
    );
    // The survivor gets the dead host's partitions once its session expires.
    b.wait_for_log("partitions revoked", Duration::from_secs(60));
    thread::sleep(Duration::from_secs(3));
    let status = b.terminate(Duration::from_secs(30));
    assert!(
        status.success(),
        "survivor stops cleanly: {status}\n{}",
        b.tail()
    );

    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    assert!(
        out.status.success(),
        "final run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_tables(&lake, &lines);
}
