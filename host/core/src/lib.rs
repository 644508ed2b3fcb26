//! The words every other ingot crate shares, and nothing else.
//!
//! - [`StageId`]: who a stage is (tenant, pipeline, stage), in every error
//!   and log line.
//! - [`Layout`]: where a pipeline's tables, registry and status live in the
//!   lake, and the name of every Delta `txn` application id ingot writes.
//!   No other crate spells a table path, a table name or a txn id.
//! - [`ErrorClass`]: who has to act on an error (the user, an external
//!   system, or ingot itself), which decides quarantine, retry or stop.
//! - [`fault`]: crash points for fault-injection tests (debug builds only).
//! - [`clock`]: wall-clock time as Delta and Arrow want it (µs since the epoch).
//! - [`arrow`]: the Arrow crate every layer passes batches in. It is the same
//!   crate `deltalake` re-exports (cargo unifies the version), so a batch
//!   built by the Kafka layer is the batch the Delta layer writes.
//!
//! This crate may not depend on any other ingot crate, nor on deltalake,
//! wasmtime or rdkafka.

pub mod clock;
mod error;
pub mod fault;
mod id;
mod layout;

pub use arrow;

pub use error::{ErrorClass, io_class};
pub use id::{StageId, short_digest};
pub use layout::{BRONZE, Layout, quarantine_table, tombstones_table};

/// The version of this build, recorded in the lineage of every commit.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
