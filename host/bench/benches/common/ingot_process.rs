//! The release `ingot` binary run as users run it: finding it, warming the
//! module cache it loads from, starting `ingot run`, stopping it with
//! SIGTERM, and reading its CPU time from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use ingot_sandbox::Runtime;

use super::common::guest_module;

/// The `ingot` binary: `INGOT_BIN`, else the one beside this bench's build
/// (`<target>/release/ingot`, which `./dev bench` builds with the benches).
///
/// # Errors
///
/// When there is no binary there.
pub fn ingot_binary() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("INGOT_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .context("the bench runs from <target>/release/deps")?
        .join("ingot");
    ensure!(
        bin.is_file(),
        "no ingot binary at {}: run ./dev bench (it builds one), or set INGOT_BIN",
        bin.display()
    );
    Ok(bin)
}

/// Compiles the log pipeline's modules into the disk cache `dir`, so a run
/// that loads them from there pays no compilation.
///
/// # Errors
///
/// When a module is missing or does not compile.
pub fn warm_module_cache(dir: &Path) -> Result<()> {
    let runtime = Runtime::new(Some(dir.to_path_buf()))?;
    for name in ["log_parse", "level_counts"] {
        runtime
            .load(&guest_module(name)?)
            .with_context(|| format!("compile {name} into {}", dir.display()))?;
    }
    Ok(())
}

/// How an `ingot run` is started.
pub struct RunSpec<'a> {
    /// The binary.
    pub bin: &'a Path,
    /// The pipeline file.
    pub pipeline: &'a Path,
    /// The module cache (`--cache-dir`).
    pub cache: &'a Path,
    /// `--once`, or continuous until SIGTERM.
    pub once: bool,
    /// Where its stdout and stderr go.
    pub log: &'a Path,
}

/// A running `ingot run` process, killed when dropped.
pub struct IngotRun {
    child: Child,
    log: PathBuf,
    /// When it was started, µs since the Unix epoch (the clock of commit
    /// timestamps).
    pub started_us: i64,
    started: Instant,
}

impl IngotRun {
    /// Starts `ingot run` as `spec` says.
    ///
    /// # Errors
    ///
    /// When the log cannot be created or the process not started.
    pub fn start(spec: &RunSpec<'_>) -> Result<Self> {
        let out = std::fs::File::create(spec.log)
            .with_context(|| format!("create {}", spec.log.display()))?;
        let mut command = Command::new(spec.bin);
        command.arg("run").arg(spec.pipeline);
        if spec.once {
            command.arg("--once");
        }
        command
            .arg("--cache-dir")
            .arg(spec.cache)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let started_us = unix_micros();
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("start {}", spec.bin.display()))?;
        Ok(Self {
            child,
            log: spec.log.to_path_buf(),
            started_us,
            started,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    ///
    /// # Errors
    ///
    /// When it exited: with its status and the tail of its log.
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!("ingot run exited early ({status}):\n{}", self.log_tail()),
        }
    }

    /// Waits for the process to exit successfully; returns its wall time
    /// since the start.
    ///
    /// # Errors
    ///
    /// When it fails, or runs longer than `timeout` (then it is killed).
    pub fn wait(&mut self, timeout: Duration) -> Result<f64> {
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if self.started.elapsed() > timeout {
                let _ = self.child.kill();
                bail!(
                    "ingot run still running after {timeout:?}:\n{}",
                    self.log_tail()
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        let seconds = self.started.elapsed().as_secs_f64();
        self.ensure_success(status)?;
        Ok(seconds)
    }

    /// Sends SIGTERM (stop after the current commit) and waits for a clean
    /// exit.
    ///
    /// # Errors
    ///
    /// When the signal cannot be sent or the process fails.
    pub fn stop(&mut self, timeout: Duration) -> Result<()> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status()?;
        ensure!(sent.success(), "kill -TERM {pid}: {sent}");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                bail!("ingot run did not stop within {timeout:?} of SIGTERM");
            }
            thread::sleep(Duration::from_millis(20));
        };
        self.ensure_success(status)
    }

    fn ensure_success(&self, status: ExitStatus) -> Result<()> {
        ensure!(
            status.success(),
            "ingot run failed ({status}):\n{}",
            self.log_tail()
        );
        Ok(())
    }

    /// The last 30 lines of the process's output.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for IngotRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CPU time (user + system, seconds) process `pid` has used so far:
/// fields 14 and 15 of `/proc/<pid>/stat`, in clock ticks.
///
/// # Errors
///
/// When the file cannot be read or parsed.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    // The command name (field 2) is in parentheses and may hold spaces;
    // the fields after it start with field 3.
    let after = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .with_context(|| format!("{path}: no command name"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |field: usize| -> Result<f64> {
        let text = fields
            .get(field - 3)
            .with_context(|| format!("{path}: no field {field}"))?;
        Ok(text
            .parse::<u64>()
            .with_context(|| format!("{path}: field {field}"))? as f64)
    };
    Ok((ticks(14)? + ticks(15)?) / clock_ticks()?)
}

/// Clock ticks per second (`getconf CLK_TCK`), the unit of `/proc` times.
fn clock_ticks() -> Result<f64> {
    let out = Command::new("getconf").arg("CLK_TCK").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ticks: f64 = text
        .trim()
        .parse()
        .with_context(|| format!("getconf CLK_TCK printed {text:?}"))?;
    ensure!(ticks > 0.0, "CLK_TCK is {ticks}");
    Ok(ticks)
}

/// Now, in µs since the Unix epoch.
pub fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Polls `done` every `every` until it holds, for up to `timeout`.
///
/// # Errors
///
/// The first error of `done`, or when `timeout` passed.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    every: Duration,
    mut done: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let started = Instant::now();
    while !done()? {
        if started.elapsed() > timeout {
            bail!("waited {timeout:?} for {what}");
        }
        thread::sleep(every);
    }
    Ok(())
}
