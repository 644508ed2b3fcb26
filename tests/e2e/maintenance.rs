//! Table maintenance: the table commands (`history`, `optimize`, `vacuum`,
//! `checkpoint`, `restore`) over a pipeline's tables, and automatic
//! maintenance in a continuous run under a producer. Every table is checked
//! against the answer computed from the produced records, and read back by
//! the `deltalake` Python package and polars after the operations.

use std::{path::Path, thread, time::Duration};

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Broker, Lake, modules, readers},
    lake,
    medallion::{assert_tables, log_pipeline, run_once_on, uri, wait_for_gold},
};

/// `ingot COMMAND --pipeline FILE TABLE EXTRA...`, which must succeed.
fn table_command_ok(
    lake: &Lake,
    pipeline: &Path,
    command: &str,
    table: &str,
    extra: &[&str],
) -> std::process::Output {
    let pipeline = pipeline.display().to_string();
    let mut args: Vec<&str> = vec![command, "--pipeline", pipeline.as_str(), table];
    args.extend_from_slice(extra);
    lake.run_ingot_ok(args)
}

/// [`table_command_ok`]'s stdout.
fn table_command(
    lake: &Lake,
    pipeline: &Path,
    command: &str,
    table: &str,
    extra: &[&str],
) -> String {
    let out = table_command_ok(lake, pipeline, command, table, extra);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`table_command`], for a command that must fail; its stderr.
fn failing_table_command(
    lake: &Lake,
    pipeline: &Path,
    command: &str,
    table: &str,
    extra: &[&str],
) -> String {
    let pipeline = pipeline.display().to_string();
    let mut args: Vec<&str> = vec![command, "--pipeline", pipeline.as_str(), table];
    args.extend_from_slice(extra);
    let out = lake.run_ingot(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "{command} {table} {extra:?} should fail:\n{stderr}"
    );
    stderr
}

/// The log pipeline with small bronze commits and no automatic maintenance
/// (the commands do it here).
fn manual_pipeline(broker: &Broker, lake: &Lake) -> String {
    log_pipeline(&broker.bootstrap(), lake, "").replace("max-records = 2000", "max-records = 50")
        + "\n[maintenance]\nenabled = false\n"
}

/// `toml` without its stages: the same pipeline's ingest alone.
fn ingest_only(toml: &str) -> String {
    let head = toml.split("[[stages]]").next().expect("a pipeline file");
    format!("{head}\n[maintenance]\nenabled = false\n")
}

/// `history`, `optimize`, `vacuum` and `checkpoint` on the tables of a
/// pipeline whose silver lags behind bronze: the history names every
/// version and the module of each stage commit; the compaction changes no
/// data a reader of the change feed sees; a vacuum that would delete files
/// silver still needs is refused, and allowed once silver caught up.
#[test]
fn table_commands_keep_every_reader_correct() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake_dir = Lake::new();
    let (pipeline, lines) = with_silver_behind(&broker, &lake_dir);
    history_names_every_version_and_module(&lake_dir, &pipeline);
    compaction_changes_nothing_a_reader_sees(&lake_dir, &pipeline);
    vacuum_keeps_what_silver_needs(&lake_dir, &pipeline, &lines);
    history_as_json_is_whole(&lake_dir, &pipeline);
    assert_tables(&lake_dir, &lines);
}

/// 1,000 records through the whole pipeline, then 500 more into bronze
/// alone (the same pipeline's ingest, its stages left out): silver lags
/// bronze by many small commits. Returns the pipeline file and the records.
fn with_silver_behind(broker: &Broker, lake_dir: &Lake) -> (std::path::PathBuf, Vec<LogLine>) {
    let toml = manual_pipeline(broker, lake_dir);
    let pipeline = lake_dir.write_pipeline(&toml);
    let lines = logs::generate(1_500, 11);
    let (first, later) = lines.split_at(1_000);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        first.iter().map(LogLine::to_kafka),
    );
    run_once_on(lake_dir, &pipeline);
    let ingest = lake_dir.dir().join("ingest-only.toml");
    std::fs::write(&ingest, ingest_only(&toml)).expect("write the ingest-only pipeline");
    harness::produce(
        &broker.bootstrap(),
        "logs",
        later.iter().map(LogLine::to_kafka),
    );
    run_once_on(lake_dir, &ingest);
    let files = readers::read(&uri(lake_dir, "bronze"), None, &[], None).files();
    assert!(files > 20, "many small bronze files: {files}");
    (pipeline, lines)
}

/// Every version of silver, its stage commits naming the module.
fn history_names_every_version_and_module(lake_dir: &Lake, pipeline: &Path) {
    let history = table_command(lake_dir, pipeline, "history", "silver", &[]);
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        std::fs::read(&modules().log_parse).expect("read log_parse.wasm"),
    ));
    let silver_version = lake::open(&uri(lake_dir, "silver")).version();
    for v in 0..=silver_version {
        assert!(
            history.lines().any(|l| l.starts_with(&format!("{v} "))),
            "history lists version {v}:\n{history}"
        );
    }
    assert!(
        history.contains(ingot_core::short_digest(&digest)),
        "{history}"
    );
}

/// A compaction of bronze: one file, the same rows, nothing in the change
/// feed.
fn compaction_changes_nothing_a_reader_sees(lake_dir: &Lake, pipeline: &Path) {
    let out = table_command(lake_dir, pipeline, "optimize", "bronze", &[]);
    assert!(out.contains("no data changed"), "{out}");
    let after = readers::read(&uri(lake_dir, "bronze"), None, &[], Some(0));
    assert_eq!(after.files(), 1, "compacted into one file");
    assert_eq!(after.rows(), 1_500);
    assert_eq!(
        after.changes("insert"),
        1_500,
        "the feed holds each record once"
    );
    assert_eq!(after.changes("delete"), 0, "the compaction is no change");
}

/// Silver has not read the last bronze versions: a vacuum that would
/// delete their files is refused. Once silver caught up (through the
/// compacted bronze), it deletes them; a checkpoint follows.
fn vacuum_keeps_what_silver_needs(lake_dir: &Lake, pipeline: &Path, lines: &[LogLine]) {
    let now = ["--retention", "0s"];
    let refused = failing_table_command(lake_dir, pipeline, "vacuum", "bronze", &now);
    assert!(
        refused.contains("stage silver has not read version"),
        "{refused}"
    );
    let dry = ["--retention", "0s", "--dry-run", "--force"];
    let listed = table_command(lake_dir, pipeline, "vacuum", "bronze", &dry);
    assert!(
        listed.lines().count() > 20,
        "a forced dry run lists the compacted files:\n{listed}"
    );

    run_once_on(lake_dir, pipeline);
    assert_tables(lake_dir, lines);
    let vacuumed = table_command_ok(lake_dir, pipeline, "vacuum", "bronze", &now);
    let said = String::from_utf8_lossy(&vacuumed.stderr);
    assert!(
        said.contains("deleted") && !said.contains("deleted 0 files"),
        "{said}"
    );
    let out = table_command(lake_dir, pipeline, "checkpoint", "bronze", &[]);
    assert!(out.contains("checkpoint at version"), "{out}");
    assert_eq!(
        readers::read(&uri(lake_dir, "bronze"), None, &[], None).rows(),
        1_500
    );
}

/// Bronze's whole history as JSON: contiguous versions, the compaction
/// recorded as no data change.
fn history_as_json_is_whole(lake_dir: &Lake, pipeline: &Path) {
    let json = table_command(lake_dir, pipeline, "history", "bronze", &["--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&json).expect("history JSON");
    let versions: Vec<i64> = entries
        .iter()
        .filter_map(|e| e["version"].as_i64())
        .collect();
    let newest = *versions.last().expect("versions");
    assert_eq!(versions, (0..=newest).collect::<Vec<_>>(), "every version");
    assert!(
        entries
            .iter()
            .any(|e| e["operation"] == "OPTIMIZE" && e["data_change"] == false),
        "{json}"
    );
}

/// Restoring silver to an earlier version rewinds the stage: its rows and
/// rejects of later input versions leave, it derives them again, and gold
/// (an accumulate downstream, which sees the restore as deletes and
/// inserts) ends equal to gold derived from the final silver and to the
/// answer computed from the records.
#[test]
fn restoring_silver_rederives_it_and_gold_follows() {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let lake_dir = Lake::new();
    let pipeline = lake_dir.write_pipeline(&log_pipeline(&broker.bootstrap(), &lake_dir, ""));
    let lines = logs::generate(3_000, 21);
    let (first, later) = lines.split_at(1_500);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        first.iter().map(LogLine::to_kafka),
    );
    run_once_on(&lake_dir, &pipeline);
    let silver = uri(&lake_dir, "silver");
    let restore_to = lake::open(&silver).version();
    harness::produce(
        &broker.bootstrap(),
        "logs",
        later.iter().map(LogLine::to_kafka),
    );
    run_once_on(&lake_dir, &pipeline);
    assert_tables(&lake_dir, &lines);

    let version = restore_to.to_string();
    let out = table_command(
        &lake_dir,
        &pipeline,
        "restore",
        "silver",
        &["--version", version.as_str()],
    );
    assert!(
        out.contains(&format!("is version {restore_to} again")),
        "{out}"
    );
    silver_is_as_it_was(&lake_dir, first, later);

    run_once_on(&lake_dir, &pipeline);
    assert_tables(&lake_dir, &lines);
    gold_is_derived_from_silver(&lake_dir);
    let operations = readers::read(&silver, None, &[], None).operations();
    assert!(
        operations.iter().any(|op| op == "RESTORE"),
        "silver's history shows the restore"
    );

    // Bronze and a stage's side tables are refused, naming why.
    let back = ["--version", "1"];
    let stderr = failing_table_command(&lake_dir, &pipeline, "restore", "bronze", &back);
    assert!(
        stderr.contains("ingest skip or read records again"),
        "{stderr}"
    );
    let stderr = failing_table_command(&lake_dir, &pipeline, "restore", "silver_quarantine", &back);
    assert!(stderr.contains("restore silver"), "{stderr}");
}

/// Just after the restore, before the stage re-derives anything: silver
/// holds the rows of the `first` records, its change feed deletes those
/// of the `later` ones, and the quarantine holds the rejects of `first`.
fn silver_is_as_it_was(lake_dir: &Lake, first: &[LogLine], later: &[LogLine]) {
    let silver = uri(lake_dir, "silver");
    let good = |lines: &[LogLine]| lines.iter().filter(|l| l.is_well_formed()).count() as i64;
    let restore_commit = lake::open(&silver).version();
    let restored = readers::read(&silver, None, &[], Some(restore_commit));
    assert_eq!(restored.version(), restore_commit);
    assert_eq!(restored.rows(), good(first), "silver as it was");
    assert_eq!(
        (restored.changes("delete"), restored.changes("insert")),
        (good(later), 0),
        "the restore's change feed deletes the undone rows"
    );
    assert_eq!(
        lake::count(&uri(lake_dir, "silver_quarantine")),
        first.len() as i64 - good(first),
        "the rejects of the undone versions left the quarantine"
    );
}

/// Gold against a derivation of silver by polars: per level, the rows and
/// the sum of their latencies.
fn gold_is_derived_from_silver(lake_dir: &Lake) {
    let derived = readers::read(
        &uri(lake_dir, "silver"),
        Some("level"),
        &["latency_ms"],
        None,
    );
    let measures = ["count", "latency_ms_sum"];
    let gold = readers::read(&uri(lake_dir, "gold"), Some("level"), &measures, None);
    assert_eq!(gold.group_names(), derived.group_names());
    for level in derived.group_names() {
        assert_eq!(
            gold.group(&level, "count"),
            derived.group(&level, "rows"),
            "{level}"
        );
        assert_eq!(
            gold.group(&level, "latency_ms_sum"),
            derived.group(&level, "latency_ms"),
            "{level}"
        );
    }
}

/// A continuous run with eager maintenance under a running producer:
/// compactions, checkpoints, log cleanups and vacuums happen while ingest
/// and the stages commit, and every table ends exactly right.
#[test]
fn automatic_maintenance_under_a_running_producer() {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let lake_dir = Lake::new();
    let toml = log_pipeline(&broker.bootstrap(), &lake_dir, "")
        .replace("max-records = 2000", "max-records = 100")
        + r#"
[maintenance]
interval-seconds = 0.5
compact-min-files = 4
checkpoint-interval = 10
log-retention-hours = 0
vacuum-retention-hours = 0
vacuum-interval-hours = 0
"#;
    let pipeline = lake_dir.write_pipeline(&crate::medallion::reading_every_partition(&toml));
    let lines = logs::generate(8_000, 31);
    let mut host = lake_dir.spawn_ingot(["run".as_ref(), pipeline.as_os_str()]);
    let producer = {
        let bootstrap = broker.bootstrap();
        let chunks: Vec<Vec<LogLine>> = lines.chunks(500).map(<[LogLine]>::to_vec).collect();
        thread::spawn(move || {
            for chunk in chunks {
                harness::produce(&bootstrap, "logs", chunk.iter().map(LogLine::to_kafka));
                thread::sleep(Duration::from_millis(400));
            }
        })
    };
    producer.join().expect("producer thread");
    wait_for_gold(&lake_dir, &lines, &host);
    // Caught up, the next passes may vacuum what the compactions removed.
    host.wait_for_log("vacuumed", Duration::from_secs(60));
    let status = host.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}:\n{}", host.tail());
    let log = host.log();
    for done in ["compacted", "wrote a checkpoint", "vacuumed"] {
        assert!(log.contains(done), "the run {done}:\n{}", host.tail());
    }
    assert_tables(&lake_dir, &lines);
    // Gold is a few rows a MERGE rewrites: it never gathers small files.
    for table in ["bronze", "silver"] {
        let read = readers::read(&uri(&lake_dir, table), None, &[], None);
        assert!(
            read.operations().iter().any(|op| op == "OPTIMIZE"),
            "{table} was compacted"
        );
    }
    let good = lines.iter().filter(|l| l.is_well_formed()).count() as i64;
    assert_eq!(
        readers::read(&uri(&lake_dir, "silver"), None, &[], None).rows(),
        good
    );
}

/// The Debezium workload (silver an upsert with tombstones, gold an
/// accumulate of its change feed): silver restored to a version half way
/// through rewinds its tombstones too, re-derives the rest, and silver and
/// gold end equal to the source table's final state, computed from the
/// events alone.
#[test]
fn restoring_an_upsert_stage_rewinds_its_tombstones_and_converges() {
    use crate::debezium;
    use crate::harness::workloads;

    let broker = Broker::start();
    broker.create_topic(debezium::TOPIC, 3);
    let lake_dir = Lake::new();
    let pipeline = workloads::example_pipeline("debezium", &broker.bootstrap(), &lake_dir);
    let records = workloads::produce_sample(
        &broker.bootstrap(),
        debezium::TOPIC,
        "debezium",
        (4_000, 5),
        0,
    );
    crate::medallion::run_once(&pipeline);
    let state = debezium::final_state(&records);
    debezium::assert_tables(&lake_dir, &state);

    let silver = debezium::uri(&lake_dir, "silver");
    let half = lake::open(&silver).version() / 2;
    let tombstones_before = lake::open(&debezium::uri(&lake_dir, "silver_tombstones")).version();
    let version = half.to_string();
    let out = table_command(
        &lake_dir,
        &pipeline,
        "restore",
        "silver",
        &["--version", version.as_str()],
    );
    assert!(out.contains("silver_tombstones: restored"), "{out}");
    assert!(
        lake::open(&debezium::uri(&lake_dir, "silver_tombstones")).version() > tombstones_before,
        "the tombstones went back too"
    );
    crate::medallion::run_once(&pipeline);
    debezium::assert_tables(&lake_dir, &state);
    let gold = readers::read(&debezium::uri(&lake_dir, "gold"), None, &[], None);
    assert!(gold.rows() > 0, "gold reads back independently");
}
