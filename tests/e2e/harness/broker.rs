//! A Tansu broker process per test, and a producer and consumer to drive it.
//!
//! Tansu speaks the Kafka protocol, keeps everything in memory here, listens
//! on IPv4 only and does not auto-create topics, so a test creates its topics
//! with [`Broker::create_topic`]. Only rdkafka's bundled librdkafka talks to
//! it (Debian's librdkafka and kcat fail the version handshake).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tempfile::TempDir;

/// How long a broker may take to answer its first metadata request.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a topic may take to show all its partitions in metadata.
const TOPIC_TIMEOUT: Duration = Duration::from_secs(20);
/// How often a broker is started on a fresh port when it exits at once
/// (another test process took the port between our probe and its bind).
const START_ATTEMPTS: usize = 3;

/// A Tansu broker on a free loopback port, killed when dropped.
pub struct Broker {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Broker {
    /// Starts a broker and waits until it answers a metadata request.
    ///
    /// Panics, with the broker's log, when it cannot be found or started.
    pub fn start() -> Self {
        let bin = tansu_binary();
        for attempt in 1..=START_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("ingot-tansu-")
                .tempdir()
                .expect("create a temp dir for the broker log");
            let port = free_port();
            let log = dir.path().join("tansu.log");
            let child = spawn_tansu(&bin, port, &log);
            let mut broker = Broker {
                child,
                port,
                log,
                _dir: dir,
            };
            match broker.wait_ready() {
                Ok(()) => return broker,
                Err(Exited(status)) if attempt < START_ATTEMPTS => {
                    eprintln!("tansu on port {port} exited ({status}), retrying on another port");
                }
                Err(Exited(status)) => broker.fail(&format!("exited ({status})")),
            }
        }
        unreachable!("invariant: the last attempt returns or panics")
    }

    /// The `host:port` clients bootstrap from.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's log so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Creates `name` with `partitions` partitions (replication 1) and waits
    /// until metadata shows every partition with a leader.
    pub fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = client_config(&self.bootstrap())
            .create()
            .expect("create an rdkafka admin client");
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = futures::executor::block_on(admin.create_topics([&topic], &options))
            .unwrap_or_else(|e| self.fail(&format!("create topic {name}: {e}")));
        for result in results {
            if let Err((topic, code)) = result {
                self.fail(&format!("create topic {topic}: {code}"));
            }
        }
        let consumer = self.metadata_client();
        let deadline = Instant::now() + TOPIC_TIMEOUT;
        loop {
            let shown = consumer
                .fetch_metadata(Some(name), Duration::from_secs(2))
                .ok()
                .and_then(|m| {
                    let t = m.topics().iter().find(|t| t.name() == name)?;
                    let led = t.partitions().iter().filter(|p| p.leader() >= 0).count();
                    (t.error().is_none()).then_some(led)
                })
                .unwrap_or(0);
            if shown == usize::try_from(partitions).expect("partitions > 0") {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "topic {name}: {shown} of {partitions} partitions after {TOPIC_TIMEOUT:?}"
                ));
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the broker accepts TCP connections and answers metadata.
    fn wait_ready(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the tansu process") {
                return Err(Exited(status.to_string()));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                self.fail(&format!("no listener on {addr} after {START_TIMEOUT:?}"));
            }
            sleep(Duration::from_millis(50));
        }
        let client = self.metadata_client();
        loop {
            match client.fetch_metadata(None, Duration::from_secs(1)) {
                Ok(m) if !m.brokers().is_empty() => return Ok(()),
                Ok(_) | Err(_) if Instant::now() > deadline => {
                    self.fail(&format!("no metadata from {addr} after {START_TIMEOUT:?}"))
                }
                Ok(_) | Err(_) => sleep(Duration::from_millis(100)),
            }
        }
    }

    fn metadata_client(&self) -> BaseConsumer {
        client_config(&self.bootstrap())
            .set("group.id", "ingot-e2e-metadata")
            .create()
            .expect("create an rdkafka metadata client")
    }

    /// Panics with `what` and the tail of the broker's log.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "tansu broker on 127.0.0.1:{}: {what}\n--- {} (tail) ---\n{}",
            self.port,
            self.log.display(),
            tail(&self.log, 40)
        )
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server process (a broker, an S3 server) that ended before it was
/// ready, with its exit status.
pub(super) struct Exited(pub(super) String);

/// The tansu binary: `INGOT_TANSU`, else the one `scripts/install-tansu.sh`
/// builds into `~/.cache/ingot`.
fn tansu_binary() -> PathBuf {
    let bin = std::env::var_os("INGOT_TANSU")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").expect("HOME is set");
            Path::new(&home).join(".cache/ingot/tansu-0.6.0/bin/tansu")
        });
    assert!(
        bin.is_file(),
        "no tansu binary at {}: run scripts/install-tansu.sh (or ./dev test)",
        bin.display()
    );
    bin
}

/// A loopback port nobody listened on a moment ago.
pub(super) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral loopback port")
        .port()
}

fn spawn_tansu(bin: &Path, port: u16, log: &Path) -> Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let out = File::create(log).expect("create the tansu log file");
    let err = out.try_clone().expect("clone the tansu log handle");
    Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("SCHEMA_REGISTRY")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()))
}

/// The client settings every harness client shares.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "500");
    config
}

/// Counts deliveries and keeps the first failure.
#[derive(Default)]
struct Deliveries {
    delivered: AtomicUsize,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, m)) => {
                let mut first = self.first_error.lock().expect("delivery lock");
                first.get_or_insert_with(|| format!("partition {}: {e}", m.partition()));
            }
        }
    }
}

/// Produces `records` (key, value) to `topic` with acks=all and returns how
/// many were delivered; panics, naming the topic, on any delivery error.
pub fn produce(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)>,
) -> usize {
    produce_in_batches(bootstrap, topic, records, 10_000)
}

/// [`produce`], each record in a record batch of its own, for a test whose
/// ingest may stop (crash) inside what would be one batch: Tansu 0.6 answers
/// a fetch from an offset inside a batch with its partition's last batch,
/// again and again (records lost, others delivered several times), so a
/// restart must resume at a batch boundary. Kafka returns the whole batch,
/// and the client skips what precedes the offset.
pub fn produce_unbatched(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)>,
) -> usize {
    produce_in_batches(bootstrap, topic, records, 1)
}

fn produce_in_batches(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<Vec<u8>>, Option<Vec<u8>>)>,
    batch: usize,
) -> usize {
    let producer: BaseProducer<Deliveries> = client_config(bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "false")
        .set("linger.ms", "5")
        .set("batch.num.messages", batch.to_string())
        .set("queue.buffering.max.messages", "200000")
        .set("message.timeout.ms", "30000")
        .create_with_context(Deliveries::default())
        .expect("create an rdkafka producer");
    let mut sent = 0;
    for (key, value) in records {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic);
        if let Some(k) = key.as_deref() {
            record = record.key(k);
        }
        if let Some(v) = value.as_deref() {
            record = record.payload(v);
        }
        while let Err((e, back)) = producer.send(record) {
            match e {
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => {
                    producer.poll(Duration::from_millis(20));
                    record = back;
                }
                e => panic!("produce to topic {topic}: {e}"),
            }
        }
        sent += 1;
        if sent % 1000 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    if let Err(e) = producer.flush(Duration::from_secs(60)) {
        panic!("flush producer for topic {topic}: {e}");
    }
    let context = producer.context();
    if let Some(e) = context.first_error.lock().expect("delivery lock").take() {
        panic!("deliver to topic {topic}: {e}");
    }
    let delivered = context.delivered.load(Ordering::Relaxed);
    assert_eq!(
        delivered, sent,
        "topic {topic}: {sent} sent, {delivered} delivered"
    );
    delivered
}

/// One record read back from a topic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Consumed {
    /// The partition it was read from.
    pub partition: i32,
    /// Its offset in that partition.
    pub offset: i64,
    /// Its key, `None` for a null key.
    pub key: Option<Vec<u8>>,
    /// Its value, `None` for a null value (a tombstone).
    pub value: Option<Vec<u8>>,
}

/// Reads `topic` from the beginning of every partition until `expected`
/// records arrived; panics after `timeout` with the count so far.
pub fn consume(bootstrap: &str, topic: &str, expected: usize, timeout: Duration) -> Vec<Consumed> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set(
            "group.id",
            format!("ingot-e2e-check-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .expect("create an rdkafka consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("metadata of topic {topic}: {e}"));
    let mut assignment = TopicPartitionList::new();
    for t in metadata.topics().iter().filter(|t| t.name() == topic) {
        for p in t.partitions() {
            assignment
                .add_partition_offset(topic, p.id(), Offset::Beginning)
                .expect("invariant: a fresh partition list accepts offsets");
        }
    }
    assert!(assignment.count() > 0, "topic {topic} has no partitions");
    consumer
        .assign(&assignment)
        .unwrap_or_else(|e| panic!("assign topic {topic}: {e}"));
    let deadline = Instant::now() + timeout;
    let mut out = Vec::with_capacity(expected);
    while out.len() < expected {
        assert!(
            Instant::now() < deadline,
            "topic {topic}: {} of {expected} records after {timeout:?}",
            out.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(Consumed {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
            }),
            Some(Err(e)) => panic!("consume topic {topic}: {e}"),
            None => {}
        }
    }
    out
}

/// The last `lines` lines of the file at `path`, for a failure message.
pub fn tail(path: &Path, lines: usize) -> String {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()));
    tail_text(&text, lines)
}

/// The last `lines` lines of `text`.
pub fn tail_text(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
