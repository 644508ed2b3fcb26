//! The consumer's context: librdkafka's rebalance callback, which positions
//! every assigned partition from bronze's progress (after checking it
//! against the broker's watermarks), and its statistics callback, which
//! keeps the partitions' watermarks for the consumer lag.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use rdkafka::{
    ClientConfig, ClientContext, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, ConsumerContext},
    error::RDKafkaErrorCode,
    types::RDKafkaRespErr,
};

use super::{PartitionId, Progress, SourceSettings};
use crate::{
    DataLoss, OnDataLoss, SourceError, StartFrom,
    offsets::OffsetCheck,
    probe::{records_end, watermarks},
};

/// Rebalance handling: positions assigned partitions from bronze's txns.
pub struct IngestContext {
    pub(super) progress: Arc<dyn Progress>,
    pub(super) start_from: StartFrom,
    pub(super) on_data_loss: OnDataLoss,
    /// The consumer's settings, for a second consumer that reads where a
    /// partition's records end ([`records_end`]).
    pub(super) probe: ClientConfig,
    pub(super) revoked: AtomicBool,
    /// Whether the group has given this consumer an assignment (perhaps
    /// of no partition) since it joined or was last revoked.
    pub(super) joined: AtomicBool,
    pub(super) assigned: Mutex<BTreeMap<PartitionId, Offset>>,
    pub(super) failure: Mutex<Option<SourceError>>,
    /// Each partition's low and high watermarks, from librdkafka's
    /// statistics (every [`STATISTICS_INTERVAL`]).
    pub(super) watermarks: Mutex<HashMap<PartitionId, (i64, i64)>>,
}

/// How often librdkafka reports the partitions' high watermarks (the
/// consumer lag a metrics scrape shows is at most this old).
pub(super) const STATISTICS_INTERVAL: &str = "5000";

impl ClientContext for IngestContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut known = self
            .watermarks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (topic, t) in statistics.topics {
            for (partition, p) in t.partitions {
                // librdkafka's internal "unassigned" partition is -1.
                if partition >= 0 && p.hi_offset >= 0 {
                    known.insert((topic.clone(), partition), (p.lo_offset, p.hi_offset));
                }
            }
        }
    }
}

impl ConsumerContext for IngestContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = tpl.count(), "partitions revoked");
                self.revoked.store(true, Ordering::SeqCst);
                self.joined.store(false, Ordering::SeqCst);
                self.assigned().clear();
                if let Err(e) = consumer.unassign() {
                    self.fail(rebalance(format!("unassign after revocation failed: {e}")));
                }
            }
            other => {
                let code: RDKafkaErrorCode = other.into();
                tracing::warn!(error = %code, "rebalance error");
                self.revoked.store(true, Ordering::SeqCst);
                self.joined.store(false, Ordering::SeqCst);
                self.assigned().clear();
                if let Err(e) = consumer.unassign() {
                    self.fail(rebalance(format!(
                        "unassign after rebalance error failed: {e}"
                    )));
                }
            }
        }
    }
}

fn rebalance(message: String) -> SourceError {
    SourceError::Rebalance { message }
}

impl IngestContext {
    /// The context of a consumer made with `settings`; `probe` is the
    /// consumer's configuration, for the probes it makes.
    pub(super) fn new(settings: &SourceSettings, probe: ClientConfig) -> Self {
        Self {
            progress: Arc::clone(&settings.progress),
            start_from: settings.start_from,
            on_data_loss: settings.on_data_loss,
            probe,
            revoked: AtomicBool::new(false),
            joined: AtomicBool::new(false),
            assigned: Mutex::new(BTreeMap::new()),
            failure: Mutex::new(None),
            watermarks: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn assigned(&self) -> std::sync::MutexGuard<'_, BTreeMap<PartitionId, Offset>> {
        self.assigned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn fail(&self, error: SourceError) {
        tracing::error!("{error}");
        *self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
    }

    pub(super) fn take_failure(&self) -> Option<SourceError> {
        self.failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    pub(super) fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions: Vec<PartitionId> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_owned(), e.partition()))
            .collect();
        let positioned = self
            .positions(consumer, &partitions)
            .and_then(|positions| self.assign_at(consumer, positions));
        match positioned {
            Ok(()) => self.joined.store(true, Ordering::SeqCst),
            Err(e) => self.fail(e),
        }
    }

    /// Where each of `partitions` resumes: after bronze's progress, once the
    /// broker's watermarks show the partition still follows on from it (or
    /// after a reset, with `on-data-loss = "reset"`); at `start-from` for a
    /// partition bronze holds nothing of.
    pub(super) fn positions(
        &self,
        consumer: &BaseConsumer<Self>,
        partitions: &[PartitionId],
    ) -> Result<BTreeMap<PartitionId, Offset>, SourceError> {
        let progress = self
            .progress
            .last_offsets(partitions)
            .map_err(|e| rebalance(format!("cannot read bronze progress on assignment: {e}")))?;
        let mut positions = BTreeMap::new();
        let mut losses = Vec::new();
        for id in partitions {
            let last = match progress.get(id) {
                Some(&last) => match self.follow_on(consumer, id, last)? {
                    Ok(last) => last,
                    Err(loss) => {
                        losses.push(loss);
                        continue;
                    }
                },
                None => None,
            };
            let offset = match (last, self.start_from) {
                (Some(last), _) => Offset::Offset(last + 1),
                (None, StartFrom::Earliest) => Offset::Beginning,
                (None, StartFrom::Latest) => Offset::End,
            };
            positions.insert(id.clone(), offset);
        }
        if losses.is_empty() {
            Ok(positions)
        } else {
            Err(SourceError::DataLoss { losses })
        }
    }

    /// Bronze's last offset of partition `id` (`last`) checked against the
    /// broker's watermarks: as it was when the partition follows on from it,
    /// as it is after a reset under `on-data-loss = "reset"`, or the loss
    /// under `"fail"`.
    fn follow_on(
        &self,
        consumer: &BaseConsumer<Self>,
        id: &PartitionId,
        last: i64,
    ) -> Result<Result<Option<i64>, DataLoss>, SourceError> {
        let (topic, partition) = (id.0.as_str(), id.1);
        let (low, high) = watermarks(consumer, id)?;
        let mut found = DataLoss::find(topic, partition, Some(last), low, high);
        if found
            .as_ref()
            .is_some_and(|l| l.kind == OffsetCheck::Backwards)
            && high > low
        {
            // The high watermark may be under-reported: read where the
            // partition's records end before calling it backwards.
            let end = records_end(&self.probe, id, high - 1, last)?;
            found = DataLoss::find(topic, partition, Some(last), low, high.max(end));
        }
        let Some(loss) = found else {
            return Ok(Ok(Some(last)));
        };
        if self.on_data_loss == OnDataLoss::Fail {
            return Ok(Err(loss));
        }
        tracing::warn!(
            topic,
            partition,
            offset = last,
            low,
            high,
            "{loss}; on-data-loss = reset: starting the partition over at offset {}",
            loss.restart_at()
        );
        self.progress.reset(&loss).map(Ok).map_err(|e| {
            rebalance(format!(
                "cannot record the reset of {topic}/{partition} in bronze: {e}"
            ))
        })
    }

    pub(super) fn assign_at(
        &self,
        consumer: &BaseConsumer<Self>,
        positions: BTreeMap<PartitionId, Offset>,
    ) -> Result<(), SourceError> {
        let mut positioned = TopicPartitionList::new();
        for ((topic, partition), offset) in &positions {
            tracing::info!(topic, partition, offset = ?offset, "partition assigned");
            positioned
                .add_partition_offset(topic, *partition, *offset)
                .map_err(|e| rebalance(format!("cannot position {topic}/{partition}: {e}")))?;
        }
        consumer
            .assign(&positioned)
            .map_err(|e| rebalance(format!("assign failed: {e}")))?;
        *self.assigned() = positions;
        Ok(())
    }
}
