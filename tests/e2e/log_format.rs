//! `--log-format json`: every line of the log is a JSON object, and the
//! events of a stage carry its tenant, pipeline and stage (its span), so a
//! log shipper can route and filter them.

use ingot_sample::logs::{self, LogLine};
use serde_json::Value;

use crate::{
    harness::{self, Broker, Lake},
    medallion::log_pipeline,
};

#[test]
fn json_logs_name_the_tenant_pipeline_and_stage_of_each_event() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    let pipeline = lake.write_pipeline(&log_pipeline(&broker.bootstrap(), &lake, ""));
    let lines = logs::generate(300, 4);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let out = lake.run_ingot_ok([
        "--log-format".as_ref(),
        "json".as_ref(),
        "run".as_ref(),
        pipeline.as_os_str(),
        "--once".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let events: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let commits: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "stage commit")
        .collect();
    let stages: Vec<&str> = commits
        .iter()
        .filter_map(|c| c["span"]["stage"].as_str())
        .collect();
    assert!(
        stages.contains(&"silver") && stages.contains(&"gold"),
        "a commit event of each stage, naming it: {commits:?}"
    );
    for c in &commits {
        assert_eq!(c["level"], "INFO", "{c}");
        assert_eq!(
            (&c["span"]["tenant"], &c["span"]["pipeline"]),
            (&Value::from("default"), &Value::from("logs")),
            "{c}"
        );
        assert!(c["module"].as_str().is_some_and(|m| m.len() == 12), "{c}");
    }
    let bronze = events
        .iter()
        .find(|e| e["message"] == "bronze commit")
        .expect("a bronze commit event");
    assert_eq!(bronze["span"]["name"], "ingest", "{bronze}");
    assert_eq!(bronze["span"]["pipeline"], "logs", "{bronze}");
}
