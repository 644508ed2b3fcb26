//! The simulated table `public.voters` and what changes it: the initial
//! snapshot, then one transaction at a time (insert, update, delete, key
//! change), now and then a duplicate or two events written swapped.

use rand::Rng;

use super::events::{Envelope, Event, SnapshotFlag, Source, Tx, Voter, key, to_json};
use super::{DebeziumSample, START_MS};

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

impl DebeziumSample {
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

    /// Writes the next row of the initial snapshot.
    pub(super) fn snapshot_step(&mut self) {
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
    pub(super) fn step(&mut self) {
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
