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

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
};

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Serialize, ser::SerializeMap};
use serde_json::Value;

/// 2026-11-23T10:00:00Z, where the simulated clock starts.
const START: i64 = 1_795_428_000;

/// The fleet: (role, hosts of that role).
const ROLES: [(&str, usize); 4] = [("web", 10), ("db", 4), ("cache", 3), ("worker", 2)];

/// The old build, which writes the legacy field names and types.
const LEGACY_HOST: &str = "legacy-03";

/// (name, path, uid) of programs every host runs.
const BASE_PROGRAMS: [(&str, &str, u32); 5] = [
    ("systemd-journald", "/usr/lib/systemd/systemd-journald", 0),
    ("sshd", "/usr/sbin/sshd", 0),
    ("cron", "/usr/sbin/cron", 0),
    ("rsyslogd", "/usr/sbin/rsyslogd", 104),
    ("osqueryd", "/opt/osquery/bin/osqueryd", 0),
];

/// (name, path, uid, listening port) of a role's main program.
fn role_program(role: &str) -> (&'static str, &'static str, u32, u16) {
    match role {
        "web" => ("nginx", "/usr/sbin/nginx", 33, 443),
        "db" => ("postgres", "/usr/lib/postgresql/16/bin/postgres", 113, 5432),
        "cache" => ("redis-server", "/usr/bin/redis-server", 115, 6379),
        _ => ("python3", "/usr/bin/python3", 1000, 8080),
    }
}

/// Short-lived programs that come and go.
const TRANSIENT_PROGRAMS: [(&str, &str, u32); 5] = [
    ("bash", "/usr/bin/bash", 1000),
    ("node", "/usr/bin/node", 1000),
    ("apt-get", "/usr/bin/apt-get", 0),
    ("logrotate", "/usr/sbin/logrotate", 0),
    ("java", "/usr/bin/java", 1001),
];

const SHELLS: [&str; 3] = ["/bin/bash", "/bin/zsh", "/usr/sbin/nologin"];
const OPERATORS: [&str; 3] = ["ops", "deploy", "root"];

/// The three scheduled queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Query {
    Processes,
    Ports,
    Users,
}

impl Query {
    const ALL: [Self; 3] = [Self::Processes, Self::Ports, Self::Users];

    fn name(self) -> &'static str {
        match self {
            Self::Processes => "pack_host_processes",
            Self::Ports => "pack_listening_ports",
            Self::Users => "pack_users",
        }
    }

    /// Seconds between runs.
    fn interval(self) -> i64 {
        match self {
            Self::Processes => 180,
            Self::Ports => 300,
            Self::Users => 600,
        }
    }
}

/// A value in a row or a header: a JSON number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
enum Scalar {
    Int(u64),
    Text(String),
}

impl Scalar {
    fn of(n: u64, numeric: bool) -> Self {
        if numeric {
            Self::Int(n)
        } else {
            Self::Text(n.to_string())
        }
    }
}

/// A result row: its columns in order, serialised as a JSON object.
#[derive(Debug, Clone)]
struct Row(Vec<(&'static str, Scalar)>);

impl Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Process {
    name: &'static str,
    path: &'static str,
    pid: u64,
    uid: u64,
    resident_size: u64,
}

impl Process {
    fn row(&self) -> Row {
        Row(vec![
            ("name", Scalar::Text(self.name.to_owned())),
            ("path", Scalar::Text(self.path.to_owned())),
            ("pid", Scalar::of(self.pid, false)),
            ("uid", Scalar::of(self.uid, false)),
            ("resident_size", Scalar::of(self.resident_size, false)),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Port {
    pid: u64,
    port: u64,
    protocol: u64,
    address: &'static str,
}

impl Port {
    fn row(&self, numerics: bool) -> Row {
        Row(vec![
            ("pid", Scalar::of(self.pid, numerics)),
            ("port", Scalar::of(self.port, numerics)),
            ("protocol", Scalar::of(self.protocol, numerics)),
            ("address", Scalar::Text(self.address.to_owned())),
        ])
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct User {
    name: String,
    uid: u64,
    gid: u64,
    shell: &'static str,
}

impl User {
    fn row(&self) -> Row {
        Row(vec![
            ("name", Scalar::Text(self.name.clone())),
            ("uid", Scalar::of(self.uid, false)),
            ("gid", Scalar::of(self.gid, false)),
            ("shell", Scalar::Text(self.shell.to_owned())),
        ])
    }
}

#[derive(Debug, Serialize)]
struct Decorations {
    host_uuid: String,
    username: &'static str,
}

/// The fields every record carries, in osquery's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Header<'a> {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_identifier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    calendar_time: String,
    unix_time: Scalar,
    epoch: Scalar,
    counter: Scalar,
    #[serde(skip_serializing_if = "Option::is_none")]
    numerics: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decorations: Option<&'a Decorations>,
}

#[derive(Serialize)]
struct EventRecord<'a> {
    #[serde(flatten)]
    header: &'a Header<'a>,
    columns: Row,
    action: &'static str,
}

#[derive(Serialize)]
struct DiffResults {
    removed: Vec<Row>,
    added: Vec<Row>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BatchRecord<'a> {
    diff_results: DiffResults,
    #[serde(flatten)]
    header: &'a Header<'a>,
}

#[derive(Serialize)]
struct SnapshotRecord<'a> {
    snapshot: Vec<Row>,
    action: &'static str,
    #[serde(flatten)]
    header: &'a Header<'a>,
}

/// One simulated host and the current rows of its queries.
struct Host {
    id: String,
    legacy: bool,
    /// Whether `pack_listening_ports` is logged with numbers.
    numerics: bool,
    decorations: Option<Decorations>,
    processes: Vec<Process>,
    ports: Vec<Port>,
    users: Vec<User>,
    /// The last counter of each differential query; `None` before its first run.
    counters: [Option<u64>; 2],
    next_pid: u64,
    next_user: u64,
}

impl Host {
    fn new(rng: &mut StdRng, id: String, role: &str, legacy: bool) -> Self {
        let decorations = (!legacy && rng.random_bool(0.5)).then(|| Decorations {
            host_uuid: format!(
                "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
                rng.random::<u32>(),
                rng.random::<u16>(),
                rng.random::<u16>(),
                rng.random::<u16>(),
                rng.random::<u64>() & 0xFFFF_FFFF_FFFF
            ),
            username: OPERATORS[rng.random_range(0..OPERATORS.len())],
        });
        let mut host = Self {
            id,
            legacy,
            numerics: !legacy && (role == "db" || rng.random_bool(0.25)),
            decorations,
            processes: Vec::new(),
            ports: Vec::new(),
            users: Vec::new(),
            counters: [None; 2],
            next_pid: rng.random_range(300..2_000),
            next_user: 0,
        };
        for (name, path, uid) in BASE_PROGRAMS {
            host.spawn(rng, name, path, uid);
        }
        let (name, path, uid, port) = role_program(role);
        for _ in 0..rng.random_range(2..6) {
            host.spawn(rng, name, path, uid);
        }
        host.listen(rng, 22, 6, "0.0.0.0");
        host.listen(rng, 323, 17, "127.0.0.1");
        host.listen(rng, port, 6, "0.0.0.0");
        if role == "web" {
            host.listen(rng, 80, 6, "0.0.0.0");
        }
        for (name, uid, shell) in [
            ("root", 0, SHELLS[0]),
            ("daemon", 1, SHELLS[2]),
            ("nobody", 65_534, SHELLS[2]),
        ] {
            host.users.push(User {
                name: name.to_owned(),
                uid,
                gid: uid,
                shell,
            });
        }
        for _ in 0..rng.random_range(1..4) {
            host.add_user(rng);
        }
        host
    }

    fn pid(&mut self, rng: &mut StdRng) -> u64 {
        self.next_pid += rng.random_range(1..60);
        self.next_pid
    }

    fn spawn(&mut self, rng: &mut StdRng, name: &'static str, path: &'static str, uid: u32) {
        let pid = self.pid(rng);
        self.processes.push(Process {
            name,
            path,
            pid,
            uid: u64::from(uid),
            resident_size: rng.random_range(256..20_000) * 4_096,
        });
    }

    fn listen(&mut self, rng: &mut StdRng, port: u16, protocol: u64, address: &'static str) {
        let pid = self.pid(rng);
        self.ports.push(Port {
            pid,
            port: u64::from(port),
            protocol,
            address,
        });
    }

    fn add_user(&mut self, rng: &mut StdRng) {
        const NAMES: [&str; 6] = ["ops", "deploy", "alice", "bob", "carol", "dave"];
        let n = self.next_user;
        self.next_user += 1;
        let base = NAMES[(n as usize) % NAMES.len()];
        let name = if (n as usize) < NAMES.len() {
            base.to_owned()
        } else {
            format!("{base}{n}")
        };
        self.users.push(User {
            name,
            uid: 1_000 + n,
            gid: 1_000 + n,
            shell: SHELLS[rng.random_range(0..2)],
        });
    }

    /// Changes the process table; returns (removed, added), real differences only.
    fn churn_processes(&mut self, rng: &mut StdRng) -> (Vec<Process>, Vec<Process>) {
        let mut removed = Vec::new();
        let exits = rng.random_range(0..=2) + usize::from(self.processes.len() > 24);
        for _ in 0..exits.min(self.processes.len().saturating_sub(4)) {
            let i = rng.random_range(0..self.processes.len());
            removed.push(self.processes.swap_remove(i));
        }
        // A process whose memory changed is a different row: the old one is
        // removed, the new one added. Chosen among rows that existed before.
        let mut changed = Vec::new();
        if rng.random_bool(0.5) {
            let i = rng.random_range(0..self.processes.len());
            let old = self.processes.swap_remove(i);
            changed.push(Process {
                resident_size: old.resident_size + rng.random_range(1..512) * 4_096,
                ..old.clone()
            });
            removed.push(old);
        }
        let first_added = self.processes.len();
        self.processes.append(&mut changed);
        for _ in 0..rng.random_range(0..=2) + usize::from(self.processes.len() < 8) {
            let (name, path, uid) =
                TRANSIENT_PROGRAMS[rng.random_range(0..TRANSIENT_PROGRAMS.len())];
            self.spawn(rng, name, path, uid);
        }
        (removed, self.processes[first_added..].to_vec())
    }

    /// Changes the listening sockets; returns (removed, added), real differences only.
    fn churn_ports(&mut self, rng: &mut StdRng) -> (Vec<Port>, Vec<Port>) {
        let mut removed = Vec::new();
        let mut added = Vec::new();
        if rng.random_bool(0.15) {
            // A service restarts: the same sockets under a new pid.
            let pid = self.ports[rng.random_range(0..self.ports.len())].pid;
            let new_pid = self.pid(rng);
            let (gone, kept) = self.ports.drain(..).partition(|p| p.pid == pid);
            self.ports = kept;
            for p in gone {
                added.push(Port {
                    pid: new_pid,
                    ..p.clone()
                });
                removed.push(p);
            }
        }
        let apps: Vec<usize> = (0..self.ports.len())
            .filter(|&i| self.ports[i].port >= 9_000)
            .collect();
        if !apps.is_empty() && rng.random_bool(0.25) {
            removed.push(
                self.ports
                    .swap_remove(apps[rng.random_range(0..apps.len())]),
            );
        }
        if rng.random_bool(0.3) {
            let port = loop {
                let port = rng.random_range(9_000..9_400);
                if !self.ports.iter().chain(&added).any(|p| p.port == port) {
                    break port;
                }
            };
            added.push(Port {
                pid: self.pid(rng),
                port,
                protocol: 6,
                address: "127.0.0.1",
            });
        }
        self.ports.extend(added.iter().cloned());
        (removed, added)
    }

    /// Now and then an account is created or deleted.
    fn churn_users(&mut self, rng: &mut StdRng) {
        if rng.random_bool(0.03) {
            self.add_user(rng);
        }
        let people: Vec<usize> = (0..self.users.len())
            .filter(|&i| (1_000..65_534).contains(&self.users[i].uid))
            .collect();
        if !people.is_empty() && rng.random_bool(0.02) {
            self.users.remove(people[rng.random_range(0..people.len())]);
        }
    }

    fn header(&self, query: Query, time: i64, counter: u64) -> Header<'_> {
        let calendar_time = calendar_time(time);
        if self.legacy {
            return Header {
                name: query.name(),
                host_identifier: None,
                hostname: Some(&self.id),
                calendar_time,
                unix_time: Scalar::Text(time.to_string()),
                epoch: Scalar::Text("0".to_owned()),
                counter: Scalar::Text(counter.to_string()),
                numerics: None,
                decorations: None,
            };
        }
        Header {
            name: query.name(),
            host_identifier: Some(&self.id),
            hostname: None,
            calendar_time,
            unix_time: Scalar::Int(time.unsigned_abs()),
            epoch: Scalar::Int(0),
            counter: Scalar::Int(counter),
            numerics: Some(query == Query::Ports && self.numerics),
            decorations: self.decorations.as_ref(),
        }
    }

    /// Runs `pack_host_processes`: one record per row change.
    fn log_processes(&mut self, rng: &mut StdRng, time: i64) -> Vec<Vec<u8>> {
        let (counter, first) = self.count(Query::Processes);
        let (removed, added) = if first {
            (Vec::new(), self.processes.clone())
        } else {
            self.churn_processes(rng)
        };
        let header = self.header(Query::Processes, time, counter);
        let rows = removed.iter().map(|p| (p, "removed"));
        rows.chain(added.iter().map(|p| (p, "added")))
            .map(|(p, action)| {
                to_json(&EventRecord {
                    header: &header,
                    columns: p.row(),
                    action,
                })
            })
            .collect()
    }

    /// Runs `pack_listening_ports`: one batch record, if anything changed.
    fn log_ports(&mut self, rng: &mut StdRng, time: i64) -> Vec<Vec<u8>> {
        let (counter, first) = self.count(Query::Ports);
        let (removed, added) = if first {
            (Vec::new(), self.ports.clone())
        } else {
            self.churn_ports(rng)
        };
        if removed.is_empty() && added.is_empty() {
            return Vec::new();
        }
        let rows = |ports: &[Port]| ports.iter().map(|p| p.row(self.numerics)).collect();
        vec![to_json(&BatchRecord {
            diff_results: DiffResults {
                removed: rows(&removed),
                added: rows(&added),
            },
            header: &self.header(Query::Ports, time, counter),
        })]
    }

    /// Runs `pack_users`: one snapshot record.
    fn log_users(&mut self, rng: &mut StdRng, time: i64) -> Vec<Vec<u8>> {
        self.churn_users(rng);
        // Now and then the query comes back empty (a locked /etc/passwd, a
        // timeout): osquery logs an empty snapshot.
        let snapshot = if rng.random_bool(0.03) {
            Vec::new()
        } else {
            self.users.iter().map(User::row).collect()
        };
        vec![to_json(&SnapshotRecord {
            snapshot,
            action: "snapshot",
            header: &self.header(Query::Users, time, 0),
        })]
    }

    /// The next counter of a differential query: 0 on its first run.
    fn count(&mut self, query: Query) -> (u64, bool) {
        let slot = &mut self.counters[usize::from(query == Query::Ports)];
        let first = slot.is_none();
        let counter = slot.map_or(0, |c| c + 1);
        *slot = Some(counter);
        (counter, first)
    }
}

/// osquery's `calendarTime`: asctime in UTC, day of month padded with a space.
fn calendar_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .expect("invariant: the simulated clock stays in chrono's range")
        .format("%a %b %e %H:%M:%S %Y UTC")
        .to_string()
}

fn to_json(record: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(record).expect("invariant: records serialise to JSON")
}

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

#[cfg(test)]
mod tests {
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

    fn parse(key: &[u8], value: Option<&[u8]>) -> Result<Parsed, String> {
        let v: Value =
            serde_json::from_slice(value.ok_or("no value")?).map_err(|e| e.to_string())?;
        let o = v.as_object().ok_or("not an object")?;
        let query = o.get("name").and_then(Value::as_str).ok_or("no name")?;
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
        let numerics = o.get("numerics").and_then(Value::as_bool).unwrap_or(false);
        let decorated = match o.get("decorations") {
            None => false,
            Some(d) => {
                let ok = d["host_uuid"].as_str().is_some_and(|u| u.len() == 36)
                    && d["username"].is_string();
                if !ok {
                    return Err("bad decorations".into());
                }
                true
            }
        };
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
                snapshot =
                    Some(rows(o.get("snapshot").ok_or("no snapshot")?, &columns, &[])?.len());
            }
            other => return Err(format!("unknown query {other}")),
        }
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
}
