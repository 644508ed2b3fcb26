//! The locked-down WASI a guest gets. Rust's standard library on
//! `wasm32-wasip2` imports `cli`, `io` and `random`; CPython (componentize-py)
//! also imports `clocks`, `filesystem` and `sockets`. All are linked, each on
//! its own, and none reaches the outside world or breaks replay:
//!
//! - `cli`: an empty environment and arguments, an empty stdin, stdout and
//!   stderr captured into bounded in-memory pipes;
//! - `random`: sources seeded with a fixed value;
//! - `clocks`: virtual. The wall clock reads the host's processing time (the
//!   same instant `host.processing-time` returns); the monotonic clock starts
//!   at zero and advances only by what the guest waits for, and every wait
//!   is over at once;
//! - `filesystem`: no preopened directories, so there is nothing to open;
//! - `sockets`: every TCP, UDP and name-lookup call is refused with
//!   `access-denied`.
//!
//! Any other import (`wasi:http`, a newer WASI version's additions, ...)
//! is refused when the component is loaded.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream, WasiCli, WasiCliView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets, sync, sync::io};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::p2::{DynPollable, OutputStream, Pollable, StreamResult};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView as _};
use wasmtime_wasi::{Deterministic, WasiCtx, WasiCtxBuilder};
use wasmtime_wasi_io::bytes::Bytes;
use wasmtime_wasi_io::poll::subscribe;

use super::host::HostState;
use super::wasi_io::{SyncIo, SyncIoView};

/// The WASI interfaces the sandbox provides, without versions. Everything
/// else a component imports is refused.
pub(super) const PROVIDED_WASI: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/ip-name-lookup",
];

/// How many bytes of stdout and of stderr are kept per call; the rest is
/// counted and dropped (the guest never sees a full pipe).
pub(super) const CAPTURE_BYTES: usize = 64 << 10;

/// The fixed seed behind every random source a guest sees.
const RANDOM_SEED: u64 = 0x1790_7a5e_ed00_0001;

/// Largest single request to `wasi:random` a guest may make.
const MAX_RANDOM_BYTES: u64 = 64 << 10;

/// Resource-table access for `wasi:io/error` (whose host side never blocks).
struct IoTable;

impl HasData for IoTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// Adds the provided WASI interfaces, one by one, to `linker`.
pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    type S = HostState;
    let l = linker;
    io::error::add_to_linker::<S, IoTable>(l, |s| s.table())?;
    io::poll::add_to_linker::<S, SyncIo>(l, |s| SyncIoView(s.table()))?;
    io::streams::add_to_linker::<S, SyncIo>(l, |s| SyncIoView(s.table()))?;
    cli::environment::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::exit::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stdin::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stdout::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stderr::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_input::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_output::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stdin::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stdout::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stderr::add_to_linker::<S, WasiCli>(l, S::cli)?;
    random::random::add_to_linker::<S, WasiRandom>(l, |s| s.wasi().random())?;
    random::insecure::add_to_linker::<S, WasiRandom>(l, |s| s.wasi().random())?;
    random::insecure_seed::add_to_linker::<S, WasiRandom>(l, |s| s.wasi().random())?;
    clocks::wall_clock::add_to_linker::<S, VirtualClocks>(l, S::clocks)?;
    clocks::monotonic_clock::add_to_linker::<S, VirtualClocks>(l, S::clocks)?;
    // No preopens: a guest never holds a descriptor, so none of the
    // descriptor methods (which would block on tokio) can be reached.
    filesystem::preopens::add_to_linker::<S, WasiFilesystem>(l, S::filesystem)?;
    sync::filesystem::types::add_to_linker::<S, WasiFilesystem>(l, S::filesystem)?;
    // Every socket use is disallowed in the context, so creating a socket or
    // looking up a name fails with `access-denied` before any I/O.
    let network = sockets::network::LinkOptions::default();
    sockets::network::add_to_linker::<S, WasiSockets>(l, &network, S::sockets)?;
    sockets::instance_network::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sync::sockets::tcp::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sync::sockets::udp::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sync::sockets::udp_create_socket::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    Ok(())
}

/// The `HasData` marker for the virtual clocks.
pub(super) struct VirtualClocks;

impl HasData for VirtualClocks {
    type Data<'a> = ClockView<'a>;
}

/// What the virtual clocks read and advance: the processing time (for the
/// wall clock) and the nanoseconds the guest has waited (the monotonic clock).
pub(super) struct ClockView<'a> {
    pub table: &'a mut ResourceTable,
    pub processing_time: i64,
    pub waited_nanos: &'a mut u64,
}

/// A pollable that is always ready: every wait in the sandbox is over at once.
struct Elapsed;

#[wasmtime_wasi::async_trait]
impl Pollable for Elapsed {
    async fn ready(&mut self) {}
}

impl ClockView<'_> {
    /// Advances the monotonic clock by `nanos` and returns a ready pollable.
    fn wait(&mut self, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
        *self.waited_nanos = self.waited_nanos.saturating_add(nanos);
        let elapsed = self.table.push(Elapsed)?;
        subscribe(self.table, elapsed)
    }
}

impl clocks::wall_clock::Host for ClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<clocks::wall_clock::Datetime> {
        // Microseconds since the epoch; a time before it reads as the epoch.
        let micros = u64::try_from(self.processing_time).unwrap_or(0);
        Ok(clocks::wall_clock::Datetime {
            seconds: micros / 1_000_000,
            nanoseconds: u32::try_from(micros % 1_000_000 * 1_000).expect("invariant: below 10^9"),
        })
    }

    fn resolution(&mut self) -> wasmtime::Result<clocks::wall_clock::Datetime> {
        Ok(clocks::wall_clock::Datetime {
            seconds: 0,
            nanoseconds: 1_000,
        })
    }
}

impl clocks::monotonic_clock::Host for ClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(*self.waited_nanos)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let nanos = when.saturating_sub(*self.waited_nanos);
        self.wait(nanos)
    }

    fn subscribe_duration(&mut self, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.wait(nanos)
    }
}

/// A WASI context for one instance: no environment, no arguments, an empty
/// stdin (reads see end of stream), stdout/stderr into `stdout`/`stderr`,
/// deterministic random, no preopens, no network use of any kind.
pub(super) fn context(stdout: &CapturePipe, stderr: &CapturePipe) -> WasiCtx {
    WasiCtxBuilder::new()
        .stdin(MemoryInputPipe::new(Bytes::new()))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .secure_random(Deterministic::new(seed_bytes(RANDOM_SEED)))
        .insecure_random(Deterministic::new(seed_bytes(!RANDOM_SEED)))
        .insecure_random_seed(u128::from(RANDOM_SEED) << 64 | u128::from(!RANDOM_SEED))
        .max_random_size(MAX_RANDOM_BYTES)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
}

/// 4 KiB of bytes derived from `seed` with splitmix64: the cycle that a
/// [`Deterministic`] source repeats.
fn seed_bytes(seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(4096);
    while out.len() < 4096 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out
}

/// What a guest wrote to one stream since it was last drained.
#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: u64,
}

/// A bounded in-memory stdout or stderr. Writes always succeed: bytes past
/// [`CAPTURE_BYTES`] are counted and dropped, so a chatty guest never traps
/// or blocks on a full pipe. Clones share the buffer.
#[derive(Debug, Clone, Default)]
pub(super) struct CapturePipe {
    inner: Arc<Mutex<Captured>>,
}

impl CapturePipe {
    fn append(&self, bytes: &[u8]) {
        let mut captured = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let room = CAPTURE_BYTES.saturating_sub(captured.bytes.len());
        let kept = room.min(bytes.len());
        captured.bytes.extend_from_slice(&bytes[..kept]);
        captured.dropped += (bytes.len() - kept) as u64;
    }

    /// Takes what was written since the last call: the text (lossy UTF-8)
    /// and how many bytes were dropped past the bound.
    pub(super) fn drain(&self) -> (String, u64) {
        let mut captured = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Captured { bytes, dropped } = std::mem::take(&mut *captured);
        (String::from_utf8_lossy(&bytes).into_owned(), dropped)
    }
}

impl IsTerminal for CapturePipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturePipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturePipe {
    async fn ready(&mut self) {}
}

impl OutputStream for CapturePipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // The permit bounds one write (and what the host allocates for
        // `write-zeroes`), not the capture: the capture drops the excess.
        Ok(CAPTURE_BYTES)
    }
}

impl tokio::io::AsyncWrite for CapturePipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_is_bounded_and_counts_what_it_drops() {
        let pipe = CapturePipe::default();
        let mut writer = pipe.clone();
        writer
            .write(Bytes::from(vec![b'a'; CAPTURE_BYTES - 2]))
            .expect("write");
        writer
            .write(Bytes::from_static(b"bcde"))
            .expect("write past the bound");
        let (text, dropped) = pipe.drain();
        assert_eq!(text.len(), CAPTURE_BYTES);
        assert!(text.ends_with("abc"));
        assert_eq!(dropped, 2);
        assert_eq!(pipe.drain(), (String::new(), 0), "drain empties the pipe");
    }

    #[test]
    fn seed_bytes_are_fixed_and_not_constant() {
        let a = seed_bytes(RANDOM_SEED);
        assert_eq!(a, seed_bytes(RANDOM_SEED));
        assert_eq!(a.len(), 4096);
        assert!(a.iter().any(|b| *b != a[0]));
    }
}
