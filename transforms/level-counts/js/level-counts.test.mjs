// The port through the Node harness, with the cases of the Rust stage's tests
// (the tests module of transforms/level-counts/rust/src/lib.rs), plus the
// order of non-ASCII levels and 64-bit wrapping.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CallError, Field, Int64, Utf8, loadTransform, makeBatch, withCdf } from '../../../guest-sdk/js/testing.mjs';

/** A silver CDF batch of [change, level, latency] rows. */
function silver(rows) {
  const batch = makeBatch(
    [new Field('level', new Utf8(), true), new Field('latency_ms', new Int64(), true)],
    [rows.map((r) => r[1]), rows.map((r) => r[2])],
  );
  return withCdf(batch, rows.map((r) => r[0]));
}

async function harness() {
  const h = await loadTransform(new URL('.', import.meta.url));
  await h.init({});
  return h;
}

/** The output as [level, count, latency sum] rows, and the rejects. */
async function counts(input) {
  const { table, rejected } = await (await harness()).process(input);
  assert.deepEqual(
    table.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
    [
      ['level', 'Utf8', false],
      ['count', 'Int64', false],
      ['latency_ms_sum', 'Int64', false],
    ],
  );
  const rows = Array.from({ length: table.numRows }, (_, i) => [
    table.getChild('level').get(i),
    table.getChild('count').get(i),
    table.getChild('latency_ms_sum').get(i),
  ]);
  return [rows, rejected];
}

test('inserts count up and sum latency', async () => {
  const [rows, rejected] = await counts(
    silver([
      ['insert', 'INFO', 10n],
      ['insert', 'ERROR', 500n],
      ['insert', 'INFO', 32n],
      ['insert', 'INFO', null],
    ]),
  );
  assert.deepEqual(rows, [
    ['ERROR', 1n, 500n],
    ['INFO', 3n, 42n],
  ]);
  assert.deepEqual(rejected, []);
});

test('deletes count down and net zero levels are omitted', async () => {
  const [rows] = await counts(
    silver([
      ['insert', 'INFO', 10n],
      ['delete', 'WARN', 7n],
      ['insert', 'DEBUG', 3n],
      ['delete', 'DEBUG', 3n],
    ]),
  );
  assert.deepEqual(rows, [
    ['INFO', 1n, 10n],
    ['WARN', -1n, -7n],
  ]);
});

test('updates move a row between levels', async () => {
  const [rows] = await counts(
    silver([
      ['update_preimage', 'WARN', 40n],
      ['update_postimage', 'ERROR', 40n],
      // Same level, new latency: the count nets to zero, the sum does not.
      ['update_preimage', 'INFO', 40n],
      ['update_postimage', 'INFO', 45n],
    ]),
  );
  assert.deepEqual(rows, [
    ['ERROR', 1n, 40n],
    ['INFO', 0n, 5n],
    ['WARN', -1n, -40n],
  ]);
});

test('empty input gives empty output', async () => {
  const [rows, rejected] = await counts(silver([]));
  assert.deepEqual(rows, []);
  assert.deepEqual(rejected, []);
});

test('a null level is rejected', async () => {
  const [rows, rejected] = await counts(
    silver([
      ['insert', null, 1n],
      ['insert', 'INFO', 2n],
    ]),
  );
  assert.deepEqual(rows, [['INFO', 1n, 2n]]);
  assert.deepEqual(rejected, [{ row: 0, reason: '`level` is null' }]);
});

test('levels sort in UTF-8 byte order, as a Rust BTreeMap<&str>', async () => {
  const levels = ['😀', '\uffff', 'é', 'a', 'Z', 'A', ''];
  const [rows] = await counts(silver(levels.map((level) => ['insert', level, 1n])));
  assert.deepEqual(
    rows.map((r) => r[0]),
    ['', 'A', 'Z', 'a', 'é', '\uffff', '😀'],
  );
});

test('sums wrap around at 64 bits, as the Rust release build does', async () => {
  const [rows] = await counts(
    silver([
      ['insert', 'INFO', 9223372036854775807n],
      ['insert', 'INFO', 1n],
      ['delete', 'WARN', -9223372036854775808n],
    ]),
  );
  assert.deepEqual(rows, [
    ['INFO', 2n, -9223372036854775808n],
    ['WARN', -1n, -9223372036854775808n],
  ]);
});

test('a batch without latency is invalid input', async () => {
  const batch = withCdf(makeBatch([new Field('level', new Utf8(), false)], [['INFO']]), ['insert']);
  await assert.rejects((await harness()).process(batch), (e) => {
    assert.ok(e instanceof CallError);
    assert.deepEqual([e.tag, e.message], ['invalid-input', 'missing column `latency_ms`']);
    return true;
  });
});
