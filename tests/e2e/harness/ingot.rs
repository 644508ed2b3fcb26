//! A lake in a temp dir, and the real `ingot` binary run against it.
//!
//! Tests drive the binary, not the library, so what they prove is what a
//! user gets: the pipeline file, the exit codes, the logs, a restart.

use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::tail;

/// The `ingot` binary cargo built for this test target.
const INGOT: &str = env!("CARGO_BIN_EXE_ingot");

/// ingot's own `info` logs; the Delta kernel's are per-snapshot noise that
/// would bury them (and make a failing test's output megabytes long).
const RUST_LOG: &str = "info,buoyant_kernel=warn,deltalake=warn,datafusion=warn";

/// A temp dir holding a lake root (`<dir>/lake`) and pipeline files beside
/// it; removed when dropped (set `INGOT_KEEP_LAKE=1` to keep it).
pub struct Lake {
    dir: TempDir,
}

impl Lake {
    /// A new, empty lake.
    pub fn new() -> Self {
        let mut dir = tempfile::Builder::new()
            .prefix("ingot-lake-")
            .tempdir()
            .expect("create a temp dir for the lake");
        if std::env::var_os("INGOT_KEEP_LAKE").is_some() {
            dir.disable_cleanup(true);
            eprintln!("keeping lake {}", dir.path().display());
        }
        std::fs::create_dir(dir.path().join("lake")).expect("create the lake root");
        Lake { dir }
    }

    /// The lake root, where the tables live.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("lake")
    }

    /// The temp dir holding the lake root and the pipeline files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `toml` to `<dir>/pipeline.toml` and returns that path.
    pub fn write_pipeline(&self, toml: &str) -> PathBuf {
        let path = self.dir.path().join("pipeline.toml");
        std::fs::write(&path, toml).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Default for Lake {
    fn default() -> Self {
        Self::new()
    }
}

fn ingot<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(INGOT);
    command
        .args(args)
        .env("RUST_LOG", RUST_LOG)
        .stdin(Stdio::null());
    command
}

/// Runs `ingot args…` to completion (ingot's logs at `info`) and returns its
/// status and output.
pub fn run_ingot<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ingot(args)
        .output()
        .unwrap_or_else(|e| panic!("run {INGOT}: {e}"))
}

/// Runs `ingot args…` to completion with the crash points `fault` armed
/// (`INGOT_FAULT`, see `ingot_core::fault`) and returns its status and output.
pub fn run_ingot_with_fault<I, S>(fault: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ingot(args)
        .env(ingot_core::fault::ENV, fault)
        .output()
        .unwrap_or_else(|e| panic!("run {INGOT}: {e}"))
}

/// Runs `ingot args…` to completion and asserts it succeeded, showing its
/// output if not.
pub fn run_ingot_ok<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let out = run_ingot(&args);
    assert!(
        out.status.success(),
        "ingot {args:?} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Starts `ingot args…` in the background (ingot's logs at `info`), its stdout
/// and stderr going to a log file; the process is killed when dropped.
pub fn spawn_ingot<I, S>(args: I) -> IngotProcess
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let log = tempfile::Builder::new()
        .prefix("ingot-")
        .suffix(".log")
        .tempfile()
        .expect("create the ingot log file");
    let out = File::options()
        .append(true)
        .open(log.path())
        .expect("open the ingot log");
    let err = out.try_clone().expect("clone the ingot log handle");
    let child = ingot(args)
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("start {INGOT}: {e}"));
    IngotProcess { child, log }
}

/// An `ingot` process running in the background.
pub struct IngotProcess {
    /// The process; tests may `wait` on it or read its id.
    pub child: Child,
    log: tempfile::NamedTempFile,
}

impl IngotProcess {
    /// Everything it printed so far (stdout and stderr interleaved).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Waits until its log contains `needle`; panics with the log tail after
    /// `timeout` or when the process exits first.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log().contains(needle) {
            if let Some(status) = self.child.try_wait().expect("poll the ingot process") {
                panic!(
                    "ingot exited ({status}) before logging {needle:?}:\n{}",
                    self.tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ingot logged no {needle:?} in {timeout:?}:\n{}",
                self.tail()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// Asks it to stop (SIGTERM, as a service manager does) and waits up to
    /// `timeout` for it to exit; panics with the log tail if it does not.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(
            sent.is_ok_and(|s| s.success()),
            "send SIGTERM to ingot {pid}"
        );
        self.wait_exit(timeout)
    }

    /// Waits up to `timeout` for it to exit and returns its status; panics
    /// with the log tail if it is still running then.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the ingot process") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ingot {} still running after {timeout:?}:\n{}",
                self.child.id(),
                self.tail()
            );
            sleep(Duration::from_millis(50));
        }
    }

    /// Kills it at once (SIGKILL): a crash, as far as the lake can tell.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines of its log, for a failure message.
    pub fn tail(&self) -> String {
        tail(self.log.path(), 60)
    }
}

impl Drop for IngotProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
