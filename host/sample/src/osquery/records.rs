//! The shapes of osquery's result logs: the three scheduled queries, the
//! rows they return, and the event, batch and snapshot records a run is
//! written as, each serialised with serde in osquery's field order.

use serde::{Serialize, ser::SerializeMap};

/// The three scheduled queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Query {
    Processes,
    Ports,
    Users,
}

impl Query {
    pub(super) const ALL: [Self; 3] = [Self::Processes, Self::Ports, Self::Users];

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Processes => "pack_host_processes",
            Self::Ports => "pack_listening_ports",
            Self::Users => "pack_users",
        }
    }

    /// Seconds between runs.
    pub(super) fn interval(self) -> i64 {
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
pub(super) enum Scalar {
    Int(u64),
    Text(String),
}

impl Scalar {
    pub(super) fn of(n: u64, numeric: bool) -> Self {
        if numeric {
            Self::Int(n)
        } else {
            Self::Text(n.to_string())
        }
    }
}

/// A result row: its columns in order, serialised as a JSON object.
#[derive(Debug, Clone)]
pub(super) struct Row(Vec<(&'static str, Scalar)>);

impl Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A row of `pack_host_processes`: one running program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Process {
    pub(super) name: &'static str,
    pub(super) path: &'static str,
    pub(super) pid: u64,
    pub(super) uid: u64,
    pub(super) resident_size: u64,
}

impl Process {
    pub(super) fn row(&self) -> Row {
        Row(vec![
            ("name", Scalar::Text(self.name.to_owned())),
            ("path", Scalar::Text(self.path.to_owned())),
            ("pid", Scalar::of(self.pid, false)),
            ("uid", Scalar::of(self.uid, false)),
            ("resident_size", Scalar::of(self.resident_size, false)),
        ])
    }
}

/// A row of `pack_listening_ports`: one listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Port {
    pub(super) pid: u64,
    pub(super) port: u64,
    pub(super) protocol: u64,
    pub(super) address: &'static str,
}

impl Port {
    pub(super) fn row(&self, numerics: bool) -> Row {
        Row(vec![
            ("pid", Scalar::of(self.pid, numerics)),
            ("port", Scalar::of(self.port, numerics)),
            ("protocol", Scalar::of(self.protocol, numerics)),
            ("address", Scalar::Text(self.address.to_owned())),
        ])
    }
}

/// A row of `pack_users`: one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct User {
    pub(super) name: String,
    pub(super) uid: u64,
    pub(super) gid: u64,
    pub(super) shell: &'static str,
}

impl User {
    pub(super) fn row(&self) -> Row {
        Row(vec![
            ("name", Scalar::Text(self.name.clone())),
            ("uid", Scalar::of(self.uid, false)),
            ("gid", Scalar::of(self.gid, false)),
            ("shell", Scalar::Text(self.shell.to_owned())),
        ])
    }
}

/// The `decorations` some hosts add to every record.
#[derive(Debug, Serialize)]
pub(super) struct Decorations {
    pub(super) host_uuid: String,
    pub(super) username: &'static str,
}

/// The fields every record carries, in osquery's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Header<'a> {
    pub(super) name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) host_identifier: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) hostname: Option<&'a str>,
    pub(super) calendar_time: String,
    pub(super) unix_time: Scalar,
    pub(super) epoch: Scalar,
    pub(super) counter: Scalar,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) numerics: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) decorations: Option<&'a Decorations>,
}

/// An event-format record: one row change (`pack_host_processes`).
#[derive(Serialize)]
pub(super) struct EventRecord<'a> {
    #[serde(flatten)]
    pub(super) header: &'a Header<'a>,
    pub(super) columns: Row,
    pub(super) action: &'static str,
}

/// The rows a batch-format record removes and adds.
#[derive(Serialize)]
pub(super) struct DiffResults {
    pub(super) removed: Vec<Row>,
    pub(super) added: Vec<Row>,
}

/// A batch-format record: every difference of one run (`pack_listening_ports`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchRecord<'a> {
    pub(super) diff_results: DiffResults,
    #[serde(flatten)]
    pub(super) header: &'a Header<'a>,
}

/// A snapshot-format record: every row of one run (`pack_users`).
#[derive(Serialize)]
pub(super) struct SnapshotRecord<'a> {
    pub(super) snapshot: Vec<Row>,
    pub(super) action: &'static str,
    #[serde(flatten)]
    pub(super) header: &'a Header<'a>,
}

/// osquery's `calendarTime`: asctime in UTC, day of month padded with a space.
pub(super) fn calendar_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .expect("invariant: the simulated clock stays in chrono's range")
        .format("%a %b %e %H:%M:%S %Y UTC")
        .to_string()
}

/// `record` as JSON bytes.
pub(super) fn to_json(record: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(record).expect("invariant: records serialise to JSON")
}
