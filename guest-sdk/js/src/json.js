// JSON exactly as the Rust transforms read and print it (serde_json 1.0,
// default features plus `raw_value`, as the workspace builds it).
//
// `JSON.parse` cannot be used where a JS port must agree with a Rust one row
// for row: it turns every number into a double (`42`, `42.0` and `4.2e1` are
// the same value, and integers past 2^53 lose digits), accepts lone UTF-16
// surrogates and any nesting depth, and reads `1e400` as Infinity. serde_json
// keeps integers exact, refuses the rest, and prints floats its own way. So:
//
// - `parseJson(textOrBytes)` accepts exactly what `serde_json::from_str::<Value>`
//   accepts and builds the same value: `null`, booleans, strings, arrays,
//   objects (plain objects without a prototype; a repeated key keeps its last
//   value), integers as BigInt (serde_json's u64 / i64: a number written
//   without fraction or exponent that fits), every other number as a double,
//   computed with serde_json's own (not always correctly rounded) algorithm.
//   `-0` is the float -0.0, as in serde_json. Errors are `JsonError`s with
//   serde_json's message, line and (byte) column.
// - `toJson(value)` prints a value as serde_json's `Display` does: compact,
//   object keys sorted in byte order (serde_json's default map is a
//   BTreeMap), floats always with a `.` or an exponent (`1.0`, `1e+20`).
//
// Byte positions and the UTF-8 validation follow Rust, so a port can even
// reproduce serde_json's error text.

const RECURSION_LIMIT = 128;
const RAW_VALUE_TOKEN = '$serde_json::private::RawValue';

// ---- errors -------------------------------------------------------------

/** A JSON text serde_json refuses: `message` is serde_json's Display text. */
export class JsonError extends SyntaxError {
  constructor(code, line, column) {
    super(line === 0 ? code : `${code} at line ${line} column ${column}`);
    this.name = 'JsonError';
    this.code = code;
    this.line = line;
    this.column = column;
  }
}

const E = {
  eofList: 'EOF while parsing a list',
  eofObject: 'EOF while parsing an object',
  eofString: 'EOF while parsing a string',
  eofValue: 'EOF while parsing a value',
  colon: 'expected `:`',
  listCommaOrEnd: 'expected `,` or `]`',
  objectCommaOrEnd: 'expected `,` or `}`',
  ident: 'expected ident',
  value: 'expected value',
  quote: 'expected `"`',
  escape: 'invalid escape',
  number: 'invalid number',
  range: 'number out of range',
  control: 'control character (\\u0000-\\u001F) found while parsing a string',
  keyString: 'key must be a string',
  loneSurrogate: 'lone leading surrogate in hex escape',
  trailingComma: 'trailing comma',
  trailing: 'trailing characters',
  hexEnd: 'unexpected end of hex escape',
  recursion: 'recursion limit exceeded',
};

// ---- UTF-8 ---------------------------------------------------------------

const encoder = new TextEncoder();
// Input is validated first (as `std::str::from_utf8` does), so the decoder
// never meets invalid bytes; `ignoreBOM` keeps a leading U+FEFF, as Rust does.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * Where `bytes` stops being UTF-8, as `std::str::from_utf8` reports it:
 * null when valid, else `{ validUpTo, errorLen }` (errorLen null when the
 * input ends inside a character), with Rust's message.
 */
export function utf8Error(bytes) {
  const len = bytes.length;
  let i = 0;
  while (i < len) {
    const first = bytes[i];
    if (first < 0x80) {
      i += 1;
      continue;
    }
    const start = i;
    const fail = (errorLen) => ({
      validUpTo: start,
      errorLen,
      message:
        errorLen === null
          ? `incomplete utf-8 byte sequence from index ${start}`
          : `invalid utf-8 sequence of ${errorLen} bytes from index ${start}`,
    });
    const cont = (b) => b >= 0x80 && b <= 0xbf;
    if (first >= 0xc2 && first <= 0xdf) {
      if (i + 1 >= len) return fail(null);
      if (!cont(bytes[i + 1])) return fail(1);
      i += 2;
    } else if (first >= 0xe0 && first <= 0xef) {
      if (i + 1 >= len) return fail(null);
      const b1 = bytes[i + 1];
      const ok =
        (first === 0xe0 && b1 >= 0xa0 && b1 <= 0xbf) ||
        (first >= 0xe1 && first <= 0xec && cont(b1)) ||
        (first === 0xed && b1 >= 0x80 && b1 <= 0x9f) ||
        (first >= 0xee && cont(b1));
      if (!ok) return fail(1);
      if (i + 2 >= len) return fail(null);
      if (!cont(bytes[i + 2])) return fail(2);
      i += 3;
    } else if (first >= 0xf0 && first <= 0xf4) {
      if (i + 1 >= len) return fail(null);
      const b1 = bytes[i + 1];
      const ok =
        (first === 0xf0 && b1 >= 0x90 && b1 <= 0xbf) ||
        (first >= 0xf1 && first <= 0xf3 && cont(b1)) ||
        (first === 0xf4 && b1 >= 0x80 && b1 <= 0x8f);
      if (!ok) return fail(1);
      if (i + 2 >= len) return fail(null);
      if (!cont(bytes[i + 2])) return fail(2);
      if (i + 3 >= len) return fail(null);
      if (!cont(bytes[i + 3])) return fail(3);
      i += 4;
    } else {
      return fail(1);
    }
  }
  return null;
}

/** `bytes` as a string, or throws a `TypeError` with Rust's `from_utf8` message. */
export function decodeUtf8(bytes) {
  const error = utf8Error(bytes);
  if (error) throw new TypeError(error.message);
  return decoder.decode(bytes);
}

// ---- parsing --------------------------------------------------------------

// serde_json's POW10: 1e0 ..= 1e308, each literal correctly rounded.
const POW10 = Array.from({ length: 309 }, (_, i) => Number(`1e${i}`));
const U64_MAX = (1n << 64n) - 1n;

/**
 * Parses a JSON text (a string, or UTF-8 bytes) as
 * `serde_json::from_str::<serde_json::Value>` does; see the module comment.
 * Throws `JsonError` (or `TypeError` for bytes that are not UTF-8).
 */
export function parseJson(input) {
  let text;
  let bytes;
  if (typeof input === 'string') {
    text = input;
  } else if (input instanceof Uint8Array) {
    bytes = input;
    text = decoder.decode(input);
    // Invalid bytes decode to U+FFFD; only then is the slow check needed.
    if (text.includes('\ufffd')) {
      const error = utf8Error(input);
      if (error) throw new TypeError(error.message);
    }
  } else {
    throw new TypeError(`parseJson expects a string or a Uint8Array, got ${typeof input}`);
  }
  const fast = parseFast(text);
  if (fast !== SLOW) return fast;
  return new Parser(bytes ?? encoder.encode(text)).parseDocument();
}

// ---- the fast path ----------------------------------------------------------
//
// The parser below walks the text a byte at a time, which StarlingMonkey (an
// interpreter) does slowly, while its JSON.parse is native. Most JSON needs
// none of what sets serde_json apart from JSON.parse, so when the text has no
// float literal, no integer of 16 or more digits, no `-0` (a float in
// serde_json), no surrogate escape (a lone one is an error in serde_json), no
// raw-value token, and too few brackets to reach serde_json's depth limit,
// JSON.parse gives exactly serde_json's value, once integers are made BigInt
// and objects lose their prototype. The checks look at the whole text,
// strings included, so they may send a text to the slow path needlessly but
// never wrongly take the fast one: every number in valid JSON follows `:`,
// `,`, `[` or the start, and is followed by `,`, `}`, `]` or the end
// (whitespace aside); a timestamp's `:01.5Z` in a string is neither. JSON.parse accepts a superset of
// what serde_json accepts, so a text it refuses also goes to the parser
// below, which decides and words the error.

const SLOW = Symbol('slow');
// An inexact number token where a value may start, ending where a value may end.
const INEXACT_NUMBER =
  /(?:^|[:,[])[ \t\n\r]*(?:-0|-?[0-9]+(?:\.[0-9]*)?[eE][+-]?[0-9]*|-?[0-9]+\.[0-9]*|-?[0-9]{16,})[ \t\n\r]*(?:[,}\]]|$)/;
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
const OPENING = /[[{]/g;

function parseFast(text) {
  if (text.includes('\\u') && SURROGATE_ESCAPE.test(text)) return SLOW;
  if (text.includes(RAW_VALUE_TOKEN)) return SLOW;
  if (INEXACT_NUMBER.test(text)) return SLOW;
  // Depth 128 needs 128 opening and 128 closing brackets.
  if (text.length >= 2 * RECURSION_LIMIT && text.length - text.replace(OPENING, '').length >= RECURSION_LIMIT - 1) {
    return SLOW;
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return SLOW;
  }
  return exact(value);
}

// JSON.parse's value as serde_json's: integers (all exact here) as BigInt,
// objects without a prototype (so `fields.constructor` is not Object's).
function exact(value) {
  if (typeof value === 'number') return BigInt(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = exact(value[i]);
    return value;
  }
  Object.setPrototypeOf(value, null);
  for (const key in value) {
    const v = value[key];
    if (typeof v === 'number') value[key] = BigInt(v);
    else if (v !== null && typeof v === 'object') exact(v);
  }
  return value;
}

class Parser {
  constructor(bytes) {
    this.b = bytes;
    this.i = 0;
    this.depth = RECURSION_LIMIT;
  }

  // Position of byte index i (serde_json's position_of_index).
  positionOf(i) {
    const b = this.b;
    let startOfLine = 0;
    let line = 1;
    for (let k = 0; k < i; k++) {
      if (b[k] === 0x0a) {
        line += 1;
        startOfLine = k + 1;
      }
    }
    return [line, i - startOfLine];
  }

  // `error`: at the last consumed byte; `peekError`: at the next one.
  error(code) {
    const [line, column] = this.positionOf(this.i);
    return new JsonError(code, line, column);
  }

  peekError(code) {
    const [line, column] = this.positionOf(Math.min(this.i + 1, this.b.length));
    return new JsonError(code, line, column);
  }

  peek() {
    return this.i < this.b.length ? this.b[this.i] : -1;
  }

  next() {
    return this.i < this.b.length ? this.b[this.i++] : -1;
  }

  whitespace() {
    const b = this.b;
    while (this.i < b.length) {
      const c = b[this.i];
      if (c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d) this.i += 1;
      else return c;
    }
    return -1;
  }

  parseDocument() {
    const value = this.parseValue();
    if (this.whitespace() !== -1) throw this.peekError(E.trailing);
    return value;
  }

  parseValue() {
    const c = this.whitespace();
    switch (c) {
      case -1:
        throw this.peekError(E.eofValue);
      case 0x6e: // n
        this.i += 1;
        this.ident('ull');
        return null;
      case 0x74: // t
        this.i += 1;
        this.ident('rue');
        return true;
      case 0x66: // f
        this.i += 1;
        this.ident('alse');
        return false;
      case 0x2d: // -
        this.i += 1;
        return this.parseInteger(false);
      case 0x22: // "
        this.i += 1;
        return this.parseString();
      case 0x5b: // [
        return this.nested(() => this.parseArray());
      case 0x7b: // {
        return this.nested(() => this.parseObject());
      default:
        if (c >= 0x30 && c <= 0x39) return this.parseInteger(true);
        throw this.peekError(E.value);
    }
  }

  nested(parse) {
    this.depth -= 1;
    if (this.depth === 0) throw this.peekError(E.recursion);
    this.i += 1;
    const value = parse();
    this.depth += 1;
    return value;
  }

  ident(rest) {
    for (let k = 0; k < rest.length; k++) {
      const c = this.next();
      if (c === -1) throw this.error(E.eofValue);
      if (c !== rest.charCodeAt(k)) throw this.error(E.ident);
    }
  }

  parseArray() {
    const items = [];
    let c = this.whitespace();
    if (c === 0x5d) {
      this.i += 1;
      return items;
    }
    if (c === -1) throw this.peekError(E.eofList);
    for (;;) {
      items.push(this.parseValue());
      c = this.whitespace();
      if (c === 0x5d) {
        this.i += 1;
        return items;
      }
      if (c === 0x2c) {
        this.i += 1;
        c = this.whitespace();
        if (c === 0x5d) throw this.peekError(E.trailingComma);
        continue;
      }
      if (c === -1) throw this.peekError(E.eofList);
      throw this.peekError(E.listCommaOrEnd);
    }
  }

  parseKey() {
    const c = this.whitespace();
    if (c === 0x22) {
      this.i += 1;
      return this.parseString();
    }
    if (c === -1) throw this.peekError(E.eofValue);
    throw this.peekError(E.keyString);
  }

  colon() {
    const c = this.whitespace();
    if (c === 0x3a) {
      this.i += 1;
      return;
    }
    if (c === -1) throw this.peekError(E.eofObject);
    throw this.peekError(E.colon);
  }

  parseObject() {
    const fields = Object.create(null);
    let c = this.whitespace();
    if (c === 0x7d) {
      this.i += 1;
      return fields;
    }
    if (c === -1) throw this.peekError(E.eofObject);
    let first = true;
    for (;;) {
      const key = this.parseKey();
      this.colon();
      if (first && key === RAW_VALUE_TOKEN) {
        // serde_json with `raw_value`: an object whose first key is this
        // token is the JSON text held by its string value.
        return this.rawValue();
      }
      first = false;
      fields[key] = this.parseValue();
      c = this.whitespace();
      if (c === 0x7d) {
        this.i += 1;
        return fields;
      }
      if (c === 0x2c) {
        this.i += 1;
        c = this.whitespace();
        if (c === 0x7d) throw this.peekError(E.trailingComma);
        continue;
      }
      if (c === -1) throw this.peekError(E.eofObject);
      throw this.peekError(E.objectCommaOrEnd);
    }
  }

  rawValue() {
    const c = this.whitespace();
    if (c !== 0x22) {
      if (c === -1) throw this.peekError(E.eofValue);
      const at = this.i;
      const value = c === 0x5b ? [] : c === 0x7b ? {} : this.parseValue();
      const kind =
        typeof value === 'bigint' ? `integer \`${value}\``
        : typeof value === 'number' ? `floating point \`${formatFloat(value)}\``
        : typeof value === 'boolean' ? `boolean \`${value}\``
        : value === null ? 'null' : Array.isArray(value) ? 'sequence' : 'map';
      this.i = at;
      throw this.peekError(`invalid type: ${kind}, expected raw value`);
    }
    this.i += 1;
    // The inner text is parsed on its own; its error keeps its own position.
    const value = parseJson(this.parseString());
    const end = this.whitespace();
    if (end === 0x7d) {
      this.i += 1;
      return value;
    }
    if (end === 0x2c) throw this.peekError(E.trailingComma);
    if (end === -1) throw this.peekError(E.eofObject);
    throw this.peekError(E.trailing);
  }

  parseString() {
    const b = this.b;
    let out = '';
    let start = this.i;
    for (;;) {
      if (this.i >= b.length) throw this.error(E.eofString);
      const c = b[this.i++];
      if (c === 0x22) {
        if (start < this.i - 1) out += decoder.decode(b.subarray(start, this.i - 1));
        return out;
      }
      if (c === 0x5c) {
        if (start < this.i - 1) out += decoder.decode(b.subarray(start, this.i - 1));
        out += this.parseEscape();
        start = this.i;
      } else if (c < 0x20) {
        throw this.error(E.control);
      }
    }
  }

  parseEscape() {
    const c = this.next();
    switch (c) {
      case -1:
        throw this.error(E.eofString);
      case 0x22:
        return '"';
      case 0x5c:
        return '\\';
      case 0x2f:
        return '/';
      case 0x62:
        return '\b';
      case 0x66:
        return '\f';
      case 0x6e:
        return '\n';
      case 0x72:
        return '\r';
      case 0x74:
        return '\t';
      case 0x75:
        return this.parseUnicodeEscape();
      default:
        throw this.error(E.escape);
    }
  }

  hex4() {
    const b = this.b;
    if (this.i + 4 > b.length) {
      this.i = b.length;
      throw this.error(E.eofString);
    }
    let n = 0;
    let valid = true;
    for (let k = 0; k < 4; k++) {
      const c = b[this.i + k];
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d === -1) valid = false;
      n = n * 16 + d;
    }
    this.i += 4;
    if (!valid) throw this.error(E.escape);
    return n;
  }

  parseUnicodeEscape() {
    const n = this.hex4();
    if (n >= 0xdc00 && n <= 0xdfff) throw this.error(E.loneSurrogate);
    if (n < 0xd800 || n > 0xdbff) return String.fromCharCode(n);
    // A leading surrogate: a `\u` trailing surrogate must follow.
    if (this.peek() === -1) throw this.peekError(E.eofString);
    if (this.peek() !== 0x5c) {
      this.i += 1;
      throw this.error(E.hexEnd);
    }
    this.i += 1;
    if (this.peek() === -1) throw this.peekError(E.eofString);
    if (this.peek() !== 0x75) {
      this.i += 1;
      throw this.error(E.hexEnd);
    }
    this.i += 1;
    const n2 = this.hex4();
    if (n2 < 0xdc00 || n2 > 0xdfff) throw this.error(E.loneSurrogate);
    return String.fromCharCode(n, n2);
  }

  // ---- numbers: serde_json's parse_integer and friends, without
  // float_roundtrip. Integers are BigInt, floats are numbers.

  digitAt(i) {
    const c = i < this.b.length ? this.b[i] : -1;
    return c >= 0x30 && c <= 0x39 ? c - 0x30 : -1;
  }

  parseInteger(positive) {
    const c = this.next();
    if (c === -1) throw this.error(E.eofValue);
    if (c === 0x30) {
      if (this.digitAt(this.i) !== -1) throw this.peekError(E.number);
      return this.parseNumber(positive, 0n);
    }
    if (c < 0x31 || c > 0x39) throw this.error(E.number);
    let significand = BigInt(c - 0x30);
    for (;;) {
      const d = this.digitAt(this.i);
      if (d === -1) return this.parseNumber(positive, significand);
      const grown = significand * 10n + BigInt(d);
      if (grown > U64_MAX) return this.parseLongInteger(positive, significand);
      this.i += 1;
      significand = grown;
    }
  }

  parseNumber(positive, significand) {
    const c = this.peek();
    if (c === 0x2e) return this.parseDecimal(positive, significand, 0);
    if (c === 0x65 || c === 0x45) return this.parseExponent(positive, significand, 0);
    if (positive) return significand; // U64
    // I64, or a float on `-0` and below i64::MIN.
    if (significand === 0n || significand > 1n << 63n) return -Number(significand);
    return -significand;
  }

  parseLongInteger(positive, significand) {
    let exponent = 0;
    for (;;) {
      const c = this.peek();
      if (c >= 0x30 && c <= 0x39) {
        this.i += 1;
        exponent += 1;
      } else if (c === 0x2e) {
        return this.parseDecimal(positive, significand, exponent);
      } else if (c === 0x65 || c === 0x45) {
        return this.parseExponent(positive, significand, exponent);
      } else {
        return this.fromParts(positive, significand, exponent);
      }
    }
  }

  parseDecimal(positive, significand, exponentBefore) {
    this.i += 1; // the '.'
    let exponentAfter = 0;
    for (;;) {
      const d = this.digitAt(this.i);
      if (d === -1) break;
      const grown = significand * 10n + BigInt(d);
      if (grown > U64_MAX) {
        // Ignore every further digit.
        while (this.digitAt(this.i) !== -1) this.i += 1;
        const exponent = exponentBefore + exponentAfter;
        const c = this.peek();
        if (c === 0x65 || c === 0x45) return this.parseExponent(positive, significand, exponent);
        return this.fromParts(positive, significand, exponent);
      }
      this.i += 1;
      significand = grown;
      exponentAfter -= 1;
    }
    if (exponentAfter === 0) {
      if (this.peek() === -1) throw this.peekError(E.eofValue);
      throw this.peekError(E.number);
    }
    const exponent = exponentBefore + exponentAfter;
    const c = this.peek();
    if (c === 0x65 || c === 0x45) return this.parseExponent(positive, significand, exponent);
    return this.fromParts(positive, significand, exponent);
  }

  parseExponent(positive, significand, startingExp) {
    this.i += 1; // the 'e'
    let positiveExp = true;
    const sign = this.peek();
    if (sign === 0x2b) {
      this.i += 1;
    } else if (sign === 0x2d) {
      this.i += 1;
      positiveExp = false;
    }
    const c = this.next();
    if (c === -1) throw this.error(E.eofValue);
    if (c < 0x30 || c > 0x39) throw this.error(E.number);
    let exp = c - 0x30;
    const I32_MAX = 2147483647;
    for (;;) {
      const d = this.digitAt(this.i);
      if (d === -1) break;
      this.i += 1;
      if (exp > Math.floor(I32_MAX / 10) || (exp === Math.floor(I32_MAX / 10) && d > I32_MAX % 10)) {
        // Exponent overflow: an error instead of infinity, zero otherwise.
        if (significand !== 0n && positiveExp) throw this.error(E.range);
        while (this.digitAt(this.i) !== -1) this.i += 1;
        return positive ? 0 : -0;
      }
      exp = exp * 10 + d;
    }
    const clamp = (x) => Math.max(-2147483648, Math.min(I32_MAX, x));
    const finalExp = positiveExp ? clamp(startingExp + exp) : clamp(startingExp - exp);
    return this.fromParts(positive, significand, finalExp);
  }

  // serde_json's f64_from_parts (not float_roundtrip).
  fromParts(positive, significand, exponent) {
    let f = Number(significand); // `as f64`: round to nearest, ties to even
    for (;;) {
      const abs = Math.abs(exponent);
      if (abs < POW10.length) {
        if (exponent >= 0) {
          f *= POW10[abs];
          if (!Number.isFinite(f)) throw this.error(E.range);
        } else {
          f /= POW10[abs];
        }
        break;
      }
      if (f === 0) break;
      if (exponent >= 0) throw this.error(E.range);
      f /= 1e308;
      exponent += 308;
    }
    return positive ? f : -f;
  }
}

// ---- printing -------------------------------------------------------------

/**
 * `value` as serde_json's `Display` prints a `Value`: compact, object keys
 * in byte order, integers (BigInt) as digits, floats as zmij formats them.
 * Accepts what `parseJson` returns (and plain JS objects, arrays, strings,
 * booleans, null; a JS number is printed as a float, `1` as `1.0`).
 */
export function toJson(value) {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'number':
      return formatFloat(value);
    case 'string':
      return quote(value);
    case 'object':
      if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
      if (value instanceof Map) {
        return printObject([...value.entries()].filter(([k]) => typeof k === 'string'));
      }
      return printObject(Object.entries(value));
    default:
      throw new TypeError(`toJson cannot print a ${typeof value}`);
  }
}

function printObject(entries) {
  entries.sort(([a], [b]) => compareUtf8(a, b));
  return `{${entries.map(([k, v]) => `${quote(k)}:${toJson(v)}`).join(',')}}`;
}

/**
 * Compares two strings in UTF-8 byte order (= code point order), the order of
 * Rust's `str` and of a `BTreeMap<String, _>`; unlike `<` on JS strings,
 * which compares UTF-16 code units.
 */
export function compareUtf8(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Past a common prefix the first differing code units decide, except
    // that surrogates (U+10000 and up) sort above U+E000..U+FFFF.
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if (sx !== sy) return sx ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

const ESCAPES = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function quote(s) {
  // eslint-disable-next-line no-control-regex
  return `"${s.replace(/["\\\u0000-\u001f]/g, (c) => ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/**
 * A finite double as zmij (serde_json's float printer) writes it: shortest
 * round-trip digits, plain notation with at least one fraction digit when
 * the decimal exponent is within -5..=15 (`1000.0`, `0.00001`), otherwise
 * `d.ddde±x` (`1e+16`, `1.5e-7`).
 */
export function formatFloat(f) {
  if (!Number.isFinite(f)) return 'null';
  if (f === 0) return Object.is(f, -0) ? '-0.0' : '0.0';
  const sign = f < 0 ? '-' : '';
  // toExponential() without digits gives the shortest round-trip digits.
  const [mantissa, exp] = Math.abs(f).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  const n = digits.length;
  if (e >= -5 && e <= 15) {
    if (n - 1 <= e) return `${sign}${digits}${'0'.repeat(e + 1 - n)}.0`;
    if (e >= 0) return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
    return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  }
  const fraction = n > 1 ? `.${digits.slice(1)}` : '';
  return `${sign}${digits[0]}${fraction}e${e < 0 ? '-' : '+'}${Math.abs(e)}`;
}
