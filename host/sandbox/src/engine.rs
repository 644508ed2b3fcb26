//! The process-wide [`Runtime`]: one wasmtime engine with epoch interruption
//! (ticked by a background thread), the linker with the host imports, the
//! cache of compiled modules by sha256 digest, in memory and on disk, and
//! each tenant's log allowance. [`Runtime::stopped_by`] gives a pipeline a
//! view of it whose calls end when the pipeline stops.
//!
//! The disk cache holds serialized artifacts named
//! `<digest>-<engine compatibility hash>.cwasm`, so a restart loads instead
//! of recompiling, and a different wasmtime build or engine configuration
//! never picks up an incompatible artifact.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, WasmBacktraceDetails,
};

use super::error::{RuntimeError, Site};
use super::host::{self, HostState, StagePre};
use super::log_bound::{DroppedLog, SharedTenantLog, TenantLog};
use super::module::{self, LoadOrigin, Module};
use ingot_core::short_digest;

/// How often the background thread advances the engine's epoch: the
/// granularity of call deadlines and of a stop.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Largest wasm stack a guest may use before it traps with a stack overflow.
const MAX_WASM_STACK: usize = 1 << 20;

/// Pool slots per stage instance: a component built by Rust's
/// `wasm32-wasip2` target holds a few core instances (the module, its
/// adapter shims), one or two memories and a few tables.
const CORE_INSTANCES_PER_STAGE: u32 = 8;
const MEMORIES_PER_STAGE: u32 = 2;
const TABLES_PER_STAGE: u32 = 4;

/// The most stage instances a pooled runtime may hold: each memory slot
/// reserves 4 GiB of address space (no bounds checks in compiled code), so
/// this keeps the pool within a 64-bit process's address space.
pub const MAX_POOLED_INSTANCES: u32 = 4_096;

/// Bumped when the layout of the disk cache changes.
const CACHE_FORMAT: u32 = 1;

/// One per process: the engine, the linker with the host imports, the
/// cache of compiled modules and the tenants' log allowances. Views made by
/// [`Runtime::stopped_by`] share all of it.
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    cache_dir: Option<PathBuf>,
    /// Hex of the engine's precompile compatibility hash (and our cache
    /// format): the part of an artifact's name that changes with the engine.
    engine_tag: String,
    compiled: Arc<Mutex<HashMap<String, StagePre<HostState>>>>,
    tenant_logs: Arc<Mutex<HashMap<String, SharedTenantLog>>>,
    /// Once set, every call of an instance made through this view ends.
    stop: Option<Arc<AtomicBool>>,
}

impl Runtime {
    /// Creates the engine, links the host imports and starts the epoch
    /// ticker. With `cache_dir`, compiled modules are also kept on disk
    /// there (the directory is created if missing).
    ///
    /// # Errors
    ///
    /// [`RuntimeError::CacheDir`] if the cache directory cannot be created,
    /// [`RuntimeError::Engine`] if wasmtime cannot be set up.
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Runtime, RuntimeError> {
        Self::with_config(cache_dir, &engine_config())
    }

    /// As [`Runtime::new`], with wasmtime's pooling allocator sized for
    /// `max_instances` stage instances (at most [`MAX_POOLED_INSTANCES`]):
    /// memories, tables and instance metadata are reserved once and reused,
    /// and linear memories start from copy-on-write images of the module's
    /// data, so an instance costs microseconds to create and only the pages
    /// it touches. What `ingot serve` uses for many tenants.
    ///
    /// # Errors
    ///
    /// As [`Runtime::new`]; [`RuntimeError::Engine`] when the pool cannot
    /// be reserved.
    pub fn pooled(cache_dir: Option<PathBuf>, max_instances: u32) -> Result<Runtime, RuntimeError> {
        let n = max_instances.clamp(1, MAX_POOLED_INSTANCES);
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(n)
            .total_core_instances(n * CORE_INSTANCES_PER_STAGE)
            .total_memories(n * MEMORIES_PER_STAGE)
            .total_tables(n * TABLES_PER_STAGE)
            .total_stacks(n)
            .total_gc_heaps(n);
        let mut config = engine_config();
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
            .memory_init_cow(true);
        Self::with_config(cache_dir, &config)
    }

    fn with_config(cache_dir: Option<PathBuf>, config: &Config) -> Result<Runtime, RuntimeError> {
        let engine_err = |e: wasmtime::Error| RuntimeError::Engine {
            message: format!("{e:#}"),
        };
        let engine = Engine::new(config).map_err(engine_err)?;
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker).map_err(engine_err)?;
        if let Some(dir) = &cache_dir {
            std::fs::create_dir_all(dir).map_err(|source| RuntimeError::CacheDir {
                path: dir.clone(),
                source,
            })?;
        }
        start_epoch_ticker(&engine).map_err(|e| RuntimeError::Engine {
            message: format!("cannot start the epoch thread: {e}"),
        })?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CACHE_FORMAT.hash(&mut hasher);
        let engine_tag = format!("{:016x}", hasher.finish());
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            cache_dir,
            engine_tag,
            compiled: Arc::default(),
            tenant_logs: Arc::default(),
            stop: None,
        })
    }

    /// A view of this runtime (the same engine, caches and log allowances)
    /// whose instances end their calls once `stop` is set: a call in
    /// flight traps within an epoch tick, and every later call and
    /// instantiation fails at once, all with [`RuntimeError::Interrupted`].
    /// What a pipeline uses, so a stop does not wait for a module.
    pub fn stopped_by(&self, stop: Arc<AtomicBool>) -> Runtime {
        Runtime {
            engine: self.engine.clone(),
            linker: Arc::clone(&self.linker),
            cache_dir: self.cache_dir.clone(),
            engine_tag: self.engine_tag.clone(),
            compiled: Arc::clone(&self.compiled),
            tenant_logs: Arc::clone(&self.tenant_logs),
            stop: Some(stop),
        }
    }

    /// What the guests of `tenant`'s stages had dropped of their log
    /// output (past the bounds of a call or of the tenant) since this
    /// runtime started.
    pub fn dropped_log(&self, tenant: &str) -> DroppedLog {
        let logs = self
            .tenant_logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        logs.get(tenant).map(TenantLog::dropped).unwrap_or_default()
    }

    /// `tenant`'s log allowance, shared by the instances of its stages.
    pub(super) fn tenant_log(&self, tenant: &str) -> SharedTenantLog {
        let mut logs = self
            .tenant_logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            logs.entry(tenant.to_owned())
                .or_insert_with(TenantLog::shared),
        )
    }

    /// The stop flag of this view, if any.
    pub(super) fn stop(&self) -> Option<&Arc<AtomicBool>> {
        self.stop.as_ref()
    }

    /// The directory of the disk cache, if any.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.cache_dir.as_deref()
    }

    pub(super) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Reads, hashes (sha256), compiles or loads from cache, and
    /// pre-instantiates a module.
    ///
    /// # Errors
    ///
    /// [`RuntimeError::Read`] if the file cannot be read,
    /// [`RuntimeError::NotAComponent`] for a core module or a file that is
    /// not Wasm, [`RuntimeError::Compile`] for an invalid component,
    /// [`RuntimeError::WrongWorld`] if it does not export
    /// `ingot:transform/transform@0.1.0` or imports something the host does
    /// not provide (the import is named).
    pub fn load(&self, path: &Path) -> Result<Arc<Module>, RuntimeError> {
        let started = Instant::now();
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Read {
            path: path.to_owned(),
            source,
        })?;
        let digest = hex::encode(Sha256::digest(&bytes));
        module::sniff(&bytes).map_err(|kind| RuntimeError::NotAComponent {
            site: Site::module(&digest),
            path: path.to_owned(),
            kind,
        })?;
        let cached = self
            .compiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&digest)
            .cloned();
        let (pre, origin) = match cached {
            Some(pre) => (pre, LoadOrigin::MemoryCache),
            None => {
                let (component, origin) = self.component(&bytes, &digest, path)?;
                let pre = self.pre_instantiate(&component, &digest, path)?;
                if origin == LoadOrigin::Compiled {
                    self.store_artifact(&component, &digest);
                }
                let mut compiled = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
                (
                    compiled.entry(digest.clone()).or_insert(pre).clone(),
                    origin,
                )
            }
        };
        tracing::info!(
            module = short_digest(&digest),
            path = %path.display(),
            origin = ?origin,
            elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
            "module loaded"
        );
        Ok(Arc::new(Module {
            digest,
            path: path.to_owned(),
            origin,
            pre,
        }))
    }

    /// The compiled component: from the disk cache when an artifact for this
    /// digest and engine is there, else compiled from `bytes`.
    fn component(
        &self,
        bytes: &[u8],
        digest: &str,
        path: &Path,
    ) -> Result<(Component, LoadOrigin), RuntimeError> {
        if let Some(artifact) = self.artifact_path(digest).filter(|p| p.is_file()) {
            match deserialize_artifact(&self.engine, &artifact) {
                Ok(component) => return Ok((component, LoadOrigin::DiskCache)),
                Err(e) => {
                    tracing::warn!(module = short_digest(digest), artifact = %artifact.display(),
                        "unusable cached artifact, recompiling: {e:#}");
                    let _ignored = std::fs::remove_file(&artifact);
                }
            }
        }
        let component = Component::new(&self.engine, bytes).map_err(|e| RuntimeError::Compile {
            site: Site::module(digest),
            path: path.to_owned(),
            message: format!("{e:#}"),
        })?;
        Ok((component, LoadOrigin::Compiled))
    }

    fn pre_instantiate(
        &self,
        component: &Component,
        digest: &str,
        path: &Path,
    ) -> Result<StagePre<HostState>, RuntimeError> {
        let wrong = |problem: String| RuntimeError::WrongWorld {
            site: Site::module(digest),
            path: path.to_owned(),
            problem,
        };
        module::check_world(&self.engine, component).map_err(wrong)?;
        let instance_pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| wrong(format!("{e:#}")))?;
        StagePre::new(instance_pre).map_err(|e| wrong(format!("{e:#}")))
    }

    fn artifact_path(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        Some(dir.join(format!("{digest}-{}.cwasm", self.engine_tag)))
    }

    /// Writes the serialized component to the disk cache (atomically, via a
    /// rename). A failure only costs a recompile later, so it is logged.
    fn store_artifact(&self, component: &Component, digest: &str) {
        let Some(target) = self.artifact_path(digest) else {
            return;
        };
        let tmp = target.with_extension(format!("tmp{}", std::process::id()));
        let written = component
            .serialize()
            .map_err(|e| format!("{e:#}"))
            .and_then(|bytes| std::fs::write(&tmp, bytes).map_err(|e| e.to_string()))
            .and_then(|()| std::fs::rename(&tmp, &target).map_err(|e| e.to_string()));
        if let Err(e) = written {
            let _ignored = std::fs::remove_file(&tmp);
            tracing::warn!(module = short_digest(digest), artifact = %target.display(),
                "cannot write compiled module to the cache: {e}");
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache_dir", &self.cache_dir)
            .field("engine_tag", &self.engine_tag)
            .field("stop", &self.stop)
            .finish_non_exhaustive()
    }
}

fn engine_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        .wasm_backtrace_details(WasmBacktraceDetails::Disable)
        .parallel_compilation(true);
    config
}

/// Loads a serialized component written by [`Runtime::store_artifact`].
#[expect(
    unsafe_code,
    reason = "wasmtime can only load precompiled code through an unsafe API"
)]
fn deserialize_artifact(engine: &Engine, artifact: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be an artifact produced by
    // `Component::serialize` for a compatible engine, and not modified while
    // mapped. The file lives in the cache directory this process owns, was
    // written by `store_artifact` (atomically, via a rename) from a component
    // this engine compiled, and is named by the sha256 of the source bytes
    // plus the engine's compatibility hash; wasmtime additionally checks the
    // artifact's header and engine settings and refuses a mismatch.
    unsafe { Component::deserialize_file(engine, artifact) }
}

/// Starts the thread that advances the engine's epoch every [`EPOCH_TICK`].
/// It holds only a weak reference and ends when the engine is dropped.
fn start_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("ingot-wasm-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_creates_its_cache_dir_and_refuses_a_missing_module() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = dir.path().join("a/b");
        let rt = Runtime::new(Some(cache.clone())).expect("runtime");
        assert!(cache.is_dir());
        let err = rt
            .load(&dir.path().join("missing.wasm"))
            .expect_err("missing file");
        assert!(matches!(err, RuntimeError::Read { .. }), "{err}");
        assert_eq!(err.class(), ingot_core::ErrorClass::User);
        assert!(err.to_string().contains("missing.wasm"), "{err}");
    }
}
