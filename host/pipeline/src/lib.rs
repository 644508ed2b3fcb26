//! Pipelines: the pipeline file, the ingest loop that writes bronze, and the
//! stages that carry each table's Change Data Feed through a Wasm module into
//! the next table, exactly once.
//!
//! - [`config`]: the pipeline file, parsed and validated once.
//! - [`ingest`]: Kafka -> bronze, one commit per batch with a `txn` per
//!   partition (the conversion of a record to a row is in `ingot-kafka`).
//! - [`stage`]: one stage, split by what it does: its progress and the
//!   exactly-once protocol ([`stage::progress`]), running the module over a
//!   range with retries and poison isolation ([`stage::execute`]), and the
//!   commits to the quarantine, tombstones and output tables
//!   ([`stage::sink`]): where a stage commits.
//! - [`quarantine`]: the rows a stage rejected, with the reason and the source.
//! - [`deployments`]: which module each stage runs, as recorded in the lake;
//!   [`swap`] follows it between commits.
//! - [`status`]: what each stage is doing, as `ingot status` reads it.
//! - [`lease`]: which host of a fleet runs each stage.
//! - [`run`]: ingest and the stages, each on a task of its own
//!   ([`Pipeline`]); [`wake`] starts a stage when its input commits.
//!
//! This crate names no deltalake, wasmtime or rdkafka type: it drives
//! `ingot-delta`, `ingot-sandbox` and `ingot-kafka` through their own APIs.
//! It knows nothing of the registry commands (`ingot-registry`) or the
//! command line above it.

pub mod config;
pub mod deployments;
mod error;
pub mod ingest;
pub mod lease;
pub mod maintenance;
pub mod metrics;
pub mod quarantine;
pub mod run;
pub mod stage;
pub mod status;
pub mod swap;
pub mod wake;

pub use error::{Error, ProgressError, Result};
pub use run::{Pipeline, RunMode, RunReport, StageReport};
