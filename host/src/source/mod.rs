//! Where records come from: Kafka (rdkafka with its bundled librdkafka),
//! the embedded mock broker, and the conversion of a record into a bronze row.

pub mod bronze;
pub mod embedded;
pub mod kafka;
pub mod producer;

use crate::ErrorClass;

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
