//! `brokers = "embedded"`: librdkafka's in-process mock cluster, a real Kafka
//! protocol endpoint on loopback, so a first run needs no broker.
//!
//! Demo scale only: each mock partition keeps the newest 5 MiB / 100,000
//! messages and silently drops older ones, so a pipeline must consume while
//! data is produced. Data lives in memory and is gone when the process exits.

use std::{sync::mpsc, thread};

use rdkafka::mocking::MockCluster;

use super::SourceError;

/// A running mock cluster; stops when dropped.
pub struct EmbeddedBroker {
    bootstrap: String,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster with `topics`, each of `partitions`
    /// partitions (the mock broker does not support the admin API).
    ///
    /// # Errors
    ///
    /// [`SourceError::Embedded`] if librdkafka cannot start it.
    pub fn start(topics: &[String], partitions: i32) -> Result<Self, SourceError> {
        let topics: Vec<(String, i32)> = topics.iter().map(|t| (t.clone(), partitions)).collect();
        Self::start_topics(&topics)
    }

    /// Starts a one-broker mock cluster with each topic of `topics` and its
    /// partition count.
    ///
    /// # Errors
    ///
    /// [`SourceError::Embedded`] if librdkafka cannot start it.
    pub fn start_topics(topics: &[(String, i32)]) -> Result<Self, SourceError> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let topics = topics.to_vec();
        // The cluster handle is not Send: it lives on its own thread.
        let thread = thread::Builder::new()
            .name("ingot-embedded-kafka".into())
            .spawn(move || {
                let started = MockCluster::new(1)
                    .map_err(|e| e.to_string())
                    .and_then(|cluster| {
                        for (topic, partitions) in &topics {
                            cluster
                                .create_topic(topic, *partitions, 1)
                                .map_err(|e| format!("cannot create topic {topic}: {e}"))?;
                        }
                        Ok(cluster)
                    });
                match started {
                    Ok(cluster) => {
                        let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                        let _ = stop_rx.recv();
                        drop(cluster);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| SourceError::Embedded {
                message: e.to_string(),
            })?;
        let bootstrap = ready_rx
            .recv()
            .map_err(|_| SourceError::Embedded {
                message: "mock cluster thread died".into(),
            })?
            .map_err(|message| SourceError::Embedded { message })?;
        Ok(Self {
            bootstrap,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The `host:port` clients connect to.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
