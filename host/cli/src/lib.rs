//! The `ingot` command line and the multi-tenant host, on top of every other
//! ingot crate.
//!
//! - [`command`]: the commands (clap derive) and what each does: `run`, `serve`,
//!   `demo`, `produce`, `show`, `lineage`, `deploy`, `rollback`,
//!   `deployments`, `reprocess`, `status`.
//! - [`admin`]: what the administrative actions do, as values the commands
//!   print and the admin API sends.
//! - [`tenancy`]: many tenants on one host: the host file, namespaces,
//!   limits, admin tokens, and the `serve` loop.
//! - [`server`]: the HTTP server of `run --listen` and `serve`: metrics and
//!   health probes.
//! - [`error`]: the error every command returns, with its class.
//!
//! The data path lives below: `ingot-kafka` (where a Kafka record becomes a
//! bronze row), `ingot-sandbox` (where a batch crosses into Wasm),
//! `ingot-pipeline` (where a stage commits), `ingot-delta` (the tables),
//! `ingot-registry` (deploy, rollback). See docs/architecture.md.

pub mod admin;
pub mod command;
pub mod error;
pub mod server;
pub mod tenancy;

pub use error::{Error, Result};
