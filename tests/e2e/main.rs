//! End-to-end tests: a real broker (Tansu), the real `ingot` binary, real
//! Delta tables in a temp dir or on a real S3-compatible server (moto's
//! server mode), and exact row counts and values.
//!
//! One test binary with a module per concern; [`harness`] holds what they
//! share. The medallion, crash and hot-swap tests run on a local lake and,
//! as their `_on_s3` variants, on an `s3://` lake; `object_store` holds
//! what only an object store has (its conditional writes, two hosts racing
//! for a version). Run them with `./dev test`, or on their own with
//! `cargo nextest run --workspace -E 'binary(e2e)'` once
//! `scripts/install-tansu.sh` has installed the broker (and
//! `scripts/install-moto.sh` the S3 server: `INGOT_MOTO` names its
//! `moto_server`, else the harness runs the script); `-E 'binary(e2e) and
//! test(s3)'` runs the S3 tests alone.

mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use ingot_sample::logs;

use harness::Broker;

/// The harness itself: a broker starts, takes a topic, and gives back every
/// record produced to it, null values and keys intact.
#[test]
fn harness_smoke() {
    let broker = Broker::start();
    let bootstrap = broker.bootstrap();
    assert!(
        broker
            .log()
            .contains(&format!("listening on: tcp://{bootstrap}")),
        "{}",
        broker.log()
    );
    broker.create_topic("smoke", 3);
    let lines = logs::generate(1000, 11);
    let sent = harness::produce(
        &broker.bootstrap(),
        "smoke",
        lines.iter().map(|l| l.to_kafka()),
    );
    assert_eq!(sent, 1000);

    let got = harness::consume(&bootstrap, "smoke", 1000, Duration::from_secs(30));
    assert_eq!(got.len(), 1000);
    let partitions: BTreeMap<i32, usize> = got.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.partition).or_default() += 1;
        m
    });
    assert_eq!(
        partitions.len(),
        3,
        "keys spread over every partition: {partitions:?}"
    );
    let mut expected: Vec<_> = lines.iter().map(|l| l.to_kafka()).collect();
    let mut actual: Vec<_> = got.into_iter().map(|r| (r.key, r.value)).collect();
    expected.sort();
    actual.sort();
    assert_eq!(actual, expected);
}

mod admin_api;
mod config_errors;
mod console;
mod crash;
mod data_loss;
mod debezium;
mod deploy_files;
mod faults;
mod faults_workloads;
mod fleet;
mod hostile;
mod hot_swap;
mod image;
mod lake;
mod languages;
mod log_format;
mod maintenance;
mod medallion;
mod object_store;
mod osquery;
mod rebalance;
mod server;
mod step_budget;
mod tenants;
