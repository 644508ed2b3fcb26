//! Timestamps and dates from text, without a date-time crate in the
//! component: RFC 3339 (`2026-11-21T10:00:01.123Z`) to microseconds since
//! the Unix epoch, and ISO 8601 calendar dates (`2026-11-21`) to days since
//! the epoch, the units of Arrow's `Timestamp(Microsecond, "UTC")` and
//! `Date32`.
//!
//! [`parse_rfc3339`] accepts `T`, `t` or a space between date and time, any
//! number of fractional digits (truncated to microseconds), `Z`, `z` or a
//! `±HH:MM` offset, and a leap second `:60` (read as the next second). Years
//! are four digits, so every result fits its Arrow type.
//!
//! ```
//! use ingot_guest::time::{parse_date, parse_rfc3339};
//!
//! assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5+00:00"), Ok(1_500_000));
//! assert_eq!(parse_date("1970-01-02"), Ok(1));
//! let error = parse_rfc3339("2026-13-01T00:00:00Z").unwrap_err();
//! assert_eq!(error.to_string(), "month 13 is out of range");
//! ```

/// Why a text is not a timestamp or date: what is wrong and where, for
/// example ``expected `T` at byte 10``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(String);

/// Microseconds since the Unix epoch of the RFC 3339 timestamp `text`.
///
/// # Errors
///
/// [`TimeError`] saying what is wrong and where, for example
/// ``month 13 is out of range`` or ``expected `Z` or an offset at byte 19``.
pub fn parse_rfc3339(text: &str) -> Result<i64, TimeError> {
    let mut at = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let (year, month, day) = at.date()?;
    at.literal(b"Tt ")?;
    let hour = at.digits(2, "hour")?;
    at.literal(b":")?;
    let minute = at.digits(2, "minute")?;
    at.literal(b":")?;
    let second = at.digits(2, "second")?;
    let micros = at.fraction()?;
    let offset = at.offset()?;
    at.end(text)?;
    check("month", month, 1, 12)?;
    check("day", day, 1, days_in_month(year, month))?;
    check("hour", hour, 0, 23)?;
    check("minute", minute, 0, 59)?;
    check("second", second, 0, 60)?;
    let seconds = days_from_civil(year, month, day) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second)
        - offset;
    Ok(seconds * 1_000_000 + micros)
}

/// Days since 1970-01-01 of the ISO 8601 calendar date `text`
/// (`YYYY-MM-DD`).
///
/// # Errors
///
/// [`TimeError`] saying what is wrong and where, for example
/// ``day 31 is out of range`` or ``unexpected `T00:00` after the date``.
pub fn parse_date(text: &str) -> Result<i32, TimeError> {
    let mut at = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let (year, month, day) = at.date()?;
    if at.pos != text.len() {
        return Err(TimeError(format!(
            "unexpected `{}` after the date",
            &text[at.pos..]
        )));
    }
    check("month", month, 1, 12)?;
    check("day", day, 1, days_in_month(year, month))?;
    let days = days_from_civil(year, month, day);
    Ok(i32::try_from(days).expect("invariant: four-digit years are within ±2^31 days"))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    /// `YYYY-MM-DD`, unchecked.
    fn date(&mut self) -> Result<(u32, u32, u32), TimeError> {
        let year = self.digits(4, "year")?;
        self.literal(b"-")?;
        let month = self.digits(2, "month")?;
        self.literal(b"-")?;
        let day = self.digits(2, "day")?;
        Ok((year, month, day))
    }

    fn digits(&mut self, count: usize, what: &str) -> Result<u32, TimeError> {
        let end = self.pos + count;
        let digits = self
            .bytes
            .get(self.pos..end)
            .filter(|d| d.iter().all(u8::is_ascii_digit));
        let digits = digits.ok_or_else(|| {
            TimeError(format!(
                "expected a {count}-digit {what} at byte {}",
                self.pos
            ))
        })?;
        self.pos = end;
        Ok(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    }

    fn literal(&mut self, one_of: &[u8]) -> Result<u8, TimeError> {
        match self.bytes.get(self.pos) {
            Some(c) if one_of.contains(c) => {
                self.pos += 1;
                Ok(*c)
            }
            _ => Err(TimeError(format!(
                "expected `{}` at byte {}",
                one_of[0] as char, self.pos
            ))),
        }
    }

    /// `.123456789` -> 123456 (microseconds); absent -> 0.
    fn fraction(&mut self) -> Result<i64, TimeError> {
        if self.literal(b".").is_err() {
            return Ok(0);
        }
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(TimeError(format!(
                "expected fractional digits at byte {start}"
            )));
        }
        let digits = self.bytes[start..self.pos]
            .iter()
            .chain(std::iter::repeat(&b'0'));
        Ok(digits.take(6).fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    /// `Z` -> 0, `+02:00` -> 7200 (seconds east of UTC).
    fn offset(&mut self) -> Result<i64, TimeError> {
        let sign = match self.literal(b"Zz+-") {
            Ok(b'+') => 1,
            Ok(b'-') => -1,
            Ok(_) => return Ok(0),
            Err(_) => {
                return Err(TimeError(format!(
                    "expected `Z` or an offset at byte {}",
                    self.pos
                )));
            }
        };
        let hours = self.digits(2, "offset hour")?;
        self.literal(b":")?;
        let minutes = self.digits(2, "offset minute")?;
        check("offset hour", hours, 0, 23)?;
        check("offset minute", minutes, 0, 59)?;
        Ok(sign * i64::from(hours * 3600 + minutes * 60))
    }

    fn end(&self, text: &str) -> Result<(), TimeError> {
        if self.pos == text.len() {
            Ok(())
        } else {
            Err(TimeError(format!(
                "unexpected `{}` after the timestamp",
                &text[self.pos..]
            )))
        }
    }
}

fn check(what: &str, value: u32, min: u32, max: u32) -> Result<(), TimeError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(TimeError(format!("{what} {value} is out of range")))
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * i64::from((month + 9) % 12) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_timestamps() {
        let cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-11-21T10:00:01.123Z", 1_795_255_201_123_000),
            ("2026-11-21t10:00:01.123456789z", 1_795_255_201_123_456),
            ("2026-11-21 12:00:01.1+02:00", 1_795_255_201_100_000),
            ("2026-11-21T05:30:01-04:30", 1_795_255_201_000_000),
            ("1969-12-31T23:59:59.999999Z", -1),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
            ("2000-03-01T00:00:00Z", 951_868_800_000_000),
            ("2016-12-31T23:59:60Z", 1_483_228_800_000_000),
        ];
        for (text, micros) in cases {
            assert_eq!(parse_rfc3339(text), Ok(micros), "{text}");
        }
    }

    #[test]
    fn refuses_invalid_timestamps_with_a_reason() {
        let cases = [
            ("", "expected a 4-digit year at byte 0"),
            ("2026-11-21", "expected `T` at byte 10"),
            (
                "2026-11-21T10:00:01",
                "expected `Z` or an offset at byte 19",
            ),
            (
                "2026-11-21T10:00:01.Z",
                "expected fractional digits at byte 20",
            ),
            ("2026-13-01T00:00:00Z", "month 13 is out of range"),
            ("2026-02-29T00:00:00Z", "day 29 is out of range"),
            ("2026-11-21T24:00:00Z", "hour 24 is out of range"),
            (
                "2026-11-21T10:00:00+24:00",
                "offset hour 24 is out of range",
            ),
            (
                "2026-11-21T10:00:00Z tomorrow",
                "unexpected ` tomorrow` after the timestamp",
            ),
            ("2026/11/21T10:00:00Z", "expected `-` at byte 4"),
            ("yesterday", "expected a 4-digit year at byte 0"),
        ];
        for (text, reason) in cases {
            assert_eq!(
                parse_rfc3339(text).map_err(|e| e.to_string()),
                Err(reason.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn parses_valid_dates() {
        let cases = [
            ("1970-01-01", 0),
            ("1970-01-02", 1),
            ("1969-12-31", -1),
            ("2024-02-29", 19_782),
            ("2026-11-21", 20_778),
            ("0000-01-01", -719_528),
            ("9999-12-31", 2_932_896),
        ];
        for (text, days) in cases {
            assert_eq!(parse_date(text), Ok(days), "{text}");
        }
    }

    #[test]
    fn refuses_invalid_dates_with_a_reason() {
        let cases = [
            ("", "expected a 4-digit year at byte 0"),
            ("2026-11", "expected `-` at byte 7"),
            ("2026-11-31", "day 31 is out of range"),
            ("2025-02-29", "day 29 is out of range"),
            ("2026-00-01", "month 0 is out of range"),
            ("2026-11-21T00:00", "unexpected `T00:00` after the date"),
            ("21/11/2026", "expected a 4-digit year at byte 0"),
        ];
        for (text, reason) in cases {
            assert_eq!(
                parse_date(text).map_err(|e| e.to_string()),
                Err(reason.to_owned()),
                "{text}"
            );
        }
    }

    #[test]
    fn a_date_is_the_day_of_its_midnight() {
        for text in ["1969-12-31", "2000-02-29", "2026-11-21"] {
            let days = i64::from(parse_date(text).expect("valid date"));
            let midnight = parse_rfc3339(&format!("{text}T00:00:00Z")).expect("valid timestamp");
            assert_eq!(days * 86_400_000_000, midnight, "{text}");
        }
    }
}
