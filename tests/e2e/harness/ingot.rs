//! A lake (in a temp dir, or under a prefix of an S3 server), and the real
//! `ingot` binary run against it.
//!
//! Tests drive the binary, not the library, so what they prove is what a
//! user gets: the pipeline file, the exit codes, the logs, a restart.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{S3Server, tail};

/// The `ingot` binary cargo built for this test target.
pub const INGOT: &str = env!("CARGO_BIN_EXE_ingot");

/// ingot's own `info` logs; the Delta kernel's are per-snapshot noise that
/// would bury them (and make a failing test's output megabytes long).
const RUST_LOG: &str = "info,buoyant_kernel=warn,deltalake=warn,datafusion=warn";

/// A lake, and a temp dir holding the pipeline files (and, for a local
/// lake, its root `<dir>/lake`); removed when dropped (set
/// `INGOT_KEEP_LAKE=1` to keep the dir).
///
/// A test body written against a `&Lake` runs on either kind: it names
/// the root by [`Lake::root_uri`], writes its `[lake]` table with
/// [`Lake::toml`], and starts `ingot` with [`Lake::run_ingot`] and
/// [`Lake::spawn_ingot`], which give the process the lake's environment.
pub struct Lake {
    dir: TempDir,
    store: Option<StoreLake>,
}

/// A lake root on an object store.
struct StoreLake {
    /// Its URL.
    root: String,
    /// The `[lake.options]` table of its pipeline files.
    options_toml: String,
    /// What an `ingot` process on it needs in its environment.
    env: Vec<(String, String)>,
}

impl Lake {
    /// A new, empty lake in the temp dir.
    pub fn new() -> Self {
        let dir = temp_dir();
        std::fs::create_dir(dir.path().join("lake")).expect("create the lake root");
        Lake { dir, store: None }
    }

    /// A new, empty lake under a fresh prefix of `server`'s bucket,
    /// registered with this process's table reader (`crate::lake`).
    pub fn on_s3(server: &S3Server) -> Self {
        let root = server.fresh_root();
        ingot_delta::register_lake(&root, &server.reader_options())
            .unwrap_or_else(|e| panic!("register lake {root}: {e}"));
        let store = StoreLake {
            root,
            options_toml: server.lake_options_toml(),
            env: server.child_env(),
        };
        Lake {
            dir: temp_dir(),
            store: Some(store),
        }
    }

    /// The local lake root, where the tables live; panics on an
    /// object-store lake (a test that reads the files is local-only).
    pub fn root(&self) -> PathBuf {
        if let Some(store) = &self.store {
            panic!("lake {} has no local root", store.root);
        }
        self.dir.path().join("lake")
    }

    /// The lake root as a pipeline file and a table URI name it: a path,
    /// or the object store's URL.
    pub fn root_uri(&self) -> String {
        match &self.store {
            Some(store) => store.root.clone(),
            None => self.root().display().to_string(),
        }
    }

    /// The `[lake]` table of a pipeline file on this lake (with its
    /// `[lake.options]` on an object store).
    pub fn toml(&self) -> String {
        let root = format!("[lake]\nroot = \"{}\"\n", self.root_uri());
        match &self.store {
            Some(store) => format!("{root}{}", store.options_toml),
            None => root,
        }
    }

    /// What an `ingot` process on this lake needs in its environment
    /// (nothing for a local lake).
    pub fn env(&self) -> &[(String, String)] {
        self.store.as_ref().map_or(&[], |s| s.env.as_slice())
    }

    /// The temp dir holding the pipeline files (and a local lake's root).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `toml` to `<dir>/pipeline.toml` and returns that path.
    pub fn write_pipeline(&self, toml: &str) -> PathBuf {
        let path = self.dir.path().join("pipeline.toml");
        std::fs::write(&path, toml).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// [`run_ingot`] with this lake's environment.
    pub fn run_ingot<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        output(ingot(args, self.env()))
    }

    /// [`run_ingot_ok`] with this lake's environment.
    pub fn run_ingot_ok<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        succeeded(ingot(args, self.env()))
    }

    /// [`spawn_ingot`] with this lake's environment.
    pub fn spawn_ingot<I, S>(&self, args: I) -> IngotProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        spawn(ingot(args, self.env()))
    }

    /// [`Lake::spawn_ingot`] as fleet host `host` (`INGOT_HOST_ID`): the
    /// name its status document and stage leases carry.
    pub fn spawn_host<I, S>(&self, host: &str, args: I) -> IngotProcess
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = ingot(args, self.env());
        command.env("INGOT_HOST_ID", host);
        spawn(command)
    }
}

impl Default for Lake {
    fn default() -> Self {
        Self::new()
    }
}

fn temp_dir() -> TempDir {
    let mut dir = tempfile::Builder::new()
        .prefix("ingot-lake-")
        .tempdir()
        .expect("create a temp dir for the lake");
    if std::env::var_os("INGOT_KEEP_LAKE").is_some() {
        dir.disable_cleanup(true);
        eprintln!("keeping lake {}", dir.path().display());
    }
    dir
}

/// `ingot args…` (ingot's logs at `info`) with `env` added to this
/// process's environment.
fn ingot<I, S>(args: I, env: &[(String, String)]) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(INGOT);
    command
        .args(args)
        .env("RUST_LOG", RUST_LOG)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    command
}

fn output(mut command: Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("run {INGOT}: {e}"))
}

/// Runs `command` to completion and asserts it succeeded, showing its
/// output if not.
fn succeeded(command: Command) -> Output {
    let args: Vec<OsString> = command.get_args().map(OsStr::to_owned).collect();
    let out = output(command);
    assert!(
        out.status.success(),
        "ingot {args:?} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `ingot args…` to completion (ingot's logs at `info`) and returns its
/// status and output.
pub fn run_ingot<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    output(ingot(args, &[]))
}

/// Runs `ingot args…` to completion with the crash points `fault` armed
/// (`INGOT_FAULT`, see `ingot_core::fault`) and returns its status and output.
pub fn run_ingot_with_fault<I, S>(fault: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = ingot(args, &[]);
    command.env(ingot_core::fault::ENV, fault);
    output(command)
}

/// Runs `ingot args…` to completion and asserts it succeeded, showing its
/// output if not.
pub fn run_ingot_ok<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    succeeded(ingot(args, &[]))
}

/// Starts `ingot args…` in the background (ingot's logs at `info`), its stdout
/// and stderr going to a log file; the process is killed when dropped.
pub fn spawn_ingot<I, S>(args: I) -> IngotProcess
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn(ingot(args, &[]))
}

fn spawn(mut command: Command) -> IngotProcess {
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
    let child = command
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
