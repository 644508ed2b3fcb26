//! What the broker holds of a partition: its watermarks, and, when they say
//! it went backwards, whether its records really end below bronze's offset.
//!
//! A high watermark is only a report. Tansu 0.6, the test broker, answers a
//! ListOffsets for the latest offset with the base offset of the partition's
//! last record batch + 1, not the offset after its last record, so a
//! partition read to its end looks as if it went backwards whenever its last
//! batch holds more than one record. Before a partition is called backwards,
//! [`records_end`] reads it from its last reported offset and looks for a
//! record at or past bronze's last offset: on a broker whose watermarks are
//! exact that costs one fetch of one batch, and only when something is wrong.

use std::time::{Duration, Instant};

use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer, ConsumerContext},
    error::RDKafkaErrorCode,
};

use crate::{SourceError, consumer::PartitionId};

/// How long the broker may take to report a partition's watermarks.
const WATERMARKS_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`records_end`] waits for a first record.
const FIRST_RECORD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`records_end`] waits for more once records stopped coming.
const IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// The low and high watermarks of partition `id`.
pub(crate) fn watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    id: &PartitionId,
) -> Result<(i64, i64), SourceError> {
    consumer
        .fetch_watermarks(&id.0, id.1, WATERMARKS_TIMEOUT)
        .map_err(|source| SourceError::Watermarks {
            topic: id.0.clone(),
            partition: id.1,
            source,
        })
}

/// The offset after the last record of partition `id` a consumer made from
/// `config` reads from offset `from`, stopping at the first record at or
/// past `until` (0 when it reads none): with [`watermarks`]' high watermark,
/// the larger is where the partition's records end.
pub(crate) fn records_end(
    config: &ClientConfig,
    id: &PartitionId,
    from: i64,
    until: i64,
) -> Result<i64, SourceError> {
    let failed = |message: String| SourceError::Rebalance {
        message: format!(
            "cannot read {}/{} from offset {from}: {message}",
            id.0, id.1
        ),
    };
    let probe: BaseConsumer = config.create().map_err(|e| failed(e.to_string()))?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&id.0, id.1, Offset::Offset(from))
        .map_err(|e| failed(e.to_string()))?;
    probe.assign(&tpl).map_err(|e| failed(e.to_string()))?;
    let mut end = 0;
    let mut waiting = (Instant::now(), FIRST_RECORD_TIMEOUT);
    while waiting.0.elapsed() < waiting.1 {
        match probe.poll(Duration::from_millis(50)) {
            Some(Ok(m)) => {
                end = end.max(m.offset() + 1);
                if m.offset() >= until {
                    break;
                }
                waiting = (Instant::now(), IDLE_TIMEOUT);
            }
            Some(Err(e)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::AutoOffsetReset) => {
                break;
            }
            Some(Err(e)) => tracing::debug!(error = %e, "reading a partition's last records"),
            None => {}
        }
    }
    Ok(end)
}
