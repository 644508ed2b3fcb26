//! Application log lines, in the shape most JSON loggers (and the peer
//! medallion baseline) emit: `{"ts", "level", "service", "host",
//! "latency_ms", "msg"}`, keyed by `i % 64`, with some lines malformed, as
//! real topics have. The one home of every log stream ingot's tools and
//! tests use:
//!
//! - [`CyclingLogs`] (and [`generate`]): what the end-to-end tests send.
//!   Python `json.dumps` spacing, one line in twenty malformed, cycling
//!   through every [`Malformation`], from a fixed pseudo-random sequence
//!   (SplitMix64), so a seed means the same lines on every machine and with
//!   every version of every crate. Each [`LogLine`] knows what it is, so a
//!   test computes the expected silver, quarantine and gold tables from the
//!   lines ([`level_totals`]), independently of ingot.
//! - [`LogSample`]: what `ingot produce --sample logs` and `ingot demo`
//!   send. Compact JSON, a chosen per-mille share malformed at random
//!   (short stand-ins rather than broken lines), from a seeded `StdRng`.
//! - [`LogSample::padded`]: the benches' stream, well-formed lines whose
//!   `msg` is lengthened with [`FILLER`] to a fixed size.
//!
//! What they share is written once, in `shape`: the levels and their
//! weights, how a line's fields are drawn, its JSON in either [`Style`], the
//! padding and the malformations. Each stream keeps its own random sequence
//! and its own draws, so its output never changes: the docs, the benchmarks
//! and the tests rely on `--seed N` meaning the same records.

use std::collections::BTreeMap;

use rand::{Rng, rngs::StdRng};

use super::Record;

mod cycling;
mod random;
mod shape;

pub use cycling::{CyclingLogs, generate};
pub use random::LogSample;
pub use shape::{FILLER, LogRecord, Malformation, Style, UNKNOWN_LEVEL, timestamp};

/// The levels a well-formed line carries, weighted like the peer's: a line
/// draws one of these six, so `INFO` is three times as likely as each other
/// level.
pub const LEVELS: [&str; 6] = ["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"];

/// Every level a well-formed line may carry, in severity order.
pub const ALL_LEVELS: [&str; 4] = ["DEBUG", "INFO", "WARN", "ERROR"];

/// How many keys lines are spread over (`0` .. `63`, in decimal).
const KEYS: u64 = 64;

/// A source of small random numbers: the streams draw a line's fields the
/// same way ([`LogRecord`]), each from its own generator.
trait Dice {
    /// A number in `0..bound`.
    fn below(&mut self, bound: u32) -> u32;
}

impl Dice for StdRng {
    fn below(&mut self, bound: u32) -> u32 {
        self.random_range(0..bound)
    }
}

/// One generated Kafka record and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Its position in the generated sequence.
    pub index: u64,
    /// The record key: `index % 64` in decimal, as the peer keys.
    pub key: Vec<u8>,
    /// The record value; `None` for a null value.
    pub value: Option<Vec<u8>>,
    /// The parsed fields when the line is well-formed.
    pub record: Option<LogRecord>,
    /// How the line is broken when it is not.
    pub malformation: Option<Malformation>,
}

impl LogLine {
    /// Line `index`: `record`, as `style` writes it.
    fn well_formed(index: u64, record: LogRecord, style: Style) -> Self {
        Self {
            index,
            key: key(index),
            value: Some(record.render(style).into_bytes()),
            record: Some(record),
            malformation: None,
        }
    }

    /// Line `index`, broken as `kind`, its value `value`.
    fn malformed(index: u64, kind: Malformation, value: Option<String>) -> Self {
        Self {
            index,
            key: key(index),
            value: value.map(String::into_bytes),
            record: None,
            malformation: Some(kind),
        }
    }

    /// Whether a correct parser accepts the line.
    pub fn is_well_formed(&self) -> bool {
        self.record.is_some()
    }

    /// The level of a well-formed line.
    pub fn level(&self) -> Option<&'static str> {
        self.record.as_ref().map(|r| r.level)
    }

    /// The latency of a well-formed line.
    pub fn latency_ms(&self) -> Option<i64> {
        self.record.as_ref().map(|r| r.latency_ms)
    }

    /// The (key, value) pair a producer with optional keys takes (the e2e
    /// harness's `produce`).
    pub fn to_kafka(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (Some(self.key.clone()), self.value.clone())
    }

    /// The line as the (key, value) [`Record`] the generators yield.
    pub fn into_record(self) -> Record {
        (self.key, self.value)
    }
}

fn key(index: u64) -> Vec<u8> {
    (index % KEYS).to_string().into_bytes()
}

/// Per-level totals of well-formed lines: what the gold table should hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelTotal {
    /// How many lines had the level.
    pub n: i64,
    /// The sum of their `latency_ms`.
    pub latency_sum: i64,
}

/// The per-level totals of the well-formed `lines`.
pub fn level_totals<'a>(
    lines: impl IntoIterator<Item = &'a LogLine>,
) -> BTreeMap<&'static str, LevelTotal> {
    let mut totals = BTreeMap::new();
    for r in lines.into_iter().filter_map(|l| l.record.as_ref()) {
        let t: &mut LevelTotal = totals.entry(r.level).or_default();
        t.n += 1;
        t.latency_sum += r.latency_ms;
    }
    totals
}
