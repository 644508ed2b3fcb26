//! Sample records in the shapes real sources write: application logs,
//! osquery result logs, Debezium change events. Realistic, deterministic for
//! a seed, and the one source of such records for `ingot produce` and
//! `ingot demo`, the benchmarks and the end-to-end tests, so what a person
//! feeds a pipeline is what ingot is measured and tested with.

pub mod debezium;
pub mod logs;
pub mod osquery;

/// A Kafka record as the generators yield it: (key, value); no value is a
/// tombstone.
pub type Record = (Vec<u8>, Option<Vec<u8>>);
