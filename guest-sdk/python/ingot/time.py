"""RFC 3339 timestamps and ISO dates, parsed exactly as the Rust SDK's
``ingot_guest::time`` does, so transforms in both languages accept and
reject the same text and produce the same microseconds."""

import re


class TimeError(ValueError):
    """Text that is not a timestamp (or date), saying what is wrong and where."""


_DIGITS = frozenset("0123456789")


class _Cursor:
    __slots__ = ("text", "pos")

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def date(self):
        year = self.digits(4, "year")
        self.literal("-")
        month = self.digits(2, "month")
        self.literal("-")
        day = self.digits(2, "day")
        return year, month, day

    def digits(self, count, what):
        end = self.pos + count
        chunk = self.text[self.pos:end]
        if len(chunk) != count or not all(c in _DIGITS for c in chunk):
            raise TimeError(f"expected a {count}-digit {what} at byte {self.pos}")
        self.pos = end
        return int(chunk)

    def literal(self, one_of):
        if self.pos < len(self.text) and self.text[self.pos] in one_of:
            self.pos += 1
            return self.text[self.pos - 1]
        raise TimeError(f"expected `{one_of[0]}` at byte {self.pos}")

    def fraction(self):
        """``.123456789`` -> 123456 (microseconds); absent -> 0."""
        if not (self.pos < len(self.text) and self.text[self.pos] == "."):
            return 0
        self.pos += 1
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _DIGITS:
            self.pos += 1
        if self.pos == start:
            raise TimeError(f"expected fractional digits at byte {start}")
        return int(self.text[start:self.pos][:6].ljust(6, "0"))

    def offset(self):
        """``Z`` -> 0, ``+02:00`` -> 7200 (seconds east of UTC)."""
        if self.pos >= len(self.text) or self.text[self.pos] not in "Zz+-":
            raise TimeError(f"expected `Z` or an offset at byte {self.pos}")
        sign = self.text[self.pos]
        self.pos += 1
        if sign in "Zz":
            return 0
        hours = self.digits(2, "offset hour")
        self.literal(":")
        minutes = self.digits(2, "offset minute")
        _check("offset hour", hours, 0, 23)
        _check("offset minute", minutes, 0, 59)
        return (1 if sign == "+" else -1) * (hours * 3600 + minutes * 60)

    def end(self, what):
        if self.pos != len(self.text):
            raise TimeError(f"unexpected `{self.text[self.pos:]}` after the {what}")


def _check(what, value, low, high):
    if not low <= value <= high:
        raise TimeError(f"{what} {value} is out of range")


def _days_in_month(year, month):
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
    algorithm, as in the Rust SDK; valid for year 0 too)."""
    year -= month <= 2
    era = year // 400  # floor division: Rust's div_euclid for a positive divisor
    yoe = year - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


# The well-formed shape, matched in one call: the cursor below is the
# reference, and the only path that explains a refusal.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def parse_rfc3339(text):
    """Microseconds since the Unix epoch (UTC) of an RFC 3339 timestamp such as
    ``2026-11-21T10:00:01.123Z`` or ``2026-11-21 12:00:01+02:00``. Digits past
    the sixth of the fraction are dropped; a leap second (``:60``) is read as
    the next second. Raises :class:`TimeError` saying what is wrong and where."""
    m = _RFC3339.fullmatch(text)
    if m is not None:
        year, month, day, hour, minute, second, fraction, sign, off_h, off_m = m.groups()
        year, month, day = int(year), int(month), int(day)
        hour, minute, second = int(hour), int(minute), int(second)
        if (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month) and hour <= 23
                and minute <= 59 and second <= 60
                and (sign is None or (int(off_h) <= 23 and int(off_m) <= 59))):
            micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
            offset = 0 if sign is None else (1 if sign == "+" else -1) * (int(off_h) * 3600 + int(off_m) * 60)
            seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset
            return seconds * 1_000_000 + micros
    return _parse_rfc3339_slowly(text)


def _parse_rfc3339_slowly(text):
    """The reference parser: the result, or the reason it refuses ``text``."""
    at = _Cursor(text)
    year, month, day = at.date()
    at.literal("Tt ")
    hour = at.digits(2, "hour")
    at.literal(":")
    minute = at.digits(2, "minute")
    at.literal(":")
    second = at.digits(2, "second")
    micros = at.fraction()
    offset = at.offset()
    at.end("timestamp")
    _check("month", month, 1, 12)
    _check("day", day, 1, _days_in_month(year, month))
    _check("hour", hour, 0, 23)
    _check("minute", minute, 0, 59)
    _check("second", second, 0, 60)
    seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset
    return seconds * 1_000_000 + micros


def parse_date(text):
    """Days since 1970-01-01 of an ISO 8601 calendar date (``YYYY-MM-DD``)."""
    at = _Cursor(text)
    year, month, day = at.date()
    at.end("date")
    _check("month", month, 1, 12)
    _check("day", day, 1, _days_in_month(year, month))
    return days_from_civil(year, month, day)
