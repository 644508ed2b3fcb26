//! The module registry: which module each stage runs, kept with the lake so
//! that every host of a fleet, and a host after a restart, sees the same
//! answer.
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
