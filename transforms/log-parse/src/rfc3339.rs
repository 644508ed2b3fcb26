//! A small RFC 3339 parser: `2026-11-21T10:00:01.123Z` to microseconds
//! since the Unix epoch, without a date-time crate in the component.
//!
//! Accepts `T`, `t` or a space between date and time, any number of
//! fractional digits (truncated to microseconds), `Z`, `z` or a `±HH:MM`
//! offset, and a leap second `:60`.

/// Microseconds since the Unix epoch of the RFC 3339 timestamp `text`.
///
/// # Errors
///
/// What is wrong and where, for example ``month 13 is out of range``.
pub fn parse(text: &str) -> Result<i64, String> {
    let mut at = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = at.digits(4, "year")?;
    at.literal(b"-")?;
    let month = at.digits(2, "month")?;
    at.literal(b"-")?;
    let day = at.digits(2, "day")?;
    at.literal(b"Tt ")?;
    let hour = at.digits(2, "hour")?;
    at.literal(b":")?;
    let minute = at.digits(2, "minute")?;
    at.literal(b":")?;
    let second = at.digits(2, "second")?;
    let micros = at.fraction()?;
    let offset = at.offset()?;
    if at.pos != text.len() {
        return Err(format!(
            "unexpected `{}` after the timestamp",
            &text[at.pos..]
        ));
    }
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

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, count: usize, what: &str) -> Result<u32, String> {
        let end = self.pos + count;
        let digits = self
            .bytes
            .get(self.pos..end)
            .filter(|d| d.iter().all(u8::is_ascii_digit));
        let digits = digits
            .ok_or_else(|| format!("expected a {count}-digit {what} at byte {}", self.pos))?;
        self.pos = end;
        Ok(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    }

    fn literal(&mut self, one_of: &[u8]) -> Result<u8, String> {
        match self.bytes.get(self.pos) {
            Some(c) if one_of.contains(c) => {
                self.pos += 1;
                Ok(*c)
            }
            _ => Err(format!(
                "expected `{}` at byte {}",
                one_of[0] as char, self.pos
            )),
        }
    }

    /// `.123456789` -> 123456 (microseconds); absent -> 0.
    fn fraction(&mut self) -> Result<i64, String> {
        if self.literal(b".").is_err() {
            return Ok(0);
        }
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(format!("expected fractional digits at byte {start}"));
        }
        let digits = self.bytes[start..self.pos]
            .iter()
            .chain(std::iter::repeat(&b'0'));
        Ok(digits.take(6).fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    }

    /// `Z` -> 0, `+02:00` -> 7200 (seconds east of UTC).
    fn offset(&mut self) -> Result<i64, String> {
        let sign = match self.literal(b"Zz+-") {
            Ok(b'+') => 1,
            Ok(b'-') => -1,
            Ok(_) => return Ok(0),
            Err(_) => return Err(format!("expected `Z` or an offset at byte {}", self.pos)),
        };
        let hours = self.digits(2, "offset hour")?;
        self.literal(b":")?;
        let minutes = self.digits(2, "offset minute")?;
        check("offset hour", hours, 0, 23)?;
        check("offset minute", minutes, 0, 59)?;
        Ok(sign * i64::from(hours * 3600 + minutes * 60))
    }
}

fn check(what: &str, value: u32, min: u32, max: u32) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!("{what} {value} is out of range"))
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
            assert_eq!(parse(text), Ok(micros), "{text}");
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
            assert_eq!(parse(text), Err(reason.to_owned()), "{text}");
        }
    }
}
