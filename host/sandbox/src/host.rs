//! The host side of the `ingot:transform/stage` world: the generated
//! bindings (private), the state every store carries, the
//! `ingot:transform/host` imports (`log`, `processing-time`) and the memory
//! limiter that tells an out-of-memory apart from any other trap.

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::Limits;
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
        if !matches!(verdict, Ok(true)) {
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
/// log, the processing time, the virtual clock, the captured stdio and the
/// memory limiter.
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
}

impl HostState {
    pub(super) fn new(tags: LogTags, limits: &Limits, processing_time: i64) -> Self {
        let stdout = CapturePipe::default();
        let stderr = CapturePipe::default();
        HostState {
            wasi: super::wasi::context(&stdout, &stderr),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(limits),
            tags,
            processing_time,
            waited_nanos: 0,
            stdout,
            stderr,
        }
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

    /// Forwards what the guest wrote to stdout/stderr since the last call to
    /// the stage log, one event per line, and returns the stderr text.
    pub(super) fn flush_stdio(&self) -> String {
        let (out, out_dropped) = self.stdout.drain();
        let (err, err_dropped) = self.stderr.drain();
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            self.tags.emit(tracing::Level::INFO, "stdout", line);
        }
        for line in err.lines().filter(|l| !l.trim().is_empty()) {
            self.tags.emit(tracing::Level::WARN, "stderr", line);
        }
        if out_dropped + err_dropped > 0 {
            let note = format!(
                "guest output past the capture bound dropped: {out_dropped} bytes of stdout, \
                 {err_dropped} bytes of stderr"
            );
            self.tags.emit(tracing::Level::WARN, "host", &note);
        }
        err
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
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("... (truncated)");
        }
        let level = match level {
            bindings::Level::Trace => tracing::Level::TRACE,
            bindings::Level::Debug => tracing::Level::DEBUG,
            bindings::Level::Info => tracing::Level::INFO,
            bindings::Level::Warn => tracing::Level::WARN,
            bindings::Level::Error => tracing::Level::ERROR,
        };
        self.tags.emit(level, "guest", &message);
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
