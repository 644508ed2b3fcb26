//! Sample data a person can feed a pipeline with (`ingot produce`, `ingot
//! demo`): realistic, deterministic for a seed.

pub mod debezium;
pub mod logs;
pub mod osquery;

/// A Kafka record as the generators yield it: (key, value); no value is a
/// tombstone.
pub type Record = (Vec<u8>, Option<Vec<u8>>);
