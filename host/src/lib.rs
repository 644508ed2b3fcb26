//! ingot: a WebAssembly-extensible transform host for the lakehouse medallion.
//!
//! Kafka records are appended to a Delta Lake **bronze** table by the ingest
//! loop; each further **stage** reads its input table's Change Data Feed, runs
//! a sandboxed Wasm component over Arrow batches and commits the rows it
//! returns to its output table. The Delta log is the only checkpoint: every
//! bronze commit carries one `txn` action per Kafka partition (the last
//! offset written) and every stage commit carries a `txn` naming the last
//! input version it consumed, in the same commit as the rows. A crash at any
//! point leaves either the old or the new state, never half of one.
//!
//! Where to look:
//! - [`source`]: Kafka (rdkafka): batches of records with their offsets, the
//!   embedded mock broker, and [`source::bronze`], where a Kafka record becomes
//!   a bronze row.
//! - [`table`]: the only module that names deltalake types: create with CDF
//!   on, append/upsert/accumulate with `txn` and lineage, CDF reads.
//! - [`runtime`]: the only module that names wasmtime types: where an Arrow
//!   batch crosses into Wasm and back.
//! - [`pipeline`]: the ingest loop and the stage loop, where a stage commits.
//! - [`registry`]: which module each stage runs (deploy, rollback), kept
//!   with the lake.
//! - [`tenancy`]: many tenants on one host: the host file, namespaces,
//!   limits, admin tokens, and `ingot serve`.
//! - [`config`]: the pipeline file; [`cli`]: the command line.

pub mod cli;
pub mod config;
pub mod error;
pub mod pipeline;
pub mod registry;
pub mod runtime;
pub mod sample;
pub mod source;
pub mod table;
pub mod tenancy;

pub use error::{Error, ErrorClass, Result};

/// The version of this build, recorded in the lineage of every commit.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
