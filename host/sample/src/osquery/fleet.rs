//! The simulated fleet: each host's processes, listening ports and users,
//! how they change between query runs, and what a run of each query logs
//! (only real differences for the differential queries, as osquery does).

use rand::{Rng, rngs::StdRng};

use super::records::{
    BatchRecord, Decorations, DiffResults, EventRecord, Header, Port, Process, Query, Scalar,
    SnapshotRecord, User, calendar_time, to_json,
};

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

/// One simulated host and the current rows of its queries.
pub(super) struct Host {
    pub(super) id: String,
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
    pub(super) fn new(rng: &mut StdRng, id: String, role: &str, legacy: bool) -> Self {
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
    pub(super) fn log_processes(&mut self, rng: &mut StdRng, time: i64) -> Vec<Vec<u8>> {
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
    pub(super) fn log_ports(&mut self, rng: &mut StdRng, time: i64) -> Vec<Vec<u8>> {
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
    pub(super) fn log_users(&mut self, rng: &mut StdRng, time: i64) -> Vec<Vec<u8>> {
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
