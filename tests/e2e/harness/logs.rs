//! Deterministic application-log records, the third seed workload.
//!
//! Well-formed lines are byte for byte what the Python peer baseline
//! (`peer_medallion.py`) produces with `json.dumps`:
//! `{"ts": "2026-11-21T10:MM:SS.mmmZ", "level": "INFO", "service": "svc-N",
//! "host": "host-N", "latency_ms": N, "msg": "request i handled"}`, keyed by
//! `i % 64`. About one line in twenty is malformed, cycling through every
//! [`Malformation`], so a test sees each kind once it has 120 lines or so.
//! Each [`LogLine`] knows what it is, so a test computes the expected silver,
//! quarantine and gold tables from the lines, independently of ingot.

use std::collections::BTreeMap;

/// The levels a well-formed line carries, weighted like the peer's
/// (`INFO` three times as often as each other level).
const LEVELS: [&str; 6] = ["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"];

/// Every level a well-formed line may carry, in severity order.
pub const ALL_LEVELS: [&str; 4] = ["DEBUG", "INFO", "WARN", "ERROR"];

/// One line in twenty is malformed.
const MALFORMED_ONE_IN: u64 = 20;

/// The fields of a well-formed line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// RFC 3339 timestamp with milliseconds, UTC (`2026-11-21T10:00:01.234Z`).
    pub ts: String,
    /// One of [`ALL_LEVELS`].
    pub level: &'static str,
    /// `svc-0` .. `svc-19`.
    pub service: String,
    /// `host-0` .. `host-199`.
    pub host: String,
    /// 1 .. 1999.
    pub latency_ms: i64,
    /// `request <i> handled`.
    pub msg: String,
}

/// How a malformed line is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Malformation {
    /// The value is not JSON at all.
    NotJson,
    /// The value is JSON, but an array instead of an object.
    JsonArray,
    /// The object has no `level`.
    MissingLevel,
    /// `level` is `LOUD`, which no logger emits.
    UnknownLevel,
    /// `ts` is not an RFC 3339 timestamp.
    BadTimestamp,
    /// The Kafka record has a null value.
    NullValue,
}

impl Malformation {
    /// Every kind, in the order lines cycle through them.
    pub const ALL: [Malformation; 6] = [
        Malformation::NotJson,
        Malformation::JsonArray,
        Malformation::MissingLevel,
        Malformation::UnknownLevel,
        Malformation::BadTimestamp,
        Malformation::NullValue,
    ];
}

/// One generated Kafka record and what it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Its position in the generated sequence.
    pub index: usize,
    /// The record key: `i % 64` in decimal, as the peer keys.
    pub key: Option<Vec<u8>>,
    /// The record value; `None` for a null value.
    pub value: Option<Vec<u8>>,
    /// The parsed fields when the line is well-formed.
    pub record: Option<LogRecord>,
    /// How the line is broken when it is not.
    pub malformation: Option<Malformation>,
}

impl LogLine {
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

    /// The (key, value) pair [`super::produce`] takes.
    pub fn to_kafka(&self) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        (self.key.clone(), self.value.clone())
    }
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

/// `n` log lines, the same for the same `seed`.
pub fn generate(n: usize, seed: u64) -> Vec<LogLine> {
    let mut rng = SplitMix64(seed);
    let mut malformed = 0usize;
    (0..n)
        .map(|i| {
            let record = well_formed(i, &mut rng);
            if rng.next().is_multiple_of(MALFORMED_ONE_IN) {
                let kind = Malformation::ALL[malformed % Malformation::ALL.len()];
                malformed += 1;
                broken(i, &record, kind)
            } else {
                let value = Some(render(&record, true, true).into_bytes());
                LogLine {
                    index: i,
                    key: key(i),
                    value,
                    record: Some(record),
                    malformation: None,
                }
            }
        })
        .collect()
}

fn key(i: usize) -> Option<Vec<u8>> {
    Some((i % 64).to_string().into_bytes())
}

fn well_formed(i: usize, rng: &mut SplitMix64) -> LogRecord {
    LogRecord {
        ts: format!(
            "2026-11-21T10:{:02}:{:02}.{:03}Z",
            i / 60_000 % 60,
            i / 1000 % 60,
            i % 1000
        ),
        level: LEVELS[rng.below(LEVELS.len() as u64) as usize],
        service: format!("svc-{}", rng.below(20)),
        host: format!("host-{}", rng.below(200)),
        latency_ms: 1 + rng.below(1999) as i64,
        msg: format!("request {i} handled"),
    }
}

fn broken(i: usize, r: &LogRecord, kind: Malformation) -> LogLine {
    let value = match kind {
        Malformation::NotJson => Some(format!(
            "{} {} {}: request {i} handled",
            r.ts, r.level, r.service
        )),
        Malformation::JsonArray => {
            Some(format!("[\"{}\", \"{}\", {}]", r.ts, r.level, r.latency_ms))
        }
        Malformation::MissingLevel => Some(render(r, false, true)),
        Malformation::UnknownLevel => Some(render(
            &LogRecord {
                level: "LOUD",
                ..r.clone()
            },
            true,
            true,
        )),
        Malformation::BadTimestamp => Some(render(r, true, false)),
        Malformation::NullValue => None,
    };
    LogLine {
        index: i,
        key: key(i),
        value: value.map(String::into_bytes),
        record: None,
        malformation: Some(kind),
    }
}

/// The line as Python's `json.dumps` writes it (", " and ": " separators);
/// without the level, or with an unparseable timestamp, on request.
fn render(r: &LogRecord, with_level: bool, good_ts: bool) -> String {
    let ts = if good_ts {
        r.ts.clone()
    } else {
        format!("21/11/2026 {}", &r.ts[11..23])
    };
    let level = if with_level {
        format!("\"level\": \"{}\", ", r.level)
    } else {
        String::new()
    };
    format!(
        "{{\"ts\": \"{ts}\", {level}\"service\": \"{}\", \"host\": \"{}\", \"latency_ms\": {}, \"msg\": \"{}\"}}",
        r.service, r.host, r.latency_ms, r.msg
    )
}

/// A small, fixed pseudo-random sequence (SplitMix64), so a seed means the
/// same lines on every machine and every version of every crate.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn same_seed_same_lines_other_seed_other_lines() {
        assert_eq!(generate(500, 7), generate(500, 7));
        assert_ne!(generate(500, 7), generate(500, 8));
    }

    #[test]
    fn well_formed_lines_are_the_peer_format() {
        let lines = generate(2000, 1);
        for line in lines.iter().filter(|l| l.is_well_formed()) {
            let v: serde_json::Value = serde_json::from_slice(
                line.value
                    .as_deref()
                    .expect("well-formed lines have a value"),
            )
            .expect("well-formed lines are JSON");
            let r = line.record.as_ref().expect("well-formed");
            assert_eq!(v["ts"], r.ts.as_str());
            assert_eq!(v["level"], r.level);
            assert_eq!(v["latency_ms"], r.latency_ms);
            assert_eq!(v["msg"], format!("request {} handled", line.index).as_str());
            assert!(ALL_LEVELS.contains(&r.level));
            assert!((1..2000).contains(&r.latency_ms));
            assert_eq!(v.as_object().map(|o| o.len()), Some(6));
        }
        let first = lines
            .iter()
            .find(|l| l.is_well_formed())
            .expect("some line is well-formed");
        let text = String::from_utf8(first.value.clone().expect("value")).expect("utf8");
        assert!(
            text.starts_with(&format!(
                "{{\"ts\": \"2026-11-21T10:00:0{}.",
                first.index / 1000
            )),
            "{text}"
        );
        assert!(text.contains("\", \"level\": \""), "{text}");
    }

    #[test]
    fn about_five_percent_malformed_of_every_kind() {
        let lines = generate(10_000, 3);
        let bad: Vec<_> = lines.iter().filter_map(|l| l.malformation).collect();
        assert!(
            (350..=650).contains(&bad.len()),
            "{} malformed of 10000",
            bad.len()
        );
        let kinds: BTreeSet<_> = bad.iter().copied().collect();
        assert_eq!(kinds.len(), Malformation::ALL.len());
        for line in lines.iter().filter(|l| !l.is_well_formed()) {
            let parsed = line
                .value
                .as_deref()
                .map(serde_json::from_slice::<serde_json::Value>);
            match line.malformation.expect("malformed") {
                Malformation::NotJson => assert!(matches!(parsed, Some(Err(_)))),
                Malformation::JsonArray => {
                    assert!(parsed.expect("value").expect("json").is_array())
                }
                Malformation::MissingLevel => {
                    assert!(parsed.expect("value").expect("json").get("level").is_none())
                }
                Malformation::UnknownLevel => {
                    assert_eq!(parsed.expect("value").expect("json")["level"], "LOUD")
                }
                Malformation::BadTimestamp => {
                    let ts = parsed.expect("value").expect("json")["ts"]
                        .as_str()
                        .map(str::to_owned);
                    assert!(ts.is_some_and(|t| t.starts_with("21/11/2026 10:")));
                }
                Malformation::NullValue => assert!(line.value.is_none()),
            }
        }
    }

    #[test]
    fn level_totals_count_only_well_formed_lines() {
        let lines = generate(3000, 5);
        let totals = level_totals(&lines);
        let n: i64 = totals.values().map(|t| t.n).sum();
        assert_eq!(
            n,
            lines.iter().filter(|l| l.is_well_formed()).count() as i64
        );
        let sum: i64 = totals.values().map(|t| t.latency_sum).sum();
        assert_eq!(
            sum,
            lines.iter().filter_map(LogLine::latency_ms).sum::<i64>()
        );
        assert_eq!(
            totals.keys().copied().collect::<Vec<_>>(),
            ["DEBUG", "ERROR", "INFO", "WARN"]
        );
        assert!(
            totals["INFO"].n > 2 * totals["WARN"].n,
            "INFO is three times as likely"
        );
        let info = lines.iter().filter(|l| l.level() == Some("INFO")).count();
        assert_eq!(totals["INFO"].n, info as i64);
    }
}
