//! The host side of the `ingot:transform/stage` world: the generated
//! bindings (private), the state every store carries, the
//! `ingot:transform/host` imports (`log`, `processing-time`), the memory
//! limiter that tells an out-of-memory apart from any other trap, and the
//! epoch check that ends a call at its deadline or when the host stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Limits;
use super::log_bound::{BYTES_PER_CALL, CallLog, Cut, DroppedLog, LINES_PER_CALL, SharedTenantLog};
use super::wasi::{CapturePipe, ClockView};
use ingot_core::{StageId, short_digest};

/// Generated from the one copy of the contract, `guest-sdk/wit`.
pub(super) mod bindings {
    wasmtime::component::bindgen!({
        path: "../../guest-sdk/wit",
        world: "ingot:transform/stage",
    });

    pub use self::ingot::transform::types::{Error as WitError, Level, Output};
}

pub(super) use bindings::{Output, Stage, StagePre, WitError};

/// The longest message a guest may log in one `log` call; longer ones are cut.
const MAX_LOG_MESSAGE: usize = 16 << 10;

/// The identifiers every log line of a guest carries.
#[derive(Debug, Clone)]
pub(super) struct LogTags {
    pub tenant: String,
    pub pipeline: String,
    pub stage: String,
    pub module: String,
}

impl LogTags {
    pub(super) fn new(id: &StageId, digest: &str) -> Self {
        LogTags {
            tenant: id.tenant.clone(),
            pipeline: id.pipeline.clone(),
            stage: id.stage.clone(),
            module: short_digest(digest).to_owned(),
        }
    }

    /// Whether the host's log keeps guest events at `level`: a filtered-out
    /// line costs no allowance.
    pub(super) fn enabled(level: tracing::Level) -> bool {
        macro_rules! enabled {
            ($level:expr) => {
                tracing::enabled!(target: "ingot::guest", $level)
            };
        }
        match level {
            tracing::Level::TRACE => enabled!(tracing::Level::TRACE),
            tracing::Level::DEBUG => enabled!(tracing::Level::DEBUG),
            tracing::Level::INFO => enabled!(tracing::Level::INFO),
            tracing::Level::WARN => enabled!(tracing::Level::WARN),
            _ => enabled!(tracing::Level::ERROR),
        }
    }

    /// Emits one guest message as a `tracing` event at `level`.
    pub(super) fn emit(&self, level: tracing::Level, source: &str, message: &str) {
        let LogTags {
            tenant,
            pipeline,
            stage,
            module,
        } = self;
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(target: "ingot::guest", $level, tenant, pipeline, stage, module,
                    source, "{message}")
            };
        }
        match level {
            tracing::Level::TRACE => event!(tracing::Level::TRACE),
            tracing::Level::DEBUG => event!(tracing::Level::DEBUG),
            tracing::Level::INFO => event!(tracing::Level::INFO),
            tracing::Level::WARN => event!(tracing::Level::WARN),
            _ => event!(tracing::Level::ERROR),
        }
    }
}

/// Wraps wasmtime's [`StoreLimits`] and remembers whether a memory grow was
/// refused, so a guest that aborts on a failed allocation is reported as
/// out of memory rather than as an opaque trap.
pub(super) struct MemoryLimiter {
    limits: StoreLimits,
    pub refused_grow: bool,
    /// The largest linear memory granted so far, in bytes.
    pub memory_bytes: usize,
}

impl MemoryLimiter {
    fn new(limits: &Limits) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(limits.memory_bytes).unwrap_or(usize::MAX))
            .table_elements(1 << 20)
            .trap_on_grow_failure(true)
            .build();
        MemoryLimiter {
            limits,
            refused_grow: false,
            memory_bytes: 0,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let verdict = self.limits.memory_growing(current, desired, maximum);
        if matches!(verdict, Ok(true)) {
            self.memory_bytes = self.memory_bytes.max(desired);
        } else {
            self.refused_grow = true;
        }
        verdict
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused_grow = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// What each store carries: the WASI context, the stage's identity for the
/// log, the processing time, the virtual clock, the captured stdio, the log
/// allowance, the memory limiter, and what the epoch check reads (the
/// call's deadline, the host's stop flag).
pub(super) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub tags: LogTags,
    pub processing_time: i64,
    /// The monotonic clock the guest sees: nanoseconds it has waited.
    waited_nanos: u64,
    pub stdout: CapturePipe,
    pub stderr: CapturePipe,
    /// The current call's log allowance (and the tenant's behind it).
    log: CallLog,
    /// When the current call must end.
    pub deadline: Instant,
    /// Set by the host to interrupt every call of this store.
    stop: Option<Arc<AtomicBool>>,
    /// Whether the epoch check ended the last call because of `stop`.
    pub stopped: bool,
}

/// What a store is made with, besides its stage's identity.
pub(super) struct StoreSettings<'a> {
    pub limits: &'a Limits,
    pub processing_time: i64,
    pub tenant_log: SharedTenantLog,
    pub stop: Option<Arc<AtomicBool>>,
}

impl HostState {
    pub(super) fn new(tags: LogTags, settings: StoreSettings<'_>) -> Self {
        let stdout = CapturePipe::default();
        let stderr = CapturePipe::default();
        HostState {
            wasi: super::wasi::context(&stdout, &stderr),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(settings.limits),
            tags,
            processing_time: settings.processing_time,
            waited_nanos: 0,
            stdout,
            stderr,
            log: CallLog::new(settings.tenant_log),
            deadline: Instant::now() + settings.limits.call_timeout,
            stop: settings.stop,
            stopped: false,
        }
    }

    /// Whether the host asked every call to stop.
    pub(super) fn stop_requested(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Called by the engine at each epoch tick while the guest runs: ends
    /// the call (a trap) when the host stops or the deadline has passed.
    pub(super) fn on_epoch(&mut self) -> UpdateDeadline {
        if self.stop_requested() {
            self.stopped = true;
            return UpdateDeadline::Interrupt;
        }
        if Instant::now() >= self.deadline {
            return UpdateDeadline::Interrupt;
        }
        UpdateDeadline::Continue(1)
    }

    pub(super) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    pub(super) fn wasi(&mut self) -> &mut WasiCtx {
        &mut self.wasi
    }

    pub(super) fn clocks(&mut self) -> ClockView<'_> {
        ClockView {
            table: &mut self.table,
            processing_time: self.processing_time,
            waited_nanos: &mut self.waited_nanos,
        }
    }

    /// Ends a call's output: forwards what the guest wrote to stdout/stderr
    /// during it to the stage log (one event per line, within the log
    /// bounds), emits one event summing up what the bounds dropped, and
    /// returns the stderr text and the dropped count.
    pub(super) fn end_call(&mut self) -> (String, DroppedLog) {
        let (out, out_dropped) = self.stdout.drain();
        let (err, err_dropped) = self.stderr.drain();
        self.forward(tracing::Level::INFO, "stdout", &out);
        self.forward(tracing::Level::WARN, "stderr", &err);
        self.log.dropped_uncaptured(out_dropped + err_dropped);
        let (dropped, cut) = self.log.finish();
        if let Some(cut) = cut {
            let bound = match cut {
                Cut::Call => format!("{LINES_PER_CALL} lines or {BYTES_PER_CALL} bytes per call"),
                Cut::Tenant => "the tenant's log allowance".to_owned(),
                Cut::Capture => "the stdout/stderr capture of a call".to_owned(),
            };
            let note = format!(
                "guest output past its bounds dropped: {} lines, {} bytes in this call \
                 (first bound reached: {bound}; {out_dropped} bytes of stdout and \
                 {err_dropped} bytes of stderr past the capture)",
                dropped.lines, dropped.bytes
            );
            self.tags.emit(tracing::Level::WARN, "host", &note);
        }
        (err, dropped)
    }

    /// Forwards the non-blank lines of `text` that the allowance admits.
    fn forward(&mut self, level: tracing::Level, source: &str, text: &str) {
        if text.is_empty() || !LogTags::enabled(level) {
            return;
        }
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if self.log.admit(line.len()) {
                self.tags.emit(level, source, line);
            }
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::ingot::transform::types::Host for HostState {}

impl bindings::ingot::transform::host::Host for HostState {
    fn log(&mut self, level: bindings::Level, mut message: String) {
        let level = match level {
            bindings::Level::Trace => tracing::Level::TRACE,
            bindings::Level::Debug => tracing::Level::DEBUG,
            bindings::Level::Info => tracing::Level::INFO,
            bindings::Level::Warn => tracing::Level::WARN,
            bindings::Level::Error => tracing::Level::ERROR,
        };
        if !LogTags::enabled(level) {
            return;
        }
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("... (truncated)");
        }
        if self.log.admit(message.len()) {
            self.tags.emit(level, "guest", &message);
        }
    }

    fn processing_time(&mut self) -> i64 {
        self.processing_time
    }
}

/// Adds `ingot:transform/host` and the provided WASI interfaces to `linker`.
pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    bindings::Stage::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
    super::wasi::add_to_linker(linker)
}
