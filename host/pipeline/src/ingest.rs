//! The ingest loop: Kafka -> bronze, exactly once.
//!
//! Records are buffered into one bronze batch until `max-records`,
//! `max-bytes` or `max-latency-ms` is reached, then appended in one Delta
//! commit that also carries one `txn` per partition (app id
//! `<pipeline>/<topic>/<partition>`, version = the last offset written).
//! Before writing, the loop reloads bronze and drops any record at or below
//! a partition's txn version: a zombie consumer or a second host that already
//! wrote those offsets cannot make us write them twice. A Delta conflict
//! means someone else committed first: reload, filter again, retry.
//!
//! The loop runs on its own thread (librdkafka's poll blocks) and drives the
//! async Delta writes with the runtime handle it is given.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::runtime::Handle;

use ingot_core::arrow::{
    array::{AsArray, BooleanArray, RecordBatch},
    compute::filter_record_batch,
    datatypes::{Int32Type, Int64Type},
};
use ingot_delta::{Commit, Lineage, Table, TableError, Txn, WriteMode};
use ingot_kafka::{
    SourceError,
    bronze::{self, BronzeBuilder},
    consumer::{KafkaSource, PartitionId, Polled, ProgressLookup, SourceSettings},
};

use crate::{
    Error, Result,
    config::{Assignment, PipelineConfig},
};

/// How long `--once` waits for the group to assign partitions.
const ASSIGNMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts at a bronze commit that keeps conflicting.
const COMMIT_ATTEMPTS: u32 = 8;

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

/// One ingest loop.
pub struct Ingest {
    config: Arc<PipelineConfig>,
    brokers: String,
    handle: Handle,
    stop: Arc<AtomicBool>,
    once: bool,
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
            config,
            brokers,
            handle,
            stop,
            once,
        }
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
        let table = self
            .handle
            .block_on(Table::open_or_create(&uri, bronze::schema()))?;
        let table = Arc::new(Mutex::new(table));
        let mut source = KafkaSource::connect(SourceSettings {
            brokers: self.brokers.clone(),
            group_id: self.config.group_id(),
            topics: self.config.kafka.topics.clone(),
            start_from: self.config.kafka.start_from,
            properties: self.config.kafka.properties.clone(),
            progress: self.progress_lookup(Arc::clone(&table)),
            use_group: !self.once && self.config.kafka.assignment == Assignment::Group,
        })?;
        let limits = &self.config.ingest;
        let mut builder = BronzeBuilder::new();
        let mut report = IngestReport::default();
        let mut oldest: Option<Instant> = None;
        let started = Instant::now();
        let mut idle = false;
        loop {
            let stopping = self.stop.load(Ordering::SeqCst);
            let due = oldest.is_some_and(|t| t.elapsed() >= limits.max_latency());
            let full = builder.len() >= limits.max_records || builder.bytes() >= limits.max_bytes;
            let drained = self.once && idle && source.caught_up()?;
            if !builder.is_empty() && (full || due || stopping || drained) {
                self.commit(&table, &mut builder, &source, &mut report)?;
                oldest = None;
            }
            if stopping || (drained && builder.is_empty()) {
                break;
            }
            if self.once && source.assignment().is_empty() && started.elapsed() > ASSIGNMENT_TIMEOUT
            {
                return Err(SourceError::NoAssignment {
                    topics: self.config.kafka.topics.join(","),
                    seconds: ASSIGNMENT_TIMEOUT.as_secs(),
                }
                .into());
            }
            let polled = source.poll(Duration::from_millis(100))?;
            let record = matches!(polled, Polled::Record(_));
            idle = !record;
            if let Polled::Record(message) = polled {
                builder.push(&message, ingot_core::clock::now_micros());
            }
            if source.take_revoked() {
                // Everything buffered is re-read from bronze's txns by the
                // partitions' next owner (possibly us): drop it. A record
                // returned by the poll that saw the revocation is dropped too.
                builder.clear();
                oldest = None;
            } else if record && oldest.is_none() {
                oldest = Some(Instant::now());
            }
        }
        tracing::info!(
            records = report.records,
            commits = report.commits,
            "ingest stopped"
        );
        Ok(report)
    }

    fn progress_lookup(&self, table: Arc<Mutex<Table>>) -> ProgressLookup {
        let handle = self.handle.clone();
        let layout = self.config.layout();
        Arc::new(move |partitions: &[PartitionId]| {
            let mut table = table
                .lock()
                .map_err(|_| "bronze handle poisoned".to_owned())?;
            handle
                .block_on(table.refresh())
                .map_err(|e| e.to_string())?;
            Ok(partitions
                .iter()
                .filter_map(|(topic, p)| {
                    let v = table.txn_version(&layout.partition_txn(topic, *p))?;
                    Some(((topic.clone(), *p), v))
                })
                .collect::<HashMap<_, _>>())
        })
    }

    fn commit(
        &self,
        table: &Mutex<Table>,
        builder: &mut BronzeBuilder,
        source: &KafkaSource,
        report: &mut IngestReport,
    ) -> Result<()> {
        let (batch, last_offsets) = builder.finish();
        let read = batch.num_rows();
        let mut table = table
            .lock()
            .map_err(|_| Error::Internal("bronze handle poisoned".into()))?;
        let written = self
            .handle
            .block_on(self.write(&mut table, batch, &last_offsets))?;
        report.duplicates_dropped += (read - written) as u64;
        if written == 0 {
            // Every record was already in bronze: nothing was committed.
            source.commit_advisory(&last_offsets);
            return Ok(());
        }
        report.records += written as u64;
        report.commits += 1;
        tracing::info!(
            table = %table.uri(),
            version = table.version(),
            rows = written,
            "bronze commit"
        );
        source.commit_advisory(&last_offsets);
        Ok(())
    }

    /// Appends `batch` minus what bronze already holds, with the txns, retrying conflicts.
    async fn write(
        &self,
        table: &mut Table,
        batch: RecordBatch,
        last: &BTreeMap<PartitionId, i64>,
    ) -> Result<usize> {
        let lineage = Lineage {
            ingot_version: ingot_core::VERSION.into(),
            pipeline: self.config.name.clone(),
            stage: "ingest".into(),
            module: None,
            input_table: Some(format!("kafka:{}", self.config.kafka.topics.join(","))),
            input_versions: None,
            attempt: None,
        };
        let layout = self.config.layout();
        let mut attempt = 0;
        loop {
            attempt += 1;
            table.refresh().await?;
            let progress: HashMap<PartitionId, i64> = last
                .keys()
                .filter_map(|(t, p)| {
                    Some((
                        (t.clone(), *p),
                        table.txn_version(&layout.partition_txn(t, *p))?,
                    ))
                })
                .collect();
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
                return Ok(0);
            }
            let rows = fresh.num_rows();
            let commit = Commit {
                txns,
                lineage: lineage.clone(),
            };
            match table.write(vec![fresh], &WriteMode::Append, &commit).await {
                Ok(_) => {
                    ingot_core::fault::point("bronze-commit");
                    return Ok(rows);
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

/// Keeps the rows whose offset is above their partition's txn version.
fn drop_already_written(batch: &RecordBatch, progress: &HashMap<PartitionId, i64>) -> RecordBatch {
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

#[cfg(test)]
mod tests {
    use ingot_kafka::bronze::bare_record;

    use super::*;

    #[test]
    fn rows_at_or_below_a_partitions_txn_are_dropped() {
        let mut b = BronzeBuilder::new();
        for (p, o) in [(0, 10), (0, 11), (0, 12), (1, 3), (1, 4)] {
            b.push(&bare_record("t", p, o), 0);
        }
        let (batch, _) = b.finish();
        let progress = HashMap::from([(("t".into(), 0), 11), (("t".into(), 1), 2)]);
        let kept = drop_already_written(&batch, &progress);
        assert_eq!(
            kept.column(2).as_primitive::<Int64Type>().values(),
            &[12, 3, 4]
        );
        assert_eq!(drop_already_written(&batch, &HashMap::new()).num_rows(), 5);
    }
}
