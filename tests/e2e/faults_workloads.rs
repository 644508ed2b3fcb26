//! Fault injection beyond the log pipeline's fixed schedule
//! ([`crate::faults`]): the osquery and Debezium workloads crashed at every
//! point each reaches, in both of their stages, with a deploy of a
//! configuration that rejects every event while a range is pinned; and the
//! log pipeline crashed at a random sequence of points. Records arrive
//! between the runs; each test ends with a clean run, and every table is
//! compared with the answer computed from the records the topic holds.
//!
//! Bronze commits here end inside what a producer would send as one record
//! batch, so a crash leaves ingest to resume mid-batch; the records go out
//! one batch each ([`harness::produce_unbatched`]: Tansu 0.6 cannot serve a
//! fetch from inside a batch).
//!
//! Where a run must crash in gold rather than silver, the schedule gives
//! silver nothing to commit at that point (it rejects nothing, or it has
//! caught up and the run brings no new records), and the test checks
//! afterwards that the crash left gold, not silver, where it meant to.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::str::FromStr;

use ingot_sample::Record;
use ingot_sample::debezium::DebeziumSample;
use ingot_sample::logs::{self, LogLine};
use ingot_sample::osquery::OsquerySample;

use crate::{
    debezium,
    faults::{crashed, deploy_args, once_args, run_crashing},
    harness::{
        self, Broker, Consumed, Lake, modules, run_ingot_ok, run_ingot_with_fault, workloads,
    },
    lake,
    medallion::{assert_tables, log_pipeline, run_once},
    osquery,
};

/// A seed workload under crashes: its broker, lake and example pipeline,
/// and the stream its records come from, a chunk before each run.
struct Workload {
    broker: Broker,
    lake: Lake,
    pipeline: PathBuf,
    /// The pipeline's name and topic.
    name: &'static str,
    topic: &'static str,
    /// The URI of one of its tables (the workload test's own `uri`).
    uri: fn(&Lake, &str) -> String,
    stream: Box<dyn Iterator<Item = Record>>,
    produced: usize,
    /// The crash points the runs aborted at, in order.
    crashes: Vec<String>,
}

impl Workload {
    /// `examples/<example>.toml` (pipeline `name`; bronze commits of at
    /// most 97 records, one input version per stage commit) on a new
    /// broker, whose `topic` has 3 partitions, and a new lake.
    fn start(
        (example, name): (&str, &'static str),
        topic: &'static str,
        uri: fn(&Lake, &str) -> String,
        stream: impl Iterator<Item = Record> + 'static,
    ) -> Self {
        let broker = Broker::start();
        broker.create_topic(topic, 3);
        let lake = Lake::new();
        let pipeline = workloads::example_pipeline(example, &broker.bootstrap(), &lake);
        Workload {
            broker,
            lake,
            pipeline,
            name,
            topic,
            uri,
            stream: Box::new(stream),
            produced: 0,
            crashes: Vec::new(),
        }
    }

    fn uri(&self, table: &str) -> String {
        (self.uri)(&self.lake, table)
    }

    /// Produces the next `records` of the stream.
    fn produce(&mut self, records: usize) {
        let chunk = self
            .stream
            .by_ref()
            .take(records)
            .map(|(k, v)| (Some(k), v));
        let sent = harness::produce_unbatched(&self.broker.bootstrap(), self.topic, chunk);
        assert_eq!(sent, records, "the stream holds {records} more records");
        self.produced += sent;
    }

    /// Produces `records`, then runs `--once` armed at `point`, which the
    /// run must reach and abort at.
    fn crash(&mut self, records: usize, point: &str) -> Output {
        self.produce(records);
        let out = run_crashing(point, once_args(&self.pipeline));
        self.crashes.push(point.to_owned());
        out
    }

    /// Deploys `module` to silver with the config entry `config` over the
    /// pipeline file's; with `crash`, the deploy aborts right after its
    /// registry commit (the deployment is recorded all the same).
    fn deploy(&mut self, module: &Path, config: &str, crash: bool) {
        let args = deploy_args(&self.pipeline, "silver", module, config);
        if crash {
            run_crashing("registry-commit", &args);
            self.crashes.push("registry-commit".to_owned());
        } else {
            run_ingot_ok(&args);
        }
    }

    /// Stage `stage`'s progress txn on `table` (its output or quarantine),
    /// `None` before the table or the txn exists.
    fn progress(&self, stage: &str, table: &str) -> Option<i64> {
        let uri = self.uri(table);
        lake::exists(&uri)
            .then(|| lake::stage_progress(&uri, self.name, stage))
            .flatten()
    }

    /// How many versions of `input` stage `stage` has yet to commit output
    /// for.
    fn behind(&self, stage: &str, input: &str) -> i64 {
        lake::open(&self.uri(input)).version() - self.progress(stage, stage).unwrap_or(-1)
    }

    /// Whether stage `stage` has a pinned range: a first attempt committed
    /// to its quarantine and not to its output.
    fn pinned(&self, stage: &str) -> bool {
        self.progress(stage, &format!("{stage}_quarantine")) > self.progress(stage, stage)
    }

    /// Produces `records`, runs `--once` to the end, checks bronze holds
    /// every record of the topic once and returns those records.
    fn finish(&mut self, records: usize) -> Vec<Consumed> {
        self.produce(records);
        run_once(&self.pipeline);
        let all = harness::consume(
            &self.broker.bootstrap(),
            self.topic,
            self.produced,
            std::time::Duration::from_secs(60),
        );
        assert_bronze(&self.uri("bronze"), &all);
        eprintln!(
            "{}: {} crashes ({}), then one clean run; {} records",
            self.name,
            self.crashes.len(),
            self.crashes.join(", "),
            self.produced
        );
        all
    }
}

/// Asserts bronze holds each of `records` once: its (partition, offset)
/// pairs are exactly theirs.
fn assert_bronze(bronze: &str, records: &[Consumed]) {
    let mut expected: Vec<String> = records
        .iter()
        .map(|r| format!("{}|{}", r.partition, r.offset))
        .collect();
    expected.sort_unstable();
    let mut got = lake::strings(bronze, "SELECT \"partition\", \"offset\" FROM t");
    got.sort_unstable();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|r| got.binary_search(r).is_err())
        .collect();
    assert!(
        got == expected,
        "bronze holds every (partition|offset) once: {} rows for {} records; missing {missing:?}",
        got.len(),
        expected.len()
    );
}

#[test]
fn the_osquery_workload_crashed_at_every_point_loses_and_duplicates_nothing() {
    let stream = OsquerySample::new(3, 30);
    let mut w = Workload::start(("osquery", "osquery"), osquery::TOPIC, osquery::uri, stream);
    // 250 records are at least three bronze commits.
    w.crash(250, "bronze-commit#2");
    // Silver's first step creates its output table through the quarantine.
    w.crash(250, "quarantine-commit#1");
    assert!(w.pinned("silver"), "silver's first range is pinned");
    w.crash(250, "output-commit#1");
    assert!(!w.pinned("silver"), "the pinned redo committed its output");
    // In silver's second step, after ingest took every record.
    w.crash(250, "module-call#2");
    // Gold, with no new records: silver's remaining steps make one module
    // call each (97 rows, one slice), then gold's first step calls its own.
    let silver_steps = w.behind("silver", "bronze");
    assert!(silver_steps > 0, "silver is behind after its crash");
    w.crash(0, &format!("module-call#{}", silver_steps + 1));
    assert_eq!(
        w.behind("silver", "bronze"),
        0,
        "the crash was in gold's call"
    );
    // Silver is idle: the run's first quarantine commit is gold's, which
    // creates gold's output table.
    w.crash(0, "quarantine-commit#1");
    assert!(w.pinned("gold"), "gold's first range is pinned");
    w.crash(0, "output-commit#1");
    assert!(!w.pinned("gold"), "gold's pinned redo committed its output");
    // The run's first status save is at its start, before ingest; the
    // second after a step (2 s on) or at the run's end.
    w.crash(250, "status-save#1");
    w.crash(250, "status-save#2");
    w.crash(250, "output-commit#2");
    let records = w.finish(250);
    let expected = osquery::expected(&records);
    osquery::assert_tables(&w.lake, &expected);
}

/// The deploy while silver's first range is pinned configures another
/// source table, so the new configuration rejects every event; the redo
/// runs the first attempt's configuration and quarantines nothing.
#[test]
fn the_debezium_workload_crashed_at_every_point_and_redeployed_while_pinned_loses_nothing() {
    let stream = DebeziumSample::new(12).snapshot_rows(150);
    let mut w = Workload::start(
        ("debezium", "voters"),
        debezium::TOPIC,
        debezium::uri,
        stream,
    );
    let cdc = modules().dir.join("debezium_cdc.wasm");
    w.crash(300, "bronze-commit#2");
    w.crash(300, "quarantine-commit#1");
    assert!(w.pinned("silver"), "silver's first range is pinned");
    w.deploy(&cdc, "table=public.other", false);
    let out = w.crash(300, "tombstones-commit#1");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("redoing the range with the module and configuration of its first attempt"),
        "the redo ran the first attempt's configuration, not the deployed one"
    );
    assert!(
        w.pinned("silver"),
        "a crash after the tombstones leaves it pinned"
    );
    w.crash(300, "output-commit#1");
    assert!(!w.pinned("silver"), "the pinned redo committed its output");
    // The pipeline file's table again, before silver's next range.
    w.deploy(&cdc, "table=public.voters", true);
    w.crash(300, "module-call#2");
    // Silver rejects nothing and has its table: the run's first quarantine
    // commit is gold's first step's, after silver caught up.
    w.crash(300, "quarantine-commit#1");
    assert!(w.pinned("gold"), "gold's first range is pinned");
    assert_eq!(w.behind("silver", "bronze"), 0, "silver caught up first");
    // No new records: silver is idle, the first output commit is gold's.
    w.crash(0, "output-commit#1");
    assert!(!w.pinned("gold"), "gold's pinned redo committed its output");
    w.crash(300, "status-save#1");
    w.crash(300, "status-save#2");
    w.crash(300, "tombstones-commit#3");
    let records = w.finish(300);
    let state = debezium::final_state(&records);
    debezium::assert_tables(&w.lake, &state);
}

/// Where a random log-pipeline run may abort: each point with the highest
/// occurrence it picks; a run of 100-400 records reaches most of them
/// (1-3 bronze commits, one step of each stage and gold's table creation
/// on the first, a status save at the start, every 2 s and at the end).
const RANDOM_POINTS: &[(&str, u64)] = &[
    ("bronze-commit", 3),
    ("quarantine-commit", 2),
    ("output-commit", 3),
    ("module-call", 4),
    ("status-save", 2),
];

/// A small deterministic generator (splitmix64): the same seed picks the
/// same points.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One or two (a third of the time) random points, as `INGOT_FAULT`
    /// takes them.
    fn fault(&mut self) -> String {
        let count = if self.below(3) == 0 { 2 } else { 1 };
        (0..count)
            .map(|_| {
                let (point, max) = RANDOM_POINTS[self.below(RANDOM_POINTS.len() as u64) as usize];
                format!("{point}#{}", 1 + self.below(max))
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The environment variable `name` parsed, else `default`.
fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
        Err(_) => default,
    }
}

/// `INGOT_FAULT_RUNS` runs (default 6; `./dev faults` runs 60) of the log
/// pipeline, each armed at points picked with `INGOT_FAULT_SEED` (printed;
/// the default, 7, picks each kind of point in its 6 runs), 100-400 new
/// records before each. A run whose points are not reached
/// must end normally. Then a clean run, and exact tables.
#[test]
fn crashing_at_random_points_loses_and_duplicates_nothing() {
    let seed = env_or("INGOT_FAULT_SEED", 7_u64);
    let runs = env_or("INGOT_FAULT_RUNS", 6_usize);
    eprintln!("INGOT_FAULT_SEED={seed} INGOT_FAULT_RUNS={runs}");
    let mut rng = SplitMix(seed);
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let lake = Lake::new();
    let toml = log_pipeline(&broker.bootstrap(), &lake, "")
        .replace("max-records = 2000", "max-records = 150");
    let pipeline = lake.write_pipeline(&toml);
    let lines = logs::generate(400 * (runs + 1), seed);
    let mut produced = 0;
    let mut produce = |n: usize| {
        let chunk = &lines[produced..produced + n];
        harness::produce_unbatched(
            &broker.bootstrap(),
            "logs",
            chunk.iter().map(LogLine::to_kafka),
        );
        produced += n;
    };
    let mut crashes = 0;
    for run in 1..=runs {
        let records = 100 + rng.below(301) as usize;
        produce(records);
        let fault = rng.fault();
        let out = run_ingot_with_fault(&fault, once_args(&pipeline));
        let outcome = if crashed(&out) {
            crashes += 1;
            "crashed"
        } else {
            assert!(
                out.status.success(),
                "run {run} (INGOT_FAULT={fault}) reached no point and failed: {}\n{}",
                out.status,
                harness::tail_text(&String::from_utf8_lossy(&out.stderr), 30)
            );
            "not reached: ran to the end"
        };
        eprintln!("run {run}: {records} new records, INGOT_FAULT={fault}: {outcome}");
    }
    produce(200);
    run_once(&pipeline);
    eprintln!("seed {seed}: {crashes} of {runs} runs crashed, then one clean run");
    assert!(
        runs == 0 || crashes > 0,
        "no run reached its points (seed {seed})"
    );
    assert_tables(&lake, &lines[..produced]);
}
