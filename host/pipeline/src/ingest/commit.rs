//! Where the ingest loop commits: a bronze batch appended with one `txn`
//! per partition, on a thread of its own.
//!
//! The loop hands each finished batch to a [`Committer`] and goes on
//! polling into the next one, so reading from Kafka and building Arrow
//! overlap with encoding Parquet and committing (two cores busy instead of
//! one). At most one batch is being committed while the next one fills:
//! handing over a batch waits for the commit before it, so commits stay in
//! order and memory holds at most two batches. Each commit still reloads
//! bronze and drops what it already holds ([`write`]), so a batch committed
//! after its partitions moved to another host writes nothing twice.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        mpsc::{self, Receiver, SyncSender},
    },
    thread::JoinHandle,
};

use tokio::runtime::Handle;

use ingot_core::Layout;
use ingot_core::arrow::{
    array::{Array, AsArray, BooleanArray, RecordBatch},
    compute::filter_record_batch,
    datatypes::{Int32Type, Int64Type},
};
use ingot_delta::{Commit, Lineage, Table, TableError, Txn, WriteMode};
use ingot_kafka::consumer::PartitionId;

use super::{COMMIT_ATTEMPTS, resets};
use crate::metrics::{self, PartitionWrite, PipelineLabels};
use crate::{Error, Result};

/// Called with bronze's new version after each commit that wrote rows.
pub type OnCommit = Arc<dyn Fn(i64) + Send + Sync>;

/// One finished batch for a commit.
pub(super) struct Batch {
    pub rows: RecordBatch,
    /// The last offset read per partition: the commit's txns.
    pub last: BTreeMap<PartitionId, i64>,
    /// The reset count of each partition when it was positioned.
    pub positioned: HashMap<PartitionId, i64>,
}

/// What a commit did.
pub(super) struct Committed {
    /// Rows read into the batch.
    pub read: usize,
    /// Rows written (the rest were in bronze already).
    pub written: usize,
    /// The batch's last offsets (for the advisory commit to Kafka).
    pub last: BTreeMap<PartitionId, i64>,
}

/// The commit thread and the batches handed to it (see the module docs);
/// the thread stops when this is dropped.
pub(super) struct Committer {
    batches: Option<SyncSender<Batch>>,
    done: Receiver<Result<Committed>>,
    thread: Option<JoinHandle<()>>,
    /// Batches handed over whose outcome has not been taken yet.
    in_flight: usize,
}

impl Committer {
    /// Starts the thread, which commits to `table` with `writer`.
    pub fn start(writer: BronzeWriter, table: Arc<Mutex<Table>>) -> Result<Self> {
        // A rendezvous: a hand-over waits until the thread is free.
        let (batches, inbox) = mpsc::sync_channel::<Batch>(0);
        let (outcomes, done) = mpsc::channel();
        let span = tracing::Span::current();
        let thread = std::thread::Builder::new()
            .name("ingot-bronze-commit".into())
            .spawn(move || {
                let _entered = span.enter();
                for batch in inbox {
                    let outcome = writer.commit(&table, batch);
                    let failed = outcome.is_err();
                    if outcomes.send(outcome).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the bronze commit thread: {e}")))?;
        Ok(Self {
            batches: Some(batches),
            done,
            thread: Some(thread),
            in_flight: 0,
        })
    }

    /// Hands `batch` over, after the commit before it has finished; returns
    /// the outcomes finished since the last call.
    ///
    /// # Errors
    /// The error of a commit that failed (the thread has stopped).
    pub fn submit(&mut self, batch: Batch) -> Result<Vec<Committed>> {
        let sender = self
            .batches
            .as_ref()
            .ok_or_else(|| Error::Internal("bronze committer used after finish".into()))?;
        if sender.send(batch).is_err() {
            // The thread stopped on an error: report it.
            return self.wait();
        }
        self.in_flight += 1;
        self.finished()
    }

    /// The outcomes finished since the last call, without waiting.
    ///
    /// # Errors
    /// The error of a commit that failed.
    pub fn finished(&mut self) -> Result<Vec<Committed>> {
        let mut out = Vec::new();
        while let Ok(outcome) = self.done.try_recv() {
            self.in_flight -= 1;
            out.push(outcome?);
        }
        Ok(out)
    }

    /// Waits for every batch handed over; their outcomes.
    ///
    /// # Errors
    /// The error of a commit that failed.
    pub fn wait(&mut self) -> Result<Vec<Committed>> {
        let mut out = Vec::new();
        while self.in_flight > 0 {
            let outcome = self.done.recv().map_err(|_| {
                Error::Internal("the bronze commit thread stopped without an outcome".into())
            })?;
            self.in_flight -= 1;
            out.push(outcome?);
        }
        Ok(out)
    }

    fn stop(&mut self) {
        self.batches = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the bronze commit thread panicked");
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Appends batches to bronze with their txns (see [`BronzeWriter::write`]).
pub(super) struct BronzeWriter {
    pub layout: Layout,
    pub lineage: Lineage,
    pub handle: Handle,
    pub on_commit: Option<OnCommit>,
    pub labels: PipelineLabels,
}

/// What [`BronzeWriter::write`] wrote.
struct BronzeWrite {
    /// Per partition, the records and bytes written.
    partitions: Vec<PartitionWrite>,
    /// Commits that lost a race and were redone.
    conflicts: u32,
}

impl BronzeWriter {
    fn commit(&self, table: &Mutex<Table>, batch: Batch) -> Result<Committed> {
        let read = batch.rows.num_rows();
        let mut table = table
            .lock()
            .map_err(|_| Error::Internal("bronze handle poisoned".into()))?;
        let started = std::time::Instant::now();
        let write = self.handle.block_on(self.write(
            &mut table,
            batch.rows,
            &batch.last,
            &batch.positioned,
        ))?;
        let written: usize = write.partitions.iter().map(|p| p.records as usize).sum();
        metrics::bronze_commit(
            &self.labels,
            &write.partitions,
            (read - written) as u64,
            write.conflicts,
            started.elapsed(),
        );
        if written > 0 {
            tracing::info!(
                table = %table.uri(),
                version = table.version(),
                rows = written,
                "bronze commit"
            );
            if let Some(notify) = &self.on_commit {
                notify(table.version());
            }
        }
        Ok(Committed {
            read,
            written,
            last: batch.last,
        })
    }

    /// Appends `batch` minus what bronze already holds, with the txns,
    /// retrying conflicts. A partition reset since it was positioned (its
    /// reset count in bronze is no longer the one in `positioned`) has all
    /// its rows dropped and no txn: they were read from before the reset.
    async fn write(
        &self,
        table: &mut Table,
        batch: RecordBatch,
        last: &BTreeMap<PartitionId, i64>,
        positioned: &HashMap<PartitionId, i64>,
    ) -> Result<BronzeWrite> {
        let layout = &self.layout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            table.refresh().await?;
            let progress = written_progress(table, layout, last.keys(), positioned);
            let fresh = drop_already_written(&batch, &progress);
            let txns = last
                .iter()
                .filter(|(k, v)| progress.get(*k).is_none_or(|done| done < *v))
                .map(|((t, p), v)| Txn {
                    app_id: layout.partition_txn(t, *p),
                    version: *v,
                })
                .collect::<Vec<_>>();
            if txns.is_empty() {
                return Ok(BronzeWrite {
                    partitions: Vec::new(),
                    conflicts: attempt - 1,
                });
            }
            let commit = Commit {
                txns,
                lineage: self.lineage.clone(),
            };
            let partitions = partition_writes(&fresh);
            match table.write(vec![fresh], &WriteMode::Append, &commit).await {
                Ok(_) => {
                    ingot_core::fault::point("bronze-commit");
                    return Ok(BronzeWrite {
                        partitions,
                        conflicts: attempt - 1,
                    });
                }
                Err(TableError::Conflict { .. }) if attempt < COMMIT_ATTEMPTS => {
                    ingot_core::fault::point("conflict-retry");
                    tracing::warn!(table = %table.uri(), attempt, "bronze commit conflicted, reloading");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Bronze's last offset per partition of `partitions`, for the filter of a
/// commit: a partition reset since it was positioned counts as holding
/// everything, so none of its rows and no txn of it are written.
pub(super) fn written_progress<'a>(
    table: &Table,
    layout: &Layout,
    partitions: impl Iterator<Item = &'a PartitionId>,
    positioned: &HashMap<PartitionId, i64>,
) -> HashMap<PartitionId, i64> {
    partitions
        .filter_map(|id @ (t, p)| {
            let now = resets(table, layout, t, *p);
            if now != positioned.get(id).copied().unwrap_or(0) {
                tracing::warn!(
                    topic = t,
                    partition = p,
                    "partition reset by another host since it was read here: its records are dropped"
                );
                return Some((id.clone(), i64::MAX));
            }
            Some((id.clone(), table.txn_version(&layout.partition_txn(t, *p))?))
        })
        .collect()
}

/// The records and value bytes of each partition in a bronze batch (of
/// `ingot_kafka::bronze::schema`: topic, partition, ..., value at 5).
fn partition_writes(batch: &RecordBatch) -> Vec<PartitionWrite> {
    let topics = batch.column(0).as_string::<i32>();
    let partitions = batch.column(1).as_primitive::<Int32Type>();
    let values = batch.column(5).as_binary::<i32>();
    let mut writes: Vec<PartitionWrite> = Vec::new();
    for i in 0..batch.num_rows() {
        let (topic, partition) = (topics.value(i), partitions.value(i));
        let bytes = if values.is_null(i) {
            0
        } else {
            values.value(i).len() as u64
        };
        match writes
            .iter_mut()
            .find(|w| w.partition == partition && w.topic == topic)
        {
            Some(w) => {
                w.records += 1;
                w.bytes += bytes;
            }
            None => writes.push(PartitionWrite {
                topic: topic.to_string(),
                partition,
                records: 1,
                bytes,
            }),
        }
    }
    writes
}

/// Keeps the rows whose offset is above their partition's txn version.
pub(super) fn drop_already_written(
    batch: &RecordBatch,
    progress: &HashMap<PartitionId, i64>,
) -> RecordBatch {
    if progress.is_empty() {
        return batch.clone();
    }
    let topics = batch.column(0).as_string::<i32>();
    let partitions = batch.column(1).as_primitive::<Int32Type>();
    let offsets = batch.column(2).as_primitive::<Int64Type>();
    // Per row, on every commit: look partitions up by borrowed name in the
    // handful there are, no allocation.
    let done: Vec<(&str, i32, i64)> = progress
        .iter()
        .map(|((t, p), v)| (t.as_str(), *p, *v))
        .collect();
    let keep: BooleanArray = (0..batch.num_rows())
        .map(|i| {
            let (topic, partition) = (topics.value(i), partitions.value(i));
            let last = done
                .iter()
                .find(|(t, p, _)| *p == partition && *t == topic)
                .map(|d| d.2);
            Some(last.is_none_or(|d| offsets.value(i) > d))
        })
        .collect();
    if keep.true_count() == batch.num_rows() {
        return batch.clone();
    }
    filter_record_batch(batch, &keep).expect("invariant: mask length equals batch length")
}
