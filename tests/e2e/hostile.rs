//! Test 4 of the core: a module that traps, one that loops forever and one
//! that allocates without bound each fail with a clear error naming the
//! stage and the cause, within its deadline; the host survives and the
//! pipeline's other stages finish with correct results. The failing rows
//! end in the quarantine, and a poison row among good ones is narrowed down
//! and quarantined alone, so the stage moves on.

use std::time::{Duration, Instant};

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Broker, Lake, modules, run_ingot, run_ingot_ok, spawn_ingot},
    lake,
    medallion::{assert_tables, log_pipeline},
};

/// Runs the log pipeline plus a stage `rogue` (the hostile module with
/// `behaviour`) reading silver; returns stderr and how long the run took.
fn run_with_rogue(behaviour: &str) -> (String, Duration) {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let lake = Lake::new();
    let rogue = format!(
        r#"
[[stages]]
name = "rogue"
input = "silver"
module = "{}"
config = {{ behaviour = "{behaviour}" }}
limits = {{ memory-mib = 64, call-timeout-ms = 500, max-attempts = 2 }}
"#,
        modules().hostile.display()
    );
    let pipeline = lake.write_pipeline(&log_pipeline(&broker.bootstrap(), &lake, &rogue));
    let lines = logs::generate(1_000, 5);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let started = Instant::now();
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed stage exits 1 (the host did not crash):\n{stderr}"
    );
    assert!(
        stderr.contains("logs/rogue"),
        "the error names the stage:\n{stderr}"
    );
    // The healthy stages of the same host finished, exactly.
    assert_tables(&lake, &lines);
    (stderr.to_lowercase(), took)
}

#[test]
fn a_trapping_module_fails_its_stage_only() {
    let (stderr, _) = run_with_rogue("panic");
    assert!(
        stderr.contains("trap") && stderr.contains("panic"),
        "{stderr}"
    );
}

#[test]
fn a_looping_module_is_stopped_at_its_deadline() {
    let (stderr, took) = run_with_rogue("loop");
    assert!(
        stderr.contains("500ms") || stderr.contains("500 ms"),
        "names the deadline: {stderr}"
    );
    assert!(stderr.contains("time"), "says it ran out of time: {stderr}");
    // Two attempts of 500 ms plus backoff, ingest and the other stages.
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn an_allocating_module_is_stopped_at_its_memory_cap() {
    let (stderr, _) = run_with_rogue("alloc");
    assert!(
        stderr.contains("memory"),
        "says it ran out of memory: {stderr}"
    );
}

#[test]
fn a_poison_row_is_quarantined_alone_and_the_stage_moves_on() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
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
limits = {{ max-attempts = 2 }}
"#,
        broker.bootstrap(),
        lake.root().display(),
        modules().hostile.display()
    ));
    let lines = logs::generate(1_000, 5);
    let poison = |i: usize| {
        (
            Some(format!("poison-{i}").into_bytes()),
            Some(format!("{{\"msg\":\"POISON-PILL {i}\"}}").into_bytes()),
        )
    };
    // Three poison rows, in three different slices of the range.
    let mut records: Vec<_> = lines.iter().map(LogLine::to_kafka).collect();
    for at in [900, 500, 100] {
        records.insert(at, poison(at));
    }
    harness::produce(&broker.bootstrap(), "logs", records);
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the stage moved on past its poison rows:\n{}",
        harness::tail_text(&stderr, 40)
    );
    let root = lake.root().display().to_string();
    let rogue = format!("{root}/default/logs/rogue");
    assert_eq!(lake::count(&rogue), 1_000, "every other row was processed");
    let quarantine = format!("{rogue}_quarantine");
    assert_eq!(
        lake::i64s(
            &quarantine,
            "SELECT CAST(count(*) AS BIGINT) FROM t WHERE row LIKE '%POISON-PILL%' AND reason LIKE '%fails on this row%' AND reason LIKE '%poison row%'"
        ),
        vec![3],
        "exactly the poison rows, each alone, with the module's panic as the reason"
    );
    assert_eq!(lake::count(&quarantine), 3);

    // A fix is deployed; reprocess sends the three rows through it, once.
    let hostile = modules().hostile.display().to_string();
    let pipeline = pipeline.display().to_string();
    run_ingot_ok([
        "deploy",
        "--pipeline",
        &pipeline,
        "--stage",
        "rogue",
        &hostile,
        "--config",
        "behaviour=ok",
    ]);
    let reprocess = || {
        let out = run_ingot_ok(["reprocess", "--pipeline", &pipeline, "--stage", "rogue"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = reprocess();
    assert!(
        said.contains(
            "3 entries, 3 replayed (0 no longer in the input), 3 rows out, 0 quarantined again"
        ),
        "{said}"
    );
    assert_eq!(
        lake::count(&rogue),
        1_003,
        "the recovered rows are in the output"
    );
    assert_eq!(
        lake::i64s(
            &rogue,
            "SELECT CAST(count(*) AS BIGINT) FROM t WHERE CAST(value AS VARCHAR) LIKE '%POISON-PILL%'"
        ),
        vec![3]
    );
    let again = reprocess();
    assert!(
        again.contains("nothing quarantined since the last reprocess"),
        "{again}"
    );
    assert_eq!(
        lake::count(&rogue),
        1_003,
        "a second reprocess adds nothing"
    );
}

/// A pipeline of one stage `rogue` reading bronze: the hostile module with
/// the TOML `settings` (its `config` and `limits` lines).
fn rogue_pipeline(broker: &Broker, lake: &Lake, settings: &str) -> std::path::PathBuf {
    lake.write_pipeline(&format!(
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
{settings}
"#,
        broker.bootstrap(),
        lake.root().display(),
        modules().hostile.display()
    ))
}

/// The most a `--once` run of a flooding module on 10 rows may write to the
/// host's stderr: the tenant's burst of guest log (1 MiB) plus what ingot
/// logs itself. The unbounded host wrote hundreds of MB in the same run.
const FLOOD_LOG_BOUND: usize = 4 << 20;

#[test]
fn a_flooding_module_leaves_the_host_log_bounded() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    let pipeline = rogue_pipeline(
        &broker,
        &lake,
        r#"config = { behaviour = "flood" }
limits = { call-timeout-ms = 200, max-attempts = 2 }"#,
    );
    let lines = logs::generate(10, 5);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "a flooding module on 10 rows: {} bytes of host stderr",
        out.stderr.len()
    );
    assert!(
        out.stderr.len() < FLOOD_LOG_BOUND,
        "host stderr holds {} bytes (bound {FLOOD_LOG_BOUND}):\n{}",
        out.stderr.len(),
        harness::tail_text(&stderr, 20)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "every call failed:\n{}",
        harness::tail_text(&stderr, 20)
    );
    assert!(
        stderr.contains("guest output past its bounds dropped"),
        "each call says what it dropped:\n{}",
        harness::tail_text(&stderr, 20)
    );
    let root = lake.root().display().to_string();
    let quarantine = format!("{root}/default/logs/rogue_quarantine");
    assert_eq!(lake::count(&quarantine), 10, "every row quarantined");
}

/// Isolating a range the module times out on everywhere stops starting
/// calls after 12 call deadlines (here 6 s), not after 32 failing calls.
#[test]
fn isolating_a_range_is_bounded_in_time() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    let pipeline = rogue_pipeline(
        &broker,
        &lake,
        r#"batch-rows = 256
config = { behaviour = "loop" }
limits = { call-timeout-ms = 500, max-attempts = 1 }"#,
    );
    let lines = logs::generate(1_000, 5);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        harness::tail_text(&stderr, 20)
    );
    let root = lake.root().display().to_string();
    let quarantine = format!("{root}/default/logs/rogue_quarantine");
    assert_eq!(lake::count(&quarantine), 1_000, "every row quarantined");
    // Each failing call costs a 500 ms deadline: the time bound (6 s) is
    // spent after about 12 of them, well before the 32-call budget.
    let untried = lake::i64s(
        &quarantine,
        "SELECT CAST(count(*) AS BIGINT) FROM t WHERE reason LIKE 'not tried: isolating this range took longer than 6s%'",
    );
    assert!(untried[0] > 0, "rows left untried by the time bound");
}

/// SIGTERM interrupts a module call in flight (here one spinning to a 10 s
/// deadline, retried and isolated for minutes before): the host exits
/// within seconds, commits nothing of the range, and the next start
/// processes it.
#[test]
fn sigterm_interrupts_a_spinning_module_and_leaves_its_range() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    let settings = |behaviour: &str| format!("config = {{ behaviour = \"{behaviour}\" }}");
    let pipeline = rogue_pipeline(&broker, &lake, &settings("loop"));
    let lines = logs::generate(100, 5);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let mut host = spawn_ingot(["run".as_ref(), pipeline.as_os_str()]);
    host.wait_for_log("bronze commit", Duration::from_secs(120));
    // The stage picks the range up within its idle wait (200 ms) and spins
    // in its first call (10 s deadline).
    std::thread::sleep(Duration::from_secs(2));
    let started = Instant::now();
    let status = host.terminate(Duration::from_secs(20));
    let took = started.elapsed();
    println!("stopped {took:?} after SIGTERM");
    assert!(
        status.success(),
        "a stop exits 0: {status}\n{}",
        host.tail()
    );
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}:\n{}",
        host.tail()
    );
    let root = lake.root().display().to_string();
    for table in ["rogue", "rogue_quarantine"] {
        let uri = format!("{root}/default/logs/{table}");
        assert!(
            !lake::exists(&uri) || lake::count(&uri) == 0,
            "nothing of the range in {table}:\n{}",
            host.tail()
        );
    }
    // The next start (with a module that no longer spins) processes it.
    let pipeline = rogue_pipeline(&broker, &lake, &settings("ok"));
    run_ingot_ok(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    assert_eq!(lake::count(&format!("{root}/default/logs/rogue")), 100);
}
