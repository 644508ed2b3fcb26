//! Application log lines, in the shape the peer medallion (and most JSON
//! loggers) emit: `{"ts", "level", "service", "host", "latency_ms", "msg"}`,
//! with a small share of malformed records, as real topics have.

use rand::{Rng, SeedableRng, rngs::StdRng};

const LEVELS: [&str; 6] = ["DEBUG", "INFO", "INFO", "INFO", "WARN", "ERROR"];

/// A deterministic stream of log records.
pub struct LogSample {
    rng: StdRng,
    next: u64,
    malformed_per_mille: u32,
}

impl LogSample {
    /// A stream for `seed`; `malformed_per_mille` of records (0-1000) are broken.
    pub fn new(seed: u64, malformed_per_mille: u32) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            next: 0,
            malformed_per_mille: malformed_per_mille.min(1000),
        }
    }

    fn well_formed(&mut self, i: u64) -> String {
        let level = LEVELS[self.rng.random_range(0..LEVELS.len())];
        format!(
            r#"{{"ts":"2026-11-21T{:02}:{:02}:{:02}.{:03}Z","level":"{level}","service":"svc-{}","host":"host-{}","latency_ms":{},"msg":"request {i} handled"}}"#,
            i / 3_600_000 % 24,
            i / 60_000 % 60,
            i / 1_000 % 60,
            i % 1_000,
            self.rng.random_range(0..20),
            self.rng.random_range(0..200),
            self.rng.random_range(1..2000),
        )
    }

    fn malformed(&mut self, i: u64) -> Option<Vec<u8>> {
        match self.rng.random_range(0..5) {
            0 => Some(format!("request {i} handled (plain text, not JSON)").into_bytes()),
            1 => Some(
                format!(r#"{{"ts":"2026-11-21T10:00:00Z","msg":"no level {i}"}}"#).into_bytes(),
            ),
            2 => Some(
                format!(r#"{{"ts":"2026-11-21T10:00:00Z","level":"LOUD","msg":"{i}"}}"#)
                    .into_bytes(),
            ),
            3 => Some(format!(r#"{{"ts":"yesterday","level":"INFO","msg":"{i}"}}"#).into_bytes()),
            _ => None,
        }
    }
}

impl Iterator for LogSample {
    /// (key, value): the key spreads records over partitions.
    type Item = (Vec<u8>, Option<Vec<u8>>);

    fn next(&mut self) -> Option<Self::Item> {
        let i = self.next;
        self.next += 1;
        let key = format!("{}", i % 64).into_bytes();
        let value = if self.rng.random_range(0..1000) < self.malformed_per_mille {
            self.malformed(i)
        } else {
            Some(self.well_formed(i).into_bytes())
        };
        Some((key, value))
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
}
