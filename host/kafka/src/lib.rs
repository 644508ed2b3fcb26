//! Where records come from: Kafka, through rdkafka and the librdkafka it
//! bundles. The only ingot crate that names rdkafka types.
//!
//! - [`consumer`]: the ingest loop's consumer; partitions are positioned from
//!   bronze's `txn` versions (a callback the caller gives), never from Kafka's
//!   committed offsets.
//! - [`bronze`]: where a Kafka record becomes a bronze row.
//! - [`embedded`]: librdkafka's in-process mock cluster (`brokers = "embedded"`).
//! - [`offsets`]: whether a partition's offsets still follow on from bronze's
//!   (a recreated topic, another cluster, records deleted by retention).
//! - [`partitions`]: a value per partition, found without allocating.
//! - [`producer`]: writing records, for `ingot produce` and the tests.
//!
//! This crate knows nothing of Delta tables, Wasm or pipelines: it hands
//! Arrow batches and offsets up, and asks for positions through a callback.

pub mod bronze;
pub mod consumer;
pub mod embedded;
pub mod offsets;
pub mod partitions;
mod probe;
pub mod producer;
#[cfg(test)]
mod tests;

use ingot_core::ErrorClass;
use serde::{Deserialize, Serialize};

pub use offsets::{DataLoss, OnDataLoss};

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
    /// Partitions whose offsets on the broker do not follow on from bronze's,
    /// under `on-data-loss = "fail"`: the ingest stops before reading them.
    #[error(
        "data loss on kafka: {}; nothing was read from {}. To start {} over at the broker's \
         earliest offset (the reset is recorded in bronze), set `on-data-loss = \"reset\"` \
         under [kafka]; for a recreated topic or another cluster, the alternative is to point \
         the pipeline back at the topic bronze was read from",
        join(losses),
        them(losses, "that partition", "those partitions"),
        them(losses, "it", "them")
    )]
    DataLoss {
        /// Every partition found, with bronze's offset and the watermarks.
        losses: Vec<DataLoss>,
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
    /// Broker trouble is external (retry); a refused configuration, and data
    /// loss (which a person decides about), are the user's.
    pub fn class(&self) -> ErrorClass {
        match self {
            // Data loss: retrying reads the same offsets; a person chooses.
            SourceError::Connect { .. }
            | SourceError::UnknownTopic { .. }
            | SourceError::DataLoss { .. } => ErrorClass::User,
            _ => ErrorClass::External,
        }
    }
}

fn join(losses: &[DataLoss]) -> String {
    let all: Vec<String> = losses.iter().map(DataLoss::to_string).collect();
    all.join("; ")
}

fn them<'a>(losses: &[DataLoss], one: &'a str, many: &'a str) -> &'a str {
    if losses.len() == 1 { one } else { many }
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
