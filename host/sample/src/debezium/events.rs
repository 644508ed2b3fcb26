//! The shapes of the Debezium PostgreSQL connector's change events (JSON
//! converter, no schemas): the `voters` row, the envelope with its `source`
//! block, and the key; serialised with serde in Debezium's field order.

use serde::Serialize;

/// A row of `public.voters`, as the connector writes it.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Voter {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) city: &'static str,
    pub(super) party: &'static str,
    /// Days since 1970-01-01.
    pub(super) registered: i32,
    /// Microseconds since the epoch.
    pub(super) updated_at: i64,
}

/// `source.snapshot`: a string in most versions, a boolean in some.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum SnapshotFlag {
    Text(&'static str),
    Bool(bool),
}

/// The `source` block: where and when the change happened.
#[derive(Serialize)]
pub(super) struct Source {
    pub(super) version: &'static str,
    pub(super) connector: &'static str,
    pub(super) name: &'static str,
    pub(super) ts_ms: i64,
    pub(super) snapshot: SnapshotFlag,
    pub(super) db: &'static str,
    pub(super) sequence: String,
    pub(super) schema: &'static str,
    pub(super) table: &'static str,
    #[serde(rename = "txId")]
    pub(super) tx_id: u64,
    pub(super) lsn: u64,
    pub(super) xmin: Option<u64>,
}

impl Source {
    pub(super) fn new(
        ts_ms: i64,
        snapshot: SnapshotFlag,
        sequence: String,
        tx_id: u64,
        lsn: u64,
    ) -> Self {
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

/// A change event's value: the row before and after, and its `source`.
#[derive(Serialize)]
pub(super) struct Envelope<'a> {
    pub(super) before: Option<&'a Voter>,
    pub(super) after: Option<&'a Voter>,
    pub(super) source: Source,
    pub(super) op: &'static str,
    pub(super) ts_ms: i64,
    pub(super) transaction: Option<()>,
}

/// One change event, ready to write.
#[derive(Clone)]
pub(super) struct Event {
    pub(super) key: Vec<u8>,
    pub(super) value: Vec<u8>,
    /// A delete: a tombstone follows it.
    pub(super) delete: bool,
}

/// A transaction being written.
pub(super) struct Tx {
    pub(super) id: u64,
    pub(super) ts_ms: i64,
    /// The lsn of the last commit before it (first element of `sequence`).
    pub(super) after_lsn: u64,
}

/// The record key of row `id`: `{"id":N}`.
pub(super) fn key(id: i64) -> Vec<u8> {
    format!(r#"{{"id":{id}}}"#).into_bytes()
}

/// `record` as JSON bytes.
pub(super) fn to_json(record: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(record).expect("invariant: records serialise to JSON")
}
