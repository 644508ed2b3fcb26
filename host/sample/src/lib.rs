//! Sample records in the shapes real sources write: application logs,
//! osquery result logs, Debezium change events. Realistic, deterministic for
//! a seed, and the one source of such records for `ingot produce` and
//! `ingot demo`, the benchmarks and the end-to-end tests, so what a person
//! feeds a pipeline is what ingot is measured and tested with.
//!
//! It depends on no other ingot crate: records are bytes (key, value), and
//! what a test expects of them is computed here from the generator's own
//! knowledge of each record, never by asking the code under test.

pub mod debezium;
pub mod logs;
pub mod osquery;

/// A Kafka record as the generators yield it: (key, value); no value is a
/// tombstone.
pub type Record = (Vec<u8>, Option<Vec<u8>>);
