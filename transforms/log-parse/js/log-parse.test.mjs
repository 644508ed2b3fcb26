// The port through the Node harness, with the cases of the Rust stage's
// tests (transforms/log-parse/rust/src/tests.rs) and the edge cases where
// JSON.parse, Date.parse or toUpperCase would have disagreed with the Rust
// stage.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, CallError, Field, bronze, loadTransform, makeBatch, withCdf } from '../../../guest-sdk/js/testing.mjs';

const PROCESSING_TIME = 1800000000000000n;
const LINE =
  '{"ts":"2026-11-21T10:00:01.123Z","level":"INFO","service":"svc-3","host":"host-17","latency_ms":42,"msg":"request 7 handled"}';
const TOPIC = 'logs';

const SILVER_SCHEMA = [
  ['ts', 'Timestamp<MICROSECOND, UTC>', false],
  ['level', 'Utf8', false],
  ['service', 'Utf8', true],
  ['host', 'Utf8', true],
  ['latency_ms', 'Int64', true],
  ['message', 'Utf8', true],
  ['topic', 'Utf8', false],
  ['partition', 'Int32', false],
  ['offset', 'Int64', false],
  ['processed_at', 'Timestamp<MICROSECOND, UTC>', false],
];

async function run(input) {
  const harness = await loadTransform(new URL('.', import.meta.url), { processingTime: PROCESSING_TIME });
  await harness.init({});
  const output = await harness.process(input);
  assert.ok(harness.logs.every(([level]) => !['warn', 'error'].includes(level)));
  return output;
}

const inserts = (values) => bronze(TOPIC, values.map((v) => ['insert', v]));

/** Column `name` as JS values; 64-bit integers and timestamps as BigInt. */
function col(table, name) {
  const vector = table.getChild(name);
  if (/^(Int64|Timestamp)/.test(String(vector.type))) {
    return vector.data.flatMap((d) => Array.from({ length: d.length }, (_, i) => (d.getValid(i) ? d.values[i] : null)));
  }
  return Array.from({ length: table.numRows }, (_, i) => vector.get(i));
}

async function reasons(values) {
  const { table, rejected } = await run(inserts(values));
  assert.equal(table.numRows, 0, 'every line must be rejected');
  return rejected.map((r) => r.reason);
}

test('a full line becomes one typed row with lineage', async () => {
  const { table, rejected } = await run(inserts([LINE]));
  assert.deepEqual(
    table.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
    SILVER_SCHEMA,
  );
  assert.deepEqual(rejected, []);
  assert.deepEqual(col(table, 'ts'), [1795255201123000n]);
  assert.deepEqual(col(table, 'level'), ['INFO']);
  assert.deepEqual(col(table, 'service'), ['svc-3']);
  assert.deepEqual(col(table, 'host'), ['host-17']);
  assert.deepEqual(col(table, 'latency_ms'), [42n]);
  assert.deepEqual(col(table, 'message'), ['request 7 handled']);
  assert.deepEqual(col(table, 'topic'), ['logs']);
  assert.deepEqual(col(table, 'partition'), [3]);
  assert.deepEqual(col(table, 'offset'), [100n]);
  assert.deepEqual(col(table, 'processed_at'), [PROCESSING_TIME]);
});

test('levels are upper-cased (ASCII only) and WARNING is WARN', async () => {
  const line = (level) => `{"ts":"2026-11-21T10:00:00Z","level":"${level}"}`;
  const given = ['trace', 'Debug', 'INFO', 'warn', 'WARNING', 'error', 'fatal', 'Warning'];
  const { table } = await run(inserts(given.map(line)));
  assert.deepEqual(col(table, 'level'), ['TRACE', 'DEBUG', 'INFO', 'WARN', 'WARN', 'ERROR', 'FATAL', 'WARN']);
  // `to_ascii_uppercase` leaves the dotless i and the long s alone.
  assert.deepEqual(await reasons([line('ınfo'), line('ſtrace')]), ['unknown level `ınfo`', 'unknown level `ſtrace`']);
});

test('optional fields may be missing or null and message is an alias', async () => {
  const { table } = await run(
    inserts([
      '{"ts":"2026-11-21T10:00:00Z","level":"INFO"}',
      '{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":null,"service":null,"message":"from message"}',
      '{"ts":"2026-11-21T10:00:00Z","level":"INFO","msg":"from msg","message":"ignored","host":17}',
    ]),
  );
  assert.deepEqual(col(table, 'service'), [null, null, null]);
  assert.deepEqual(col(table, 'host'), [null, null, '17']);
  assert.deepEqual(col(table, 'latency_ms'), [null, null, null]);
  assert.deepEqual(col(table, 'message'), [null, 'from message', 'from msg']);
});

test('non-string optional fields keep serde_json text', async () => {
  const { table } = await run(
    inserts([
      '{"ts":"2026-11-21T10:00:00Z","level":"INFO","host":1.0,"service":1e3,"msg":{"b":[1,2.50],"a":null}}',
      '{"ts":"2026-11-21T10:00:00Z","level":"INFO","host":true,"service":-0,"msg":123456789012345678901234567890}',
      '{"ts":"2026-11-21T10:00:00Z","level":"INFO","host":"x","host":"last wins","msg":null,"message":"\\u00e9\\ud83d\\ude00"}',
    ]),
  );
  assert.deepEqual(col(table, 'host'), ['1.0', 'true', 'last wins']);
  assert.deepEqual(col(table, 'service'), ['1000.0', '-0.0', null]);
  assert.deepEqual(col(table, 'message'), ['{"a":null,"b":[1,2.5]}', '1.2345678901234568e+29', 'é😀']);
});

test('latency_ms must be an integer literal within i64, as serde_json as_i64', async () => {
  const line = (latency) => `{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":${latency}}`;
  const { table } = await run(inserts([line('0'), line('-5'), line('9223372036854775807'), line('-9223372036854775808')]));
  assert.deepEqual(col(table, 'latency_ms'), [0n, -5n, 9223372036854775807n, -9223372036854775808n]);
  assert.deepEqual(
    await reasons([line('42.0'), line('1e3'), line('-0'), line('9223372036854775808'), line('18446744073709551616'), line('true')]),
    [
      '`latency_ms` is not an integer: 42.0',
      '`latency_ms` is not an integer: 1000.0',
      '`latency_ms` is not an integer: -0.0',
      '`latency_ms` is not an integer: 9223372036854775808',
      '`latency_ms` is not an integer: 1.8446744073709552e+19',
      '`latency_ms` is not an integer: true',
    ],
  );
});

test('unparseable values are rejected with the reason', async () => {
  const cases = [
    ['not json', 'value is not valid JSON: expected ident at line 1 column 2'],
    ['[1,2]', 'value is a JSON array, not an object'],
    ['42', 'value is not a JSON object: 42'],
    ['{"ts":"2026-11-21T10:00:00Z"}', 'missing field `level`'],
    ['{"ts":"2026-11-21T10:00:00Z","level":null}', 'missing field `level`'],
    ['{"ts":"2026-11-21T10:00:00Z","level":3}', '`level` is not a string: 3'],
    ['{"ts":"2026-11-21T10:00:00Z","level":"LOUD"}', 'unknown level `LOUD`'],
    ['{"level":"INFO"}', 'missing field `ts`'],
    ['{"ts":"21/11/2026","level":"INFO"}', '`ts` is not an RFC 3339 timestamp: expected a 4-digit year at byte 0'],
    ['{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":4.5}', '`latency_ms` is not an integer: 4.5'],
    ['{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":"42"}', '`latency_ms` is not an integer: "42"'],
    // Beyond the Rust tests: what JSON.parse and Date.parse would accept.
    ['{"ts":"2026-11-21T10:00:00Z","level":"INFO","msg":"\\ud800"}', 'value is not valid JSON: unexpected end of hex escape at line 1 column 58'],
    ['{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":1e400}', 'value is not valid JSON: number out of range at line 1 column 62'],
    ['{"ts":"2026-11-21T10:00:00.000+0000","level":"INFO"}', '`ts` is not an RFC 3339 timestamp: expected `:` at byte 26'],
    ['{"ts":"2026-02-30T10:00:00Z","level":"INFO"}', '`ts` is not an RFC 3339 timestamp: day 30 is out of range'],
    ['\ufeff{"ts":"2026-11-21T10:00:00Z","level":"INFO"}', 'value is not valid JSON: expected value at line 1 column 1'],
  ];
  assert.deepEqual(
    await reasons(cases.map(([value]) => value)),
    cases.map(([, reason]) => reason),
  );
});

test('timestamps keep their microseconds, offsets and leap seconds', async () => {
  const line = (ts) => `{"ts":"${ts}","level":"INFO"}`;
  const { table } = await run(
    inserts([line('2026-11-21t10:00:01.123456789z'), line('2026-11-21 12:00:01.1+02:00'), line('2016-12-31T23:59:60Z')]),
  );
  assert.deepEqual(col(table, 'ts'), [1795255201123456n, 1795255201100000n, 1483228800000000n]);
});

test('null and non-UTF-8 values are rejected', async () => {
  const { table, rejected } = await run(
    bronze(TOPIC, [
      ['insert', null],
      ['insert', new Uint8Array([0x7b, 0xff, 0x7d])],
      ['insert', LINE],
    ]),
  );
  assert.equal(table.numRows, 1);
  assert.deepEqual(col(table, 'offset'), [102n]);
  assert.deepEqual(rejected, [
    { row: 0, reason: 'value is null' },
    { row: 1, reason: 'value is not UTF-8: invalid utf-8 sequence of 1 bytes from index 1' },
  ]);
});

test('only inserts are parsed and reject rows index the input', async () => {
  const { table, rejected } = await run(
    bronze(TOPIC, [
      ['delete', 'garbage'],
      ['insert', LINE],
      ['update_preimage', LINE],
      ['insert', 'garbage'],
    ]),
  );
  assert.deepEqual(col(table, 'offset'), [101n]);
  assert.deepEqual(
    rejected.map((r) => r.row),
    [3],
  );
});

test('an empty batch gives an empty silver batch', async () => {
  const { table } = await run(bronze(TOPIC, []));
  assert.equal(table.numRows, 0);
  assert.deepEqual(
    table.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
    SILVER_SCHEMA,
  );
});

test('a string value column is accepted', async () => {
  const { table } = await run(bronze(TOPIC, [['insert', LINE]], { utf8Value: true }));
  assert.equal(table.numRows, 1);
});

test('a batch without kafka columns is invalid input', async () => {
  const batch = withCdf(makeBatch([new Field('value', new Binary(), true)], [[new TextEncoder().encode(LINE)]]), ['insert']);
  const harness = await loadTransform(new URL('.', import.meta.url));
  await harness.init({});
  await assert.rejects(harness.process(batch), (e) => {
    assert.ok(e instanceof CallError);
    assert.deepEqual([e.tag, e.message], ['invalid-input', 'missing column `topic`']);
    return true;
  });
});
