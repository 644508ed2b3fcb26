// Timestamps and dates from text, exactly as the Rust SDK's
// `ingot_guest::time` reads them (a line-for-line port of
// guest-sdk/rust/src/time.rs):
// RFC 3339 (`2026-11-21T10:00:01.123Z`) to microseconds since the Unix epoch
// (a BigInt, the unit of Arrow's `Timestamp(MICROSECOND, "UTC")`), and ISO 8601
// calendar dates (`2026-11-21`) to days since the epoch (`Date32`).
//
// `parseRfc3339` accepts `T`, `t` or a space between date and time, any number
// of fractional digits (truncated to microseconds), `Z`, `z` or a `±HH:MM`
// offset, and a leap second `:60` (read as the next second). Years are four
// digits. `Date.parse` is not used: it accepts other shapes, rounds to
// milliseconds and differs between engines.

/** Why a text is not a timestamp or date, e.g. ``expected `T` at byte 10``. */
export class TimeError extends RangeError {
  constructor(message) {
    super(message);
    this.name = 'TimeError';
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Microseconds since the Unix epoch (a BigInt) of the RFC 3339 timestamp
 * `text`; throws `TimeError` saying what is wrong and where (byte offsets,
 * as in Rust).
 */
export function parseRfc3339(text) {
  // The common case by one native regular expression; anything it does not
  // match, or a value out of range, goes through the cursor below, which
  // decides and words the error exactly as time.rs does.
  const m = typeof text === 'string' ? RFC3339.exec(text) : null;
  if (m !== null) {
    const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
    const offsetHour = m[9] === undefined ? 0 : Number(m[9]);
    const offsetMinute = m[10] === undefined ? 0 : Number(m[10]);
    if (
      offsetHour <= 23 &&
      offsetMinute <= 59 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= daysInMonth(year, month) &&
      hour <= 23 &&
      minute <= 59 &&
      second <= 60
    ) {
      const micros = m[7] === undefined ? 0 : Number(`${m[7]}00000`.slice(0, 6));
      const offset = (m[8] === '-' ? -1 : 1) * (offsetHour * 3600 + offsetMinute * 60);
      const seconds = daysFromCivil(year, month, day) * 86400 + (hour * 3600 + minute * 60 + second) - offset;
      return BigInt(seconds) * 1000000n + BigInt(micros);
    }
  }
  return parseRfc3339Exactly(text);
}

// `\d` is ASCII 0-9 only (no `u` flag), `$` is the end of the text.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

function parseRfc3339Exactly(text) {
  const at = new Cursor(text);
  const [year, month, day] = at.date();
  at.literal('Tt ');
  const hour = at.digits(2, 'hour');
  at.literal(':');
  const minute = at.digits(2, 'minute');
  at.literal(':');
  const second = at.digits(2, 'second');
  const micros = at.fraction();
  const offset = at.offset();
  at.end('timestamp');
  check('month', month, 1, 12);
  check('day', day, 1, daysInMonth(year, month));
  check('hour', hour, 0, 23);
  check('minute', minute, 0, 59);
  check('second', second, 0, 60);
  const seconds = daysFromCivil(year, month, day) * 86400 + (hour * 3600 + minute * 60 + second) - offset;
  return BigInt(seconds) * 1000000n + BigInt(micros);
}

/** Days since 1970-01-01 (a number) of the ISO 8601 date `text` (`YYYY-MM-DD`). */
export function parseDate(text) {
  const at = new Cursor(text);
  const [year, month, day] = at.date();
  at.end('date');
  check('month', month, 1, 12);
  check('day', day, 1, daysInMonth(year, month));
  return daysFromCivil(year, month, day);
}

class Cursor {
  constructor(text) {
    if (typeof text !== 'string') throw new TypeError(`expected a string, got ${typeof text}`);
    this.bytes = encoder.encode(text);
    this.pos = 0;
  }

  date() {
    const year = this.digits(4, 'year');
    this.literal('-');
    const month = this.digits(2, 'month');
    this.literal('-');
    const day = this.digits(2, 'day');
    return [year, month, day];
  }

  isDigit(i) {
    return i < this.bytes.length && this.bytes[i] >= 0x30 && this.bytes[i] <= 0x39;
  }

  digits(count, what) {
    let n = 0;
    for (let i = this.pos; i < this.pos + count; i++) {
      if (!this.isDigit(i)) throw new TimeError(`expected a ${count}-digit ${what} at byte ${this.pos}`);
      n = n * 10 + (this.bytes[i] - 0x30);
    }
    this.pos += count;
    return n;
  }

  // One of the ASCII characters of `oneOf`; returns it, or throws naming the first.
  literal(oneOf) {
    const c = this.pos < this.bytes.length ? String.fromCharCode(this.bytes[this.pos]) : '';
    if (c !== '' && this.bytes[this.pos] < 0x80 && oneOf.includes(c)) {
      this.pos += 1;
      return c;
    }
    throw new TimeError(`expected \`${oneOf[0]}\` at byte ${this.pos}`);
  }

  tryLiteral(oneOf) {
    try {
      return this.literal(oneOf);
    } catch (e) {
      if (e instanceof TimeError) return null;
      throw e;
    }
  }

  // `.123456789` -> 123456 (microseconds); absent -> 0.
  fraction() {
    if (this.tryLiteral('.') === null) return 0;
    const start = this.pos;
    while (this.isDigit(this.pos)) this.pos += 1;
    if (this.pos === start) throw new TimeError(`expected fractional digits at byte ${start}`);
    let micros = 0;
    for (let i = 0; i < 6; i++) {
      micros = micros * 10 + (start + i < this.pos ? this.bytes[start + i] - 0x30 : 0);
    }
    return micros;
  }

  // `Z` -> 0, `+02:00` -> 7200 (seconds east of UTC).
  offset() {
    const c = this.tryLiteral('Zz+-');
    if (c === null) throw new TimeError(`expected \`Z\` or an offset at byte ${this.pos}`);
    if (c === 'Z' || c === 'z') return 0;
    const sign = c === '+' ? 1 : -1;
    const hours = this.digits(2, 'offset hour');
    this.literal(':');
    const minutes = this.digits(2, 'offset minute');
    check('offset hour', hours, 0, 23);
    check('offset minute', minutes, 0, 59);
    return sign * (hours * 3600 + minutes * 60);
  }

  end(what) {
    if (this.pos !== this.bytes.length) {
      const rest = decoder.decode(this.bytes.subarray(this.pos));
      throw new TimeError(`unexpected \`${rest}\` after the ${what}`);
    }
  }
}

function check(what, value, min, max) {
  if (value < min || value > max) throw new TimeError(`${what} ${value} is out of range`);
}

function daysInMonth(year, month) {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month === 2) return leap ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// `days_from_civil`); all intermediate values are small exact integers.
function daysFromCivil(year, month, day) {
  const y = year - (month <= 2 ? 1 : 0);
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}
