//! Sending records to a topic (`ingot produce`, the demo, benchmarks).

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use rdkafka::{
    ClientConfig, ClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    message::DeliveryResult,
    producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer},
};

/// Counts failed deliveries, so none is lost silently.
#[derive(Default)]
struct Deliveries {
    failed: Mutex<(u64, Option<String>)>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if let Err((e, _)) = result {
            let mut failed = self
                .failed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            failed.0 += 1;
            failed.1 = Some(e.to_string());
        }
    }
}

use super::SourceError;

/// Produces `records` (key, value) to `topic`, at most `rate` per second if
/// given, and waits until all are acknowledged. Returns how many were sent.
///
/// # Errors
///
/// [`SourceError::Produce`] when the client cannot be created or a delivery
/// does not complete within a minute of the last send.
pub fn produce(
    brokers: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
    rate: Option<u32>,
) -> Result<u64, SourceError> {
    let err = |message: String| SourceError::Produce {
        topic: topic.to_owned(),
        message,
    };
    let producer: ThreadedProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("acks", "all")
        .create_with_context(Deliveries::default())
        .map_err(|e| err(e.to_string()))?;
    let started = Instant::now();
    let mut sent = 0u64;
    for (key, value) in records {
        if let Some(rate) = rate.filter(|r| *r > 0) {
            let due = started + Duration::from_secs_f64(sent as f64 / f64::from(rate));
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        let mut record = BaseRecord::<Vec<u8>, Vec<u8>>::to(topic).key(&key);
        if let Some(v) = &value {
            record = record.payload(v);
        }
        let mut pending = record;
        loop {
            match producer.send(pending) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    pending = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(err(e.to_string())),
            }
        }
        sent += 1;
        if sent.is_multiple_of(100_000) {
            tracing::info!(topic, sent, "producing");
        }
    }
    producer
        .flush(Duration::from_secs(60))
        .map_err(|e| err(format!("flush: {e}")))?;
    let failed = producer
        .context()
        .failed
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let (n @ 1.., Some(last)) = (failed.0, &failed.1) {
        return Err(err(format!(
            "{n} of {sent} records were not delivered; last error: {last}"
        )));
    }
    Ok(sent)
}
