//! osquery result logs, as osqueryd's Kafka logger writes them: a fleet of
//! about 20 hosts, each running three scheduled queries every few minutes,
//! on a simulated clock from 2026-11-23T10:00:00Z. Records come in time
//! order; the Kafka key is the host identifier.
//!
//! Every record carries `name`, `hostIdentifier`, `calendarTime` (asctime
//! style, `"Mon Nov 23 10:00:00 2026 UTC"`, the same second as `unixTime`),
//! `unixTime`, `epoch` (always 0), `counter`, `numerics`, and on some hosts
//! `decorations` `{"host_uuid", "username"}`. The three queries:
//!
//! - `pack_host_processes`: differential, event format, one record per row
//!   change: `"columns": {"name", "path", "pid", "uid", "resident_size"}`
//!   (all strings), `"action": "removed" | "added"`, `numerics` false.
//! - `pack_listening_ports`: differential, batch format, one record per run:
//!   `"diffResults": {"removed": [...], "added": [...]}` of
//!   `{"pid", "port", "protocol", "address"}`; on hosts with `numerics` true
//!   `pid`, `port` and `protocol` are JSON numbers, otherwise strings.
//! - `pack_users`: snapshot format, `"action": "snapshot"`, `"snapshot": [...]`
//!   of `{"name", "uid", "gid", "shell"}` (strings), `counter` 0; now and
//!   then the snapshot is empty.
//!
//! A differential query's first run has `counter` 0 and adds every row; each
//! later run increments `counter` and reports only real differences from the
//! previous run (removed rows were present, added rows were not), removed
//! rows first, as osquery does. A run without differences logs nothing (its
//! counter still advances). One legacy host (an old build) writes `hostname`
//! instead of `hostIdentifier`, `unixTime`, `epoch` and `counter` as strings,
//! and no `numerics`.
//!
//! `malformed_per_mille` of the records are extra, broken records a parser
//! must reject: not JSON (a truncated line), a JSON array, no `name`,
//! `unixTime` `"soon"`, `columns` a string, `diffResults.added` not an array.
//! They are inserted between the real records, so the real ones still
//! replay to a consistent state.
//!
//! The code is laid out by concern: `records` holds the shapes osquery
//! writes (the three record formats and their rows), `fleet` the simulated
//! hosts (what runs on them, how it changes, what a query run logs), and
//! this module the stream: the schedule of every (host, query) and the
//! malformed records slipped in between.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::Value;

use fleet::Host;
use records::{Query, to_json};

mod fleet;
mod records;
#[cfg(test)]
mod tests;

/// 2026-11-23T10:00:00Z, where the simulated clock starts.
const START: i64 = 1_795_428_000;

/// The fleet: (role, hosts of that role).
const ROLES: [(&str, usize); 4] = [("web", 10), ("db", 4), ("cache", 3), ("worker", 2)];

/// The old build, which writes the legacy field names and types.
const LEGACY_HOST: &str = "legacy-03";

/// A deterministic stream of osquery result records (see the module docs).
pub struct OsquerySample {
    rng: StdRng,
    hosts: Vec<Host>,
    /// The next run of every (host, query): (time, host index, query).
    schedule: BinaryHeap<Reverse<(i64, usize, Query)>>,
    /// Records of the current run not yet returned: (key, value).
    pending: VecDeque<(Vec<u8>, Vec<u8>)>,
    malformed_per_mille: u32,
}

impl OsquerySample {
    /// A stream for `seed`; `malformed_per_mille` (0-1000) of the records are
    /// extra, broken ones.
    pub fn new(seed: u64, malformed_per_mille: u32) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut hosts = Vec::new();
        for (role, n) in ROLES {
            for i in 0..n {
                hosts.push(Host::new(
                    &mut rng,
                    format!("{role}-{i:02}.prod"),
                    role,
                    false,
                ));
            }
        }
        hosts.push(Host::new(&mut rng, LEGACY_HOST.to_owned(), "worker", true));
        let mut schedule = BinaryHeap::new();
        for h in 0..hosts.len() {
            for q in Query::ALL {
                let first = START + rng.random_range(0..q.interval());
                schedule.push(Reverse((first, h, q)));
            }
        }
        Self {
            rng,
            hosts,
            schedule,
            pending: VecDeque::new(),
            malformed_per_mille: malformed_per_mille.min(1000),
        }
    }

    /// Runs the next scheduled query, queueing what it logs (maybe nothing).
    fn run_next(&mut self) {
        let Reverse((time, h, query)) = self
            .schedule
            .pop()
            .expect("invariant: every query is always rescheduled");
        self.schedule
            .push(Reverse((time + query.interval(), h, query)));
        let host = &mut self.hosts[h];
        let records = match query {
            Query::Processes => host.log_processes(&mut self.rng, time),
            Query::Ports => host.log_ports(&mut self.rng, time),
            Query::Users => host.log_users(&mut self.rng, time),
        };
        let key = host.id.as_bytes();
        self.pending
            .extend(records.into_iter().map(|v| (key.to_vec(), v)));
    }

    /// A broken record shaped after `real` (a record of the current run).
    fn malformed(&mut self, real: &[u8]) -> Vec<u8> {
        let kind = self.rng.random_range(0..6);
        if kind == 0 {
            // A line cut short: not JSON.
            return real[..real.len() / 2].to_vec();
        }
        let mut v: Value =
            serde_json::from_slice(real).expect("invariant: the generator's records are JSON");
        match kind {
            1 => v = Value::Array(vec![v]),
            2 => {
                if let Some(o) = v.as_object_mut() {
                    o.remove("name");
                }
            }
            3 => v["unixTime"] = "soon".into(),
            4 => {
                let row = any_row(&v);
                strip_results(&mut v);
                v["columns"] = Value::String(row.to_string());
                v["action"] = "added".into();
            }
            _ => {
                let row = any_row(&v);
                strip_results(&mut v);
                v["diffResults"] = serde_json::json!({"removed": [], "added": row});
            }
        }
        to_json(&v)
    }
}

/// A row of a record, whatever its format.
fn any_row(v: &Value) -> Value {
    [
        "/columns",
        "/diffResults/added/0",
        "/diffResults/removed/0",
        "/snapshot/0",
    ]
    .iter()
    .find_map(|p| v.pointer(p))
    .cloned()
    .unwrap_or_else(
        || serde_json::json!({"name": "root", "uid": "0", "gid": "0", "shell": "/bin/bash"}),
    )
}

fn strip_results(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        for k in ["columns", "diffResults", "snapshot", "action"] {
            o.remove(k);
        }
    }
}

impl Iterator for OsquerySample {
    /// (key, value): the key is the host identifier.
    type Item = super::Record;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pending.is_empty() {
            self.run_next();
        }
        if self.rng.random_range(0..1000) < self.malformed_per_mille {
            let (key, real) = self
                .pending
                .front()
                .cloned()
                .expect("invariant: filled above");
            return Some((key, Some(self.malformed(&real))));
        }
        self.pending.pop_front().map(|(k, v)| (k, Some(v)))
    }
}
