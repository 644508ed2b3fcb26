//! The module registry's commands: `ingot deploy` and `ingot rollback`, and
//! the validation (the dry run) a module passes before either records it.
//! Which module each stage runs is kept with the lake so that every host of
//! a fleet, and a host after a restart, sees the same answer; the record
//! itself (`ingot_pipeline::deployments`) belongs to the pipeline, which
//! reads it, and this crate writes it through that API.
//!
//! This crate depends on the pipeline (to run a dry run the way a stage
//! would); the pipeline never depends on it. It names no deltalake,
//! wasmtime or rdkafka type.
//!
//! Per tenant, under the lake root:
//! - `<root>/<tenant>/_registry/modules/<sha256>.wasm`: every deployed
//!   module, stored by digest (written once, atomically: a temp file renamed);
//! - `<root>/<tenant>/_registry/deployments`: a Delta table, one row per
//!   deploy or rollback (pipeline, stage, digest, the stage config the module
//!   runs with, who and when), append-only. A stage's current module is its
//!   latest row, in commit order.
//!
//! `ingot deploy` validates a module ([`validate`]) before it records
//! anything; a running stage polls the table between commits and switches at
//! the next batch boundary ([`ingot_pipeline::stage`]).

pub mod deploy;
mod error;
pub mod validate;

pub use deploy::{Deployed, deploy, rollback};
pub use error::{Check, RegistryError};
pub use ingot_pipeline::deployments::{Action, Deployment, Registry, hostname, whoami};
