//! A producer at a steady rate: every record stamped with the moment it was
//! handed to the client (its Kafka CreateTime), so a reader can tell how
//! long after its production a row appeared.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use ingot_sample::Record;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use crate::broker::client_config;
use crate::ingot_process::unix_micros;

/// How long the producer sleeps between two rounds of sends.
const TICK: Duration = Duration::from_millis(1);

/// What was produced.
#[derive(Debug, Clone, Copy)]
pub struct Produced {
    /// Records sent (all of them acknowledged).
    pub sent: u64,
    /// The timestamp of the first, ms since the Unix epoch.
    pub first_ms: i64,
    /// Seconds from the first send to the last.
    pub send_seconds: f64,
}

impl Produced {
    /// The rate achieved: records over the seconds from the first send to
    /// the last.
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.send_seconds
    }
}

/// Counts failed deliveries and keeps the last error.
#[derive(Default)]
struct Deliveries {
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            let mut last = self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *last = Some(e.to_string());
        }
    }
}

/// Sends `records` to `topic` at `rate` records per second (each round
/// sends what is due since the start, so a late round catches up), each
/// with its send time as its timestamp; waits until all are acknowledged.
///
/// # Errors
///
/// When the client cannot be created, a send fails, or a delivery fails.
pub fn steady(bootstrap: &str, topic: &str, records: &[Record], rate: usize) -> Result<Produced> {
    let producer: ThreadedProducer<Deliveries> = client_config(bootstrap)
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .set("message.timeout.ms", "60000")
        .create_with_context(Deliveries::default())
        .context("create the producer")?;
    ensure!(!records.is_empty(), "nothing to produce");
    let started = Instant::now();
    let first_ms = unix_micros() / 1000;
    let mut sent = 0usize;
    while sent < records.len() {
        let due = ((started.elapsed().as_secs_f64() * rate as f64) as usize).min(records.len());
        for (key, value) in &records[sent..due] {
            send(&producer, topic, key, value.as_deref())?;
        }
        sent = sent.max(due);
        thread::sleep(TICK);
    }
    let send_seconds = started.elapsed().as_secs_f64();
    producer
        .flush(Duration::from_secs(60))
        .with_context(|| format!("flush the producer of topic {topic}"))?;
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        let last = producer
            .context()
            .last_error
            .lock()
            .ok()
            .and_then(|e| e.clone());
        bail!(
            "{failed} records to topic {topic} were not delivered; the last error: {}",
            last.unwrap_or_default()
        );
    }
    Ok(Produced {
        sent: sent as u64,
        first_ms,
        send_seconds,
    })
}

/// Sends one record stamped now, waiting while the client's queue is full.
fn send(
    producer: &ThreadedProducer<Deliveries>,
    topic: &str,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<()> {
    let mut record = BaseRecord::<[u8], [u8]>::to(topic)
        .key(key)
        .timestamp(unix_micros() / 1000);
    if let Some(v) = value {
        record = record.payload(v);
    }
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                thread::sleep(TICK);
            }
            Err((e, _)) => bail!("produce to topic {topic}: {e}"),
        }
    }
}
