//! Fault injection: the host aborted at a named crash point
//! (`ingot_core::fault`, armed through `INGOT_FAULT`) between two commits,
//! restarted, and every table compared with the answer computed from the
//! produced records.

use std::process::Output;

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Broker, Lake, modules, run_ingot_ok, run_ingot_with_fault},
    lake,
    medallion::{assert_tables, log_pipeline, run_once},
};

/// Whether `out` is a run that aborted at its armed crash point.
fn crashed(out: &Output) -> bool {
    !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("fault injected at")
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
/// output commit; after the first status save; in the first module call.
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
        let out = run_ingot_with_fault(
            point,
            ["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            crashed(&out),
            "the run reached crash point {point} and aborted there: {}\n{}",
            out.status,
            harness::tail_text(&stderr, 30)
        );
        crashes += 1;
    }
    // A deploy that dies right after its registry commit: the deployment
    // is recorded, and the next run switches to it.
    let pipeline_arg = pipeline.display().to_string();
    let log_parse = modules().log_parse.display().to_string();
    let out = run_ingot_with_fault(
        "registry-commit",
        [
            "deploy",
            "--pipeline",
            &pipeline_arg,
            "--stage",
            "silver",
            &log_parse,
            "--config",
            "note=redeployed",
        ],
    );
    assert!(
        crashed(&out),
        "deploy aborted after its registry commit: {out:?}"
    );
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
    let hostile = modules().hostile.display().to_string();
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
module = "{hostile}"
batch-rows = 256
config = {{ behaviour = "poison", needle = "POISON-PILL" }}
limits = {{ max-attempts = 1 }}
"#,
        broker.bootstrap(),
        lake.root().display(),
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
    let out = run_ingot_with_fault(
        "quarantine-commit#1",
        ["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()],
    );
    assert!(
        crashed(&out),
        "aborted after the quarantine commit: {out:?}"
    );

    // The new module rejects nothing.
    let pipeline_arg = pipeline.display().to_string();
    run_ingot_ok([
        "deploy",
        "--pipeline",
        &pipeline_arg,
        "--stage",
        "rogue",
        &hostile,
        "--config",
        "behaviour=ok",
    ]);
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
    let bronze_log = lake.root().join("default/logs/bronze/_delta_log");
    let checkpoint = std::fs::read_dir(&bronze_log)
        .expect("bronze log")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            name.strip_suffix(".checkpoint.parquet")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .expect("bronze has a checkpoint");
    // The cleanup a checkpoint allows once the retention has passed.
    for version in 0..checkpoint {
        std::fs::remove_file(bronze_log.join(format!("{version:020}.json"))).expect("remove");
    }
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
