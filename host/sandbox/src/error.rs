//! Errors of the runtime, and the one place where a wasmtime error or trap
//! becomes one of them ([`RuntimeError::from_call`]).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

use ingot_core::ErrorClass;
use ingot_core::{StageId, short_digest};

/// Which module, and once it is instantiated which stage, an error is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The module's sha256 digest (hex).
    pub module: String,
    /// The stage the module runs for, once instantiated (boxed to keep
    /// errors small).
    pub stage: Option<Box<StageId>>,
}

impl Site {
    /// A site naming only a module.
    pub fn module(digest: &str) -> Self {
        Site {
            module: digest.to_owned(),
            stage: None,
        }
    }

    /// A site naming a module running for a stage.
    pub fn stage(digest: &str, stage: &StageId) -> Self {
        Site {
            module: digest.to_owned(),
            stage: Some(Box::new(stage.clone())),
        }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.stage {
            Some(stage) => write!(f, "stage {stage} (module {})", short_digest(&self.module)),
            None => write!(f, "module {}", short_digest(&self.module)),
        }
    }
}

/// Why a file is not a Wasm component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotComponentKind {
    /// A core Wasm module (`\0asm` version 1).
    CoreModule,
    /// Wasm of a version or layer this host does not know.
    UnknownWasm,
    /// Not Wasm at all (no `\0asm` magic).
    NotWasm,
}

impl fmt::Display for NotComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotComponentKind::CoreModule => {
                "is a core wasm module, not a component (build it for wasm32-wasip2, or wrap it \
                 with `wasm-tools component new`)"
            }
            NotComponentKind::UnknownWasm => {
                "is wasm of an unknown version or layer, not a component this host supports"
            }
            NotComponentKind::NotWasm => "is not wasm (no `\\0asm` header)",
        })
    }
}

/// The error variant a guest returned from `init` or `process`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    /// The stage configuration is unusable.
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The input batch is not what the transform expects.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Anything else.
    #[error("failed: {0}")]
    Failed(String),
}

/// An error of the Wasm runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The module file could not be read.
    #[error("cannot read module {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a Wasm component.
    #[error("{} ({site}) {kind}", path.display())]
    NotAComponent {
        /// The module.
        site: Site,
        /// The file.
        path: PathBuf,
        /// What it is instead.
        kind: NotComponentKind,
    },
    /// The component is malformed or fails validation.
    #[error("cannot compile {} ({site}): {message}", path.display())]
    Compile {
        /// The module.
        site: Site,
        /// The file.
        path: PathBuf,
        /// wasmtime's explanation.
        message: String,
    },
    /// The component misses the transform export or imports something the
    /// sandbox does not provide.
    #[error("{} ({site}) does not fit world ingot:transform/stage@0.1.0: {problem}", path.display())]
    WrongWorld {
        /// The module.
        site: Site,
        /// The file.
        path: PathBuf,
        /// The missing export or the unsupported import, by name.
        problem: String,
    },
    /// Instantiation failed.
    #[error("cannot instantiate {site}: {message}")]
    Instantiate {
        /// The module and stage.
        site: Site,
        /// wasmtime's explanation.
        message: String,
    },
    /// Every slot of the host's instance pool is taken: the host is full,
    /// not the module at fault; retry later or raise `runtime.max-instances`.
    #[error(
        "cannot instantiate {site}: the host's instance pool is full ({message}); raise runtime.max-instances in the host file or run fewer stages"
    )]
    Capacity {
        /// The module and stage.
        site: Site,
        /// wasmtime's explanation (which pool, which limit).
        message: String,
    },
    /// The guest's `init` returned an error.
    #[error("{site}: init failed: {error}")]
    Init {
        /// The module and stage.
        site: Site,
        /// What the guest said.
        error: GuestError,
    },
    /// The guest trapped (a panic, a stack overflow, `exit`, ...).
    #[error("{site}: guest trapped: {message}{}", fmt_backtrace(backtrace.as_deref()))]
    Trap {
        /// The module and stage.
        site: Site,
        /// The trap, with what the guest wrote to stderr (a panic message).
        message: String,
        /// The guest's stack at the trap, innermost frame first.
        backtrace: Option<String>,
    },
    /// A call ran past its deadline.
    #[error("{site}: call timed out: it exceeded its deadline of {} ms", limit.as_millis())]
    Timeout {
        /// The module and stage.
        site: Site,
        /// The deadline.
        limit: Duration,
    },
    /// The host is stopping: it interrupted the call in flight (or refused
    /// to start one). Not the module's fault: nothing of the call's input
    /// may be quarantined, and the input is left for the next start.
    #[error("{site}: call interrupted: the host is stopping")]
    Interrupted {
        /// The module and stage.
        site: Site,
    },
    /// The guest tried to grow its memory past the cap.
    #[error("{site}: guest exceeded its memory limit of {limit} bytes")]
    OutOfMemory {
        /// The module and stage.
        site: Site,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The guest returned more output than allowed.
    #[error("{site}: output of {bytes} bytes exceeds the limit of {limit} bytes")]
    OutputTooLarge {
        /// The module and stage.
        site: Site,
        /// Output size.
        bytes: u64,
        /// The cap.
        limit: u64,
    },
    /// The guest's `process` returned an error.
    #[error("{site}: {error}")]
    Guest {
        /// The module and stage.
        site: Site,
        /// What the guest said.
        error: GuestError,
    },
    /// The guest's output cannot be used (undecodable IPC, a reject row out
    /// of range).
    #[error("{site}: bad output: {problem}")]
    BadOutput {
        /// The module and stage.
        site: Site,
        /// What is wrong with it.
        problem: String,
    },
    /// An earlier trap left the instance unusable.
    #[error("{site}: instance is poisoned by an earlier trap; create a new instance")]
    Poisoned {
        /// The module and stage.
        site: Site,
    },
    /// The module cache directory cannot be created.
    #[error("cannot use module cache directory {}: {source}", path.display())]
    CacheDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The wasmtime engine or linker could not be set up.
    #[error("cannot set up the wasm engine: {message}")]
    Engine {
        /// wasmtime's explanation.
        message: String,
    },
    /// A broken invariant on the host side of a call.
    #[error("{site}: internal error: {message}")]
    Internal {
        /// The module and stage.
        site: Site,
        /// What broke.
        message: String,
    },
}

fn fmt_backtrace(backtrace: Option<&str>) -> String {
    backtrace.map_or_else(String::new, |bt| format!(" (guest backtrace: {bt})"))
}

/// What the host observed around a failed call, needed to tell a timeout,
/// an out-of-memory and a plain trap apart.
pub(super) struct CallFacts<'a> {
    /// The module and stage.
    pub site: Site,
    /// The deadline of the call.
    pub timeout: Duration,
    /// The memory cap.
    pub memory_limit: u64,
    /// Whether the store refused a memory grow during the call.
    pub refused_grow: bool,
    /// Whether the host's stop ended the call.
    pub stopped: bool,
    /// The tail of what the guest wrote to stderr during the call.
    pub stderr: &'a str,
}

impl RuntimeError {
    /// Who has to act on this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            RuntimeError::Engine { .. } | RuntimeError::Internal { .. } => ErrorClass::Internal,
            // A stop is the host's doing: the input is retried on the next
            // start, like after a broker or storage failure.
            RuntimeError::Capacity { .. } | RuntimeError::Interrupted { .. } => {
                ErrorClass::External
            }
            _ => ErrorClass::User,
        }
    }

    /// A short, fixed name of what went wrong (a metrics label: bounded,
    /// no identifiers).
    pub fn cause(&self) -> &'static str {
        match self {
            RuntimeError::Read { .. } => "read",
            RuntimeError::NotAComponent { .. } => "not_a_component",
            RuntimeError::Compile { .. } => "compile",
            RuntimeError::WrongWorld { .. } => "wrong_world",
            RuntimeError::Instantiate { .. } => "instantiate",
            RuntimeError::Capacity { .. } => "capacity",
            RuntimeError::Init { .. } => "init",
            RuntimeError::Trap { .. } => "trap",
            RuntimeError::Timeout { .. } => "timeout",
            RuntimeError::Interrupted { .. } => "interrupted",
            RuntimeError::OutOfMemory { .. } => "out_of_memory",
            RuntimeError::OutputTooLarge { .. } => "output_too_large",
            RuntimeError::Guest { .. } => "guest_error",
            RuntimeError::BadOutput { .. } => "bad_output",
            RuntimeError::Poisoned { .. } => "poisoned",
            RuntimeError::CacheDir { .. } => "cache_dir",
            RuntimeError::Engine { .. } => "engine",
            RuntimeError::Internal { .. } => "internal",
        }
    }

    /// The module and stage the error is about, when known.
    pub fn site(&self) -> Option<&Site> {
        match self {
            RuntimeError::NotAComponent { site, .. }
            | RuntimeError::Compile { site, .. }
            | RuntimeError::WrongWorld { site, .. }
            | RuntimeError::Instantiate { site, .. }
            | RuntimeError::Capacity { site, .. }
            | RuntimeError::Init { site, .. }
            | RuntimeError::Trap { site, .. }
            | RuntimeError::Timeout { site, .. }
            | RuntimeError::Interrupted { site }
            | RuntimeError::OutOfMemory { site, .. }
            | RuntimeError::OutputTooLarge { site, .. }
            | RuntimeError::Guest { site, .. }
            | RuntimeError::BadOutput { site, .. }
            | RuntimeError::Poisoned { site }
            | RuntimeError::Internal { site, .. } => Some(site),
            RuntimeError::Read { .. }
            | RuntimeError::CacheDir { .. }
            | RuntimeError::Engine { .. } => None,
        }
    }

    /// Converts the error of a failed call into the guest (or of an
    /// instantiation) into a runtime error. The one place where wasmtime
    /// errors and traps are told apart.
    pub(super) fn from_call(err: &wasmtime::Error, facts: CallFacts<'_>) -> RuntimeError {
        let CallFacts {
            site,
            timeout,
            memory_limit,
            refused_grow,
            stopped,
            stderr,
        } = facts;
        let trap = err.downcast_ref::<Trap>().copied();
        if stopped && trap == Some(Trap::Interrupt) {
            return RuntimeError::Interrupted { site };
        }
        // A guest whose allocation fails usually aborts (an `unreachable`
        // trap) rather than reporting the refused grow: the refusal wins.
        if refused_grow {
            return RuntimeError::OutOfMemory {
                site,
                limit: memory_limit,
            };
        }
        if trap == Some(Trap::Interrupt) {
            return RuntimeError::Timeout {
                site,
                limit: timeout,
            };
        }
        let wasm_backtrace = err.downcast_ref::<WasmBacktrace>();
        let mut message = match (err.downcast_ref::<I32Exit>(), trap) {
            (Some(exit), _) => format!("guest called exit with status {}", exit.0),
            (None, Some(Trap::StackOverflow)) => "stack overflow (call stack exhausted)".to_owned(),
            (None, Some(Trap::MemoryOutOfBounds)) if wasm_backtrace.is_some_and(deep_recursion) => {
                "stack overflow (out of bounds memory access in deep recursion: the guest's \
                 in-memory stack ran past its bottom)"
                    .to_owned()
            }
            (None, Some(trap)) => trap.to_string(),
            (None, None) => format!("{err:#}"),
        };
        let stderr = one_line(stderr);
        if !stderr.is_empty() {
            message.push_str("; guest stderr: ");
            message.push_str(&stderr);
        }
        let backtrace = wasm_backtrace.and_then(render_backtrace);
        RuntimeError::Trap {
            site,
            message,
            backtrace,
        }
    }

    /// Like [`RuntimeError::from_call`], for a failed instantiation: an
    /// initial memory past the cap is [`RuntimeError::OutOfMemory`], a
    /// timeout stays a timeout, anything else is
    /// [`RuntimeError::Instantiate`].
    pub(super) fn from_instantiate(err: &wasmtime::Error, facts: CallFacts<'_>) -> RuntimeError {
        let site = facts.site.clone();
        if let Some(full) = err.downcast_ref::<wasmtime::PoolConcurrencyLimitError>() {
            return RuntimeError::Capacity {
                site,
                message: full.to_string(),
            };
        }
        match RuntimeError::from_call(err, facts) {
            e @ (RuntimeError::OutOfMemory { .. }
            | RuntimeError::Timeout { .. }
            | RuntimeError::Interrupted { .. }) => e,
            RuntimeError::Trap { message, .. } => RuntimeError::Instantiate { site, message },
            _ => RuntimeError::Instantiate {
                site,
                message: format!("{err:#}"),
            },
        }
    }
}

/// What a guest wrote to stderr, as one line for an error message: its
/// lines joined, Rust's hint about `RUST_BACKTRACE` dropped, and at most the
/// last 2 KiB kept (a panic message comes last).
fn one_line(stderr: &str) -> String {
    const MAX: usize = 2 << 10;
    let text = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect::<Vec<_>>()
        .join(" ");
    if text.len() <= MAX {
        return text;
    }
    let mut start = text.len() - MAX;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

/// Whether a backtrace looks like runaway recursion: it is full (wasmtime
/// keeps the innermost 20 frames) and almost all of it is one function.
///
/// Compilers targeting wasm32 keep most of a frame on a stack in linear
/// memory placed below the data (Rust and C do), so runaway recursion
/// usually ends in an out-of-bounds access when that stack passes address
/// zero, long before the engine's own call stack is exhausted.
fn deep_recursion(bt: &WasmBacktrace) -> bool {
    const MIN_FRAMES: usize = 16;
    let frames = bt.frames();
    if frames.len() < MIN_FRAMES {
        return false;
    }
    let mut counts = std::collections::HashMap::new();
    for frame in frames {
        *counts.entry(frame.func_index()).or_insert(0_usize) += 1;
    }
    counts
        .values()
        .max()
        .is_some_and(|&n| n * 5 >= frames.len() * 4)
}

/// A one-line rendering of a guest backtrace, innermost frame first, each
/// frame as its (demangled) function name or its function index, repeats
/// collapsed (`f x20`).
fn render_backtrace(bt: &WasmBacktrace) -> Option<String> {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for frame in bt.frames() {
        let name = match frame.func_name() {
            Some(name) => name.to_owned(),
            None => format!("wasm-function[{}]", frame.func_index()),
        };
        match runs.last_mut() {
            Some((last, n)) if *last == name => *n += 1,
            _ => runs.push((name, 1)),
        }
    }
    if runs.is_empty() {
        return None;
    }
    let parts: Vec<String> = runs
        .into_iter()
        .map(|(name, n)| if n > 1 { format!("{name} x{n}") } else { name })
        .collect();
    Some(parts.join(" <- "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(refused_grow: bool, stderr: &str) -> CallFacts<'_> {
        CallFacts {
            site: Site::stage("0123456789abcdef", &StageId::new("t", "p", "s")),
            timeout: Duration::from_millis(500),
            memory_limit: 1 << 20,
            refused_grow,
            stopped: false,
            stderr,
        }
    }

    #[test]
    fn interrupt_by_a_stop_is_interrupted_and_external() {
        let err = wasmtime::Error::from(Trap::Interrupt);
        let stopped = CallFacts {
            stopped: true,
            ..facts(false, "")
        };
        let got = RuntimeError::from_call(&err, stopped);
        assert!(matches!(got, RuntimeError::Interrupted { .. }), "{got}");
        assert_eq!(got.class(), ErrorClass::External);
        assert!(got.site().is_some());
    }

    #[test]
    fn interrupt_is_a_timeout() {
        let err = wasmtime::Error::from(Trap::Interrupt);
        let got = RuntimeError::from_call(&err, facts(false, ""));
        assert!(matches!(got, RuntimeError::Timeout { limit, .. } if limit.as_millis() == 500));
    }

    #[test]
    fn refused_grow_wins_over_the_trap() {
        let err = wasmtime::Error::from(Trap::UnreachableCodeReached);
        let got = RuntimeError::from_call(&err, facts(true, "memory allocation failed"));
        assert!(matches!(got, RuntimeError::OutOfMemory { limit, .. } if limit == 1 << 20));
    }

    #[test]
    fn trap_message_carries_stderr_and_site() {
        let err = wasmtime::Error::from(Trap::UnreachableCodeReached);
        let got = RuntimeError::from_call(&err, facts(false, "panicked at src/lib.rs: boom\n"));
        let text = got.to_string();
        assert!(text.contains("stage t/p/s (module 0123456789ab)"), "{text}");
        assert!(text.contains("unreachable"), "{text}");
        assert!(text.contains("boom"), "{text}");
        assert_eq!(got.class(), ErrorClass::User);
    }

    #[test]
    fn stderr_becomes_one_bounded_line() {
        let panic = "thread '<unnamed>' (1) panicked at src/lib.rs:7:9:\nboom\nnote: run with \
                     `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            one_line(panic),
            "thread '<unnamed>' (1) panicked at src/lib.rs:7:9: boom"
        );
        let long = format!("{}é{}", "a".repeat(3000), "b".repeat(2000));
        let line = one_line(&long);
        assert!(line.starts_with("...") && line.ends_with('b'), "{line}");
        assert!(line.len() <= (2 << 10) + 4);
    }

    #[test]
    fn exit_is_a_trap_naming_the_status() {
        let err = wasmtime::Error::from(I32Exit(3));
        let got = RuntimeError::from_call(&err, facts(false, ""));
        assert!(got.to_string().contains("exit with status 3"), "{got}");
    }

    #[test]
    fn engine_errors_are_internal() {
        let err = RuntimeError::Engine {
            message: "x".into(),
        };
        assert_eq!(err.class(), ErrorClass::Internal);
        assert!(err.site().is_none());
    }
}
