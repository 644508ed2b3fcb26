//! The osquery workload end to end: `ingot produce --sample osquery` (hosts
//! running differential queries in event and batch format and a snapshot
//! query, with malformed records among them), the pipeline of
//! `examples/osquery.toml`, and silver, quarantine and gold compared with
//! what this test computes from the records alone.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::harness::{Broker, Consumed, Lake, workloads};
use crate::lake;
use crate::medallion::run_once;

pub(crate) const TOPIC: &str = "osquery";

/// Table `table` of the osquery pipeline.
pub(crate) fn uri(lake: &Lake, table: &str) -> String {
    format!("{}/default/osquery/{table}", lake.root().display())
}

/// One row change of a result message.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Change {
    host: String,
    query: String,
    time: i64,
    epoch: i64,
    counter: i64,
    action: String,
    /// The row's columns, values as text (empty for an empty snapshot).
    row: BTreeMap<String, String>,
    /// Which copy of an identical row within the message this is.
    occurrence: usize,
    /// For a snapshot: how many rows it has.
    snapshot_rows: Option<usize>,
}

fn number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some(String::new()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn row_of(v: &Value) -> Option<BTreeMap<String, String>> {
    v.as_object()?
        .iter()
        .map(|(k, v)| Some((k.clone(), text(v)?)))
        .collect()
}

/// The row changes of one record, `None` when a parser must reject it.
fn changes_of(value: Option<&[u8]>) -> Option<Vec<Change>> {
    let message: Map<String, Value> = serde_json::from_slice(value?).ok()?;
    let query = message.get("name")?.as_str()?.to_owned();
    let host = message
        .get("hostIdentifier")
        .or_else(|| message.get("hostname"))?
        .as_str()?
        .to_owned();
    let time = number(message.get("unixTime")?)?;
    let epoch = message.get("epoch").map_or(Some(0), number)?;
    let counter = message.get("counter").map_or(Some(0), number)?;
    let mut rows: Vec<(&str, BTreeMap<String, String>, Option<usize>)> = Vec::new();
    if let Some(diff) = message.get("diffResults") {
        for action in ["removed", "added"] {
            for row in diff.get(action)?.as_array()? {
                rows.push((action, row_of(row)?, None));
            }
        }
    } else {
        match message.get("action")?.as_str()? {
            "snapshot" => {
                let snapshot = message.get("snapshot")?.as_array()?;
                for row in snapshot {
                    rows.push(("snapshot", row_of(row)?, Some(snapshot.len())));
                }
                if snapshot.is_empty() {
                    rows.push(("snapshot", BTreeMap::new(), Some(0)));
                }
            }
            action @ ("added" | "removed") => {
                rows.push((action, row_of(message.get("columns")?)?, None));
            }
            _ => return None,
        }
    }
    let mut seen: BTreeMap<(&str, BTreeMap<String, String>), usize> = BTreeMap::new();
    Some(
        rows.into_iter()
            .map(|(action, row, snapshot_rows)| {
                let n = seen.entry((action, row.clone())).or_default();
                *n += 1;
                Change {
                    host: host.clone(),
                    query: query.clone(),
                    time,
                    epoch,
                    counter,
                    action: action.to_owned(),
                    row,
                    occurrence: *n - 1,
                    snapshot_rows,
                }
            })
            .collect(),
    )
}

/// What silver, the quarantine and gold must hold.
pub(crate) struct Expected {
    /// Distinct row changes, in the order they first arrived.
    changes: Vec<Change>,
    malformed: usize,
    /// Per `host|query`, the current row count.
    counts: BTreeMap<String, i64>,
}

/// What the tables must hold after `records` (every record of the topic),
/// computed from the records alone.
pub(crate) fn expected(records: &[Consumed]) -> Expected {
    // Kafka keeps one host's records in order (the key is the host).
    let mut by_partition = records.to_vec();
    by_partition.sort_by_key(|r| (r.partition, r.offset));
    let mut seen = BTreeSet::new();
    let (mut changes, mut malformed) = (Vec::new(), 0);
    for record in &by_partition {
        match changes_of(record.value.as_deref()) {
            Some(rows) => changes.extend(rows.into_iter().filter(|c| seen.insert(c.clone()))),
            None => malformed += 1,
        }
    }
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut last_snapshot: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for c in &changes {
        let key = format!("{}|{}", c.host, c.query);
        let count = counts.entry(key.clone()).or_default();
        match c.action.as_str() {
            "added" => *count += 1,
            "removed" => *count -= 1,
            _ => {
                let id = (c.time, c.epoch, c.counter);
                if last_snapshot.get(&key) != Some(&id) {
                    last_snapshot.insert(key, id);
                    *count = c.snapshot_rows.expect("snapshot rows") as i64;
                }
            }
        }
    }
    Expected {
        changes,
        malformed,
        counts,
    }
}

fn gold(lake: &Lake) -> BTreeMap<String, i64> {
    lake::strings(
        &uri(lake, "gold"),
        "SELECT host, query, CAST(row_count AS BIGINT) FROM t",
    )
    .into_iter()
    .map(|row| {
        let (key, n) = row.rsplit_once('|').expect("three cells");
        (key.to_owned(), n.parse().expect("a count"))
    })
    .collect()
}

fn nonzero(counts: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    counts
        .iter()
        .filter(|(_, n)| **n != 0)
        .map(|(k, n)| (k.clone(), *n))
        .collect()
}

fn pid_sum(changes: &[Change], query: &str) -> i64 {
    changes
        .iter()
        .filter(|c| c.query == query)
        .filter_map(|c| c.row.get("pid"))
        .map(|pid| pid.parse::<i64>().expect("generated pids are integers"))
        .sum()
}

/// Asserts silver, its quarantine and gold against `expected`.
pub(crate) fn assert_tables(lake_dir: &Lake, expected: &Expected) {
    let silver = uri(lake_dir, "silver");
    assert_eq!(
        lake::count(&silver),
        expected.changes.len() as i64,
        "silver = one row per distinct row change"
    );
    for action in ["added", "removed", "snapshot"] {
        let n = expected
            .changes
            .iter()
            .filter(|c| c.action == action)
            .count();
        assert_eq!(
            lake::i64s(
                &silver,
                &format!("SELECT CAST(count(*) AS BIGINT) FROM t WHERE action = '{action}'")
            ),
            vec![n as i64],
            "silver rows with action {action}"
        );
    }
    // Configured queries are flattened into typed columns...
    for query in ["pack_host_processes", "pack_listening_ports"] {
        assert_eq!(
            lake::i64s(
                &silver,
                &format!(
                    "SELECT CAST(coalesce(sum(pid), 0) AS BIGINT) FROM t WHERE query = '{query}'"
                )
            ),
            vec![pid_sum(&expected.changes, query)],
            "sum of the typed pid column of {query}"
        );
    }
    // ...the others keep their columns in the map column.
    let users = expected
        .changes
        .iter()
        .filter(|c| c.query == "pack_users" && !c.row.is_empty())
        .count();
    assert!(users > 0, "the stream has pack_users snapshots");
    assert_eq!(
        lake::i64s(
            &silver,
            "SELECT CAST(count(*) AS BIGINT) FROM t WHERE query = 'pack_users' AND columns IS NOT NULL"
        ),
        vec![users as i64],
        "pack_users rows keep their columns as a map"
    );
    assert_eq!(
        lake::count(&uri(lake_dir, "silver_quarantine")),
        expected.malformed as i64,
        "quarantine = malformed records"
    );
    assert_eq!(
        nonzero(&gold(lake_dir)),
        nonzero(&expected.counts),
        "gold = current row count per host and query"
    );
}

#[test]
fn flattened_rows_and_current_counts_survive_a_replay() {
    let broker = Broker::start();
    broker.create_topic(TOPIC, 3);
    let lake_dir = Lake::new();
    let pipeline = workloads::example_pipeline("osquery", &broker.bootstrap(), &lake_dir);
    let sample = (5_000, 5);
    let records = workloads::produce_sample(&broker.bootstrap(), TOPIC, "osquery", sample, 0);
    let first = expected(&records);
    assert!(first.malformed > 0, "the stream holds malformed records");
    for action in ["added", "removed", "snapshot"] {
        assert!(
            first.changes.iter().any(|c| c.action == action),
            "the stream has {action} rows"
        );
    }
    assert!(
        first.counts.len() > 20,
        "{} host/query pairs",
        first.counts.len()
    );

    run_once(&pipeline);
    assert_eq!(lake::count(&uri(&lake_dir, "bronze")), 5_000);
    assert_tables(&lake_dir, &first);

    // The same results delivered again: nothing moves but bronze and the
    // quarantine (a malformed record delivered twice is two bad records).
    let gold_before = gold(&lake_dir);
    let again = workloads::produce_sample(&broker.bootstrap(), TOPIC, "osquery", sample, 5_000);
    run_once(&pipeline);
    let replayed = expected(&again);
    assert_eq!(
        replayed.changes, first.changes,
        "a replay adds no new row change"
    );
    assert_eq!(lake::count(&uri(&lake_dir, "bronze")), 10_000);
    assert_tables(&lake_dir, &replayed);
    assert_eq!(gold(&lake_dir), gold_before, "gold unchanged by the replay");
    silver_was_appended_through_its_key_index(&lake_dir, &pipeline);
}

/// The dedupe silver ran with its stored-key index (the stage's default):
/// every commit after the table's creation is a plain write, none a MERGE,
/// also in the second run, whose first step built the index from the table.
fn silver_was_appended_through_its_key_index(lake_dir: &Lake, pipeline: &std::path::Path) {
    let pipeline = pipeline.display().to_string();
    let out = lake_dir.run_ingot_ok(["history", "--pipeline", &pipeline, "silver", "--json"]);
    let entries: Vec<Value> = serde_json::from_slice(&out.stdout).expect("history JSON");
    let operations: Vec<&str> = entries
        .iter()
        .skip(1)
        .filter_map(|e| e["operation"].as_str())
        .collect();
    assert!(operations.len() > 1, "silver commits: {operations:?}");
    assert!(
        operations.iter().all(|op| *op == "WRITE"),
        "silver's commits: {operations:?}"
    );
}
