//! The log stream of `ingot produce --sample logs` and `ingot demo`, and,
//! padded, of the benches: compact JSON over a simulated day (hour `i /
//! 3_600_000`), a chosen per-mille share of the records malformed at random.
//!
//! A malformed record is a short stand-in ([`Malformation::stand_in`]), not
//! a broken full line, and never a JSON array: that is what the stream has
//! always written, and `--seed N` must keep meaning the same records.

use rand::{SeedableRng, rngs::StdRng};

use super::{Dice, LogLine, LogRecord, Malformation, Record, Style, timestamp};

/// The kinds a malformed record of this stream is drawn from, uniformly.
const KINDS: [Malformation; 5] = [
    Malformation::NotJson,
    Malformation::MissingLevel,
    Malformation::UnknownLevel,
    Malformation::BadTimestamp,
    Malformation::NullValue,
];

/// A deterministic stream of log records for a seed: an iterator of
/// (key, value) [`Record`]s, or of [`LogLine`]s with [`LogSample::lines`].
pub struct LogSample {
    rng: StdRng,
    next: u64,
    malformed_per_mille: u32,
    /// The size well-formed values are padded to, if any.
    pad_to: Option<usize>,
}

impl LogSample {
    /// A stream for `seed`; `malformed_per_mille` of records (0-1000) are broken.
    pub fn new(seed: u64, malformed_per_mille: u32) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            next: 0,
            malformed_per_mille: malformed_per_mille.min(1000),
            pad_to: None,
        }
    }

    /// The same stream with every well-formed value `bytes` long: its `msg`
    /// is lengthened with [`super::FILLER`] (values already that long, and
    /// malformed ones, are left alone). What the benches send.
    #[must_use]
    pub fn padded(mut self, bytes: usize) -> Self {
        self.pad_to = Some(bytes);
        self
    }

    /// The stream as [`LogLine`]s, each knowing what it is.
    pub fn lines(mut self) -> impl Iterator<Item = LogLine> {
        std::iter::from_fn(move || Some(self.next_line()))
    }

    fn next_line(&mut self) -> LogLine {
        let i = self.next;
        self.next += 1;
        if self.rng.below(1000) < self.malformed_per_mille {
            let kind = KINDS[self.rng.below(KINDS.len() as u32) as usize];
            return LogLine::malformed(i, kind, kind.stand_in(i));
        }
        let ts = timestamp(i / 3_600_000 % 24, i);
        let mut record = LogRecord::draw(i, ts, &mut self.rng);
        if let Some(bytes) = self.pad_to {
            record.pad(Style::Compact, bytes);
        }
        LogLine::well_formed(i, record, Style::Compact)
    }
}

impl Iterator for LogSample {
    /// (key, value): the key spreads records over partitions.
    type Item = Record;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_line().into_record())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_roughly_the_asked_share_is_malformed() {
        let a: Vec<_> = LogSample::new(7, 50).take(2_000).collect();
        let b: Vec<_> = LogSample::new(7, 50).take(2_000).collect();
        assert_eq!(a, b);
        let parsed = a
            .iter()
            .filter(|(_, v)| {
                v.as_deref()
                    .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok())
                    .is_some_and(|j| {
                        j.get("level").is_some_and(|l| l != "LOUD") && j["ts"] != "yesterday"
                    })
            })
            .count();
        assert!(
            (1_850..1_950).contains(&parsed),
            "{parsed} of 2000 well-formed"
        );
    }

    #[test]
    fn lines_are_the_records_and_know_what_they_are() {
        let records: Vec<_> = LogSample::new(3, 100).take(1_000).collect();
        let lines: Vec<_> = LogSample::new(3, 100).lines().take(1_000).collect();
        for (line, record) in lines.iter().zip(&records) {
            assert_eq!(line.clone().into_record(), *record);
            let parsed = line
                .value
                .as_deref()
                .and_then(|v| serde_json::from_slice::<serde_json::Value>(v).ok());
            if let Some(r) = &line.record {
                let parsed = parsed.expect("well-formed lines are JSON");
                assert_eq!(parsed["level"], r.level);
                assert_eq!(parsed["latency_ms"], r.latency_ms);
            } else {
                assert!(line.malformation.is_some());
            }
        }
        assert!(lines.iter().any(|l| l.malformation.is_some()));
    }

    #[test]
    fn padded_values_have_the_asked_size_and_stay_json() {
        let plain: Vec<_> = LogSample::new(42, 0).lines().take(500).collect();
        let padded: Vec<_> = LogSample::new(42, 0)
            .padded(300)
            .lines()
            .take(500)
            .collect();
        for (plain, padded) in plain.iter().zip(&padded) {
            let value = padded.value.as_deref().expect("well-formed");
            assert_eq!(value.len(), 300);
            let v: serde_json::Value = serde_json::from_slice(value).expect("JSON");
            let msg = v["msg"].as_str().expect("a msg");
            let plain = plain.record.as_ref().expect("well-formed");
            assert!(msg.starts_with(&plain.msg) && msg.len() > plain.msg.len());
            assert_eq!(padded.record.as_ref().map(|r| r.msg.as_str()), Some(msg));
        }
        let short = LogSample::new(42, 0).padded(10).next();
        assert_eq!(short, LogSample::new(42, 0).next(), "too long already");
    }
}
