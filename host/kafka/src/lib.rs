//! Where records come from: Kafka, through rdkafka and the librdkafka it
//! bundles. The only ingot crate that names rdkafka types.
//!
//! - [`consumer`]: the ingest loop's consumer; partitions are positioned from
//!   bronze's `txn` versions (a callback the caller gives), never from Kafka's
//!   committed offsets.
//! - [`bronze`]: where a Kafka record becomes a bronze row.
//! - [`embedded`]: librdkafka's in-process mock cluster (`brokers = "embedded"`).
//! - [`producer`]: writing records, for `ingot produce` and the tests.
//!
//! This crate knows nothing of Delta tables, Wasm or pipelines: it hands
//! Arrow batches and offsets up, and asks for positions through a callback.

pub mod bronze;
pub mod consumer;
pub mod embedded;
pub mod producer;

use ingot_core::ErrorClass;
use serde::{Deserialize, Serialize};

/// An error talking to Kafka.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The client could not be created or could not subscribe.
    #[error("cannot connect to kafka at {brokers}: {source}")]
    Connect {
        /// Bootstrap servers.
        brokers: String,
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// Positioning newly assigned partitions failed.
    #[error("kafka rebalance failed: {message}")]
    Rebalance {
        /// What failed.
        message: String,
    },
    /// librdkafka reported an error it cannot recover from.
    #[error("fatal kafka error: {source}")]
    Fatal {
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// The broker did not answer a metadata request.
    #[error("cannot read the metadata of topic {topic}: {source}")]
    Metadata {
        /// The topic.
        topic: String,
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// A configured topic does not exist (or has no partitions).
    #[error(
        "topic {topic} does not exist on the broker (create it first: ingot never creates topics)"
    )]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// The broker did not report a partition's watermarks.
    #[error("cannot read the watermarks of {topic}/{partition}: {source}")]
    Watermarks {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// librdkafka's error.
        source: rdkafka::error::KafkaError,
    },
    /// The embedded mock cluster could not start.
    #[error("cannot start the embedded kafka broker: {message}")]
    Embedded {
        /// What failed.
        message: String,
    },
    /// Producing sample records failed.
    #[error("cannot produce to topic {topic}: {message}")]
    Produce {
        /// The topic.
        topic: String,
        /// What failed.
        message: String,
    },
    /// No partition was assigned in time.
    #[error("no partition of {topics} was assigned to this consumer within {seconds} s")]
    NoAssignment {
        /// The topics subscribed to.
        topics: String,
        /// How long ingot waited.
        seconds: u64,
    },
}

impl SourceError {
    /// Broker trouble is external (retry); a refused configuration is the user's.
    pub fn class(&self) -> ErrorClass {
        match self {
            SourceError::Connect { .. } | SourceError::UnknownTopic { .. } => ErrorClass::User,
            _ => ErrorClass::External,
        }
    }
}

/// Where a partition without recorded progress starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartFrom {
    /// The oldest record the broker still has.
    #[default]
    Earliest,
    /// Only records produced after the pipeline starts.
    Latest,
}
