//! The Python peer medallion (`scripts/bench-peer.sh`, which runs
//! `peer_medallion.py` in a venv) on the benchmark's broker and topic, and
//! the figures it prints.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{JoinHandle, sleep};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What the peer printed for one phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Records (bronze, silver) or groups (gold) the phase wrote.
    pub count: u64,
    /// Its wall-clock time.
    pub seconds: f64,
}

/// The peer's three phases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerFigures {
    /// Kafka -> bronze Delta table.
    pub bronze: Phase,
    /// bronze CDF -> JSON-decoded silver table.
    pub silver: Phase,
    /// silver CDF -> per-level counts merged into gold.
    pub gold: Phase,
}

/// Where and how to run the peer.
pub struct PeerRun<'a> {
    /// The workspace root, which holds `scripts/bench-peer.sh`.
    pub root: &'a Path,
    /// The Kafka bootstrap servers.
    pub brokers: &'a str,
    /// The topic it drains.
    pub topic: &'a str,
    /// How many records it reads.
    pub records: usize,
    /// Where it writes its lake.
    pub lake: &'a Path,
    /// How long it may take.
    pub timeout: Duration,
}

/// Runs the peer over `records` records of `topic` on `brokers`, writing its
/// lake under `lake`; gives up after `timeout`.
///
/// # Errors
///
/// When the script fails (no Python, pip cannot install, the peer crashes),
/// times out, or prints no figures; the message holds the tail of its output.
pub fn run(peer: &PeerRun<'_>) -> Result<PeerFigures> {
    let script = peer.root.join("scripts/bench-peer.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .args([peer.brokers, &peer.records.to_string()])
        .arg(peer.lake)
        .arg(peer.topic)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {}", script.display()))?;
    let out = read_all(child.stdout.take().context("peer stdout")?);
    let err = read_all(child.stderr.take().context("peer stderr")?);
    let status = wait(&mut child, peer.timeout)?;
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let tail = tail(&format!("{stdout}{stderr}"));
    match status {
        None => bail!("the peer did not finish within {:?}:\n{tail}", peer.timeout),
        Some(s) if !s.success() => bail!("the peer failed ({s}):\n{tail}"),
        Some(_) => parse(&stdout).with_context(|| format!("unexpected peer output:\n{tail}")),
    }
}

/// Reads `pipe` to its end on a thread of its own, so neither of the
/// child's pipes can fill up and stall it.
fn read_all(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

/// Waits for `child` to exit; `None` when it did not within `timeout`, after
/// killing it.
fn wait(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        sleep(Duration::from_millis(100));
    }
}

/// The last 15 lines of `output`, for an error message.
fn tail(output: &str) -> String {
    let tail: Vec<&str> = output
        .lines()
        .rev()
        .take(15)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    tail.join("\n")
}

/// Reads the `bronze:`, `silver:` and `gold:` lines the peer prints:
/// `bronze: 1000000 in 12.34s = 81,037 rec/s`, `gold: 4 groups in 0.56s`.
fn parse(stdout: &str) -> Result<PeerFigures> {
    let phase = |name: &str| -> Result<Phase> {
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .with_context(|| format!("no `{name}:` line"))?;
        let (count, rest) = line
            .split_once(" in ")
            .with_context(|| format!("`{name}:` line has no ` in `"))?;
        let count = count.split_whitespace().next().unwrap_or_default();
        let seconds = rest
            .split_once('s')
            .with_context(|| format!("`{name}:` line has no `<seconds>s`"))?
            .0;
        Ok(Phase {
            count: count
                .parse()
                .with_context(|| format!("`{name}:` count {count}"))?,
            seconds: seconds
                .parse()
                .with_context(|| format!("`{name}:` seconds {seconds}"))?,
        })
    };
    Ok(PeerFigures {
        bronze: phase("bronze")?,
        silver: phase("silver")?,
        gold: phase("gold")?,
    })
}
