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
//!
//! The code is laid out by concern: `events` holds the shapes Debezium
//! writes (the row, the envelope and its `source` block), `table` the
//! simulated table and the transactions that change it (snapshot, inserts,
//! updates, deletes, key changes, duplicates and swaps), and this module the
//! stream itself.

use std::collections::{HashMap, VecDeque};

use rand::{Rng, SeedableRng, rngs::StdRng};

use super::Record;
use events::{Event, Voter};

mod events;
mod table;
#[cfg(test)]
mod tests;

/// 2026-11-23T10:00:00Z in milliseconds: when the snapshot runs.
const START_MS: i64 = 1_795_428_000_000;
/// Rows in the initial snapshot unless told otherwise.
const SNAPSHOT_ROWS: usize = 200;

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
