//! Test 4 of the core: a module that traps, one that loops forever and one
//! that allocates without bound each fail with a clear error naming the
//! stage and the cause, within its deadline; the host survives and the
//! pipeline's other stages finish with correct results.

use std::time::{Duration, Instant};

use crate::{
    harness::{self, Broker, Lake, logs::LogLine, modules, run_ingot},
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
    let lines = harness::logs::generate(1_000, 5);
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
