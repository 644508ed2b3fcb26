//! A Tansu broker process on a free loopback port, killed when dropped: the
//! minimum of `tests/e2e/harness/broker.rs` a benchmark needs (benchmarks
//! cannot import the test harness).
//!
//! Tansu keeps everything in memory here, listens on IPv4 only and does not
//! auto-create topics, so the benchmark creates its topic with the admin API.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tempfile::TempDir;

/// How long the broker and a new topic may take to show up in metadata.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Tansu broker.
pub struct Broker {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Broker {
    /// Starts Tansu (`INGOT_TANSU`, else the one `scripts/install-tansu.sh`
    /// builds) and waits until it answers a metadata request.
    ///
    /// # Errors
    ///
    /// When the binary is missing or the broker does not become ready; the
    /// message ends with the tail of the broker's log.
    pub fn start() -> Result<Self> {
        let bin = tansu_binary()?;
        let dir = tempfile::Builder::new()
            .prefix("ingot-bench-tansu-")
            .tempdir()?;
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let log = dir.path().join("tansu.log");
        let url = format!("tcp://127.0.0.1:{port}");
        let out = File::create(&log)?;
        let child = Command::new(&bin)
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
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let mut broker = Broker {
            child,
            port,
            log,
            _dir: dir,
        };
        broker.wait_ready().with_context(|| broker.log_tail())?;
        Ok(broker)
    }

    /// The `host:port` clients bootstrap from.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Creates `name` with `partitions` partitions and waits until metadata
    /// shows every partition with a leader.
    ///
    /// # Errors
    ///
    /// When the admin request fails or the partitions do not show up.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> = client_config(&self.bootstrap()).create()?;
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in futures::executor::block_on(admin.create_topics([&topic], &options))? {
            if let Err((topic, code)) = result {
                bail!("create topic {topic}: {code}");
            }
        }
        let client = self.metadata_client()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let led = client
                .fetch_metadata(Some(name), Duration::from_secs(2))
                .ok()
                .and_then(|m| {
                    let t = m.topics().iter().find(|t| t.name() == name)?;
                    t.error()
                        .is_none()
                        .then(|| t.partitions().iter().filter(|p| p.leader() >= 0).count())
                })
                .unwrap_or(0);
            if led == usize::try_from(partitions)? {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "topic {name}: {led} of {partitions} partitions led after {READY_TIMEOUT:?}"
            );
            sleep(Duration::from_millis(100));
        }
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = self.child.try_wait()? {
                bail!("tansu exited ({status}) before listening on {addr}");
            }
            ensure!(
                Instant::now() < deadline,
                "no listener on {addr} after {READY_TIMEOUT:?}"
            );
            sleep(Duration::from_millis(50));
        }
        let client = self.metadata_client()?;
        loop {
            match client.fetch_metadata(None, Duration::from_secs(1)) {
                Ok(m) if !m.brokers().is_empty() => return Ok(()),
                _ => ensure!(
                    Instant::now() < deadline,
                    "no metadata from {addr} after {READY_TIMEOUT:?}"
                ),
            }
            sleep(Duration::from_millis(100));
        }
    }

    fn metadata_client(&self) -> Result<BaseConsumer> {
        Ok(client_config(&self.bootstrap())
            .set("group.id", "ingot-bench-metadata")
            .create()?)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!(
            "tansu on port {} ({}):\n{tail}",
            self.port,
            self.log.display()
        )
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tansu_binary() -> Result<PathBuf> {
    let bin = match std::env::var_os("INGOT_TANSU") {
        Some(bin) => PathBuf::from(bin),
        None => {
            let home = std::env::var_os("HOME").context("HOME is not set")?;
            Path::new(&home).join(".cache/ingot/tansu-0.6.0/bin/tansu")
        }
    };
    ensure!(
        bin.is_file(),
        "no tansu binary at {}: run scripts/install-tansu.sh (or ./dev bench)",
        bin.display()
    );
    Ok(bin)
}

/// The settings every benchmark client shares.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("reconnect.backoff.ms", "50")
        .set("reconnect.backoff.max.ms", "500");
    config
}
