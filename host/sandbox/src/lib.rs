//! The Wasm sandbox: the only crate of ingot that names wasmtime types, and
//! the place where an Arrow batch crosses into a sandboxed transform and back
//! (`ipc.rs` encodes it, `instance.rs` makes the call).
//!
//! A [`Runtime`] is made once per process. It owns the wasmtime engine (epoch
//! interruption on, ticked by a background thread), the linker with the host
//! imports, and a cache of compiled modules keyed by their sha256 digest, in
//! memory and on disk. [`Runtime::load`] turns a `.wasm` file into a
//! [`Module`]: read, hashed, checked to be a component of the
//! `ingot:transform/stage` world that imports nothing the sandbox does not
//! provide, compiled (or loaded from the disk cache) and pre-instantiated.
//! An [`Instance`] is one module running for one stage in its own store,
//! with a memory cap, a deadline per call and a cap on output size
//! ([`Limits`]). A trap, a timeout or an out-of-memory poisons that instance
//! only: the caller builds a new one, the host and other stages keep running.
//! What a guest puts in the host's log is bounded per call and per tenant
//! ([`log_bound`]), and a runtime made by [`Runtime::stopped_by`] ends
//! every call in flight within an epoch tick once its stop flag is set.
//!
//! The sandbox: a guest gets `ingot:transform/host` (log, processing time) and
//! the WASI 0.2 interfaces Rust's standard library and CPython import, locked
//! down and deterministic (see `wasi.rs`): empty environment and arguments,
//! empty stdin, stdout/stderr captured and forwarded to the stage log, random
//! seeded with a fixed value, virtual clocks, a filesystem with nothing in
//! it, sockets that refuse every use.
//!
//! This crate knows no table, no Kafka and no pipeline: it takes Arrow
//! batches and gives Arrow batches back, with the identity of the stage
//! ([`ingot_core::StageId`]) for its errors and logs.
//!
//! Calls into a guest block the calling thread for up to the call deadline
//! (they need no tokio runtime, and are safe to make from inside one); from
//! async code prefer `tokio::task::spawn_blocking` so a slow guest does not
//! hold an executor thread.

mod engine;
mod error;
mod host;
mod instance;
mod ipc;
pub mod log_bound;
mod module;
mod wasi;
mod wasi_io;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use engine::{MAX_POOLED_INSTANCES, Runtime};
pub use error::{GuestError, NotComponentKind, RuntimeError, Site};
pub use instance::{Instance, Processed, Rejected};
pub use log_bound::DroppedLog;
pub use module::{LoadOrigin, Module};

/// The Arrow record batch that crosses the boundary.
pub use ipc::RecordBatch;

/// The interface a transform module must export.
pub const TRANSFORM_EXPORT: &str = "ingot:transform/transform@0.1.0";

/// Limits applied to every instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory an instance may grow to, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock deadline of one call into the guest (`init` or `process`).
    pub call_timeout: Duration,
    /// Largest output of one `process` call (the Arrow IPC bytes plus the
    /// reject reasons), in bytes.
    pub max_output_bytes: u64,
}

impl Default for Limits {
    /// 256 MiB of memory, 10 s per call, 256 MiB of output.
    fn default() -> Self {
        Limits {
            memory_bytes: 256 << 20,
            call_timeout: Duration::from_secs(10),
            max_output_bytes: 256 << 20,
        }
    }
}
