//! The end-to-end tests' log stream: deterministic on every machine, every
//! kind of malformation present in any stretch of a few hundred lines, each
//! line knowing what it is.
//!
//! Well-formed lines are byte for byte what the Python peer baseline
//! (`peer_medallion.py`) produces with `json.dumps`:
//! `{"ts": "2026-11-21T10:MM:SS.mmmZ", "level": "INFO", "service": "svc-N",
//! "host": "host-N", "latency_ms": N, "msg": "request i handled"}`. About
//! one line in twenty is malformed, cycling through [`Malformation::ALL`],
//! so a test sees each kind once it has 120 lines or so.

use super::{Dice, LogLine, LogRecord, Malformation, Style, timestamp};

/// One line in twenty is malformed.
const MALFORMED_ONE_IN: u32 = 20;

/// Every line's timestamp is in this hour.
const HOUR: u64 = 10;

/// The cycling stream of [`LogLine`]s for a seed (see the module docs).
pub struct CyclingLogs {
    rng: SplitMix64,
    next: u64,
    /// How many lines were malformed so far: the next kind to use.
    malformed: usize,
}

impl CyclingLogs {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: SplitMix64(seed),
            next: 0,
            malformed: 0,
        }
    }
}

impl Iterator for CyclingLogs {
    type Item = LogLine;

    fn next(&mut self) -> Option<LogLine> {
        let i = self.next;
        self.next += 1;
        let record = LogRecord::draw(i, timestamp(HOUR, i), &mut self.rng);
        if self.rng.below(MALFORMED_ONE_IN) == 0 {
            let kind = Malformation::ALL[self.malformed % Malformation::ALL.len()];
            self.malformed += 1;
            let value = kind.break_line(&record, Style::Python);
            Some(LogLine::malformed(i, kind, value))
        } else {
            Some(LogLine::well_formed(i, record, Style::Python))
        }
    }
}

/// The first `n` lines of [`CyclingLogs`] for `seed`.
pub fn generate(n: usize, seed: u64) -> Vec<LogLine> {
    CyclingLogs::new(seed).take(n).collect()
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
}

impl Dice for SplitMix64 {
    fn below(&mut self, bound: u32) -> u32 {
        // The remainder is below `bound`, so it fits.
        (self.next() % u64::from(bound)) as u32
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::{ALL_LEVELS, level_totals};
    use super::*;

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
