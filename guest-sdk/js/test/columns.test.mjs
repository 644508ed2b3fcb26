// Reading input tables: CDF change types, typed column values, and the
// InvalidInput errors that name the column (the cases of the Rust cdf.rs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Binary,
  Field,
  Int32,
  Int64,
  TimestampMicrosecond,
  Utf8,
  bronze,
  makeBatch,
  withCdf,
  BRONZE_TIMESTAMP,
} from '../testing.mjs';
import { Utf8Error, bytesColumn, changeTypes, int64Column, isCdfColumn, sign, textColumn, utf8Column, values } from '../src/columns.js';
import { InvalidInput } from '../src/errors.js';

const invalid = (message) => (e) => e instanceof InvalidInput && e.kind === 'invalid-input' && e.message === message;

test('change types parse every spelling and sign them', () => {
  const all = ['insert', 'update_preimage', 'update_postimage', 'delete'];
  const table = withCdf(makeBatch([new Field('n', new Int64(), false)], [[1n, 2n, 3n, 4n]]), all);
  assert.deepEqual(changeTypes(table), all);
  assert.deepEqual(all.map(sign), [1, -1, 1, -1]);
  assert.ok(isCdfColumn('_commit_version'));
  assert.ok(!isCdfColumn('value'));
});

test('bad change types are invalid input', () => {
  const unknown = makeBatch([new Field('_change_type', new Utf8(), true)], [['insert', 'merge']]);
  assert.throws(() => changeTypes(unknown), invalid('column `_change_type` has unknown change type `merge` at row 1'));
  const nulls = makeBatch([new Field('_change_type', new Utf8(), true)], [[null]]);
  assert.throws(() => changeTypes(nulls), invalid('column `_change_type` is null at row 0'));
  const missing = makeBatch([new Field('x', new Int64(), false)], [[1n]]);
  assert.throws(() => changeTypes(missing), invalid('missing column `_change_type`'));
});

test('bytes accept binary and string columns; text only string columns', () => {
  const table = makeBatch(
    [new Field('b', new Binary(), true), new Field('s', new Utf8(), true), new Field('i', new Int64(), false)],
    [[new Uint8Array([120]), null], ['z', null], [1n, 2n]],
  );
  assert.deepEqual(bytesColumn(table, 'b'), [new Uint8Array([120]), null]);
  assert.deepEqual(bytesColumn(table, 's'), [new Uint8Array([122]), null]);
  assert.deepEqual(textColumn(table, 's'), ['z', null]);
  assert.throws(() => bytesColumn(table, 'i'), invalid('column `i` has type Int64, expected a binary or string type'));
  assert.throws(() => textColumn(table, 'b'), invalid('column `b` has type Binary, expected a string type'));
  assert.throws(() => textColumn(table, 'nope'), invalid('missing column `nope`'));
});

test('values keep 64-bit integers and timestamps exact, and check the type', () => {
  const table = bronze('logs', [
    ['insert', '{}'],
    ['delete', null],
  ]);
  assert.deepEqual(values(table, 'offset'), [100n, 101n]);
  assert.deepEqual(values(table, 'timestamp', new TimestampMicrosecond()), [BRONZE_TIMESTAMP, BRONZE_TIMESTAMP]);
  assert.deepEqual(values(table, 'partition', new Int32()), [3, 3]);
  assert.deepEqual(values(table, 'topic', new Utf8()), ['logs', 'logs']);
  assert.deepEqual(bytesColumn(table, 'value'), [new TextEncoder().encode('{}'), null]);
  assert.deepEqual(int64Column(table, 'offset'), [100n, 101n]);
  assert.throws(() => values(table, 'partition', new Int64()), invalid('column `partition` has type Int32, expected Int64'));
  assert.throws(() => int64Column(table, 'topic'), invalid('column `topic` has type Utf8, expected Int64'));
  const nullable = makeBatch([new Field('n', new Int64(), true)], [[null, -9223372036854775808n]]);
  assert.deepEqual(int64Column(nullable, 'n'), [null, -9223372036854775808n]);
});

test('a bronze batch with a Utf8 value column reads the same bytes', () => {
  const table = bronze('logs', [['insert', 'héllo']], { utf8Value: true });
  assert.equal(String(table.getChild('value').type), 'Utf8');
  assert.deepEqual(bytesColumn(table, 'value'), [new TextEncoder().encode('héllo')]);
});

test('utf8Column decodes bytes, and marks values that are not UTF-8', () => {
  const ascii = bronze('logs', [['insert', '{"a":1}'], ['insert', null], ['insert', 'x']]);
  assert.deepEqual(utf8Column(ascii, 'value'), ['{"a":1}', null, 'x']);
  const mixed = bronze('logs', [
    ['insert', 'héllo'],
    ['insert', new Uint8Array([0x7b, 0xff, 0x7d])],
    ['insert', new Uint8Array([0xef, 0xbb, 0xbf, 0x61])],
    ['insert', new Uint8Array([0xef, 0xbf, 0xbd])],
    ['insert', null],
  ]);
  const values = utf8Column(mixed, 'value');
  assert.equal(values[0], 'héllo');
  assert.ok(values[1] instanceof Utf8Error);
  assert.equal(values[1].message, 'invalid utf-8 sequence of 1 bytes from index 1');
  assert.equal(values[2], '\ufeffa'); // a byte order mark is kept, as Rust keeps it
  assert.equal(values[3], '\ufffd'); // a real U+FFFD is text
  assert.equal(values[4], null);
  assert.deepEqual(utf8Column(bronze('logs', [['insert', 'ü']], { utf8Value: true }), 'value'), ['ü']);
  assert.throws(() => utf8Column(mixed, 'offset'), invalid('column `offset` has type Int64, expected a binary or string type'));
});
