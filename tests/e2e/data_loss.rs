//! Offsets that go backwards: bronze read a topic, then the pipeline meets a
//! new, empty cluster with the same topic name (a restarted embedded broker,
//! a recreated topic). By default `ingot run --once` stops naming each
//! partition and its offsets and writes nothing; with `on-data-loss =
//! "reset"` each partition starts over, the reset is in the lineage, and the
//! new records land once, including on a partition whose last commit is
//! its reset (the state a crash right after the reset leaves).
//!
//! Bronze is read back from its Delta log and parquet files directly, not
//! through ingot's table module.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::Duration,
};

use deltalake::{
    arrow::{
        array::{Array, AsArray},
        datatypes::{Int32Type, Int64Type},
    },
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder,
};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::harness::{Broker, Lake, broker::client_config, run_ingot, run_ingot_ok};

const TOPIC: &str = "events";

fn pipeline(lake: &Lake, broker: &Broker, policy: &str) -> PathBuf {
    lake.write_pipeline(&format!(
        "name = \"events\"\n[kafka]\nbrokers = \"{}\"\ntopics = [\"{TOPIC}\"]\n{policy}\n\
         [ingest]\nmax-records = 250\nmax-latency-ms = 200\n[lake]\nroot = \"{}\"\n",
        broker.bootstrap(),
        lake.root().display()
    ))
}

/// Produces `n` records valued `<tag>-<partition>-<i>` to `partition`.
fn produce_to(broker: &Broker, partition: i32, tag: &str, n: usize) {
    let producer: BaseProducer = client_config(&broker.bootstrap())
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("create an rdkafka producer");
    for i in 0..n {
        let value = format!("{tag}-{partition}-{i}");
        let record = BaseRecord::<[u8], [u8]>::to(TOPIC)
            .partition(partition)
            .payload(value.as_bytes());
        producer
            .send(record)
            .unwrap_or_else(|(e, _)| panic!("produce to {TOPIC}/{partition}: {e}"));
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(30))
        .expect("flush the producer");
}

/// One commit of bronze's Delta log, as JSON actions.
struct LogCommit {
    actions: Vec<serde_json::Value>,
}

impl LogCommit {
    fn txns(&self) -> BTreeMap<String, i64> {
        self.actions
            .iter()
            .filter_map(|a| {
                let txn = a.get("txn")?;
                Some((txn["appId"].as_str()?.to_owned(), txn["version"].as_i64()?))
            })
            .collect()
    }

    fn lineage(&self) -> Option<&serde_json::Value> {
        self.actions
            .iter()
            .find_map(|a| a.get("commitInfo")?.get("ingot"))
    }
}

/// Bronze's Delta log, commit by commit, in version order.
fn log(bronze: &Path) -> Vec<LogCommit> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(bronze.join("_delta_log"))
        .expect("read bronze's log")
        .map(|e| e.expect("log entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| LogCommit {
            actions: std::fs::read_to_string(f)
                .expect("read a commit")
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON action"))
                .collect(),
        })
        .collect()
}

/// Every txn of bronze, the newest per application id.
fn txns(bronze: &Path) -> BTreeMap<String, i64> {
    log(bronze).iter().flat_map(LogCommit::txns).collect()
}

/// Bronze's rows as (partition, offset, value), from the parquet files its
/// log adds and does not remove.
fn rows(bronze: &Path) -> Vec<(i32, i64, String)> {
    let mut live = BTreeSet::new();
    for action in log(bronze).into_iter().flat_map(|c| c.actions) {
        if let Some(path) = action.pointer("/add/path").and_then(|p| p.as_str()) {
            live.insert(path.to_owned());
        }
        if let Some(path) = action.pointer("/remove/path").and_then(|p| p.as_str()) {
            live.remove(path);
        }
    }
    let mut out = Vec::new();
    for file in live {
        let file = std::fs::File::open(bronze.join(&file)).expect("open a parquet file");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .expect("read a parquet file");
        for batch in reader {
            let batch = batch.expect("a parquet batch");
            let column = |name: &str| batch.column_by_name(name).expect("a bronze column").clone();
            let (partition, offset, value) =
                (column("partition"), column("offset"), column("value"));
            let (partition, offset, value) = (
                partition.as_primitive::<Int32Type>(),
                offset.as_primitive::<Int64Type>(),
                value.as_binary::<i32>(),
            );
            for i in 0..batch.num_rows() {
                assert!(!value.is_null(i), "every record has a value");
                let text = String::from_utf8(value.value(i).to_vec()).expect("utf-8 value");
                out.push((partition.value(i), offset.value(i), text));
            }
        }
    }
    out.sort();
    out
}

/// The rows of `tag` in partition `partition`, which must be `<tag>-<p>-<i>`
/// at offset `i` for `i` in `0..n`, each once.
fn assert_exactly_once(rows: &[(i32, i64, String)], tag: &str, partition: i32, n: i64) {
    let prefix = format!("{tag}-{partition}-");
    let got: Vec<(i64, &str)> = rows
        .iter()
        .filter(|(p, _, v)| *p == partition && v.starts_with(&prefix))
        .map(|(_, o, v)| (*o, v.as_str()))
        .collect();
    let expected: Vec<(i64, String)> = (0..n).map(|i| (i, format!("{prefix}{i}"))).collect();
    let expected: Vec<(i64, &str)> = expected.iter().map(|(o, v)| (*o, v.as_str())).collect();
    assert_eq!(
        got, expected,
        "{tag} records of partition {partition}, each once"
    );
}

/// The bronze commits that reset a partition: (input, txns).
fn resets(bronze: &Path) -> Vec<(String, BTreeMap<String, i64>)> {
    log(bronze)
        .iter()
        .filter(|c| c.lineage().is_some_and(|l| l["stage"] == "ingest (reset)"))
        .map(|c| {
            let input = c.lineage().expect("lineage")["input_table"].to_string();
            (input, c.txns())
        })
        .collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run_once(file: &Path) -> std::process::Output {
    run_ingot(["run".as_ref(), file.as_os_str(), "--once".as_ref()])
}

/// Ingests 1,200 records of partition 0 and 800 of partition 1 from a
/// first cluster, which is then gone.
fn ingest_from_a_first_cluster(lake: &Lake, bronze: &Path) {
    let first = Broker::start();
    first.create_topic(TOPIC, 2);
    produce_to(&first, 0, "old", 1200);
    produce_to(&first, 1, "old", 800);
    let file = pipeline(lake, &first, "");
    assert!(run_once(&file).status.success());
    let old = rows(bronze);
    assert_eq!(old.len(), 2000);
    assert_exactly_once(&old, "old", 0, 1200);
}

/// The default policy: the run fails naming each partition and its
/// offsets, and commits nothing.
fn assert_the_default_fails_and_writes_nothing(lake: &Lake, second: &Broker, bronze: &Path) {
    let (versions, old) = (log(bronze).len(), rows(bronze));
    let out = run_once(&pipeline(lake, second, ""));
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "a run over offsets that went backwards succeeded:\n{err}"
    );
    for part in [
        "partition events/0 went backwards",
        "offsets up to 1199",
        "are 0..300",
        "partition events/1 went backwards",
        "offsets up to 799",
        "are 0..0",
        "on-data-loss = \"reset\"",
    ] {
        assert!(err.contains(part), "{part:?} in:\n{err}");
    }
    assert_eq!(log(bronze).len(), versions, "nothing was committed");
    assert_eq!(rows(bronze), old);
}

/// The reset commits bronze holds: one per partition, with its txns.
fn assert_reset_markers(file: &Path, bronze: &Path) {
    let marker = |p: i32| {
        (
            format!("\"kafka:{TOPIC}/{p}\""),
            BTreeMap::from([
                (format!("events/{TOPIC}/{p}"), -1),
                (format!("events/{TOPIC}/{p}/reset"), 1),
            ]),
        )
    };
    assert_eq!(resets(bronze), vec![marker(0), marker(1)]);
    let lineage = run_ingot_ok([
        "lineage",
        "--pipeline",
        file.to_str().expect("utf-8"),
        "bronze",
    ]);
    let lineage = String::from_utf8_lossy(&lineage.stdout);
    assert_eq!(lineage.matches("ingest (reset)").count(), 2, "{lineage}");
}

#[test]
fn a_new_cluster_stops_ingest_by_default_and_reset_starts_each_partition_over() {
    let lake = Lake::new();
    let bronze = lake.root().join("default/events/bronze");
    ingest_from_a_first_cluster(&lake, &bronze);

    // A new, empty cluster with the same topic: partition 0 gets fewer
    // records than bronze holds of it, partition 1 none.
    let second = Broker::start();
    second.create_topic(TOPIC, 2);
    produce_to(&second, 0, "new", 300);
    assert_the_default_fails_and_writes_nothing(&lake, &second, &bronze);

    // reset: each partition starts over, recorded in a commit of its own.
    let file = pipeline(&lake, &second, "on-data-loss = \"reset\"");
    let out = run_once(&file);
    assert!(out.status.success(), "{}", stderr(&out));
    let now = rows(&bronze);
    assert_eq!(now.len(), 2300);
    assert_exactly_once(&now, "old", 0, 1200);
    assert_exactly_once(&now, "old", 1, 800);
    assert_exactly_once(&now, "new", 0, 300);
    assert_reset_markers(&file, &bronze);
    let progress = txns(&bronze);
    assert_eq!(progress["events/events/0"], 299);
    assert_eq!(progress["events/events/1"], -1);

    // An idle run commits nothing, and resets nothing again.
    let versions = log(&bronze).len();
    assert!(run_once(&file).status.success());
    assert_eq!(
        log(&bronze).len(),
        versions,
        "an idle run after a reset commits nothing"
    );

    // Partition 1's last commit is its reset (what a crash right after it
    // leaves): records arriving now land once, with no second reset.
    produce_to(&second, 1, "new", 50);
    let out = run_once(&file);
    assert!(out.status.success(), "{}", stderr(&out));
    let now = rows(&bronze);
    assert_eq!(now.len(), 2350);
    assert_exactly_once(&now, "new", 1, 50);
    assert_exactly_once(&now, "new", 0, 300);
    assert_eq!(resets(&bronze).len(), 2, "no second reset");
    assert_eq!(txns(&bronze)["events/events/1"], 49);
}
