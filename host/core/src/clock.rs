//! Wall-clock time, as the tables store it.

/// Microseconds since the Unix epoch (UTC) now; 0 for a clock set before 1970.
pub fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
