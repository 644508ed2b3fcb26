//! Fault injection: the host aborted at a named crash point
//! (`ingot_core::fault`, armed through `INGOT_FAULT`) between two commits,
//! restarted, and every table compared with the answer computed from the
//! produced records; and a stage whose input's history is gone.
//! `faults_workloads` crashes the osquery and Debezium workloads, and the
//! log pipeline at random points.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Broker, Lake, modules, run_ingot_ok, run_ingot_with_fault, spawn_ingot},
    lake,
    medallion::{assert_tables, log_pipeline, run_once},
};

/// Whether `out` is a run that aborted at its armed crash point.
pub(crate) fn crashed(out: &Output) -> bool {
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("fault injected at")
}

/// The arguments of `ingot run <pipeline> --once`.
pub(crate) fn once_args(pipeline: &Path) -> [&OsStr; 3] {
    ["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]
}

/// Runs `ingot args…` with the crash points `fault` armed and asserts it
/// aborted at one of them (showing the tail of its log if not).
pub(crate) fn run_crashing<I, S>(fault: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = run_ingot_with_fault(fault, args);
    assert!(
        crashed(&out),
        "the run reached crash point {fault} and aborted there: {}\n{}",
        out.status,
        harness::tail_text(&String::from_utf8_lossy(&out.stderr), 30)
    );
    out
}

/// The arguments of `ingot deploy` of `module` to stage `stage` of
/// `pipeline`, with the config entry `config` (`KEY=VALUE`) over the
/// pipeline file's.
pub(crate) fn deploy_args(
    pipeline: &Path,
    stage: &str,
    module: &Path,
    config: &str,
) -> Vec<String> {
    [
        "deploy",
        "--pipeline",
        &pipeline.display().to_string(),
        "--stage",
        stage,
        &module.display().to_string(),
        "--config",
        config,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Removes the JSON commits of the Delta log at `log` below its newest
/// checkpoint, as a log cleanup does once the retention has passed; returns
/// that checkpoint's version, the oldest the log still holds.
fn clean_below_checkpoint(log: &Path) -> i64 {
    let checkpoint = std::fs::read_dir(log)
        .unwrap_or_else(|e| panic!("list {}: {e}", log.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            name.strip_suffix(".checkpoint.parquet")?
                .parse::<i64>()
                .ok()
        })
        .max()
        .unwrap_or_else(|| panic!("{} has a checkpoint", log.display()));
    for version in 0..checkpoint {
        std::fs::remove_file(log.join(format!("{version:020}.json"))).expect("remove");
    }
    checkpoint
}

/// The newest version whose JSON commit is in the Delta log at `log`, read
/// from the directory listing.
fn newest_commit(log: &Path) -> i64 {
    std::fs::read_dir(log)
        .unwrap_or_else(|e| panic!("list {}: {e}", log.display()))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".json")?.parse::<i64>().ok())
        .max()
        .unwrap_or_else(|| panic!("{} has commits", log.display()))
}

/// The crash points of one medallion run, in turn: each `--once` run
/// aborts at its point, more records arrive, and the next run starts from
/// what the crash left.
///
/// With 600 records a run (one bronze commit, 2-4% malformed) the runs go:
/// crash after the bronze commit; after silver's quarantine commit (its
/// range is pinned); after the pinned redo's output commit; in the second
/// slice of silver's module call; after gold's first quarantine commit (the
/// one that creates its output table goes through it); after gold's first
/// output commit; at the first status save (the run's start, before
/// ingest: nothing happens, the next run has two chunks); in the first
/// module call.
const POINTS: &[&str] = &[
    "bronze-commit#1",
    "quarantine-commit#1",
    "output-commit#1",
    "module-call#2",
    "quarantine-commit#2",
    "output-commit#2",
    "status-save#1",
    "module-call#1",
];

#[test]
fn crashing_at_every_commit_point_loses_and_duplicates_nothing() {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let lake = Lake::new();
    let pipeline = lake.write_pipeline(&log_pipeline(&broker.bootstrap(), &lake, ""));
    let lines = logs::generate(600 * (POINTS.len() + 1), 21);
    let mut chunks = lines.chunks(600);
    let mut crashes = 0;
    for point in POINTS {
        let chunk = chunks.next().expect("a chunk per point");
        harness::produce(
            &broker.bootstrap(),
            "logs",
            chunk.iter().map(LogLine::to_kafka),
        );
        run_crashing(point, once_args(&pipeline));
        crashes += 1;
    }
    // A deploy that dies right after its registry commit: the deployment
    // is recorded, and the next run switches to it.
    let deploy = deploy_args(&pipeline, "silver", &modules().log_parse, "note=redeployed");
    run_crashing("registry-commit", &deploy);
    crashes += 1;
    let last = chunks.next().expect("the last chunk");
    harness::produce(
        &broker.bootstrap(),
        "logs",
        last.iter().map(LogLine::to_kafka),
    );
    run_once(&pipeline);
    eprintln!(
        "{crashes} crashes at {} distinct points, then one clean run",
        POINTS.len() + 1
    );
    assert_tables(&lake, &lines);
}

/// A step commits its rejects, dies before its output commit, and a deploy
/// changes what the module rejects before the restart. The redo runs the
/// module as the first attempt did, so each row ends in exactly one of the
/// output and the quarantine (before the fix, the redo ran the new module,
/// which passed the poison rows that were already quarantined: in both).
#[test]
fn a_redo_after_a_deploy_reproduces_the_first_attempts_rejects() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    let hostile = &modules().hostile;
    let pipeline = lake.write_pipeline(&format!(
        r#"
name = "logs"
[kafka]
brokers = "{}"
topics = ["logs"]
[lake]
root = "{}"
[[stages]]
name = "rogue"
module = "{}"
batch-rows = 256
config = {{ behaviour = "poison", needle = "POISON-PILL" }}
limits = {{ max-attempts = 1 }}
"#,
        broker.bootstrap(),
        lake.root().display(),
        hostile.display(),
    ));
    let poison = |i: usize| {
        (
            Some(format!("poison-{i}").into_bytes()),
            Some(format!("{{\"msg\":\"POISON-PILL {i}\"}}").into_bytes()),
        )
    };
    let lines = logs::generate(800, 8);
    let mut records: Vec<_> = lines.iter().map(LogLine::to_kafka).collect();
    for at in [700, 300] {
        records.insert(at, poison(at));
    }
    harness::produce(&broker.bootstrap(), "logs", records);
    run_crashing("quarantine-commit#1", once_args(&pipeline));

    // The new module rejects nothing.
    run_ingot_ok(deploy_args(&pipeline, "rogue", hostile, "behaviour=ok"));
    run_once(&pipeline);

    let root = lake.root().display().to_string();
    let rogue = format!("{root}/default/logs/rogue");
    let quarantine = format!("{rogue}_quarantine");
    assert_eq!(
        lake::count(&rogue),
        800,
        "every other row in the output, once"
    );
    assert_eq!(
        lake::i64s(
            &rogue,
            "SELECT CAST(count(*) AS BIGINT) FROM t WHERE CAST(value AS VARCHAR) LIKE '%POISON-PILL%'"
        ),
        vec![0],
        "no quarantined row in the output"
    );
    assert_eq!(lake::count(&quarantine), 2, "the two poison rows, once");
}

/// A stage added to a pipeline whose input's log no longer starts at
/// version 0 (a log cleanup removed the JSON commits a checkpoint covers)
/// derives itself from the input's snapshot, then follows its change feed.
#[test]
fn a_new_stage_on_an_input_with_cleaned_history_starts_from_its_snapshot() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    // Small bronze commits, so bronze passes delta-rs's checkpoint interval
    // (100 commits) and has a checkpoint to load from.
    let toml = log_pipeline(&broker.bootstrap(), &lake, "")
        .replace("max-records = 2000", "max-records = 10");
    let pipeline = lake.write_pipeline(&toml);
    let lines = logs::generate(1_200, 4);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    run_once(&pipeline);
    clean_below_checkpoint(&lake.root().join("default/logs/bronze/_delta_log"));
    // A second silver, new, reads bronze from its snapshot.
    let m = modules();
    let again = format!(
        "{toml}\n[[stages]]\nname = \"silver2\"\ninput = \"bronze\"\nmodule = \"{}\"\n",
        m.log_parse.display()
    );
    let pipeline = lake.write_pipeline(&again);
    run_once(&pipeline);
    let good = lines.iter().filter(|l| l.is_well_formed()).count() as i64;
    let silver2 = crate::medallion::uri(&lake, "silver2");
    assert_eq!(
        lake::count(&silver2),
        good,
        "every well-formed record, once"
    );
    let bad = lines.len() as i64 - good;
    assert_eq!(lake::count(&format!("{silver2}_quarantine")), bad);
}

/// A stage that has progress, and whose input's log was cleaned past the
/// next version it needs, stops: `--once` exits 1 with an error naming the
/// stage, the input table, the versions it needs and the oldest one left,
/// commits nothing, and says the same on the next run (it neither loops
/// nor carries on from the versions that are left).
#[test]
fn a_stage_behind_its_inputs_cleaned_history_stops_naming_the_missing_versions() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    // Bronze commits of 10 records, so 1,200 records pass delta-rs's
    // checkpoint interval (100 commits); a step may take every version.
    let toml = log_pipeline(&broker.bootstrap(), &lake, "")
        .replace("max-records = 2000", "max-records = 10")
        .replace(
            "[[stages]]\n",
            "[[stages]]\nmax-versions-per-commit = 1000\n",
        );
    let pipeline = lake.write_pipeline(&toml);
    let lines = logs::generate(1_200, 9);
    let (first, rest) = lines.split_at(50);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        first.iter().map(LogLine::to_kafka),
    );
    run_once(&pipeline);
    let root = lake.root().join("default/logs");
    let bronze_log = root.join("bronze/_delta_log");
    let silver_log = root.join("silver/_delta_log");
    // Silver read all of bronze; then bronze moves on without it (the run
    // dies in silver's first module call, after ingest).
    let read = newest_commit(&bronze_log);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        rest.iter().map(LogLine::to_kafka),
    );
    run_crashing("module-call#1", once_args(&pipeline));
    let latest = newest_commit(&bronze_log);
    let oldest = clean_below_checkpoint(&bronze_log);
    assert!(
        read + 1 < oldest && oldest <= latest,
        "silver needs version {} and the log now holds {oldest}..={latest}",
        read + 1
    );
    let silver_version = newest_commit(&silver_log);
    // The error `--once` reports last; the input as a URI or a path.
    let expected = [
        format!(
            "stage default/logs/silver needs versions {}..={latest} of its input ",
            read + 1
        ),
        format!(
            "{}, but the input's log now starts at version {oldest} ",
            root.join("bronze").display()
        ),
    ];
    for attempt in ["first", "second"] {
        assert_stops_with(&pipeline, &expected, attempt);
        assert_eq!(
            newest_commit(&silver_log),
            silver_version,
            "the {attempt} run committed nothing to silver"
        );
    }
}

/// Runs `--once` on `pipeline` (for two minutes at most) and asserts it
/// exits 1 and reports an error line holding every part of `expected`.
fn assert_stops_with(pipeline: &Path, expected: &[String], attempt: &str) {
    let mut run = spawn_ingot(once_args(pipeline));
    let status = run.wait_exit(Duration::from_secs(120));
    assert_eq!(
        status.code(),
        Some(1),
        "the {attempt} run fails, and exits by itself:\n{}",
        run.tail()
    );
    let reported = run.log().lines().any(|line| {
        line.starts_with("error: ") && expected.iter().all(|part| line.contains(part.as_str()))
    });
    assert!(
        reported,
        "the {attempt} run names the missing versions: {expected:?}\n{}",
        run.tail()
    );
}
