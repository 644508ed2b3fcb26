// UTF-8 validation and decoding that follow Rust's `std::str::from_utf8`
// (see ../json.js).

// ---- UTF-8 ---------------------------------------------------------------

export const encoder = new TextEncoder();
// Input is validated first (as `std::str::from_utf8` does), so the decoder
// never meets invalid bytes; `ignoreBOM` keeps a leading U+FEFF, as Rust does.
export const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

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
