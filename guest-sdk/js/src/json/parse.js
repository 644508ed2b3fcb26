// parseJson: exactly what `serde_json::from_str::<Value>` accepts (see ../json.js).

import { E, JsonError } from './errors.js';
import { decoder, encoder, utf8Error } from './utf8.js';
import { formatFloat } from './print.js';

const RECURSION_LIMIT = 128;
const RAW_VALUE_TOKEN = '$serde_json::private::RawValue';

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
