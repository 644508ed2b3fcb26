//! What the host offers a transform: its log and the processing time.
//!
//! In a component these call the `ingot:transform/host` imports. Natively
//! (unit tests) they go to the [`testing::Harness`](crate::testing::Harness)
//! running the transform; outside a harness, logs go to stderr and the
//! processing time is 0.

use std::fmt;

/// Severity of a log message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that the transform handled.
    Warn,
    /// Something failed.
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

/// Writes `message` to the host's log, tagged with the tenant, pipeline,
/// stage and module.
pub fn log(level: Level, message: &str) {
    imp::log(level, message);
}

/// The time the host began processing the current range of input, in
/// microseconds since the Unix epoch (UTC).
///
/// Constant for every call that contributes to one output commit: stamp rows
/// with it, never with a clock, so a replay produces the same rows.
pub fn processing_time() -> i64 {
    imp::processing_time()
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::export::bindings::ingot::transform::host;
    use crate::export::bindings::ingot::transform::types::Level as WitLevel;

    pub(super) fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => WitLevel::Trace,
            Level::Debug => WitLevel::Debug,
            Level::Info => WitLevel::Info,
            Level::Warn => WitLevel::Warn,
            Level::Error => WitLevel::Error,
        };
        host::log(level, message);
    }

    pub(super) fn processing_time() -> i64 {
        host::processing_time()
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use imp::{NativeHost, with_native_host};

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;
    use std::cell::RefCell;

    /// The host a native harness plays: a fixed processing time and a log.
    #[derive(Debug, Default)]
    pub(crate) struct NativeHost {
        pub(crate) processing_time: i64,
        pub(crate) logs: Vec<(Level, String)>,
    }

    thread_local! {
        static CURRENT: RefCell<Option<NativeHost>> = const { RefCell::new(None) };
    }

    /// Runs `f` with `host` serving the host calls of this thread, and puts
    /// it back (with the new logs) even if `f` panics.
    pub(crate) fn with_native_host<R>(host: &mut NativeHost, f: impl FnOnce() -> R) -> R {
        struct Restore<'a>(&'a mut NativeHost);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                if let Some(host) = CURRENT.take() {
                    *self.0 = host;
                }
            }
        }
        CURRENT.set(Some(std::mem::take(host)));
        let _restore = Restore(host);
        f()
    }

    pub(super) fn log(level: Level, message: &str) {
        CURRENT.with_borrow_mut(|current| match current {
            Some(host) => host.logs.push((level, message.to_owned())),
            None => eprintln!("[{level}] {message}"),
        });
    }

    pub(super) fn processing_time() -> i64 {
        CURRENT.with_borrow(|current| current.as_ref().map_or(0, |host| host.processing_time))
    }
}

/// Logs at [`Level::Trace`], with `format!` arguments.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log($crate::Level::Trace, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Debug`], with `format!` arguments.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log($crate::Level::Debug, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Info`], with `format!` arguments.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log($crate::Level::Info, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Warn`], with `format!` arguments.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log($crate::Level::Warn, &::std::format!($($arg)+)) };
}

/// Logs at [`Level::Error`], with `format!` arguments.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log($crate::Level::Error, &::std::format!($($arg)+)) };
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn native_host_captures_logs_and_time() {
        let mut host = NativeHost {
            processing_time: 1_700_000_000_000_000,
            logs: Vec::new(),
        };
        let seen = with_native_host(&mut host, || {
            crate::info!("hello {}", 42);
            crate::warn!("careful");
            processing_time()
        });
        assert_eq!(seen, 1_700_000_000_000_000);
        assert_eq!(
            host.logs,
            vec![
                (Level::Info, "hello 42".into()),
                (Level::Warn, "careful".into())
            ]
        );
        assert_eq!(processing_time(), 0, "outside a harness the time is 0");
    }

    #[test]
    fn native_host_is_restored_after_a_panic() {
        let mut host = NativeHost::default();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_native_host(&mut host, || {
                log(Level::Error, "before the panic");
                panic!("boom");
            })
        }));
        assert!(result.is_err());
        assert_eq!(host.logs, vec![(Level::Error, "before the panic".into())]);
    }

    #[test]
    fn level_displays_lowercase() {
        assert_eq!(Level::Warn.to_string(), "warn");
    }
}
