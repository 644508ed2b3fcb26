//! The ingest loop: Kafka -> bronze, exactly once.
//!
//! Records are buffered into one bronze batch until `max-records`,
//! `max-bytes` or `max-latency-ms` is reached (`--once` ignores the
//! latency: it commits when a limit of size is reached or the partitions
//! are drained), then appended in one Delta commit that also carries one
//! `txn` per partition (app id `<pipeline>/<topic>/<partition>`, version =
//! the last offset written), on a thread of its own while the next batch
//! fills ([`commit`]: where a bronze batch is committed).
//! Before writing, the loop reloads bronze and drops any record at or below
//! a partition's txn version: a zombie consumer or a second host that already
//! wrote those offsets cannot make us write them twice. A Delta conflict
//! means someone else committed first: reload, filter again, retry.
//!
//! A partition whose offsets on the broker no longer follow on from its txn
//! (a recreated topic, another cluster, records deleted by retention) stops
//! the ingest under `on-data-loss = "fail"`. Under `"reset"` it starts over
//! at the broker's earliest offset: a commit of its own, with no rows, sets
//! the partition's txn to that offset − 1 (backwards, deliberately) and
//! counts the reset in a second txn, `<pipeline>/<topic>/<partition>/reset`.
//! A bronze commit carries a partition's records only if that count is still
//! the one the partition was positioned under, so records read before a
//! reset (by a host that has not seen it) are never written after it.
//!
//! The loop runs on its own thread (librdkafka's poll blocks); it and the
//! commit thread drive the async Delta calls with the runtime handle they
//! are given.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::runtime::Handle;

use ingot_core::Layout;
use ingot_core::arrow::array::RecordBatch;
use ingot_delta::{ColumnEncoding, Commit, Lineage, Table, TableError, Txn, WriteMode};
use ingot_kafka::{
    DataLoss, SourceError,
    bronze::{self, BronzeBuilder},
    consumer::{KafkaSource, PartitionId, Polled, Progress, SourceSettings},
    offsets::{OffsetCheck, check},
};

use crate::{
    Error, Result,
    config::{Assignment, PipelineConfig},
};
use commit::{Batch, BronzeWriter, Committed, Committer};

pub use commit::OnCommit;

/// How often the loop publishes its assignment to an [`Assigned`] view.
const ASSIGNMENT_REFRESH: Duration = Duration::from_millis(500);
/// How long `--once` waits for the group to assign partitions.
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts at a bronze commit that keeps conflicting.
const COMMIT_ATTEMPTS: u32 = 8;
/// How long a poll waits for a record.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// What the ingest loop did.
#[derive(Debug, Default, Clone, Copy)]
pub struct IngestReport {
    /// Records written to bronze.
    pub records: u64,
    /// Bronze commits made.
    pub commits: u64,
    /// Records read but already in bronze (dropped by the txn check).
    pub duplicates_dropped: u64,
}

/// What an ingest loop holds, for the pipeline's status: refreshed by the
/// loop every half second.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestView {
    /// Whether the consumer group has given the loop its share (perhaps
    /// no partition, in a group with more members than partitions).
    pub joined: bool,
    /// The partitions held, as `topic/partition`.
    pub partitions: Vec<String>,
    /// Records behind the partitions' ends, summed over the partitions
    /// whose end is known (librdkafka reports it every few seconds).
    pub lag: Option<u64>,
    /// Records the loop has written to bronze since it started.
    pub records: u64,
}

/// The shared [`IngestView`] of a running loop.
pub type Assigned = Arc<Mutex<IngestView>>;

/// One ingest loop.
#[derive(Clone)]
pub struct Ingest {
    config: Arc<PipelineConfig>,
    brokers: String,
    handle: Handle,
    stop: Arc<AtomicBool>,
    once: bool,
    assigned: Option<Assigned>,
    on_commit: Option<OnCommit>,
    labels: crate::metrics::PipelineLabels,
}

impl Ingest {
    /// An ingest loop for `config`, reading from `brokers`. With `once`, it
    /// returns when every assigned partition has been read to its end;
    /// otherwise when `stop` is set (after committing what it holds).
    pub fn new(
        config: Arc<PipelineConfig>,
        brokers: String,
        handle: Handle,
        stop: Arc<AtomicBool>,
        once: bool,
    ) -> Self {
        Self {
            labels: crate::metrics::PipelineLabels::of(&config),
            config,
            brokers,
            handle,
            stop,
            once,
            assigned: None,
            on_commit: None,
        }
    }

    /// Makes the loop call `on_commit` with bronze's new version after each
    /// commit that wrote rows (the stages of this host start on it).
    pub fn notifying(mut self, on_commit: OnCommit) -> Self {
        self.on_commit = Some(on_commit);
        self
    }

    /// Makes the loop keep `view` up to date with the partitions it holds.
    pub fn reporting_to(mut self, view: Assigned) -> Self {
        self.assigned = Some(view);
        self
    }

    /// Every [`ASSIGNMENT_REFRESH`]: the partitions held, to the status
    /// view, and their lag, to metrics.
    fn publish(&self, source: &KafkaSource, records: u64, at: &mut Option<Instant>) {
        if at.is_some_and(|t| t.elapsed() < ASSIGNMENT_REFRESH) {
            return;
        }
        *at = Some(Instant::now());
        let lags = source.lags();
        for ((topic, partition), lag) in &lags {
            crate::metrics::consumer_lag(&self.labels, topic, *partition, *lag);
        }
        let Some(view) = &self.assigned else { return };
        let now = IngestView {
            joined: source.joined(),
            partitions: source
                .assignment()
                .iter()
                .map(|(topic, partition)| format!("{topic}/{partition}"))
                .collect(),
            lag: (!lags.is_empty()).then(|| lags.iter().map(|(_, lag)| lag.unsigned_abs()).sum()),
            records,
        };
        *view
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = now;
    }

    /// Runs the loop on the calling thread (not an async context).
    ///
    /// # Errors
    ///
    /// Kafka errors that librdkafka cannot recover from, and Delta errors
    /// that persist after retries.
    pub fn run(self) -> Result<IngestReport> {
        let span = tracing::info_span!(
            "ingest",
            tenant = %self.config.tenant,
            pipeline = %self.config.name
        );
        let _entered = span.enter();
        self.run_in_span()
    }

    fn run_in_span(self) -> Result<IngestReport> {
        let uri = self.config.layout().bronze_uri();
        let mut table = self
            .handle
            .block_on(Table::open_or_create(&uri, bronze::schema()))?;
        let (unique, opaque) = bronze::column_kinds();
        table.set_column_encoding(ColumnEncoding { unique, opaque });
        let table = Arc::new(Mutex::new(table));
        let epochs = Arc::new(Mutex::new(HashMap::new()));
        let mut source = self.connect(&table, &epochs)?;
        let mut batching = Batching {
            committer: Committer::start(self.writer(), Arc::clone(&table))?,
            epochs,
            buffer: Buffer::default(),
            report: IngestReport::default(),
        };
        let started = Instant::now();
        let mut idle = false;
        let mut published = None;
        loop {
            self.publish(&source, batching.report.records, &mut published);
            let stopping = self.stop.load(Ordering::SeqCst);
            let drained = self.once && idle && source.caught_up()?;
            if stopping || drained {
                batching.commit_all(&source)?;
                break;
            }
            if self.is_due(&batching.buffer) {
                batching.hand_over(&source)?;
            }
            batching.absorb_finished(&source)?;
            if self.once && source.assignment().is_empty() && started.elapsed() > ASSIGNMENT_TIMEOUT
            {
                return Err(SourceError::NoAssignment {
                    topics: self.config.kafka.topics.join(","),
                    seconds: ASSIGNMENT_TIMEOUT.as_secs(),
                }
                .into());
            }
            let polled = source.poll(POLL_TIMEOUT)?;
            let out_of_range = matches!(polled, Polled::OutOfRange);
            idle = !batching.buffer.take(polled);
            if source.take_revoked() {
                // Everything buffered is re-read from bronze's txns by the
                // partitions' next owner (possibly us): drop it. A record
                // returned by the poll that saw the revocation is dropped too.
                batching.buffer.clear();
            }
            if out_of_range {
                // Keep what was read before the broker lost the position;
                // positioning from bronze then checks every partition again.
                batching.commit_all(&source)?;
                source.reposition()?;
            }
        }
        let report = batching.finish(&source)?;
        if let Some(view) = &self.assigned {
            *view
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = IngestView {
                records: report.records,
                ..IngestView::default()
            };
        }
        tracing::info!(
            records = report.records,
            commits = report.commits,
            "ingest stopped"
        );
        Ok(report)
    }

    /// Whether `buffer` is to be committed now: it is full, or (except in
    /// `--once`, which commits in batches as large as the limits allow) its
    /// oldest record has waited `max-latency-ms`.
    fn is_due(&self, buffer: &Buffer) -> bool {
        let limits = &self.config.ingest;
        let builder = &buffer.builder;
        let full = builder.len() >= limits.max_records || builder.bytes() >= limits.max_bytes;
        let late = !self.once
            && buffer
                .oldest
                .is_some_and(|t| t.elapsed() >= limits.max_latency());
        full || late
    }

    fn connect(&self, table: &Arc<Mutex<Table>>, epochs: &Epochs) -> Result<KafkaSource> {
        let kafka = &self.config.kafka;
        let progress = BronzeProgress {
            table: Arc::clone(table),
            handle: self.handle.clone(),
            layout: self.config.layout(),
            epochs: Arc::clone(epochs),
        };
        Ok(KafkaSource::connect(SourceSettings {
            brokers: self.brokers.clone(),
            group_id: self.config.group_id(),
            topics: kafka.topics.clone(),
            start_from: kafka.start_from,
            on_data_loss: kafka.on_data_loss,
            properties: kafka.properties.clone(),
            progress: Arc::new(progress),
            use_group: !self.once && kafka.assignment == Assignment::Group,
        })?)
    }

    /// The commit thread's writer.
    fn writer(&self) -> BronzeWriter {
        BronzeWriter {
            layout: self.config.layout(),
            lineage: ingest_lineage(
                &self.config.name,
                "ingest",
                format!("kafka:{}", self.config.kafka.topics.join(",")),
            ),
            handle: self.handle.clone(),
            on_commit: self.on_commit.clone(),
            labels: self.labels.clone(),
        }
    }
}

/// The batch being filled, the commits of the batches before it, and what
/// they did.
struct Batching {
    committer: Committer,
    epochs: Epochs,
    buffer: Buffer,
    report: IngestReport,
}

impl Batching {
    /// Hands what the buffer holds (nothing when it is empty) to the
    /// committer, after the commit before it is done.
    fn hand_over(&mut self, source: &KafkaSource) -> Result<()> {
        if self.buffer.builder.is_empty() {
            return Ok(());
        }
        let (rows, last, repeats) = self.buffer.finish();
        if repeats > 0 {
            tracing::warn!(
                repeats,
                "the broker returned records at offsets already read; dropped"
            );
            self.report.duplicates_dropped += repeats;
        }
        let positioned = lock(&self.epochs)?.clone();
        let done = self.committer.submit(Batch {
            rows,
            last,
            positioned,
        })?;
        self.absorb(done, source);
        Ok(())
    }

    /// Hands over what the buffer holds and waits for every commit.
    fn commit_all(&mut self, source: &KafkaSource) -> Result<()> {
        self.hand_over(source)?;
        let done = self.committer.wait()?;
        self.absorb(done, source);
        Ok(())
    }

    /// Takes the outcomes of the commits finished since the last look.
    fn absorb_finished(&mut self, source: &KafkaSource) -> Result<()> {
        let done = self.committer.finished()?;
        self.absorb(done, source);
        Ok(())
    }

    /// Waits for every commit (the commit thread stops when this is
    /// dropped); what they did.
    fn finish(mut self, source: &KafkaSource) -> Result<IngestReport> {
        let done = self.committer.wait()?;
        self.absorb(done, source);
        Ok(self.report)
    }

    /// Counts finished commits into the report and tells Kafka how far they
    /// got.
    fn absorb(&mut self, done: Vec<Committed>, source: &KafkaSource) {
        for c in done {
            self.report.duplicates_dropped += (c.read - c.written) as u64;
            if c.written > 0 {
                self.report.records += c.written as u64;
                self.report.commits += 1;
            }
            source.commit_advisory(&c.last);
        }
    }
}

/// The reset count of each partition when it was positioned.
type Epochs = Arc<Mutex<HashMap<PartitionId, i64>>>;

fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| Error::Internal("ingest state poisoned".into()))
}

/// The records read since the last commit.
#[derive(Default)]
struct Buffer {
    builder: BronzeBuilder,
    /// When the oldest of them was read.
    oldest: Option<Instant>,
    /// Records dropped since the last commit because their partition's
    /// offset did not advance: a broker that served a batch again (Tansu
    /// 0.6 does, after a fetch from inside a batch).
    repeats: u64,
}

impl Buffer {
    /// Buffers what a poll returned, unless it is a record at or below an
    /// offset already buffered for its partition; whether it was a record.
    fn take(&mut self, polled: Polled<'_>) -> bool {
        if let Some((topic, partition, offset)) = polled.position()
            && self.repeated(topic, partition, offset)
        {
            self.repeats += 1;
            return true;
        }
        let Polled::Record(message) = polled else {
            return false;
        };
        self.builder.push(&message, ingot_core::clock::now_micros());
        self.oldest.get_or_insert_with(Instant::now);
        true
    }

    /// Whether `offset` of the partition is at or below the last one
    /// buffered for it.
    fn repeated(&self, topic: &str, partition: i32, offset: i64) -> bool {
        self.builder
            .last_offset(topic, partition)
            .is_some_and(|last| offset <= last)
    }

    /// Takes the buffered rows and their last offsets, and the count of
    /// repeats dropped, for a commit.
    fn finish(&mut self) -> (RecordBatch, BTreeMap<(String, i32), i64>, u64) {
        self.oldest = None;
        let (batch, last_offsets) = self.builder.finish();
        (batch, last_offsets, std::mem::take(&mut self.repeats))
    }

    fn clear(&mut self) {
        self.builder.clear();
        self.oldest = None;
        self.repeats = 0;
    }
}

/// The txn app id on bronze counting the deliberate resets of a partition
/// (`on-data-loss = "reset"`): `<pipeline>/<topic>/<partition>/reset`.
fn reset_txn(layout: &Layout, topic: &str, partition: i32) -> String {
    format!("{}/reset", layout.partition_txn(topic, partition))
}

/// How many times bronze records partition `(topic, partition)` was reset.
fn resets(table: &Table, layout: &Layout, topic: &str, partition: i32) -> i64 {
    table
        .txn_version(&reset_txn(layout, topic, partition))
        .unwrap_or(0)
}

/// The lineage of a bronze commit: `stage` is `ingest`, or `ingest (reset)`
/// for the commit that starts a partition over.
fn ingest_lineage(pipeline: &str, stage: &str, input: String) -> Lineage {
    Lineage {
        ingot_version: ingot_core::VERSION.into(),
        pipeline: pipeline.to_owned(),
        stage: stage.into(),
        module: None,
        input_table: Some(input),
        input_versions: None,
        attempt: None,
    }
}

/// Bronze as the consumer's [`Progress`]: where partitions resume, and
/// deliberate resets.
struct BronzeProgress {
    table: Arc<Mutex<Table>>,
    handle: Handle,
    layout: Layout,
    /// Filled in as partitions are positioned.
    epochs: Epochs,
}

impl Progress for BronzeProgress {
    fn last_offsets(
        &self,
        partitions: &[PartitionId],
    ) -> std::result::Result<HashMap<PartitionId, i64>, String> {
        let mut table = lock(&self.table).map_err(|e| e.to_string())?;
        self.handle
            .block_on(table.refresh())
            .map_err(|e| e.to_string())?;
        let mut epochs = lock(&self.epochs).map_err(|e| e.to_string())?;
        let mut last = HashMap::new();
        for id @ (topic, p) in partitions {
            epochs.insert(id.clone(), resets(&table, &self.layout, topic, *p));
            if let Some(v) = table.txn_version(&self.layout.partition_txn(topic, *p)) {
                last.insert(id.clone(), v);
            }
        }
        Ok(last)
    }

    fn reset(&self, loss: &DataLoss) -> std::result::Result<Option<i64>, String> {
        let mut table = lock(&self.table).map_err(|e| e.to_string())?;
        let (last, epoch) = self
            .handle
            .block_on(reset(&mut table, &self.layout, loss))
            .map_err(|e| e.to_string())?;
        lock(&self.epochs)
            .map_err(|e| e.to_string())?
            .insert((loss.topic.clone(), loss.partition), epoch);
        Ok(last)
    }
}

/// Starts `loss`'s partition over at the broker's earliest offset: one
/// commit with no rows, the partition's txn = that offset − 1 and its reset
/// count + 1, unless bronze, read again, shows the partition following on
/// (another host reset it first; a conflict with it is retried). Returns
/// bronze's last offset of the partition and its reset count afterwards.
async fn reset(table: &mut Table, layout: &Layout, loss: &DataLoss) -> Result<(Option<i64>, i64)> {
    let DataLoss {
        topic, partition, ..
    } = loss;
    let app_id = layout.partition_txn(topic, *partition);
    let mut attempt = 0;
    loop {
        attempt += 1;
        table.refresh().await?;
        let last = table.txn_version(&app_id);
        let epoch = resets(table, layout, topic, *partition);
        if check(last, loss.low, loss.high) == OffsetCheck::Continues {
            return Ok((last, epoch));
        }
        let restart = loss.restart_at() - 1;
        let commit = Commit {
            txns: vec![
                Txn {
                    app_id: app_id.clone(),
                    version: restart,
                },
                Txn {
                    app_id: reset_txn(layout, topic, *partition),
                    version: epoch + 1,
                },
            ],
            lineage: ingest_lineage(
                layout.pipeline(),
                "ingest (reset)",
                format!("kafka:{topic}/{partition}"),
            ),
        };
        match table.write(Vec::new(), &WriteMode::Append, &commit).await {
            Ok(version) => {
                tracing::warn!(table = %table.uri(), version, topic, partition, offset = restart + 1, resets = epoch + 1, "partition reset recorded in bronze");
                return Ok((Some(restart), epoch + 1));
            }
            Err(TableError::Conflict { .. }) if attempt < COMMIT_ATTEMPTS => {}
            Err(e) => return Err(e.into()),
        }
    }
}

mod commit;
#[cfg(test)]
mod tests;
