//! The Kafka consumer of the ingest loop (rdkafka, bundled librdkafka).
//!
//! Kafka's committed offsets are advisory only: where a partition resumes is
//! decided by the bronze table's `txn` actions. The consumer joins its group
//! with the eager protocol and overrides the rebalance callback so that every
//! newly assigned partition is positioned at (its txn version in bronze) + 1
//! *before* it is fetched. On a revocation the caller drops what it buffered
//! (those records are re-read by whoever owns the partition next, from the
//! same txn), so a rebalance neither loses nor duplicates a record.
//!
//! Before a partition bronze has progress of is positioned, its watermarks
//! are checked against that progress ([`crate::offsets`]): a partition that
//! went backwards or lost records stops the ingest, or is reset, as
//! `on-data-loss` says. While reading, `auto.offset.reset = error` turns a
//! position the broker no longer has into [`Polled::OutOfRange`] instead of
//! librdkafka's silent jump, and the caller repositions from bronze, which
//! checks again.

mod context;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer},
    error::{KafkaError, RDKafkaErrorCode},
    message::BorrowedMessage,
};

use super::SourceError;
use crate::{DataLoss, OnDataLoss, StartFrom, partitions::PerPartition, probe::watermarks};
use context::{IngestContext, STATISTICS_INTERVAL};

/// A topic partition.
pub type PartitionId = (String, i32);

/// What the consumer asks of bronze: where each partition resumes, and to
/// record a deliberate reset. The ingest loop implements it over the bronze
/// table; this crate knows nothing of Delta. Called on every assignment,
/// from librdkafka's rebalance callback.
pub trait Progress: Send + Sync {
    /// The last offset bronze holds of each of `partitions` (absent: none).
    ///
    /// # Errors
    ///
    /// Bronze could not be read.
    fn last_offsets(&self, partitions: &[PartitionId])
    -> Result<HashMap<PartitionId, i64>, String>;

    /// Records in bronze, in a commit of its own, that `loss`'s partition
    /// starts over at [`DataLoss::restart_at`] (its progress becomes that
    /// offset − 1), unless bronze's progress of it, read again, no longer
    /// shows the loss (another host reset it first). Returns bronze's last
    /// offset of the partition afterwards.
    ///
    /// # Errors
    ///
    /// Bronze could not be read or written.
    fn reset(&self, loss: &DataLoss) -> Result<Option<i64>, String>;
}

/// Connection settings of a [`KafkaSource`].
pub struct SourceSettings {
    /// Bootstrap servers.
    pub brokers: String,
    /// Consumer group.
    pub group_id: String,
    /// Topics to subscribe to.
    pub topics: Vec<String>,
    /// Where partitions without progress start.
    pub start_from: StartFrom,
    /// What to do with a partition whose offsets do not follow on from bronze's.
    pub on_data_loss: OnDataLoss,
    /// Extra librdkafka properties (override ours).
    pub properties: BTreeMap<String, String>,
    /// Where each partition resumes.
    pub progress: Arc<dyn Progress>,
    /// Join the consumer group (continuous runs), or read every partition
    /// of the topics directly (`--once`: no group join to wait for).
    pub use_group: bool,
}

/// What one poll produced.
pub enum Polled<'a> {
    /// A record.
    Record(BorrowedMessage<'a>),
    /// Nothing arrived within the timeout, or a partition reached its end.
    Idle,
    /// The broker no longer has the position of a partition (librdkafka's
    /// `auto.offset.reset = error`): its topic was recreated or retention
    /// deleted records before they were read. Commit what is buffered, then
    /// call [`KafkaSource::reposition`].
    OutOfRange,
}

impl Polled<'_> {
    /// The topic, partition and offset of a record.
    pub fn position(&self) -> Option<(&str, i32, i64)> {
        match self {
            Polled::Record(m) => {
                use rdkafka::Message as _;
                Some((m.topic(), m.partition(), m.offset()))
            }
            Polled::Idle | Polled::OutOfRange => None,
        }
    }
}

/// A consumer positioned by bronze's progress.
pub struct KafkaSource {
    consumer: BaseConsumer<IngestContext>,
    /// Next offset to read, per partition a record was read from.
    next: PerPartition<i64>,
    /// High watermarks of the assigned partitions, fetched once per assignment.
    ends: HashMap<PartitionId, i64>,
}

impl KafkaSource {
    /// Creates the consumer and subscribes to the topics.
    ///
    /// # Errors
    ///
    /// [`SourceError::Connect`] when librdkafka refuses the configuration.
    pub fn connect(settings: SourceSettings) -> Result<Self, SourceError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.brokers)
            .set("group.id", &settings.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            // A position the broker no longer has is an error, not a silent
            // jump to another offset: see `Polled::OutOfRange`.
            .set("auto.offset.reset", "error")
            // Eager protocol: the rebalance callback assigns explicitly.
            .set("partition.assignment.strategy", "range,roundrobin")
            // librdkafka's default (500) throttles a consumer draining a
            // backlog to a tenth of its speed (measured on Tansu: about 75,000
            // records/s against 900,000 with 10 ms).
            .set("fetch.wait.max.ms", "10")
            // A restarted host waits for its dead predecessor's session to
            // expire before the group reassigns: keep that short.
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "2000")
            .set("fetch.max.bytes", "52428800")
            .set("max.partition.fetch.bytes", "10485760")
            .set("statistics.interval.ms", STATISTICS_INTERVAL);
        for (k, v) in &settings.properties {
            config.set(k, v);
        }
        let context = IngestContext::new(&settings, config.clone());
        let consumer: BaseConsumer<IngestContext> =
            config
                .create_with_context(context)
                .map_err(|source| SourceError::Connect {
                    brokers: settings.brokers.clone(),
                    source,
                })?;
        if settings.use_group {
            let topics: Vec<&str> = settings.topics.iter().map(String::as_str).collect();
            consumer
                .subscribe(&topics)
                .map_err(|source| SourceError::Connect {
                    brokers: settings.brokers.clone(),
                    source,
                })?;
        } else {
            assign_all(&consumer, &settings.topics)?;
        }
        Ok(Self {
            consumer,
            next: PerPartition::default(),
            ends: HashMap::new(),
        })
    }

    /// Waits up to `timeout` for the next record.
    ///
    /// # Errors
    ///
    /// [`SourceError::DataLoss`] when an assigned partition does not follow
    /// on from bronze (under `on-data-loss = "fail"`),
    /// [`SourceError::Rebalance`] when positioning an assignment failed
    /// otherwise, and [`SourceError::Fatal`] for errors librdkafka cannot
    /// recover from; transient broker errors are logged and retried by
    /// librdkafka.
    pub fn poll(&mut self, timeout: Duration) -> Result<Polled<'_>, SourceError> {
        let polled = self.consumer.poll(timeout);
        if let Some(failure) = self.consumer.context().take_failure() {
            return Err(failure);
        }
        match polled {
            None => Ok(Polled::Idle),
            Some(Ok(message)) => {
                use rdkafka::Message;
                self.next
                    .insert(message.topic(), message.partition(), message.offset() + 1);
                Ok(Polled::Record(message))
            }
            Some(Err(e)) if is_fatal(&e) => Err(SourceError::Fatal { source: e }),
            Some(Err(e)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::AutoOffsetReset) => {
                tracing::warn!(error = %e, "a partition's position is outside the broker's offsets");
                Ok(Polled::OutOfRange)
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "kafka consumer error (retrying)");
                Ok(Polled::Idle)
            }
        }
    }

    /// Whether a revocation happened since the last call: records buffered
    /// before it must be dropped, they will be read again from bronze's txns.
    pub fn take_revoked(&mut self) -> bool {
        let revoked = self
            .consumer
            .context()
            .revoked
            .swap(false, Ordering::SeqCst);
        if revoked {
            self.next.clear();
            self.ends.clear();
        }
        revoked
    }

    /// Positions every assigned partition again from bronze, checking each
    /// against the broker's watermarks as an assignment does: after
    /// [`Polled::OutOfRange`], once what was buffered is committed (so no
    /// record is read twice into one batch).
    ///
    /// # Errors
    ///
    /// As [`KafkaSource::poll`]: [`SourceError::DataLoss`] under
    /// `on-data-loss = "fail"`, [`SourceError::Rebalance`] or
    /// [`SourceError::Watermarks`] when bronze or the broker cannot answer.
    pub fn reposition(&mut self) -> Result<(), SourceError> {
        let partitions: Vec<PartitionId> = self.assignment().into_iter().collect();
        let context = self.consumer.context();
        let positions = context.positions(&self.consumer, &partitions)?;
        context.assign_at(&self.consumer, positions)?;
        self.next.clear();
        self.ends.clear();
        Ok(())
    }

    /// The partitions currently assigned to this consumer.
    pub fn assignment(&self) -> BTreeSet<PartitionId> {
        self.consumer.context().assigned().keys().cloned().collect()
    }

    /// Whether the consumer group has assigned this consumer its share
    /// (which may be no partition at all, in a group with more members
    /// than partitions).
    pub fn joined(&self) -> bool {
        self.consumer.context().joined.load(Ordering::SeqCst)
    }

    /// Records behind the end of each assigned partition whose end
    /// librdkafka has reported: its high watermark minus the next offset to
    /// read (the offset after the last record read, or where the partition
    /// was positioned).
    pub fn lags(&self) -> Vec<(PartitionId, i64)> {
        let context = self.consumer.context();
        let known = context
            .watermarks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        context
            .assigned()
            .iter()
            .filter_map(|(id, start)| {
                let (low, high) = *known.get(id)?;
                let next = match (self.next.get(&id.0, id.1), start) {
                    (Some(next), _) => *next,
                    (None, Offset::Offset(o)) => (*o).max(low),
                    (None, Offset::End) => high,
                    (None, _) => low,
                };
                Some((id.clone(), (high - next).max(0)))
            })
            .collect()
    }

    /// Whether every assigned partition has been read up to the high
    /// watermark it had when first checked (and at least one is assigned):
    /// the `--once` mode's exit condition. Call it when a poll was idle.
    ///
    /// # Errors
    ///
    /// [`SourceError::Watermarks`] when the broker does not answer.
    pub fn caught_up(&mut self) -> Result<bool, SourceError> {
        let assigned = self.consumer.context().assigned().clone();
        if assigned.is_empty() {
            return Ok(false);
        }
        for ((topic, partition), start) in assigned {
            let id = (topic, partition);
            if !self.ends.contains_key(&id) {
                let (low, high) = watermarks(&self.consumer, &id)?;
                self.ends.insert(id.clone(), high);
                if self.next.get(&id.0, id.1).is_none() {
                    let first = match start {
                        Offset::Offset(o) => o.max(low),
                        Offset::End => high,
                        _ => low,
                    };
                    self.next.insert(&id.0, id.1, first);
                }
            }
            if self.next.get(&id.0, id.1).copied().unwrap_or(0) < self.ends[&id] {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Records progress in Kafka for lag monitoring (advisory only: bronze's
    /// txns decide where a partition resumes).
    pub fn commit_advisory(&self, last_offsets: &BTreeMap<PartitionId, i64>) {
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), last) in last_offsets {
            if tpl
                .add_partition_offset(topic, *partition, Offset::Offset(last + 1))
                .is_err()
            {
                return;
            }
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
            tracing::debug!(error = %e, "advisory offset commit failed");
        }
    }
}

/// Assigns every partition of `topics`, positioned like a group assignment.
fn assign_all(
    consumer: &BaseConsumer<IngestContext>,
    topics: &[String],
) -> Result<(), SourceError> {
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(30))
            .map_err(|source| SourceError::Metadata {
                topic: topic.clone(),
                source,
            })?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
            .unwrap_or_default();
        if partitions.is_empty() {
            return Err(SourceError::UnknownTopic {
                topic: topic.clone(),
            });
        }
        for p in partitions {
            tpl.add_partition(topic, p);
        }
    }
    let context = consumer.context();
    context.assign(consumer, &tpl);
    context.take_failure().map_or(Ok(()), Err)
}

fn is_fatal(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::Fatal | RDKafkaErrorCode::Authentication)
    )
}
