//! The Debezium workload end to end: `ingot produce --sample debezium` (a
//! simulated `public.voters` table: snapshot, inserts, updates, deletes with
//! tombstones, primary-key changes, duplicated and out-of-order events), the
//! pipeline of `examples/debezium.toml`, and silver compared row for row with
//! the final state of the simulated database, which this test computes from
//! the events alone.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::harness::{Broker, Consumed, Lake, workloads};
use crate::lake;
use crate::medallion::run_once;

pub(crate) const TOPIC: &str = "voters";

/// Table `table` of the Debezium pipeline.
pub(crate) fn uri(lake: &Lake, table: &str) -> String {
    format!("{}/default/voters/{table}", lake.root().display())
}

/// The source table's final state: the events applied in source order (the
/// Postgres LSN), whatever order Kafka delivered them in. A duplicate
/// applies the same change twice, which changes nothing.
pub(crate) fn final_state(records: &[Consumed]) -> BTreeMap<i64, Value> {
    let mut events: Vec<(i64, Value)> = records
        .iter()
        .filter_map(|r| r.value.as_deref())
        .map(|v| {
            let event: Value = serde_json::from_slice(v).expect("generated events are JSON");
            let lsn = event["source"]["lsn"]
                .as_i64()
                .unwrap_or_else(|| panic!("an event without source.lsn: {event}"));
            (lsn, event)
        })
        .collect();
    events.sort_by_key(|(lsn, _)| *lsn);
    let mut rows = BTreeMap::new();
    for (_, event) in events {
        let id = |image: &str| {
            event[image]["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("{image}.id missing: {event}"))
        };
        match event["op"].as_str() {
            Some("c" | "r" | "u") => {
                rows.insert(id("after"), event["after"].clone());
            }
            Some("d") => {
                rows.remove(&id("before"));
            }
            other => panic!("the generator emitted op {other:?}"),
        }
    }
    rows
}

/// Silver as `id|name|city|party|registered (days)|updated_at (µs)`.
fn expected_silver(state: &BTreeMap<i64, Value>) -> Vec<String> {
    let text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    state
        .iter()
        .map(|(id, row)| {
            format!(
                "{id}|{}|{}|{}|{}|{}",
                text(&row["name"]),
                text(&row["city"]),
                text(&row["party"]),
                text(&row["registered"]),
                text(&row["updated_at"]),
            )
        })
        .collect()
}

/// Gold as `city|party|voters`, groups with voters only.
fn expected_gold(state: &BTreeMap<i64, Value>) -> Vec<String> {
    let mut groups: BTreeMap<(String, String), i64> = BTreeMap::new();
    for row in state.values() {
        let key = (
            row["city"].as_str().unwrap_or_default().to_owned(),
            row["party"].as_str().unwrap_or_default().to_owned(),
        );
        *groups.entry(key).or_default() += 1;
    }
    groups
        .into_iter()
        .map(|((city, party), n)| format!("{city}|{party}|{n}"))
        .collect()
}

fn silver(lake: &Lake) -> Vec<String> {
    lake::strings(
        &uri(lake, "silver"),
        "SELECT id, name, city, party, CAST(registered AS INT), CAST(updated_at AS BIGINT) \
         FROM t ORDER BY id",
    )
}

fn gold(lake: &Lake) -> Vec<String> {
    lake::strings(
        &uri(lake, "gold"),
        "SELECT city, party, CAST(voters AS BIGINT) FROM t WHERE voters <> 0 ORDER BY city, party",
    )
}

/// Asserts silver, gold, the quarantine and the tombstones against the
/// source table's final state `state` (see [`final_state`]).
pub(crate) fn assert_tables(lake: &Lake, state: &BTreeMap<i64, Value>) {
    assert_eq!(
        silver(lake),
        expected_silver(state),
        "silver = the simulated table's final state, row for row"
    );
    assert_eq!(
        gold(lake),
        expected_gold(state),
        "gold = voters per city and party of that state"
    );
    assert!(
        lake::count(&uri(lake, "silver_tombstones")) > 0,
        "deletes left tombstones"
    );
    // The quarantine exists (the commit that created the output went
    // through it) and holds nothing.
    assert_eq!(
        lake::count(&uri(lake, "silver_quarantine")),
        0,
        "no well-formed event was quarantined"
    );
}

#[test]
fn silver_is_the_source_table_and_gold_follows_it_through_replays() {
    let broker = Broker::start();
    broker.create_topic(TOPIC, 3);
    let lake_dir = Lake::new();
    let pipeline = workloads::example_pipeline("debezium", &broker.bootstrap(), &lake_dir);
    let sample = (6_000, 11);
    let records = workloads::produce_sample(&broker.bootstrap(), TOPIC, "debezium", sample, 0);

    // The stream has what the test is about, or it proves nothing.
    let ops = |op: &str| {
        records
            .iter()
            .filter_map(|r| r.value.as_deref())
            .filter(|v| {
                serde_json::from_slice::<Value>(v).expect("json")["op"].as_str() == Some(op)
            })
            .count()
    };
    let tombstones = records.iter().filter(|r| r.value.is_none()).count();
    assert!(
        ops("r") > 0 && ops("c") > 0 && ops("u") > 0 && ops("d") > 0 && tombstones > 0,
        "snapshot {}, creates {}, updates {}, deletes {}, tombstones {tombstones}",
        ops("r"),
        ops("c"),
        ops("u"),
        ops("d")
    );
    let mut values: Vec<&[u8]> = records.iter().filter_map(|r| r.value.as_deref()).collect();
    values.sort_unstable();
    let before_dedup = values.len();
    values.dedup();
    assert!(
        values.len() < before_dedup,
        "the stream holds duplicated events"
    );

    run_once(&pipeline);
    let state = final_state(&records);
    assert!(state.len() > 100, "{} live rows", state.len());
    assert_tables(&lake_dir, &state);
    assert_eq!(lake::count(&uri(&lake_dir, "bronze")), 6_000);

    // The same events again (at-least-once delivery, a replayed topic):
    // bronze keeps everything, silver and gold do not move.
    let (silver_before, gold_before) = (silver(&lake_dir), gold(&lake_dir));
    let again = workloads::produce_sample(&broker.bootstrap(), TOPIC, "debezium", sample, 6_000);
    assert_eq!(again.len(), 12_000);
    run_once(&pipeline);
    assert_eq!(lake::count(&uri(&lake_dir, "bronze")), 12_000);
    assert_eq!(
        silver(&lake_dir),
        silver_before,
        "silver unchanged by the replay"
    );
    assert_eq!(gold(&lake_dir), gold_before, "gold unchanged by the replay");
    assert_eq!(final_state(&again), state);
}
