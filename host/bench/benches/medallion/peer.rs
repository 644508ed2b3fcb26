//! The Python peer medallion (`scripts/bench-peer.sh`, which runs
//! `peer_medallion.py` in a venv) on the benchmark's broker and topic, and
//! the figures it prints.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
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

/// Runs the peer over `records` records of `topic` on `brokers`, writing its
/// lake under `lake`; gives up after `timeout`.
///
/// # Errors
///
/// When the script fails (no Python, pip cannot install, the peer crashes),
/// times out, or prints no figures; the message holds the tail of its output.
pub fn run(
    root: &Path,
    brokers: &str,
    topic: &str,
    records: usize,
    lake: &Path,
    timeout: Duration,
) -> Result<PeerFigures> {
    let script = root.join("scripts/bench-peer.sh");
    let mut child = Command::new("bash")
        .arg(&script)
        .args([brokers, &records.to_string()])
        .arg(lake)
        .arg(topic)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {}", script.display()))?;
    let mut stdout = child.stdout.take().context("peer stdout")?;
    let mut stderr = child.stderr.take().context("peer stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        sleep(Duration::from_millis(100));
    };
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    let output = format!("{stdout}{stderr}");
    let tail: Vec<&str> = output
        .lines()
        .rev()
        .take(15)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    match status {
        None => bail!(
            "the peer did not finish within {timeout:?}:\n{}",
            tail.join("\n")
        ),
        Some(s) if !s.success() => bail!("the peer failed ({s}):\n{}", tail.join("\n")),
        Some(_) => {
            parse(&stdout).with_context(|| format!("unexpected peer output:\n{}", tail.join("\n")))
        }
    }
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
