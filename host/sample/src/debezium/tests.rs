//! The stream checked event by event (shape, tombstones, the snapshot) and
//! as a whole (lsn order with its swaps and duplicates, a consistent replay).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::*;

use crate::Record;

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

fn check_row(row: &Value) -> i64 {
    let o = row.as_object().expect("a row is an object");
    assert_eq!(o.len(), 6, "{row}");
    for text in ["name", "city", "party"] {
        assert!(o[text].is_string(), "{text} in {row}");
    }
    assert!(
        o["registered"]
            .as_i64()
            .is_some_and(|d| (10_957..20_758).contains(&d))
    );
    assert!(
        o["updated_at"]
            .as_i64()
            .is_some_and(|us| us > 1_700_000_000_000_000)
    );
    o["id"].as_i64().expect("an int8 id")
}

/// Checks one change event's shape; returns (key id, op, lsn).
fn check(key: &[u8], value: &[u8]) -> (i64, String, u64) {
    let k = json(key);
    assert_eq!(k.as_object().map(serde_json::Map::len), Some(1), "key {k}");
    let v = json(value);
    let o = v.as_object().expect("an object");
    let fields: Vec<_> = o.keys().map(String::as_str).collect();
    let mut expected = ["before", "after", "source", "op", "ts_ms", "transaction"];
    let mut sorted = fields.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
    assert!(o["transaction"].is_null() && o["ts_ms"].is_i64());
    let s = &o["source"];
    assert_eq!(s.as_object().map(serde_json::Map::len), Some(12), "{s}");
    assert_eq!(
        (&s["connector"], &s["schema"], &s["table"], &s["db"]),
        (
            &Value::from("postgresql"),
            &Value::from("public"),
            &Value::from("voters"),
            &Value::from("registry")
        )
    );
    assert!(s["version"].is_string() && s["name"].is_string() && s["xmin"].is_null());
    assert!(s["ts_ms"].is_i64() && s["txId"].is_u64());
    let lsn = s["lsn"].as_u64().expect("an lsn");
    let sequence = json(s["sequence"].as_str().expect("a string").as_bytes());
    assert_eq!(sequence[1], Value::from(lsn.to_string()), "{s}");
    let op = o["op"].as_str().expect("an op").to_owned();
    let id = match op.as_str() {
        "r" | "c" => {
            assert!(o["before"].is_null());
            check_row(&o["after"])
        }
        "u" => {
            let id = check_row(&o["after"]);
            assert_eq!(check_row(&o["before"]), id, "an update keeps the key");
            id
        }
        "d" => {
            assert!(o["after"].is_null());
            check_row(&o["before"])
        }
        other => panic!("unexpected op {other}"),
    };
    assert_eq!(k["id"].as_i64(), Some(id), "the key is the row's id");
    assert_eq!(s["snapshot"] == "false", op != "r", "{s}");
    (id, op, lsn)
}

fn records(n: usize) -> Vec<Record> {
    DebeziumSample::new(3).take(n).collect()
}

#[test]
fn same_seed_same_stream() {
    let a: Vec<_> = DebeziumSample::new(7).take(3_000).collect();
    let b: Vec<_> = DebeziumSample::new(7).take(3_000).collect();
    let c: Vec<_> = DebeziumSample::new(8).take(3_000).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn every_event_has_the_expected_fields_and_tombstones_follow_deletes() {
    let all = records(10_000);
    assert_eq!(all.len(), 10_000);
    let mut ops = HashMap::<String, usize>::new();
    for (i, (key, value)) in all.iter().enumerate() {
        match value {
            None => {
                let before = all[i - 1].1.as_deref().map(json);
                assert!(
                    before.is_some_and(|b| b["op"] == "d") && all[i - 1].0 == *key,
                    "tombstone {i} does not follow a delete of its key"
                );
            }
            Some(v) => {
                let (_, op, _) = check(key, v);
                if op == "d" {
                    assert_eq!(all.get(i + 1), Some(&(key.clone(), None)), "delete {i}");
                }
                *ops.entry(op).or_default() += 1;
            }
        }
    }
    let stream: usize = ["c", "u", "d"].iter().map(|op| ops[*op]).sum();
    let share = |op: &str| ops[op] * 100 / stream;
    assert_eq!(ops["r"], 200);
    assert!((38..48).contains(&share("c")), "{ops:?}");
    assert!((36..46).contains(&share("u")), "{ops:?}");
    assert!((12..20).contains(&share("d")), "{ops:?}");
}

#[test]
fn the_snapshot_comes_first_at_one_lsn() {
    let all: Vec<_> = DebeziumSample::new(5).snapshot_rows(30).take(100).collect();
    let values: Vec<Value> = all
        .iter()
        .filter_map(|(_, v)| v.as_deref().map(json))
        .collect();
    let (snapshot, stream) = values.split_at(30);
    assert!(
        snapshot
            .iter()
            .all(|v| v["op"] == "r" && v["source"]["lsn"] == snapshot[0]["source"]["lsn"])
    );
    assert!(stream.iter().all(|v| v["op"] != "r"));
    assert_eq!(snapshot[0]["source"]["snapshot"], "first");
    assert_eq!(snapshot[29]["source"]["snapshot"], "last");
    let flags: HashSet<String> = records(200)
        .iter()
        .map(|(_, v)| json(v.as_deref().expect("no tombstone")))
        .map(|v| v["source"]["snapshot"].to_string())
        .collect();
    assert_eq!(flags.len(), 4, "{flags:?}");
    assert!(flags.contains("true") && flags.contains(r#""true""#));
}

/// The stream events without duplicates, in arrival order: (key, lsn, value).
fn arrivals(all: &[Record]) -> (Vec<(i64, u64, Value)>, usize) {
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut out = Vec::new();
    for (key, value) in all {
        let Some(v) = value else { continue };
        if !seen.insert(v.clone()) {
            duplicates += 1;
            continue;
        }
        let (id, op, lsn) = check(key, v);
        if op != "r" {
            out.push((id, lsn, json(v)));
        }
    }
    (out, duplicates)
}

#[test]
fn lsn_increases_in_the_true_order_with_a_few_swaps_and_duplicates() {
    let all = records(10_000);
    let snapshot_lsn = json(all[0].1.as_deref().expect("a value"))["source"]["lsn"]
        .as_u64()
        .expect("an lsn");
    let (mut events, duplicates) = arrivals(&all);
    let mut swaps = 0;
    for i in 1..events.len() {
        if events[i].1 < events[i - 1].1 {
            assert_eq!(
                events[i].0,
                events[i - 1].0,
                "swapped events of different rows"
            );
            events.swap(i - 1, i);
            swaps += 1;
        }
    }
    assert!(events[0].1 > snapshot_lsn);
    assert!(
        events.windows(2).all(|w| w[0].1 < w[1].1),
        "not two-by-two swaps"
    );
    assert!((40..200).contains(&swaps), "{swaps} swaps");
    assert!((40..200).contains(&duplicates), "{duplicates} duplicates");
}

#[test]
fn the_true_order_replays_consistently_with_key_changes() {
    let all = records(10_000);
    let mut table = HashMap::<i64, Value>::new();
    let mut events: Vec<Value> = Vec::new();
    let mut seen = HashSet::new();
    for (_, v) in &all {
        if let Some(v) = v.as_deref().filter(|v| seen.insert(v.to_vec())) {
            events.push(json(v));
        }
    }
    events.sort_by_key(|v| v["source"]["lsn"].as_u64());
    let mut key_changes = 0;
    let mut last_delete: Option<&Value> = None;
    for v in &events {
        let row = |side: &str| (v[side]["id"].as_i64().expect("an id"), v[side].clone());
        match v["op"].as_str() {
            Some("r" | "c") => {
                let (id, after) = row("after");
                assert!(
                    table.insert(id, after.clone()).is_none(),
                    "{id} created twice"
                );
                if let Some(d) = last_delete.filter(|d| d["source"]["txId"] == v["source"]["txId"])
                {
                    let mut moved = d["before"].clone();
                    moved["id"] = after["id"].clone();
                    assert_eq!(moved, after, "a key change keeps the other columns");
                    key_changes += 1;
                }
            }
            Some("u") => {
                let (id, after) = row("after");
                assert_eq!(table.insert(id, after), Some(v["before"].clone()), "{v}");
            }
            _ => {
                let (id, before) = row("before");
                assert_eq!(table.remove(&id), Some(before), "{v}");
            }
        }
        last_delete = (v["op"] == "d").then_some(v);
    }
    assert!(key_changes > 100, "{key_changes} key changes");
    assert!(table.len() > 1_000);
}
