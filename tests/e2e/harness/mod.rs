//! What every end-to-end test needs and none of them is about.
//!
//! - [`broker`]: a real Kafka-protocol broker (Tansu) on a free loopback port,
//!   owned by one test, plus a fast producer and a consumer to check a topic.
//! - [`modules`]: the guest components, built once per test process.
//! - [`s3`]: an S3-compatible server (moto) on a free loopback port, owned
//!   by one test, for lakes at `s3://` URLs.
//! - [`ingot`]: a lake (in a temp dir, or under a fresh prefix of an S3
//!   server) and the real `ingot` binary, run to completion or in the
//!   background with the lake's environment.
//! - [`http`]: the server of an `ingot` process: its address, GETs, and
//!   its metrics parsed.
//! - [`readers`]: the `deltalake` Python package and polars, reading a
//!   table independently of ingot.
//! - [`tools`]: the tools setup scripts install (moto, the readers).
//! - [`workloads`]: the example pipeline files and `ingot produce`, as a
//!   user runs the osquery and Debezium workloads.
//!
//! The application-log records the tests send, and compute the expected
//! silver, quarantine and gold tables from, are `ingot_sample::logs`'s
//! cycling stream.
//!
//! nextest runs every test in its own process, several at once: nothing here
//! shares a port, a directory, a bucket or a topic between tests.

pub mod broker;
pub mod http;
pub mod ingot;
pub mod modules;
pub mod readers;
pub mod s3;
pub mod tools;
pub mod workloads;

pub use broker::{Broker, Consumed, consume, produce, produce_unbatched, tail, tail_text};
pub use ingot::{IngotProcess, Lake, run_ingot, run_ingot_ok, run_ingot_with_fault, spawn_ingot};
pub use modules::{modules, ported};
pub use s3::S3Server;

use std::path::{Path, PathBuf};

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("invariant: the crate lives at host/<crate> in the workspace")
        .to_path_buf()
}
