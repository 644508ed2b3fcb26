//! Debezium change events of a Postgres table, as the PostgreSQL connector
//! writes them with the JSON converter and `schemas.enable=false` (no
//! `schema`/`payload` wrapper):
//!
//! ```text
//! key   {"id":N}
//! value {"before":ROW|null,"after":ROW|null,"source":{"version","connector":"postgresql",
//!        "name","ts_ms","snapshot","db","sequence","schema":"public","table":"voters",
//!        "txId","lsn","xmin":null},"op":"r"|"c"|"u"|"d","ts_ms","transaction":null}
//!       or null (a tombstone)
//! ROW   {"id": int8, "name": text, "city": text, "party": text,
//!        "registered": days since 1970-01-01 (io.debezium.time.Date),
//!        "updated_at": microseconds since the epoch (io.debezium.time.MicroTimestamp)}
//! ```
//!
//! The table `public.voters` has `REPLICA IDENTITY FULL`, so `before` holds
//! the whole old row of an update or delete. The stream starts with an
//! initial snapshot (200 rows unless [`DebeziumSample::snapshot_rows`] says
//! otherwise): `op` `r`, all at the same `lsn`, `source.snapshot` `"first"`
//! on the first row, `"last"` on the last, `"true"` between (a few carry the
//! boolean `true`, as some connector versions write). Then changes, one
//! transaction at a time, each event with a larger `lsn` than the one
//! before it and `sequence` `["<last commit lsn>","<lsn>"]`: about 42%
//! inserts (`c`), 42% updates (`u`, changing city, party or name), 13%
//! deletes (`d`, followed by a tombstone: same key, null value), and 3%
//! primary-key changes (in one transaction: `d` of the old key, its
//! tombstone, `c` of the new key).
//!
//! Like a topic written at least once, about 1% of the events are
//! duplicates (an earlier event's exact bytes again, with its tombstone if it
//! was a delete), and about 1% of the events come in out-of-order pairs: two
//! events of the same row (an insert or update, then the next update or
//! delete of that row) are written in swapped order, each keeping its own
//! `lsn`. A consumer that orders by `lsn` and ignores what it has seen
//! reconstructs the table; one that applies records in arrival order does not.

use std::collections::{HashMap, VecDeque};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::Serialize;

use super::Record;

/// 2026-11-23T10:00:00Z in milliseconds: when the snapshot runs.
const START_MS: i64 = 1_795_428_000_000;
/// Rows in the initial snapshot unless told otherwise.
const SNAPSHOT_ROWS: usize = 200;
/// Chance that a step re-emits an earlier event.
const DUPLICATE: f64 = 0.01;
/// Chance that an insert or update is written after the next change of its row.
const SWAP: f64 = 0.012;
/// How far back a duplicate reaches, in events.
const RECENT: usize = 500;

const CITIES: [&str; 8] = [
    "London",
    "Manchester",
    "Leeds",
    "Bristol",
    "Glasgow",
    "Cardiff",
    "Belfast",
    "York",
];
const PARTIES: [&str; 5] = ["green", "blue", "red", "yellow", "purple"];
const FIRST_NAMES: [&str; 12] = [
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Tim",
    "Sophie", "Siobhan",
];
const LAST_NAMES: [&str; 12] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Backus",
    "Hamilton",
    "Berners-Lee",
    "Wilson",
    "O'Brien",
];

#[derive(Debug, Clone, Serialize)]
struct Voter {
    id: i64,
    name: String,
    city: &'static str,
    party: &'static str,
    /// Days since 1970-01-01.
    registered: i32,
    /// Microseconds since the epoch.
    updated_at: i64,
}

/// `source.snapshot`: a string in most versions, a boolean in some.
#[derive(Serialize)]
#[serde(untagged)]
enum SnapshotFlag {
    Text(&'static str),
    Bool(bool),
}

#[derive(Serialize)]
struct Source {
    version: &'static str,
    connector: &'static str,
    name: &'static str,
    ts_ms: i64,
    snapshot: SnapshotFlag,
    db: &'static str,
    sequence: String,
    schema: &'static str,
    table: &'static str,
    #[serde(rename = "txId")]
    tx_id: u64,
    lsn: u64,
    xmin: Option<u64>,
}

impl Source {
    fn new(ts_ms: i64, snapshot: SnapshotFlag, sequence: String, tx_id: u64, lsn: u64) -> Self {
        Self {
            version: "3.0.1.Final",
            connector: "postgresql",
            name: "voters",
            ts_ms,
            snapshot,
            db: "registry",
            sequence,
            schema: "public",
            table: "voters",
            tx_id,
            lsn,
            xmin: None,
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    before: Option<&'a Voter>,
    after: Option<&'a Voter>,
    source: Source,
    op: &'static str,
    ts_ms: i64,
    transaction: Option<()>,
}

/// One change event, ready to write.
#[derive(Clone)]
struct Event {
    key: Vec<u8>,
    value: Vec<u8>,
    /// A delete: a tombstone follows it.
    delete: bool,
}

/// A transaction being written.
struct Tx {
    id: u64,
    ts_ms: i64,
    /// The lsn of the last commit before it (first element of `sequence`).
    after_lsn: u64,
}

/// A deterministic stream of Debezium change records (see the module docs).
pub struct DebeziumSample {
    rng: StdRng,
    /// The table now, and its ids (for picking a row at random).
    rows: HashMap<i64, Voter>,
    ids: Vec<i64>,
    next_id: i64,
    snapshot_rows: usize,
    snapshotted: usize,
    /// The lsn of the last event (during the snapshot: the snapshot's).
    lsn: u64,
    commit_lsn: u64,
    tx_id: u64,
    clock_ms: i64,
    last_ts_ms: i64,
    out: VecDeque<Record>,
    /// Recently written events, candidates for duplicates.
    recent: VecDeque<Event>,
}

impl DebeziumSample {
    /// A stream for `seed`, starting with a snapshot of 200 rows.
    pub fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let lsn = rng.random_range(20_000_000..30_000_000);
        let tx_id = rng.random_range(500..1_000);
        Self {
            rng,
            rows: HashMap::new(),
            ids: Vec::new(),
            next_id: 1,
            snapshot_rows: SNAPSHOT_ROWS,
            snapshotted: 0,
            lsn,
            commit_lsn: lsn,
            tx_id,
            clock_ms: START_MS,
            last_ts_ms: START_MS,
            out: VecDeque::new(),
            recent: VecDeque::new(),
        }
    }

    /// The initial snapshot has `rows` rows (fewer suit a short stream).
    #[must_use]
    pub fn snapshot_rows(mut self, rows: usize) -> Self {
        self.snapshot_rows = rows;
        self
    }

    fn name(&mut self) -> String {
        format!(
            "{} {}",
            FIRST_NAMES[self.rng.random_range(0..FIRST_NAMES.len())],
            LAST_NAMES[self.rng.random_range(0..LAST_NAMES.len())]
        )
    }

    fn voter(&mut self, id: i64, updated_at: i64) -> Voter {
        Voter {
            id,
            name: self.name(),
            city: CITIES[self.rng.random_range(0..CITIES.len())],
            party: PARTIES[self.rng.random_range(0..PARTIES.len())],
            // 2000-01-01 to 2026-11-01.
            registered: self.rng.random_range(10_957..20_758),
            updated_at,
        }
    }

    fn fresh_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += self.rng.random_range(1..4);
        id
    }

    fn envelope_ts(&mut self, source_ts: i64) -> i64 {
        self.last_ts_ms = (self.last_ts_ms + 1).max(source_ts + self.rng.random_range(5..300));
        self.last_ts_ms
    }

    fn snapshot_step(&mut self) {
        let i = self.snapshotted;
        self.snapshotted += 1;
        let id = self.fresh_id();
        let updated_at = START_MS * 1_000 - self.rng.random_range(0..94_608_000_000_000);
        let row = self.voter(id, updated_at);
        let flag = if i + 1 == self.snapshot_rows {
            SnapshotFlag::Text("last")
        } else if i == 0 {
            SnapshotFlag::Text("first")
        } else if self.rng.random_bool(0.04) {
            SnapshotFlag::Bool(true)
        } else {
            SnapshotFlag::Text("true")
        };
        let ts_ms = self.envelope_ts(START_MS);
        let source = Source::new(
            START_MS,
            flag,
            format!(r#"[null,"{}"]"#, self.lsn),
            self.tx_id,
            self.lsn,
        );
        let value = to_json(&Envelope {
            before: None,
            after: Some(&row),
            source,
            op: "r",
            ts_ms,
            transaction: None,
        });
        self.out.push_back((key(id), Some(value)));
        self.ids.push(id);
        self.rows.insert(id, row);
    }

    fn begin(&mut self) -> Tx {
        self.tx_id += self.rng.random_range(1..5);
        self.clock_ms += self.rng.random_range(20..2_500);
        Tx {
            id: self.tx_id,
            ts_ms: self.clock_ms,
            after_lsn: self.commit_lsn,
        }
    }

    fn commit(&mut self) {
        self.commit_lsn = self.lsn;
    }

    /// An event of `tx` at the next lsn, keyed by the row's id.
    fn event(
        &mut self,
        tx: &Tx,
        op: &'static str,
        before: Option<&Voter>,
        after: Option<&Voter>,
    ) -> Event {
        self.lsn += self.rng.random_range(8..600);
        let id = after.or(before).map_or(0, |r| r.id);
        let source = Source::new(
            tx.ts_ms,
            SnapshotFlag::Text("false"),
            format!(r#"["{}","{}"]"#, tx.after_lsn, self.lsn),
            tx.id,
            self.lsn,
        );
        let ts_ms = self.envelope_ts(tx.ts_ms);
        Event {
            key: key(id),
            value: to_json(&Envelope {
                before,
                after,
                source,
                op,
                ts_ms,
                transaction: None,
            }),
            delete: op == "d",
        }
    }

    /// Writes `event` (and a tombstone after a delete).
    fn emit(&mut self, event: Event) {
        self.out
            .push_back((event.key.clone(), Some(event.value.clone())));
        if event.delete {
            self.out.push_back((event.key.clone(), None));
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(event);
    }

    /// The row at `index` of `ids`, taken out of the table.
    fn take_at(&mut self, index: usize) -> Voter {
        let id = self.ids.swap_remove(index);
        self.rows
            .remove(&id)
            .expect("invariant: ids and rows agree")
    }

    /// Puts a row in the table; it becomes the last of `ids`.
    fn put_row(&mut self, row: Voter) {
        self.ids.push(row.id);
        self.rows.insert(row.id, row);
    }

    fn micros(&mut self, tx: &Tx) -> i64 {
        tx.ts_ms * 1_000 + self.rng.random_range(0..1_000)
    }

    fn insert(&mut self) -> Event {
        let tx = self.begin();
        let id = self.fresh_id();
        let micros = self.micros(&tx);
        let row = self.voter(id, micros);
        let event = self.event(&tx, "c", None, Some(&row));
        self.commit();
        self.put_row(row);
        event
    }

    /// Updates or deletes the row at `index` of `ids`.
    fn change(&mut self, index: usize, delete: bool) -> Event {
        let tx = self.begin();
        let old = self.take_at(index);
        let event = if delete {
            self.event(&tx, "d", Some(&old), None)
        } else {
            let mut new = old.clone();
            while (&new.name, new.city, new.party) == (&old.name, old.city, old.party) {
                match self.rng.random_range(0..10) {
                    0..5 => new.city = CITIES[self.rng.random_range(0..CITIES.len())],
                    5..8 => new.party = PARTIES[self.rng.random_range(0..PARTIES.len())],
                    _ => new.name = self.name(),
                }
            }
            new.updated_at = self.micros(&tx);
            let event = self.event(&tx, "u", Some(&old), Some(&new));
            self.put_row(new);
            event
        };
        self.commit();
        event
    }

    /// `UPDATE voters SET id = <new> WHERE id = <old>`: delete, tombstone, create.
    fn change_key(&mut self) {
        if self.ids.is_empty() {
            let event = self.insert();
            return self.emit(event);
        }
        let index = self.rng.random_range(0..self.ids.len());
        let old = self.take_at(index);
        let tx = self.begin();
        let new = Voter {
            id: self.fresh_id(),
            ..old.clone()
        };
        let delete = self.event(&tx, "d", Some(&old), None);
        let create = self.event(&tx, "c", None, Some(&new));
        self.commit();
        self.put_row(new);
        self.emit(delete);
        self.emit(create);
    }

    /// One transaction (sometimes two, swapped), or a duplicate.
    fn step(&mut self) {
        if !self.recent.is_empty() && self.rng.random_bool(DUPLICATE) {
            let i = self.rng.random_range(0..self.recent.len());
            let again = self.recent[i].clone();
            self.out.push_back((again.key.clone(), Some(again.value)));
            if again.delete {
                self.out.push_back((again.key, None));
            }
            return;
        }
        let roll = self.rng.random_range(0..100);
        if roll >= 97 {
            return self.change_key();
        }
        let first = match roll {
            0..42 => self.insert(),
            _ if self.ids.is_empty() => self.insert(),
            _ => {
                let index = self.rng.random_range(0..self.ids.len());
                self.change(index, roll >= 84)
            }
        };
        if !first.delete && self.rng.random_bool(SWAP) {
            // The row's next change (the row is the last of `ids`, just
            // written) is written first.
            let delete = self.rng.random_bool(0.4);
            let second = self.change(self.ids.len() - 1, delete);
            self.emit(second);
        }
        self.emit(first);
    }
}

fn key(id: i64) -> Vec<u8> {
    format!(r#"{{"id":{id}}}"#).into_bytes()
}

fn to_json(record: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(record).expect("invariant: records serialise to JSON")
}

impl Iterator for DebeziumSample {
    /// (key, value): the key is Debezium's key JSON; no value is a tombstone.
    type Item = Record;

    fn next(&mut self) -> Option<Self::Item> {
        while self.out.is_empty() {
            if self.snapshotted < self.snapshot_rows {
                self.snapshot_step();
            } else {
                self.step();
            }
        }
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests {
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
                    if let Some(d) =
                        last_delete.filter(|d| d["source"]["txId"] == v["source"]["txId"])
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
}
