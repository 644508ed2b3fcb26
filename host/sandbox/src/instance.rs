//! One module running for one stage: its own store (memory cap, deadline
//! per call, log bounds, the host's stop), initialised with the stage
//! config, fed Arrow batches.

use std::sync::Arc;
use std::time::Instant;

use ingot_core::arrow::datatypes::SchemaRef;
use wasmtime::Store;

use super::engine::Runtime;
use super::error::{CallFacts, GuestError, RuntimeError, Site};
use super::host::{HostState, LogTags, Output, Stage, StoreSettings, WitError};
use super::ipc::{self, RecordBatch};
use super::log_bound::DroppedLog;
use super::{Limits, Module};
use ingot_core::StageId;

/// What one `process` call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The output rows.
    pub batch: RecordBatch,
    /// Input rows the transform refused, each with its reason.
    pub rejected: Vec<Rejected>,
}

/// One input row a transform refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Zero-based index of the row in the input batch.
    pub row: u32,
    /// Why, for the person reading the quarantine table.
    pub reason: String,
}

/// A store and an instance of one module for one stage, initialised with
/// the stage config. Not shared between threads while a call runs; calls
/// block (use `spawn_blocking` from async code).
pub struct Instance {
    module: Arc<Module>,
    id: StageId,
    limits: Limits,
    store: Store<HostState>,
    bindings: Stage,
    /// The schema of the first output; every later output must match it.
    output_schema: Option<SchemaRef>,
    poisoned: bool,
    /// Guest output the log bounds dropped over this instance's calls.
    dropped_log: DroppedLog,
}

impl Instance {
    /// Instantiates `module` for stage `id` under `limits` and calls its
    /// `init(config)`.
    ///
    /// # Errors
    ///
    /// [`RuntimeError::Instantiate`] (or [`RuntimeError::OutOfMemory`] if
    /// its initial memory exceeds the cap), [`RuntimeError::Init`] if `init`
    /// returns an error, and the trap variants ([`RuntimeError::Trap`],
    /// [`RuntimeError::Timeout`], [`RuntimeError::OutOfMemory`]) if it
    /// traps, [`RuntimeError::Interrupted`] once the runtime's stop is set;
    /// all name the stage and the module.
    pub fn new(
        rt: &Runtime,
        module: Arc<Module>,
        id: StageId,
        limits: &Limits,
        config: &[(String, String)],
    ) -> Result<Instance, RuntimeError> {
        let site = Site::stage(module.digest(), &id);
        if !wasmtime::Engine::same(rt.engine(), module.engine()) {
            let message = "module was loaded by another runtime".to_owned();
            return Err(RuntimeError::Internal { site, message });
        }
        if rt
            .stop()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            return Err(RuntimeError::Interrupted { site });
        }
        let settings = StoreSettings {
            limits,
            processing_time: ingot_core::clock::now_micros(),
            tenant_log: rt.tenant_log(&id.tenant),
            stop: rt.stop().cloned(),
        };
        let mut store = Store::new(
            rt.engine(),
            HostState::new(LogTags::new(&id, module.digest()), settings),
        );
        store.limiter(|state| &mut state.limiter);
        store.epoch_deadline_callback(|mut ctx| Ok(ctx.data_mut().on_epoch()));
        store.set_epoch_deadline(1);
        let bindings = match module.pre.instantiate(&mut store) {
            Ok(bindings) => bindings,
            Err(err) => {
                let (stderr, _) = store.data_mut().end_call();
                let facts = call_facts(site, limits, &store, &stderr);
                return Err(RuntimeError::from_instantiate(&err, facts));
            }
        };
        let mut instance = Instance {
            module,
            id,
            limits: limits.clone(),
            store,
            bindings,
            output_schema: None,
            poisoned: false,
            dropped_log: DroppedLog::default(),
        };
        instance.init(config)?;
        Ok(instance)
    }

    /// The module this instance runs.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The stage this instance runs for.
    pub fn stage(&self) -> &StageId {
        &self.id
    }

    /// Guest output (log lines, stdout, stderr) that the log bounds dropped
    /// over this instance's calls; each call's share is also summed up in
    /// one event of the stage log.
    pub fn dropped_log(&self) -> DroppedLog {
        self.dropped_log
    }

    /// The largest linear memory the guest has grown to, in bytes (what
    /// its `memory-mib` limit is held against).
    pub fn memory_bytes(&self) -> usize {
        self.store.data().limiter.memory_bytes
    }

    /// Whether an earlier trap made this instance unusable.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Sets what `host.processing-time` returns (µs since the Unix epoch)
    /// until changed.
    pub fn set_processing_time(&mut self, micros: i64) {
        self.store.data_mut().processing_time = micros;
    }

    /// Encodes `batch` as an Arrow IPC stream, calls `process`, decodes the
    /// output. Enforces the memory cap, the call deadline and the
    /// output-size cap.
    ///
    /// # Errors
    ///
    /// [`RuntimeError::Guest`] if the transform returns an error,
    /// [`RuntimeError::OutputTooLarge`] / [`RuntimeError::BadOutput`] for an
    /// unusable output, and after a trap [`RuntimeError::Trap`],
    /// [`RuntimeError::Timeout`] or [`RuntimeError::OutOfMemory`]; the
    /// instance is then poisoned and every further call returns
    /// [`RuntimeError::Poisoned`] (build a new instance).
    /// [`RuntimeError::Interrupted`] when the runtime's stop ended the call
    /// (or it was set before): not the module's fault.
    pub fn process(&mut self, batch: &RecordBatch) -> Result<Processed, RuntimeError> {
        self.check_usable()?;
        let input = ipc::encode(batch).map_err(|e| RuntimeError::Internal {
            site: self.site(),
            message: format!("cannot encode the input batch as arrow ipc: {e}"),
        })?;
        let output = self.call(|bindings, store| {
            bindings
                .ingot_transform_transform()
                .call_process(store, &input)
        })?;
        match output {
            Ok(output) => self.check_output(output, batch.num_rows()),
            Err(error) => Err(RuntimeError::Guest {
                site: self.site(),
                error: error.into(),
            }),
        }
    }

    fn init(&mut self, config: &[(String, String)]) -> Result<(), RuntimeError> {
        let result = self.call(|bindings, store| {
            bindings
                .ingot_transform_transform()
                .call_init(store, config)
        })?;
        result.map_err(|error| RuntimeError::Init {
            site: self.site(),
            error: error.into(),
        })
    }

    /// Runs one call into the guest under a fresh deadline, forwards its
    /// stdio to the log, and turns a trap into an error (poisoning the
    /// instance).
    fn call<R>(
        &mut self,
        f: impl FnOnce(&Stage, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, RuntimeError> {
        self.check_usable()?;
        if self.store.data().stop_requested() {
            return Err(RuntimeError::Interrupted { site: self.site() });
        }
        let state = self.store.data_mut();
        state.limiter.refused_grow = false;
        state.stopped = false;
        state.deadline = Instant::now() + self.limits.call_timeout;
        self.store.set_epoch_deadline(1);
        let result = f(&self.bindings, &mut self.store);
        let (stderr, dropped) = self.store.data_mut().end_call();
        self.dropped_log.add(dropped);
        result.map_err(|err| {
            self.poisoned = true;
            let facts = call_facts(self.site(), &self.limits, &self.store, &stderr);
            RuntimeError::from_call(&err, facts)
        })
    }

    fn check_output(
        &mut self,
        output: Output,
        input_rows: usize,
    ) -> Result<Processed, RuntimeError> {
        let Output { batch, rejected } = output;
        let reasons: usize = rejected.iter().map(|r| r.reason.len()).sum();
        let bytes = u64::try_from(batch.len().saturating_add(reasons)).unwrap_or(u64::MAX);
        if bytes > self.limits.max_output_bytes {
            let limit = self.limits.max_output_bytes;
            return Err(RuntimeError::OutputTooLarge {
                site: self.site(),
                bytes,
                limit,
            });
        }
        let bad = |problem: String| RuntimeError::BadOutput {
            site: self.site(),
            problem,
        };
        if let Some(r) = rejected.iter().find(|r| r.row as usize >= input_rows) {
            return Err(bad(format!(
                "rejected row {} is out of range: the input batch has {input_rows} rows",
                r.row
            )));
        }
        let batch = ipc::decode(batch)
            .map_err(|e| bad(format!("output is not a valid arrow ipc stream: {e}")))?;
        match &self.output_schema {
            Some(schema) if *schema != batch.schema() => {
                return Err(bad(format!(
                    "output schema changed between calls: was {schema}, now {}",
                    batch.schema()
                )));
            }
            Some(_) => {}
            None => self.output_schema = Some(batch.schema()),
        }
        let rejected = rejected
            .into_iter()
            .map(|r| Rejected {
                row: r.row,
                reason: r.reason,
            })
            .collect();
        Ok(Processed { batch, rejected })
    }

    fn check_usable(&self) -> Result<(), RuntimeError> {
        if self.poisoned {
            return Err(RuntimeError::Poisoned { site: self.site() });
        }
        Ok(())
    }

    fn site(&self) -> Site {
        Site::stage(self.module.digest(), &self.id)
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("module", &self.module)
            .field("stage", &self.id)
            .field("limits", &self.limits)
            .field("poisoned", &self.poisoned)
            .field("dropped_log", &self.dropped_log)
            .finish_non_exhaustive()
    }
}

fn call_facts<'a>(
    site: Site,
    limits: &Limits,
    store: &Store<HostState>,
    stderr: &'a str,
) -> CallFacts<'a> {
    CallFacts {
        site,
        timeout: limits.call_timeout,
        memory_limit: limits.memory_bytes,
        refused_grow: store.data().limiter.refused_grow,
        stopped: store.data().stopped,
        stderr,
    }
}

impl From<WitError> for GuestError {
    fn from(error: WitError) -> Self {
        match error {
            WitError::InvalidConfig(m) => GuestError::InvalidConfig(m),
            WitError::InvalidInput(m) => GuestError::InvalidInput(m),
            WitError::Failed(m) => GuestError::Failed(m),
        }
    }
}
