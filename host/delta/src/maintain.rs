//! Table maintenance: compaction (bin-packing or Z-order), checkpoints,
//! expired-log cleanup, vacuum, restore and row deletes, each one commit (or
//! none) carrying ingot's lineage, made with delta-rs's own operations.
//!
//! What is safe to remove is not decided here: the caller passes the
//! version every reader still needs ([`Table::cleanup_log`]) and the
//! retention ([`Table::vacuum`]); the pipeline computes both from the
//! progress of the stages reading the table.
//!
//! Compaction commits with `dataChange = false`, so readers of the Change
//! Data Feed see nothing of it. No commit of ingot's cleans the log after
//! itself (see [`super::write`]'s commit properties): that runs here, when
//! the pipeline's maintenance asks.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use deltalake::DeltaTableError;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::optimize::OptimizeType;
use deltalake::operations::vacuum::VacuumMode;

use super::{Commit, Lineage, Table, TableError, session, txns, version_i64, write};

/// How to compact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    /// The size files are packed up to, in bytes.
    pub target_size: u64,
    /// Columns to Z-order by (empty: bin-packing only).
    pub zorder: Vec<String>,
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Compacted {
    /// The version it committed (`None`: nothing was worth rewriting).
    pub version: Option<i64>,
    /// Files it removed.
    pub files_removed: u64,
    /// Files it added.
    pub files_added: u64,
    /// Bytes of the files it removed.
    pub bytes_removed: u64,
    /// Bytes of the files it added.
    pub bytes_added: u64,
}

/// The data files of a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Active data files.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files smaller than the size asked about.
    pub small_files: u64,
    /// Rows, where the files have statistics.
    pub rows: u64,
}

/// What a vacuum removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vacuumed {
    /// The files, relative to the table's folder.
    pub files: Vec<String>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Restored {
    /// The version of the restore commit.
    pub version: i64,
    /// Files of newer versions it removed.
    pub files_removed: u64,
    /// Files of the restored version it added back.
    pub files_restored: u64,
}

impl Table {
    /// The active data files of the loaded snapshot, counting those under
    /// `small_below` bytes.
    pub fn file_stats(&self, small_below: u64) -> FileStats {
        let mut stats = FileStats::default();
        for file in self.state().log_data().iter() {
            let size = u64::try_from(file.size()).unwrap_or(0);
            stats.files += 1;
            stats.bytes += size;
            stats.small_files += u64::from(size < small_below);
            stats.rows += file.num_records().map_or(0, |n| n as u64);
        }
        stats
    }

    /// Compacts the table's data files (`dataChange = false`): bin-packing
    /// up to `compaction.target_size`, or Z-ordering by its columns.
    ///
    /// # Errors
    /// [`TableError::MissingColumn`] for a Z-order column the table does not
    /// have; [`TableError::Conflict`] when a concurrent commit removed a file
    /// it rewrote; [`TableError::Write`] otherwise.
    pub async fn optimize(
        &mut self,
        compaction: &Compaction,
        lineage: &Lineage,
    ) -> Result<Compacted, TableError> {
        if let Some(column) = compaction
            .zorder
            .iter()
            .find(|c| self.schema.field_with_name(c).is_err())
        {
            return Err(TableError::MissingColumn {
                table: self.uri.clone(),
                column: column.clone(),
            });
        }
        let before = self.state().version();
        let kind = if compaction.zorder.is_empty() {
            OptimizeType::Compact
        } else {
            OptimizeType::ZOrder(compaction.zorder.clone())
        };
        let ctx = session().map_err(|e| self.write_error(e))?;
        let target = NonZeroU64::new(compaction.target_size.max(1)).unwrap_or(NonZeroU64::MIN);
        let (optimized, metrics) = self
            .inner
            .clone()
            .optimize()
            .with_type(kind)
            .with_target_size(target)
            .with_writer_properties(self.encoding.writer_properties())
            .with_session_state(Arc::new(ctx.state()))
            .with_commit_properties(maintenance_properties(lineage))
            .await
            .map_err(|e| self.write_error(e))?;
        let compacted = Compacted {
            version: None,
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
            bytes_removed: u64::try_from(metrics.files_removed.total_size).unwrap_or(0),
            bytes_added: u64::try_from(metrics.files_added.total_size).unwrap_or(0),
        };
        self.adopt(optimized, before).await;
        let version = self.state().version();
        Ok(Compacted {
            version: (version != before).then(|| version_i64(version)),
            ..compacted
        })
    }

    /// Writes a checkpoint of the loaded snapshot's version.
    ///
    /// # Errors
    /// [`TableError::Write`] when it cannot be written.
    pub async fn checkpoint(&self) -> Result<i64, TableError> {
        deltalake::checkpoints::create_checkpoint(&self.inner, None)
            .await
            .map_err(|e| self.write_error(e))?;
        Ok(self.version())
    }

    /// The version of the newest checkpoint the `_last_checkpoint` hint
    /// names (`None`: no checkpoint, or no hint).
    pub async fn last_checkpoint(&self) -> Option<i64> {
        txns::last_checkpoint_hint(self.inner.log_store().as_ref())
            .await
            .and_then(|v| i64::try_from(v).ok())
    }

    /// Removes the JSON commits (and older checkpoints) that are older than
    /// `older_than_ms` (ms since the epoch) and below `keep_from`, as far as
    /// a checkpoint at or below `keep_from` covers them; returns how many
    /// log files it removed. Versions from `keep_from` on are kept whatever
    /// their age: pass the oldest version any reader still needs.
    ///
    /// # Errors
    /// [`TableError::Write`] when the log cannot be listed or a file deleted.
    pub async fn cleanup_log(
        &self,
        keep_from: i64,
        older_than_ms: i64,
    ) -> Result<usize, TableError> {
        let keep = u64::try_from(keep_from.clamp(0, self.version())).unwrap_or(0);
        deltalake::checkpoints::cleanup_expired_logs_for(
            keep,
            self.inner.log_store().as_ref(),
            older_than_ms,
            None,
        )
        .await
        .map_err(|e| self.write_error(e))
    }

    /// Deletes the files that commits more than `retention` ago removed,
    /// and, when `orphans`, also the files no version references at all
    /// (left by failed or in-flight writes: give those a long retention)
    /// last modified more than `retention` ago; `dry_run` only lists them.
    ///
    /// # Errors
    /// [`TableError::Write`] when the files cannot be listed or deleted.
    pub async fn vacuum(
        &mut self,
        retention: std::time::Duration,
        dry_run: bool,
        lineage: &Lineage,
        orphans: bool,
    ) -> Result<Vacuumed, TableError> {
        let before = self.state().version();
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let (vacuumed, metrics) = self
            .inner
            .clone()
            .vacuum()
            .with_retention_period(retention)
            .with_mode(if orphans {
                VacuumMode::Full
            } else {
                VacuumMode::Lite
            })
            .with_enforce_retention_duration(false)
            .with_dry_run(dry_run)
            .with_commit_properties(maintenance_properties(lineage))
            .await
            .map_err(|e| self.write_error(e))?;
        if !dry_run {
            self.adopt(vacuumed, before).await;
        }
        Ok(Vacuumed {
            files: metrics.files_deleted,
            dry_run,
        })
    }

    /// Restores the table to `version` in one commit (files of newer
    /// versions removed, the version's files added back, both with
    /// `dataChange = true`, so readers of the Change Data Feed see the
    /// newer rows deleted and the older ones inserted), carrying
    /// `commit`'s txns and lineage: a Delta restore brings back no txn
    /// version by itself.
    ///
    /// # Errors
    /// [`TableError::Conflict`] when another commit landed since the loaded
    /// snapshot; [`TableError::Write`] when `version` is not older than the
    /// snapshot, or a file it needs was vacuumed.
    pub async fn restore(&mut self, version: i64, commit: &Commit) -> Result<Restored, TableError> {
        let unavailable = |reason: String| TableError::VersionUnavailable {
            table: self.uri.clone(),
            version,
            reason,
        };
        let target = match u64::try_from(version) {
            Ok(v) if version < self.version() => v,
            _ => {
                return Err(unavailable(format!(
                    "a restore goes back to a version before the current one, {}",
                    self.version()
                )));
            }
        };
        let (restored, metrics) = self
            .inner
            .clone()
            .restore()
            .with_version_to_restore(target)
            .with_commit_properties(write::commit_properties(commit))
            .await
            .map_err(|e| {
                let text = e.to_string();
                if text.contains("missing file") {
                    unavailable(format!("{text} (a vacuum removed files of that version)"))
                } else {
                    self.write_error(e)
                }
            })?;
        let state = restored
            .state
            .ok_or_else(|| self.write_error(DeltaTableError::NotInitialized))?;
        let version = self.committed(state, commit).await;
        Ok(Restored {
            version,
            files_removed: metrics.num_removed_file as u64,
            files_restored: metrics.num_restored_file as u64,
        })
    }

    /// Deletes the rows matching `predicate` (SQL over the table's columns)
    /// with `commit`'s txns and lineage, in one commit; a commit carrying
    /// only those is made when no row matches. Returns the new version and
    /// the rows deleted, where delta-rs can tell. Takes no retry: a commit
    /// in between fails it with a conflict.
    ///
    /// # Errors
    /// [`TableError::Conflict`] when another commit landed since the loaded
    /// snapshot; [`TableError::Write`] otherwise.
    pub async fn delete_rows(
        &mut self,
        predicate: &str,
        commit: &Commit,
    ) -> Result<(i64, Option<usize>), TableError> {
        let before = self.state().version();
        let ctx = session().map_err(|e| self.write_error(e))?;
        let properties = write::commit_properties(commit).with_max_retries(0);
        let (deleted, metrics) = self
            .inner
            .clone()
            .delete()
            .with_predicate(predicate.to_owned())
            .with_session_state(Arc::new(ctx.state()))
            .with_commit_properties(properties.clone())
            .await
            .map_err(|e| self.write_error(e))?;
        let state = deleted
            .state
            .ok_or_else(|| self.write_error(DeltaTableError::NotInitialized))?;
        let state = if state.version() == before {
            // Nothing matched: delta-rs made no commit; record the txns.
            self.commit_actions(Vec::new(), properties).await?
        } else {
            state
        };
        let version = self.committed(state, commit).await;
        Ok((version, metrics.num_deleted_rows))
    }

    /// The `txn` versions as of `version` (a log replay from the newest
    /// checkpoint at or below it).
    ///
    /// # Errors
    /// [`TableError::Read`] when the log cannot be read there.
    pub async fn txns_at(&self, version: i64) -> Result<HashMap<String, i64>, TableError> {
        let v = u64::try_from(version).unwrap_or(0);
        txns::load(self.inner.log_store().as_ref(), v)
            .await
            .map_err(|source| self.read_error(version, source))
    }

    /// The newest version committed at or before `timestamp` (µs since the
    /// epoch), among those the log still has; `None` when all are newer.
    /// Commit times are taken to grow with versions, as every writer of a
    /// Delta table makes them.
    ///
    /// # Errors
    /// [`TableError::Read`] when the log cannot be read.
    pub async fn version_at(&self, timestamp: i64) -> Result<Option<i64>, TableError> {
        let (mut low, mut high) = (self.oldest_commit().await?, self.version());
        let at = |v| async move {
            Ok::<_, TableError>(self.commit_timestamp(v).await?.unwrap_or(i64::MIN))
        };
        if at(low).await? > timestamp {
            return Ok(None);
        }
        // Invariant: version `low` was committed at or before `timestamp`.
        while low < high {
            let mid = low + (high - low + 1) / 2;
            if at(mid).await? <= timestamp {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        Ok(Some(low))
    }

    /// Moves to a snapshot a delta-rs operation returned, if it made a
    /// commit on top of `before`.
    async fn adopt(&mut self, operated: deltalake::DeltaTable, before: u64) {
        let Some(state) = operated.state else { return };
        if state.version() == before {
            return;
        }
        self.set_state(state);
        if let Err(e) = self.advance_txns(before).await {
            tracing::warn!(table = %self.uri, error = %e, "cannot read back txn versions after maintenance");
        }
    }
}

/// Commit properties of a maintenance commit: its lineage, no txn.
fn maintenance_properties(lineage: &Lineage) -> CommitProperties {
    write::commit_properties(&Commit {
        txns: Vec::new(),
        lineage: lineage.clone(),
    })
}
