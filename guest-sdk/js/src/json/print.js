// toJson and the helpers that print as serde_json's `Display` does (see ../json.js).

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

export function quote(s) {
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
