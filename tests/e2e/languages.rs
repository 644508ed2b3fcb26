//! Transforms in other languages (issue 7): the Python and JavaScript ports of
//! `log-parse` and `level-counts` run beside the Rust ones in one real
//! pipeline, on one bronze table, and write identical silver, quarantine and
//! gold tables; and an exception thrown in Python or JavaScript reaches the
//! stage error with the language's own message and stack.

use std::path::PathBuf;

use ingot_pipeline::status::PipelineStatus;
use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Broker, Lake, ported, run_ingot, run_ingot_ok},
    lake,
    medallion::{assert_tables, log_pipeline, uri},
};

/// The Python and JavaScript ports, as (stage suffix, log-parse, level-counts).
fn ports() -> Vec<(&'static str, PathBuf, PathBuf)> {
    vec![
        (
            "py",
            ported("transforms/log-parse/python", "python", "log_parse"),
            ported("transforms/level-counts/python", "python", "level_counts"),
        ),
        (
            "js",
            ported("transforms/log-parse/js", "js", "log_parse"),
            ported("transforms/level-counts/js", "js", "level_counts"),
        ),
    ]
}

/// Silver's columns but `processed_at` (each stage stamps its own time), in
/// input order.
const SILVER_ROWS: &str = "SELECT CAST(ts AS BIGINT), level, service, host, latency_ms, message, \
     topic, \"partition\", \"offset\" FROM t ORDER BY \"partition\", \"offset\"";

#[test]
fn python_and_javascript_ports_write_the_same_tables_as_rust() {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let lake = Lake::new();
    // The Rust chain (silver, gold) of the log pipeline, and beside it one
    // chain per port reading the same bronze.
    let ports = ports();
    let chains: String = ports
        .iter()
        .map(|(lang, log_parse, level_counts)| {
            format!(
                r#"
[[stages]]
name = "silver_{lang}"
input = "bronze"
module = "{log_parse}"
batch-rows = 1000
[[stages]]
name = "gold_{lang}"
input = "silver_{lang}"
module = "{level_counts}"
mode = "accumulate"
keys = ["level"]
measures = ["count", "latency_ms_sum"]
"#,
                log_parse = log_parse.display(),
                level_counts = level_counts.display(),
            )
        })
        .collect();
    let text = log_pipeline(&broker.bootstrap(), &lake, &chains);
    let pipeline = lake.write_pipeline(&text);
    let lines = logs::generate(4_000, 77);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    assert!(
        out.status.success(),
        "ingot run --once failed: {}\n{}",
        out.status,
        harness::tail_text(&String::from_utf8_lossy(&out.stderr), 60)
    );

    // Rust against the ground truth, then each port against Rust.
    assert_tables(&lake, &lines);
    let gold = "SELECT level, count, latency_ms_sum FROM t ORDER BY level";
    let quarantined = "SELECT source_version, change_type, \"row\" FROM t ORDER BY \"row\"";
    let rust_gold = lake::string_i64_i64(&uri(&lake, "gold"), gold);
    let rust_silver = lake::strings(&uri(&lake, "silver"), SILVER_ROWS);
    let rust_quarantine = lake::strings(&uri(&lake, "silver_quarantine"), quarantined);
    assert!(!rust_quarantine.is_empty(), "the input has malformed lines");
    let rust_schema = lake::open(&uri(&lake, "silver")).schema();
    for (lang, _, _) in &ports {
        let table = |name: &str| uri(&lake, &format!("{name}_{lang}"));
        assert_eq!(
            lake::string_i64_i64(&table("gold"), gold),
            rust_gold,
            "{lang} gold"
        );
        let silver = lake::strings(&table("silver"), SILVER_ROWS);
        assert_eq!(silver.len(), rust_silver.len(), "{lang} silver rows");
        for (i, (got, want)) in silver.iter().zip(&rust_silver).enumerate() {
            assert_eq!(got, want, "{lang} silver row {i}");
        }
        assert_eq!(
            lake::open(&table("silver")).schema(),
            rust_schema,
            "{lang} silver schema (names, types, nullability)"
        );
        assert_eq!(
            lake::strings(
                &uri(&lake, &format!("silver_{lang}_quarantine")),
                quarantined
            ),
            rust_quarantine,
            "{lang} quarantine: the same input rows"
        );
    }
}

/// `ingot run --once` of one stage running `module` over bronze, which must
/// fail; returns the stage error `ingot status --json` reports.
fn stage_error(module: &std::path::Path) -> String {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    let pipeline = lake.write_pipeline(&format!(
        r#"
name = "logs"
[kafka]
brokers = "{broker}"
topics = ["logs"]
[lake]
root = "{root}"
[[stages]]
name = "throws"
input = "bronze"
module = "{module}"
limits = {{ max-attempts = 1 }}
"#,
        broker = broker.bootstrap(),
        root = lake.root().display(),
        module = module.display(),
    ));
    let lines = logs::generate(20, 3);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "the stage fails:\n{stderr}");
    let status = run_ingot_ok([
        "status".as_ref(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
        "--json".as_ref(),
    ]);
    let statuses: Vec<PipelineStatus> =
        serde_json::from_slice(&status.stdout).expect("status is JSON");
    let error = statuses
        .iter()
        .flat_map(|p| &p.stages)
        .find(|s| s.stage == "throws")
        .and_then(|s| s.last_error.clone())
        .unwrap_or_else(|| panic!("no error for stage throws in {statuses:?}"));
    println!("stage error:\n{error}");
    error
}

#[test]
fn a_python_exception_reaches_the_stage_error_with_its_traceback() {
    let module = ported("tests/modules/python-raises", "python", "raises");
    let error = stage_error(&module);
    assert!(
        error.contains("ZeroDivisionError: division by zero"),
        "the exception's type and message: {error}"
    );
    assert!(
        error.contains("Traceback (most recent call last)")
            && error.contains("in process")
            && error.contains("in average_latency"),
        "the traceback, down to the function that raised: {error}"
    );
}

#[test]
fn a_javascript_exception_reaches_the_stage_error_with_its_stack() {
    let module = ported("tests/modules/js-throws", "js", "throws");
    let error = stage_error(&module);
    assert!(
        error.contains("TypeError") && error.contains("latency"),
        "the exception's type and message: {error}"
    );
    assert!(
        error.contains("averageLatency"),
        "the stack, down to the function that threw: {error}"
    );
}
