//! The stored-key index of a dedupe table: what a dedupe step costs depends
//! on its batch, not on the table.
//!
//! A dedupe MERGE joins the batch against every stored row whose file the
//! batch's key range reaches; once compaction has packed a table into a few
//! large files, that is the whole table (9.7x the cost of an empty table at
//! 1M rows, docs/benchmarks.md). With the index on
//! ([`Table::set_key_index_limit`]) the handle keeps a set of 128-bit hashes
//! of the keys its table stores: SipHash-1-3 of the key columns in Arrow's
//! row format (null-safe, as the MERGE's predicate), under keys drawn per
//! index, so no input can aim at a collision; two distinct keys collide
//! with a probability of about n / 2^128 per lookup. A dedupe step then
//! keeps the batch's keys the set does not hold and commits them as an
//! append, with no scan of the table.
//!
//! The set is exact at one table version. It is built by reading the key
//! columns once (the first dedupe write of the handle), advanced by the
//! handle's own commits, and checked against every commit another writer
//! made since: one that changes no data (a compaction) keeps it; any
//! other (a restore, a delete, another host that took over the stage), or
//! a commit whose log entry is gone, makes it rebuild. The indexed append
//! takes no commit retry, so the set never misses a commit that landed
//! between its snapshot and the append: such a commit fails the step with
//! [`TableError::Conflict`] and the step redoes. A table of more rows than
//! the limit keeps the MERGE.
//!
//! Memory: 17 bytes a slot (the hash and a control byte), the slots a power
//! of two at most 7/8 full: 20-40 bytes a stored key, 285 MB at 10M keys,
//! and for the moment of a resize the old slots beside the new.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::time::Instant;

use deltalake::arrow::array::{ArrayRef, BooleanArray, RecordBatch};
use deltalake::arrow::compute::{cast, filter_record_batch};
use deltalake::arrow::datatypes::DataType;
use deltalake::arrow::error::ArrowError;
use deltalake::arrow::row::{RowConverter, SortField};
use siphasher::sip128::SipHasher13;

use super::{Commit, Table, TableError};

/// The hashes of the keys a table stores, exact at `version`.
pub(crate) struct KeyIndex {
    /// The key columns, in the write mode's order.
    columns: Vec<String>,
    /// Their types in the table: keys are hashed as these types, whatever
    /// encoding a batch reads them in.
    types: Vec<DataType>,
    /// The table version the set describes.
    version: i64,
    hasher: SipHasher13,
    hashes: HashSet<u128, BuildHasherDefault<Prehashed>>,
}

/// What a handle knows about its key index.
#[derive(Default)]
pub(crate) enum KeyState {
    /// No index: every dedupe is a MERGE.
    #[default]
    Off,
    /// On for tables of at most `limit` rows, not built yet.
    Unbuilt {
        /// The most rows the index holds.
        limit: u64,
    },
    /// Built; `limit` kept for a rebuild.
    Built {
        /// The most rows the index holds.
        limit: u64,
        /// The index.
        index: KeyIndex,
    },
    /// The table had more rows than `limit` at `version`: the MERGE runs
    /// until a later version fits again.
    TooLarge {
        /// The most rows the index holds.
        limit: u64,
        /// The version that was too large.
        version: i64,
    },
}

impl KeyState {
    fn limit(&self) -> Option<u64> {
        match self {
            KeyState::Off => None,
            KeyState::Unbuilt { limit }
            | KeyState::Built { limit, .. }
            | KeyState::TooLarge { limit, .. } => Some(*limit),
        }
    }
}

impl KeyIndex {
    fn new(columns: &[String], types: Vec<DataType>, version: i64) -> KeyIndex {
        // Keys of the hash drawn per index, from the process's random seed.
        let seed = RandomState::new();
        let hasher = SipHasher13::new_with_keys(seed.hash_one(0_u8), seed.hash_one(1_u8));
        KeyIndex {
            columns: columns.to_vec(),
            types,
            version,
            hasher,
            hashes: HashSet::default(),
        }
    }

    /// The hash of every row's key.
    fn hash_rows(&self, batch: &RecordBatch) -> Result<Vec<u128>, ArrowError> {
        let keys = self
            .columns
            .iter()
            .zip(&self.types)
            .map(|(name, wanted)| {
                let column = batch
                    .column_by_name(name)
                    .ok_or_else(|| ArrowError::SchemaError(format!("no key column {name}")))?;
                if column.data_type() == wanted {
                    Ok(column.clone())
                } else {
                    cast(column, wanted)
                }
            })
            .collect::<Result<Vec<ArrayRef>, _>>()?;
        let converter = RowConverter::new(
            self.types
                .iter()
                .map(|t| SortField::new(t.clone()))
                .collect(),
        )?;
        let rows = converter.convert_columns(&keys)?;
        Ok(rows
            .iter()
            .map(|row| self.hasher.hash(row.as_ref()).into())
            .collect())
    }

    fn insert_all(&mut self, hashes: impl IntoIterator<Item = u128>) {
        self.hashes.extend(hashes);
    }

    /// Keys stored.
    pub(crate) fn len(&self) -> usize {
        self.hashes.len()
    }
}

/// A hasher for values that are hashes already: the set takes the low 64
/// bits as they are instead of hashing them again.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys reach here (as one write_u128); fold anything else.
        for chunk in bytes.chunks(8) {
            let mut word = [0_u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 ^= u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, value: u128) {
        // The low half of a uniform hash (truncation intended).
        self.0 = value as u64;
    }
}

impl Table {
    /// Makes this handle's dedupe writes go through a stored-key index (see
    /// the module docs of `keys`) while the table has at most `limit` rows;
    /// 0 turns it off. Setting the limit it has keeps the index.
    pub fn set_key_index_limit(&mut self, limit: u64) {
        if self.keys.limit().unwrap_or(0) == limit {
            return;
        }
        self.keys = if limit == 0 {
            KeyState::Off
        } else {
            KeyState::Unbuilt { limit }
        };
    }

    /// Whether dedupe writes may use the key index.
    pub(super) fn key_index_on(&self) -> bool {
        self.keys.limit().is_some()
    }

    /// Keys in the index, if one is built (for status and tests).
    pub fn indexed_keys(&self) -> Option<usize> {
        match &self.keys {
            KeyState::Built { index, .. } => Some(index.len()),
            _ => None,
        }
    }

    /// A dedupe of `reduced` (one row per key, in the table's schema)
    /// through the key index: the rows of keys the table does not store are
    /// appended with the txns and lineage. `Ok(None)`, having written
    /// nothing, when the index is off or the table too large for it.
    pub(super) async fn dedupe_indexed(
        &mut self,
        reduced: &RecordBatch,
        columns: &[String],
        commit: &Commit,
    ) -> Result<Option<i64>, TableError> {
        if !self.key_index_current(columns).await? {
            return Ok(None);
        }
        let KeyState::Built { index, .. } = &self.keys else {
            return Ok(None);
        };
        let invalid = |e: ArrowError| TableError::InvalidBatch {
            table: self.uri.clone(),
            reason: e.to_string(),
        };
        let hashes = index.hash_rows(reduced).map_err(invalid)?;
        let fresh: Vec<bool> = hashes.iter().map(|h| !index.hashes.contains(h)).collect();
        let rows =
            filter_record_batch(reduced, &BooleanArray::from(fresh.clone())).map_err(invalid)?;
        let mut appender = self.appender()?;
        appender.write(&rows).await?;
        // No retry: a commit landing after the index's version must fail
        // this one, or the set would miss what it changed.
        let version = self.commit_append_once(appender, commit).await?;
        if let KeyState::Built { index, limit } = &mut self.keys {
            index.insert_all(
                hashes
                    .into_iter()
                    .zip(fresh)
                    .filter_map(|(h, fresh)| fresh.then_some(h)),
            );
            index.version = version;
            if index.len() as u64 > *limit {
                tracing::info!(table = %self.uri, keys = index.len(), limit = *limit, "key index dropped, past its limit: dedupe by MERGE");
                self.keys = KeyState::TooLarge {
                    limit: *limit,
                    version,
                };
            }
        }
        Ok(Some(version))
    }

    /// Brings the index for `columns` to the loaded snapshot, building it if
    /// needed; false when it is off or the table is too large for it.
    async fn key_index_current(&mut self, columns: &[String]) -> Result<bool, TableError> {
        let Some(limit) = self.keys.limit() else {
            return Ok(false);
        };
        let now = self.version();
        let keep = match &self.keys {
            KeyState::Built { index, .. } if index.columns == columns => {
                self.only_data_kept(index.version, now).await?
            }
            KeyState::TooLarge { version, .. } if *version == now => return Ok(false),
            _ => false,
        };
        if keep {
            if let KeyState::Built { index, .. } = &mut self.keys {
                index.version = now;
            }
            return Ok(true);
        }
        self.keys = match self.build_key_index(columns, limit).await? {
            Some(index) => KeyState::Built { limit, index },
            None => KeyState::TooLarge {
                limit,
                version: now,
            },
        };
        Ok(matches!(self.keys, KeyState::Built { .. }))
    }

    /// Whether every commit after `from` up to `to` changed no data.
    async fn only_data_kept(&self, from: i64, to: i64) -> Result<bool, TableError> {
        if to < from {
            // A newer table at the same location.
            return Ok(false);
        }
        for version in from + 1..=to {
            match self.commit_record(version).await? {
                Some(record) if !record.data_change => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    /// The index of the loaded snapshot's keys, read from its key columns;
    /// `None` when it has more than `limit` rows.
    async fn build_key_index(
        &self,
        columns: &[String],
        limit: u64,
    ) -> Result<Option<KeyIndex>, TableError> {
        let rows = self.file_stats(0).rows;
        if rows > limit {
            tracing::info!(table = %self.uri, rows, limit, "table too large for a key index: dedupe by MERGE");
            return Ok(None);
        }
        let started = Instant::now();
        let list = columns
            .iter()
            .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(", ");
        let batches = self.query(&format!("SELECT {list} FROM t")).await?;
        let types = columns
            .iter()
            .map(|c| {
                self.schema
                    .field_with_name(c)
                    .map(|f| f.data_type().clone())
                    .map_err(|_| TableError::MissingColumn {
                        table: self.uri.clone(),
                        column: c.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut index = KeyIndex::new(columns, types, self.version());
        for batch in &batches {
            let hashes = index
                .hash_rows(batch)
                .map_err(|e| TableError::InvalidBatch {
                    table: self.uri.clone(),
                    reason: e.to_string(),
                })?;
            index.insert_all(hashes);
        }
        tracing::info!(
            table = %self.uri,
            version = index.version,
            keys = index.len(),
            ms = started.elapsed().as_millis(),
            "key index built"
        );
        Ok(Some(index))
    }
}
