//! The stream checked the way a strict reader sees it: shapes, time order,
//! a consistent differential replay, and the share of malformed records.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::*;

/// What a strict reader makes of one record.
#[derive(Debug)]
struct Parsed {
    host: String,
    query: String,
    time: i64,
    counter: u64,
    /// (added?, the row as JSON text) for differential queries.
    changes: Vec<(bool, String)>,
    /// Rows of a snapshot.
    snapshot: Option<usize>,
    legacy: bool,
    numerics: bool,
    decorated: bool,
}

/// A number, or (legacy) a string of digits.
fn int(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn row(v: &Value, columns: &[&str], numbers: &[&str]) -> Result<String, String> {
    let o = v.as_object().ok_or("row is not an object")?;
    if o.len() != columns.len() {
        return Err(format!("row has {} columns", o.len()));
    }
    for c in columns {
        let ok = match &o.get(*c) {
            Some(Value::Number(_)) => numbers.contains(c),
            Some(Value::String(s)) => !numbers.contains(c) && !s.is_empty(),
            _ => false,
        };
        if !ok {
            return Err(format!("column {c} is missing or mistyped in {v}"));
        }
    }
    Ok(v.to_string())
}

fn rows(v: &Value, columns: &[&str], numbers: &[&str]) -> Result<Vec<String>, String> {
    v.as_array()
        .ok_or("not an array")?
        .iter()
        .map(|r| row(r, columns, numbers))
        .collect()
}

/// The header fields every record carries, checked: (host, time, counter,
/// legacy).
fn header<'a>(
    o: &'a serde_json::Map<String, Value>,
    key: &[u8],
) -> Result<(&'a str, i64, u64, bool), String> {
    let legacy = o.contains_key("hostname");
    let host = o
        .get(if legacy { "hostname" } else { "hostIdentifier" })
        .and_then(Value::as_str)
        .ok_or("no host")?;
    if host.as_bytes() != key {
        return Err(format!("key is not the host {host}"));
    }
    let time = o.get("unixTime").and_then(int).ok_or("bad unixTime")?;
    let time = i64::try_from(time).map_err(|e| e.to_string())?;
    let calendar = o
        .get("calendarTime")
        .and_then(Value::as_str)
        .ok_or("no calendarTime")?;
    let parsed = chrono::NaiveDateTime::parse_from_str(calendar, "%a %b %e %H:%M:%S %Y UTC")
        .map_err(|e| format!("calendarTime {calendar}: {e}"))?;
    if parsed.and_utc().timestamp() != time {
        return Err(format!("calendarTime {calendar} is not unixTime {time}"));
    }
    if o.get("epoch").and_then(int) != Some(0) {
        return Err("epoch is not 0".into());
    }
    let counter = o.get("counter").and_then(int).ok_or("bad counter")?;
    if legacy == o.contains_key("numerics") || legacy == o["unixTime"].is_number() {
        return Err("legacy fields mixed with current ones".into());
    }
    Ok((host, time, counter, legacy))
}

/// Whether the record is decorated; an error if its decorations are bad.
fn decorated(o: &serde_json::Map<String, Value>) -> Result<bool, String> {
    match o.get("decorations") {
        None => Ok(false),
        Some(d) => {
            let ok =
                d["host_uuid"].as_str().is_some_and(|u| u.len() == 36) && d["username"].is_string();
            if !ok {
                return Err("bad decorations".into());
            }
            Ok(true)
        }
    }
}

/// What a record reports: (added?, the row as JSON text) for differential
/// queries, and the number of rows of a snapshot.
type Results = (Vec<(bool, String)>, Option<usize>);

/// The results of a `query` record, checked.
fn results(
    o: &serde_json::Map<String, Value>,
    query: &str,
    numerics: bool,
    counter: u64,
) -> Result<Results, String> {
    let mut changes = Vec::new();
    let mut snapshot = None;
    match query {
        "pack_host_processes" => {
            let added = match o.get("action").and_then(Value::as_str) {
                Some("added") => true,
                Some("removed") => false,
                _ => return Err("bad action".into()),
            };
            let columns = ["name", "path", "pid", "uid", "resident_size"];
            let r = row(o.get("columns").ok_or("no columns")?, &columns, &[])?;
            changes.push((added, r));
            if numerics {
                return Err("processes with numerics".into());
            }
        }
        "pack_listening_ports" => {
            let d = o.get("diffResults").ok_or("no diffResults")?;
            let columns = ["pid", "port", "protocol", "address"];
            let numbers: &[&str] = if numerics { &columns[..3] } else { &[] };
            for r in rows(&d["removed"], &columns, numbers)? {
                changes.push((false, r));
            }
            for r in rows(&d["added"], &columns, numbers)? {
                changes.push((true, r));
            }
            if changes.is_empty() || o.contains_key("action") {
                return Err("empty or mislabelled batch".into());
            }
        }
        "pack_users" => {
            if o.get("action").and_then(Value::as_str) != Some("snapshot") || counter != 0 {
                return Err("not a snapshot".into());
            }
            let columns = ["name", "uid", "gid", "shell"];
            snapshot = Some(rows(o.get("snapshot").ok_or("no snapshot")?, &columns, &[])?.len());
        }
        other => return Err(format!("unknown query {other}")),
    }
    Ok((changes, snapshot))
}

fn parse(key: &[u8], value: Option<&[u8]>) -> Result<Parsed, String> {
    let v: Value = serde_json::from_slice(value.ok_or("no value")?).map_err(|e| e.to_string())?;
    let o = v.as_object().ok_or("not an object")?;
    let query = o.get("name").and_then(Value::as_str).ok_or("no name")?;
    let (host, time, counter, legacy) = header(o, key)?;
    let numerics = o.get("numerics").and_then(Value::as_bool).unwrap_or(false);
    let decorated = decorated(o)?;
    let (changes, snapshot) = results(o, query, numerics, counter)?;
    Ok(Parsed {
        host: host.to_owned(),
        query: query.to_owned(),
        time,
        counter,
        changes,
        snapshot,
        legacy,
        numerics,
        decorated,
    })
}

#[test]
fn same_seed_same_stream() {
    let a: Vec<_> = OsquerySample::new(7, 30).take(3_000).collect();
    let b: Vec<_> = OsquerySample::new(7, 30).take(3_000).collect();
    let c: Vec<_> = OsquerySample::new(8, 30).take(3_000).collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn every_record_has_the_expected_shape_in_time_order() {
    let mut hosts = HashSet::new();
    let (mut legacy, mut numerics, mut decorated, mut empty, mut first) = (0, 0, 0, 0, 0);
    let mut last_time = START;
    for (key, value) in OsquerySample::new(7, 0).take(20_000) {
        let p = parse(&key, value.as_deref()).unwrap_or_else(|e| {
            panic!(
                "{e}: {}",
                String::from_utf8_lossy(value.as_deref().unwrap_or_default())
            )
        });
        assert!(p.time >= last_time, "records out of time order");
        last_time = p.time;
        hosts.insert(p.host);
        legacy += usize::from(p.legacy);
        numerics += usize::from(p.numerics);
        decorated += usize::from(p.decorated);
        empty += usize::from(p.snapshot == Some(0));
        first += usize::from(p.counter == 0 && !p.changes.is_empty());
    }
    assert_eq!(hosts.len(), 20);
    assert!(hosts.contains(LEGACY_HOST) && hosts.contains("web-00.prod"));
    assert!(legacy > 100, "{legacy} legacy records");
    assert!(numerics > 50, "{numerics} records with numerics");
    assert!(decorated > 1_000, "{decorated} decorated records");
    assert!(empty > 0, "no empty snapshot");
    assert!(first > 150, "{first} first-run records");
}

#[test]
fn differential_replay_is_consistent_and_counters_increase() {
    // (host, query) -> current rows, and (time, counter) of the last run.
    let mut state: HashMap<(String, String), (HashSet<String>, i64, u64)> = HashMap::new();
    let (mut removals, mut runs) = (0, 0);
    for (key, value) in OsquerySample::new(11, 0).take(20_000) {
        let p = parse(&key, value.as_deref()).expect("well-formed");
        if p.snapshot.is_some() {
            continue;
        }
        let slot = (p.host.clone(), p.query.clone());
        let seen = state.contains_key(&slot);
        let (rows, time, counter) = state.entry(slot).or_insert((HashSet::new(), p.time, 0));
        if !seen {
            assert_eq!(p.counter, 0, "first run of {} {}", p.host, p.query);
        } else if p.time == *time {
            assert_eq!(p.counter, *counter, "one run, one counter");
        } else {
            assert!(
                p.counter > *counter,
                "counter went from {counter} to {}",
                p.counter
            );
            runs += 1;
        }
        (*time, *counter) = (p.time, p.counter);
        for (added, r) in p.changes {
            if added {
                assert!(rows.insert(r.clone()), "{} added a present row {r}", p.host);
            } else {
                assert!(p.counter > 0, "a first run removes nothing");
                assert!(rows.remove(&r), "{} removed an absent row {r}", p.host);
                removals += 1;
            }
        }
    }
    assert!(
        removals > 1_000 && runs > 1_000,
        "{removals} removals in {runs} runs"
    );
}

#[test]
fn roughly_the_asked_share_is_malformed_and_every_kind_occurs() {
    let records: Vec<_> = OsquerySample::new(7, 50).take(10_000).collect();
    let mut reasons = HashMap::<String, usize>::new();
    for (key, value) in &records {
        if let Err(e) = parse(key, value.as_deref()) {
            let kind = e.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            *reasons.entry(kind).or_default() += 1;
        }
    }
    let rejected: usize = reasons.values().sum();
    assert!(
        (400..600).contains(&rejected),
        "{rejected} rejected: {reasons:?}"
    );
    assert!(reasons.len() >= 6, "{reasons:?}");
}
