use super::*;

/// A running pipeline's status: joined, `lag` records behind, one stage
/// `behind` versions behind under `lease`.
fn status(lag: Option<u64>, behind: i64, lease: serde_json::Value) -> PipelineStatus {
    serde_json::from_value(serde_json::json!({
        "tenant": "acme", "pipeline": "logs", "host": "h", "pid": 1,
        "started_at": 0, "updated_at": 0, "stopped": false, "error": null,
        "joined": true, "partitions": ["logs/0"], "lag": lag,
        "stages": [{
            "stage": "silver", "state": "healthy", "module": "abc",
            "input_done": 10, "input_latest": 10 + behind, "last_commit_at": null,
            "commits": 0, "rows_in": 0, "rows_out": 0, "quarantined": 0,
            "last_error": null, "lease": lease,
        }],
    }))
    .expect("a valid status")
}

fn one(status: PipelineStatus) -> Readiness {
    readiness(
        &[("acme".into(), "logs".into(), Ok(status))],
        ReadyBounds {
            lag_records: 100,
            lag_versions: 2,
        },
    )
}

fn owner() -> serde_json::Value {
    serde_json::json!({"role": "owner", "epoch": 1})
}

#[test]
fn a_joined_pipeline_within_both_bounds_is_ready() {
    let r = one(status(Some(100), 2, owner()));
    assert!(r.ready, "{r:?}");
    assert_eq!(r.pipelines[0].lag_records, Some(100));
    assert!(one(status(Some(0), 0, serde_json::Value::Null)).ready);
}

#[test]
fn ingest_lag_past_the_bound_or_unknown_is_not_ready() {
    let r = one(status(Some(101), 0, owner()));
    assert!(!r.ready);
    assert_eq!(
        r.pipelines[0].waiting_for,
        ["ingest: 101 records behind (ready at 100 or fewer)"]
    );
    let unknown = one(status(None, 0, owner()));
    assert!(!unknown.ready);
    assert!(unknown.pipelines[0].waiting_for[0].contains("ends of its partitions"));
}

#[test]
fn a_stage_behind_counts_only_on_the_host_that_runs_it() {
    let r = one(status(Some(0), 3, owner()));
    assert_eq!(
        r.pipelines[0].waiting_for,
        ["stage silver: 3 input versions behind (ready at 2 or fewer)"]
    );
    let standby = serde_json::json!({"role": "standby", "owner": "other", "epoch": 1});
    assert!(one(status(Some(0), 3, standby)).ready);
}

#[test]
fn not_joined_stopped_or_refused_pipelines_are_not_ready() {
    let mut waiting = status(Some(0), 0, owner());
    waiting.joined = false;
    assert!(one(waiting).pipelines[0].waiting_for[0].contains("consumer group"));
    let mut stopped = status(Some(0), 0, owner());
    stopped.error = Some("the lake is gone".into());
    assert_eq!(
        one(stopped).pipelines[0].waiting_for,
        ["it stopped: the lake is gone"]
    );
    let refused = readiness(
        &[
            (
                "acme".into(),
                "logs".into(),
                Ok(status(Some(0), 0, owner())),
            ),
            ("acme".into(), "bad.toml".into(), Err("no such file".into())),
        ],
        ReadyBounds::default(),
    );
    assert!(!refused.ready);
    assert_eq!(
        refused.pipelines[1].waiting_for,
        ["it could not start: no such file"]
    );
    assert!(
        !readiness(&[], ReadyBounds::default()).ready,
        "nothing to run"
    );
}
