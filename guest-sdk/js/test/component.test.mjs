// The real thing: a transform built by build.mjs into a component, run in
// StarlingMonkey (the component's own engine), with jco transpiling the
// component so that Node's WebAssembly runs it and this test plays the host.
// Proves that apache-arrow's IPC reader and writer work inside the component
// (TextEncoder/TextDecoder, BigInt64Array, ...), that the WIT glue takes the
// SDK's values and errors, and that a SpiderMonkey stack is mapped back to
// the source. Takes about ten seconds (componentizing).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transpile } from '@bytecodealliance/jco';
import { build } from '../build.mjs';
import { Field, Int64, Utf8, ipcMessageKinds, makeBatch, tableFromIPC, tableToIPC, withCdf } from '../testing.mjs';

const SOURCE = `import { defineTransform, buildTable, field, schema, timestampMicrosUtc, processingTime,
  changeTypes, int64Column, textColumn, log, parseJson, parseRfc3339, InvalidInput, Int64, Utf8 } from '@ingot/sdk';

const OUT = schema([
  field('name', new Utf8(), false),
  field('doubled', new Int64(), true),
  field('at', timestampMicrosUtc(), false),
]);

function averageLatency(rows) {
  return rows[0].latency / rows.length;
}

export const transform = defineTransform({
  init(config) {
    log.info('init ' + JSON.stringify(config));
    return config.mode ?? 'ok';
  },
  process(table, mode) {
    if (mode === 'throw') return averageLatency([]);
    if (mode === 'input') throw new InvalidInput('no column for you');
    const changes = changeTypes(table);
    const names = textColumn(table, 'name');
    const n = int64Column(table, 'n');
    const rejected = [];
    const keep = [];
    changes.forEach((c, row) => {
      if (n[row] === null) rejected.push({ row, reason: 'n is null' });
      else if (c === 'insert') keep.push(row);
    });
    const json = parseJson('{"a":9007199254740993,"b":1.5}');
    log.debug(String(json.a) + ' ' + String(parseRfc3339('2026-11-21T10:00:01.123456Z')));
    return {
      table: buildTable(OUT, {
        name: keep.map((r) => names[r]),
        doubled: keep.map((r) => n[r] * 2n),
        at: keep.map(() => processingTime()),
      }),
      rejected,
    };
  },
});
`;

let instantiate;
let work;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ingot-js-component-'));
  const source = join(work, 'stamp');
  await mkdir(source);
  await writeFile(join(source, 'index.js'), SOURCE);
  const wasm = await build(source, join(work, 'stamp.wasm'));
  const { files } = await transpile(await readFile(wasm), { name: 'stamp', instantiation: 'async', quiet: true });
  const out = join(work, 'js');
  for (const [name, bytes] of Object.entries(files)) {
    await mkdir(join(out, name, '..'), { recursive: true });
    await writeFile(join(out, name), bytes);
  }
  const module = await import(pathToFileURL(join(out, 'stamp.js')).href);
  instantiate = async (logs) => {
    const host = { log: (level, message) => logs.push([level, message]), processingTime: () => 1795255201123456n };
    const root = await module.instantiate(async (path) => WebAssembly.compile(await readFile(join(out, path))), {
      'ingot:transform/host': host,
      'ingot:transform/types': {},
    });
    return root.transform;
  };
});

after(() => rm(work, { recursive: true, force: true }));

/** The WIT `err` payload of a call (the transpiled glue throws it as a ComponentError). */
async function witError(call) {
  try {
    await call();
  } catch (e) {
    return e.payload;
  }
  assert.fail('the call succeeded');
}

function input() {
  const batch = makeBatch([new Field('name', new Utf8(), false), new Field('n', new Int64(), true)], [
    ['a', 'b', 'c', 'd'],
    [1n, 9007199254740993n, null, 4n],
  ]);
  return tableToIPC(withCdf(batch, ['insert', 'insert', 'insert', 'delete']), 'stream');
}

test('a component processes Arrow IPC in StarlingMonkey', async () => {
  const logs = [];
  const transform = await instantiate(logs);
  await transform.init([['mode', 'ok']]);
  const output = await transform.process(input());
  const table = tableFromIPC(output.batch);
  assert.deepEqual(ipcMessageKinds(output.batch), ['Schema', 'RecordBatch']);
  assert.deepEqual(
    table.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
    [
      ['name', 'Utf8', false],
      ['doubled', 'Int64', true],
      ['at', 'Timestamp<MICROSECOND, UTC>', false],
    ],
  );
  assert.deepEqual([0, 1].map((i) => table.getChild('name').get(i)), ['a', 'b']);
  assert.deepEqual(Array.from(table.getChild('doubled').data[0].values.subarray(0, 2)), [2n, 18014398509481986n]);
  assert.deepEqual(Array.from(table.getChild('at').data[0].values.subarray(0, 2)), [1795255201123456n, 1795255201123456n]);
  assert.deepEqual(output.rejected, [{ row: 2, reason: 'n is null' }]);
  assert.deepEqual(logs, [
    ['info', 'init {"mode":"ok"}'],
    ['debug', '9007199254740993 1795255201123456'],
  ]);
});

test('errors reach the host as the WIT variant, with the SpiderMonkey stack mapped to the source', async () => {
  const transform = await instantiate([]);
  await transform.init([['mode', 'throw']]);
  const failed = await witError(() => transform.process(input()));
  assert.equal(failed.tag, 'failed');
  const lines = failed.val.split('\n');
  assert.equal(lines[0], 'TypeError: can\'t access property "latency", rows[0] is undefined');
  assert.match(lines[1], /^ {4}at averageLatency \(stamp\/index\.js:11:\d+\)$/);
  assert.match(lines[2], /^ {4}at process \(stamp\/index\.js:20:\d+\)$/);
  assert.equal(lines.length, 3, failed.val);

  await transform.init([['mode', 'input']]);
  assert.deepEqual(await witError(() => transform.process(input())), { tag: 'invalid-input', val: 'no column for you' });
  const garbage = await witError(() => transform.process(new Uint8Array([1, 2, 3])));
  assert.equal(garbage.tag, 'invalid-input');
  assert.match(garbage.val, /^not an Arrow IPC stream: /);

});
