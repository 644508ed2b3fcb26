// Text formats the JS ports must read exactly as the Rust transforms do:
// RFC 3339 timestamps (the cases of guest-sdk/rust/src/time.rs), JSON as
// serde_json reads and prints it, UTF-8 errors as Rust reports them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDate, parseRfc3339, TimeError } from '../src/time.js';
import { compareUtf8, formatFloat, JsonError, parseJson, toJson, utf8Error, decodeUtf8 } from '../src/json.js';

test('parses valid timestamps (time.rs cases)', () => {
  const cases = [
    ['1970-01-01T00:00:00Z', 0n],
    ['2026-11-21T10:00:01.123Z', 1795255201123000n],
    ['2026-11-21t10:00:01.123456789z', 1795255201123456n],
    ['2026-11-21 12:00:01.1+02:00', 1795255201100000n],
    ['2026-11-21T05:30:01-04:30', 1795255201000000n],
    ['1969-12-31T23:59:59.999999Z', -1n],
    ['2024-02-29T00:00:00Z', 1709164800000000n],
    ['2000-03-01T00:00:00Z', 951868800000000n],
    ['2016-12-31T23:59:60Z', 1483228800000000n],
    ['0000-01-01T00:00:00Z', -62167219200000000n],
    ['9999-12-31T23:59:59.999999Z', 253402300799999999n],
  ];
  for (const [text, micros] of cases) assert.equal(parseRfc3339(text), micros, text);
});

test('refuses invalid timestamps with the reason time.rs gives', () => {
  const cases = [
    ['', 'expected a 4-digit year at byte 0'],
    ['2026-11-21', 'expected `T` at byte 10'],
    ['2026-11-21T10:00:01', 'expected `Z` or an offset at byte 19'],
    ['2026-11-21T10:00:01.Z', 'expected fractional digits at byte 20'],
    ['2026-13-01T00:00:00Z', 'month 13 is out of range'],
    ['2026-02-29T00:00:00Z', 'day 29 is out of range'],
    ['2026-11-21T24:00:00Z', 'hour 24 is out of range'],
    ['2026-11-21T10:00:00+24:00', 'offset hour 24 is out of range'],
    ['2026-11-21T10:00:00Z tomorrow', 'unexpected ` tomorrow` after the timestamp'],
    ['2026/11/21T10:00:00Z', 'expected `-` at byte 4'],
    ['yesterday', 'expected a 4-digit year at byte 0'],
    // Byte offsets, not UTF-16 indices, after a multi-byte character.
    ['2026-11-21T10:00:00Zé', 'unexpected `é` after the timestamp'],
    ['é2026-11-21T10:00:00Z', 'expected a 4-digit year at byte 0'],
    ['2026-11-21T10:00:00.5é', 'expected `Z` or an offset at byte 21'],
  ];
  for (const [text, reason] of cases) {
    assert.throws(() => parseRfc3339(text), (e) => e instanceof TimeError && e.message === reason, text);
  }
});

test('parses and refuses dates (time.rs cases)', () => {
  const valid = [
    ['1970-01-01', 0],
    ['1970-01-02', 1],
    ['1969-12-31', -1],
    ['2024-02-29', 19782],
    ['2026-11-21', 20778],
    ['0000-01-01', -719528],
    ['9999-12-31', 2932896],
  ];
  for (const [text, days] of valid) assert.equal(parseDate(text), days, text);
  const invalid = [
    ['', 'expected a 4-digit year at byte 0'],
    ['2026-11', 'expected `-` at byte 7'],
    ['2026-11-31', 'day 31 is out of range'],
    ['2025-02-29', 'day 29 is out of range'],
    ['2026-00-01', 'month 0 is out of range'],
    ['2026-11-21T00:00', 'unexpected `T00:00` after the date'],
    ['21/11/2026', 'expected a 4-digit year at byte 0'],
  ];
  for (const [text, reason] of invalid) assert.throws(() => parseDate(text), { message: reason }, text);
  for (const text of ['1969-12-31', '2000-02-29', '2026-11-21']) {
    assert.equal(BigInt(parseDate(text)) * 86400000000n, parseRfc3339(`${text}T00:00:00Z`), text);
  }
});

test('JSON numbers follow serde_json: exact integers, floats for the rest', () => {
  const cases = [
    ['42', 42n],
    ['-7', -7n],
    ['0', 0n],
    ['18446744073709551615', 18446744073709551615n], // u64::MAX is still an integer
    ['-9223372036854775808', -9223372036854775808n],
    ['9007199254740993', 9007199254740993n], // past 2^53, kept exact
  ];
  for (const [text, value] of cases) assert.equal(parseJson(text), value, text);
  const floats = [
    ['42.0', 42],
    ['1e3', 1000],
    ['4.5', 4.5],
    ['-0', -0], // serde_json reads -0 as the float -0.0
    ['18446744073709551616', 18446744073709551616], // past u64: a float
    ['-9223372036854775809', -9223372036854775809],
    ['1e-400', 0],
    ['0e999999999999', 0],
  ];
  for (const [text, value] of floats) {
    const parsed = parseJson(text);
    assert.equal(typeof parsed, 'number', text);
    assert.ok(Object.is(parsed, value), `${text}: ${parsed}`);
  }
});

test('JSON values print as serde_json prints them', () => {
  const cases = [
    ['42', '42'],
    ['42.0', '42.0'],
    ['1e3', '1000.0'],
    ['-0', '-0.0'],
    ['1e20', '1e+20'],
    ['1.5e-7', '1.5e-7'],
    ['0.00001', '0.00001'],
    ['123456789012345678901234567890', '1.2345678901234568e+29'],
    ['{"b":1,"a":[true,null,"x"],"é":{},"😀":0,"\uffff":1}', '{"a":[true,null,"x"],"b":1,"é":{},"\uffff":1,"😀":0}'],
    ['"tab\\t\\u0001\\u007f/\\/"', '"tab\\t\\u0001\u007f//"'],
    ['{"a":1,"a":2}', '{"a":2}'],
  ];
  for (const [text, printed] of cases) assert.equal(toJson(parseJson(text)), printed, text);
  assert.equal(formatFloat(5e-324), '5e-324');
  assert.equal(formatFloat(1e15), '1000000000000000.0');
  assert.equal(formatFloat(1e16), '1e+16');
});

test('JSON that serde_json refuses is refused, with its message and position', () => {
  const cases = [
    ['not json', 'expected ident at line 1 column 2'],
    ['', 'EOF while parsing a value at line 1 column 0'],
    ['{"a":1,}', 'trailing comma at line 1 column 8'],
    ['[1,2', 'EOF while parsing a list at line 1 column 4'],
    ['{"a" 1}', 'expected `:` at line 1 column 6'],
    ['01', 'invalid number at line 1 column 2'],
    ['1.', 'EOF while parsing a value at line 1 column 2'],
    ['1e400', 'number out of range at line 1 column 5'],
    ['"\\ud800"', 'unexpected end of hex escape at line 1 column 8'],
    ['"\\udc00"', 'lone leading surrogate in hex escape at line 1 column 7'],
    ['"a\u0001"', 'control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3'],
    ['{"a":1}\n x', 'trailing characters at line 2 column 2'],
    ['\ufeff{}', 'expected value at line 1 column 1'],
    [`${'['.repeat(128)}${']'.repeat(128)}`, 'recursion limit exceeded at line 1 column 128'],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseJson(text), (e) => e instanceof JsonError && e.message === message, JSON.stringify(text));
  }
  assert.deepEqual(parseJson(`${'['.repeat(127)}${']'.repeat(127)}`).length, 1);
  // serde_json's `raw_value` token: the object is the JSON in its string.
  assert.equal(toJson(parseJson('{"$serde_json::private::RawValue":"{\\"b\\":1.0}"}')), '{"b":1.0}');
});

test('UTF-8 errors are reported as Rust reports them', () => {
  assert.equal(utf8Error(new Uint8Array([0x7b, 0xff, 0x7d])).message, 'invalid utf-8 sequence of 1 bytes from index 1');
  assert.equal(utf8Error(new Uint8Array([0x61, 0xe2, 0x82])).message, 'incomplete utf-8 byte sequence from index 1');
  assert.equal(utf8Error(new Uint8Array([0xe2, 0x82, 0x41])).message, 'invalid utf-8 sequence of 2 bytes from index 0');
  assert.equal(utf8Error(new Uint8Array([0xed, 0xa0, 0x80])).message, 'invalid utf-8 sequence of 1 bytes from index 0');
  assert.equal(utf8Error(new TextEncoder().encode('é😀')), null);
  assert.equal(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])), '\ufeffa'); // a BOM is kept
  assert.throws(() => parseJson(new Uint8Array([0x22, 0xc3, 0x22])), {
    name: 'TypeError',
    message: 'invalid utf-8 sequence of 1 bytes from index 1',
  });
});

test('strings compare in UTF-8 byte order', () => {
  const sorted = ['', 'A', 'Z', 'a', 'é', '\ue000', '\uffff', '😀'];
  const shuffled = [...sorted].reverse();
  assert.deepEqual(shuffled.sort(compareUtf8), sorted);
  assert.equal(compareUtf8('ab', 'a'), 1);
  assert.equal(compareUtf8('a', 'a'), 0);
});
