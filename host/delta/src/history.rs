//! Reading single commits of a table's log: the lineage and timestamp of a
//! version, the commits that recorded a given `txn`, and how far back the
//! log still reaches.
//!
//! These read one commit file each and never replay the log: the stage asks
//! them on a redo (what did the first attempt record?) and before reading a
//! range of the Change Data Feed (is the history still there?).

use std::sync::Arc;

use deltalake::Path;
use deltalake::kernel::Action;
use deltalake::logstore::object_store::ObjectStoreExt as _;
use deltalake::logstore::{LogStore as _, get_actions};
use futures::{StreamExt as _, TryStreamExt as _};

use super::arrow::array::{
    ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use super::{LINEAGE_KEY, Lineage, Table, TableError};

/// How far back [`Table::txn_commits`] walks the log, at most.
const TXN_WALK_LIMIT: i64 = 10_000;
/// How many commit files [`Table::history`] reads at once.
const HISTORY_READ_AHEAD: usize = 16;

/// What one commit of the log recorded, as far as ingot is concerned.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommitRecord {
    /// The commit's timestamp (µs since the epoch): the in-commit timestamp
    /// when the table has one, else the commit info's.
    pub timestamp: Option<i64>,
    /// The ingot lineage in its commit info.
    pub lineage: Option<Lineage>,
    /// Its `txn` actions: app id and version.
    pub txns: Vec<(String, i64)>,
    /// The bytes of the data files it added (`add` and `cdc` actions): what
    /// reading its change feed reads, at most.
    pub data_bytes: u64,
    /// The Delta operation its commit info names (`WRITE`, `MERGE`,
    /// `OPTIMIZE`, `RESTORE`, `DELETE`, `VACUUM END`, ...).
    pub operation: Option<String>,
    /// The data files it added: path, and rows when the file has statistics.
    pub added: Vec<(String, Option<u64>)>,
    /// The paths of the data files it removed.
    pub removed: Vec<String>,
    /// Whether any of its `add` or `remove` actions changes data (false for
    /// a compaction: readers of the Change Data Feed see nothing of it).
    pub data_change: bool,
}

impl Table {
    /// What commit `version` recorded; `None` if its log entry no longer
    /// exists (or never did).
    ///
    /// # Errors
    /// [`TableError::Read`] when the log cannot be read,
    /// [`TableError::Lineage`] when the recorded lineage cannot be decoded.
    pub async fn commit_record(&self, version: i64) -> Result<Option<CommitRecord>, TableError> {
        let Ok(v) = u64::try_from(version) else {
            return Ok(None);
        };
        let store = self.inner.log_store();
        let bytes = store
            .read_commit_entry(v)
            .await
            .map_err(|source| self.read_error(version, source))?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let actions = get_actions(v, &bytes).map_err(|source| self.read_error(version, source))?;
        let mut record = CommitRecord::default();
        for action in actions {
            match action {
                Action::CommitInfo(mut info) => {
                    record.operation = info.operation.take();
                    record.timestamp = info
                        .in_commit_timestamp
                        .or(info.timestamp)
                        .map(|ms| ms * 1000);
                    record.lineage = info
                        .info
                        .remove(LINEAGE_KEY)
                        .map(|value| {
                            serde_json::from_value(value).map_err(|source| TableError::Lineage {
                                table: self.uri.clone(),
                                version,
                                source,
                            })
                        })
                        .transpose()?;
                }
                Action::Txn(txn) => record.txns.push((txn.app_id, txn.version)),
                Action::Add(add) => {
                    record.data_bytes += u64::try_from(add.size).unwrap_or(0);
                    record.data_change |= add.data_change;
                    let rows = add.stats.as_deref().and_then(stats_rows);
                    record.added.push((add.path, rows));
                }
                Action::Remove(remove) => {
                    record.data_change |= remove.data_change;
                    record.removed.push(remove.path);
                }
                Action::Cdc(cdc) => record.data_bytes += u64::try_from(cdc.size).unwrap_or(0),
                _ => {}
            }
        }
        Ok(Some(record))
    }

    /// The ingot lineage recorded in the commit info of `version` (`None` if
    /// that commit has none or its log entry no longer exists).
    ///
    /// # Errors
    /// As [`Table::commit_record`].
    pub async fn lineage(&self, version: i64) -> Result<Option<Lineage>, TableError> {
        Ok(self
            .commit_record(version)
            .await?
            .and_then(|record| record.lineage))
    }

    /// The commit timestamp of `version` in µs (`None` if its log entry no
    /// longer exists or records none).
    ///
    /// # Errors
    /// As [`Table::commit_record`].
    pub async fn commit_timestamp(&self, version: i64) -> Result<Option<i64>, TableError> {
        Ok(self
            .commit_record(version)
            .await?
            .and_then(|record| record.timestamp))
    }

    /// The commits of the loaded snapshot, newest first, that recorded txn
    /// `app_id` at exactly `txn_version`: the walk goes back from the
    /// snapshot's version until a commit records `app_id` at a lower version,
    /// the log ends, or [`TXN_WALK_LIMIT`] commits were read.
    ///
    /// # Errors
    /// As [`Table::commit_record`].
    pub async fn txn_commits(
        &self,
        app_id: &str,
        txn_version: i64,
    ) -> Result<Vec<(i64, CommitRecord)>, TableError> {
        let mut found = Vec::new();
        let newest = self.version();
        let oldest = newest.saturating_sub(TXN_WALK_LIMIT).max(0);
        for version in (oldest..=newest).rev() {
            let Some(record) = self.commit_record(version).await? else {
                break;
            };
            let recorded = record
                .txns
                .iter()
                .find(|(id, _)| id == app_id)
                .map(|(_, v)| *v);
            match recorded {
                Some(v) if v == txn_version => found.push((version, record)),
                Some(v) if v < txn_version => break,
                _ => {}
            }
        }
        Ok(found)
    }

    /// Whether the commit file of `version` is still in the log (one HEAD
    /// request). A log cleanup removes the oldest commits first, so when it
    /// is there, every later one is too.
    ///
    /// # Errors
    /// [`TableError::Read`] when the store cannot be asked.
    pub async fn has_commit(&self, version: i64) -> Result<bool, TableError> {
        let store = self.inner.log_store().object_store(None);
        let path = Path::from(format!("_delta_log/{version:020}.json"));
        match store.head(&path).await {
            Ok(_) => Ok(true),
            Err(deltalake::ObjectStoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.read_error(version, e.into())),
        }
    }

    /// The oldest version whose commit file is still in the log (a log
    /// cleanup removes the JSON commits older than its retention once a
    /// checkpoint covers them); the Change Data Feed can be read from there
    /// on, at best. This lists the whole log: ask [`Table::has_commit`]
    /// first.
    ///
    /// # Errors
    /// [`TableError::Read`] when the log cannot be listed.
    pub async fn oldest_commit(&self) -> Result<i64, TableError> {
        let store = self.inner.log_store();
        let names: Vec<Path> = store
            .object_store(None)
            .list(Some(&Path::from("_delta_log")))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.read_error(self.version(), e.into()))?;
        let oldest = names
            .iter()
            .filter_map(|path| {
                let stem = path.filename()?.strip_suffix(".json")?;
                (stem.len() == 20)
                    .then(|| stem.parse::<i64>().ok())
                    .flatten()
            })
            .min();
        Ok(oldest.unwrap_or(self.version()))
    }
}

/// `numRecords` of an `add` action's statistics.
fn stats_rows(stats: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Stats {
        num_records: Option<u64>,
    }
    serde_json::from_str::<Stats>(stats).ok()?.num_records
}

/// One version of a table's history, as `ingot history` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    /// The version.
    pub version: i64,
    /// What its commit recorded.
    pub record: CommitRecord,
    /// Rows of the files it added, where their statistics say.
    pub rows_added: Option<u64>,
    /// Rows of the files it removed, where the files' own `add` was read
    /// (at or after the history's first version) and has statistics.
    pub rows_removed: Option<u64>,
}

impl Table {
    /// The versions from `from` (or the oldest the log still has) to the
    /// loaded snapshot's, oldest first. Reads one commit file per version,
    /// a few at a time.
    ///
    /// # Errors
    /// As [`Table::commit_record`].
    pub async fn history(&self, from: Option<i64>) -> Result<Vec<HistoryEntry>, TableError> {
        let oldest = self.oldest_commit().await?;
        let from = from.unwrap_or(oldest).max(oldest);
        // Only the versions asked for are read: `--limit 20` of a long log
        // reads 20 commits. A removed file whose `add` is older than `from`
        // has no row count then.
        let records: Vec<(i64, Option<CommitRecord>)> =
            futures::stream::iter(from..=self.version())
                .map(|v| async move { self.commit_record(v).await.map(|r| (v, r)) })
                .buffered(HISTORY_READ_AHEAD)
                .try_collect()
                .await?;
        let mut rows_of_file: std::collections::HashMap<String, Option<u64>> =
            std::collections::HashMap::new();
        let mut entries = Vec::new();
        for (version, record) in records {
            let Some(record) = record else { continue };
            let rows_removed = record
                .removed
                .iter()
                .map(|path| rows_of_file.remove(path).flatten())
                .sum::<Option<u64>>();
            let rows_added = record.added.iter().map(|(_, rows)| *rows).sum();
            rows_of_file.extend(record.added.iter().cloned());
            if version >= from {
                entries.push(HistoryEntry {
                    version,
                    record,
                    rows_added,
                    rows_removed,
                });
            }
        }
        Ok(entries)
    }
}

impl Table {
    /// The rows of the loaded snapshot as changes: every row an `insert` at
    /// the snapshot's version, with the CDF columns of
    /// [`Table::change_schema`]. A stage without progress whose input's log
    /// no longer starts at version 0 derives itself from this, then follows
    /// the Change Data Feed after it.
    ///
    /// # Errors
    /// [`TableError::Query`] when the scan fails.
    pub async fn snapshot_as_changes(&self) -> Result<Vec<RecordBatch>, TableError> {
        let version = self.version();
        let timestamp = self.commit_timestamp(version).await?;
        let schema = self.change_schema();
        self.scan()
            .await?
            .into_iter()
            .map(|batch| {
                let rows = batch.num_rows();
                let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
                columns.push(Arc::new(StringArray::from(vec!["insert"; rows])));
                columns.push(Arc::new(Int64Array::from(vec![version; rows])));
                columns.push(Arc::new(
                    TimestampMicrosecondArray::from(vec![timestamp; rows]).with_timezone("UTC"),
                ));
                RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| {
                    TableError::Internal {
                        table: self.uri.clone(),
                        reason: format!("the snapshot as changes: {e}"),
                    }
                })
            })
            .collect()
    }
}
