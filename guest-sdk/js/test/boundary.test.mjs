// The SDK through the component boundary, in Node: configuration, the error
// variant (with message and stack), output validation and IPC encoding.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CallError,
  Field,
  Int64,
  Schema,
  Table,
  Utf8,
  ipcMessageKinds,
  loadTransformSource,
  makeBatch,
  withCdf,
} from '../testing.mjs';

/** A CDF batch of inserts with one Int64 column `n`. */
function ints(values, changes = values.map(() => 'insert')) {
  return withCdf(makeBatch([new Field('n', new Int64(), true)], [values]), changes);
}

async function ready(source, config = {}) {
  const harness = await loadTransformSource(source);
  await harness.init(config);
  return harness;
}

/** The CallError a promise rejects with. */
async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    if (e instanceof CallError) return e;
    throw e;
  }
  assert.fail('the call succeeded');
}

test('init gets the configuration as an object and its result is the state', async () => {
  const harness = await loadTransformSource(`
    import { defineTransform, buildTable, field, Utf8 } from '@ingot/sdk';
    const schema = [field('config', new Utf8(), false)];
    export const transform = defineTransform({
      tag: 'spec',
      init(config) {
        return { json: JSON.stringify(config), frozen: Object.isFrozen(config), self: this.tag };
      },
      process(table, state) {
        return buildTable(schema, { config: [JSON.stringify(state)] });
      },
    });
  `);
  await harness.init([
    ['mode', 'fast'],
    ['limit', '1'],
    ['limit', '2'],
  ]);
  const { table } = await harness.process(ints([1n]));
  assert.deepEqual(JSON.parse(table.getChild('config').get(0)), {
    json: '{"mode":"fast","limit":"2"}',
    frozen: true,
    self: 'spec',
  });
});

test('init is optional and process before init fails', async () => {
  const harness = await loadTransformSource(`
    import { defineTransform } from '@ingot/sdk';
    export const transform = defineTransform({ process: (table) => table });
  `);
  const early = await failure(harness.process(ints([1n])));
  assert.equal(early.tag, 'failed');
  assert.equal(early.message, 'process called before init');
  await harness.init();
  const { table } = await harness.process(ints([1n, 2n]));
  assert.equal(table.numRows, 2);
});

test('InvalidConfig, InvalidInput and Failed keep their case and message', async () => {
  const source = `
    import { defineTransform, requireConfig, column, InvalidInput, Failed } from '@ingot/sdk';
    export const transform = defineTransform({
      init(config) { return requireConfig(config, 'mode'); },
      process(table, mode) {
        if (mode === 'failed') throw new Failed('asked to fail');
        if (mode === 'input') throw new InvalidInput('no good');
        column(table, 'nope');
      },
    });
  `;
  const harness = await loadTransformSource(source);
  const config = await failure(harness.init({}));
  assert.deepEqual([config.tag, config.message], ['invalid-config', 'missing key `mode`']);
  // A failed init leaves no instance behind.
  const after = await failure(harness.process(ints([1n])));
  assert.deepEqual([after.tag, after.message], ['failed', 'process called before init']);

  const cases = [
    ['failed', 'failed', 'asked to fail'],
    ['input', 'invalid-input', 'no good'],
    ['column', 'invalid-input', 'missing column `nope`'],
  ];
  for (const [mode, tag, message] of cases) {
    const h = await ready(source, { mode });
    const e = await failure(h.process(ints([1n])));
    assert.deepEqual([e.tag, e.message], [tag, message], mode);
  }
});

test('an exception reaches the host as failed, with its message and a stack mapped to the source', async () => {
  const harness = await loadTransformSource(
    `import { defineTransform } from '@ingot/sdk';

function averageLatency(rows) {
  const first = rows[0];
  return first.latency / rows.length;
}

export const transform = defineTransform({
  process(table) {
    return averageLatency([]);
  },
});
`,
    { name: 'throws' },
  );
  await harness.init();
  const e = await failure(harness.process(ints([1n])));
  assert.equal(e.tag, 'failed');
  const lines = e.message.split('\n');
  assert.equal(lines[0], "TypeError: Cannot read properties of undefined (reading 'latency')");
  assert.match(lines[1], /^ {4}at averageLatency \(throws\/index\.js:5:\d+\)$/);
  assert.match(lines[2], /^ {4}at Object\.process \(throws\/index\.js:10:\d+\)$/);
  // The SDK's own frames below the transform are cut off.
  assert.equal(lines.length, 3, e.message);
});

test('anything thrown is described; causes are followed; variants pass through', async () => {
  const source = `
    import { defineTransform } from '@ingot/sdk';
    export const transform = defineTransform({
      init(config) { return config.what; },
      async process(table, what) {
        switch (what) {
          case 'string': throw 'boom';
          case 'number': throw 42;
          case 'object': throw { code: 7 };
          case 'variant': throw { tag: 'invalid-input', val: 'as a variant' };
          case 'cause': throw new Error('outer', { cause: new RangeError('inner') });
          case 'reject': return Promise.reject(new SyntaxError('async'));
        }
      },
    });
  `;
  const expect = {
    string: ['failed', 'the string "boom" was thrown (not an Error, so there is no stack trace)'],
    number: ['failed', 'the number 42 was thrown (not an Error, so there is no stack trace)'],
    object: ['failed', 'an object with key code was thrown (not an Error, so there is no stack trace)'],
    variant: ['invalid-input', 'as a variant'],
  };
  for (const [what, [tag, message]] of Object.entries(expect)) {
    const e = await failure((await ready(source, { what })).process(ints([1n])));
    assert.deepEqual([e.tag, e.message], [tag, message], what);
  }
  const cause = await failure((await ready(source, { what: 'cause' })).process(ints([1n])));
  assert.match(cause.message, /^Error: outer\n {4}at .*fixture\/index\.js:11:\d+\)\nCaused by: RangeError: inner\n {4}at .*fixture\/index\.js:11:\d+\)$/);
  const rejected = await failure((await ready(source, { what: 'reject' })).process(ints([1n])));
  assert.match(rejected.message, /^SyntaxError: async\n/);
});

test('process must return a Table; rejected rows are checked', async () => {
  const source = `
    import { defineTransform, Table } from '@ingot/sdk';
    export const transform = defineTransform({
      init(config) { return config.what; },
      process(table, what) {
        switch (what) {
          case 'undefined': return undefined;
          case 'array': return [1, 2];
          case 'object': return { rows: [] };
          case 'inner': return { table: 'x', rejected: [] };
          case 'past-end': return { table, rejected: [{ row: 2, reason: 'ghost' }] };
          case 'reason': return { table, rejected: [{ row: 0, reason: 7 }] };
          case 'batch': return table.batches[0];
          case 'ok': return { table, rejected: [{ row: 1n, reason: 'bigint row' }] };
        }
      },
    });
  `;
  const expect = {
    undefined: 'process must return an apache-arrow Table (or RecordBatch), or { table, rejected }, but returned undefined',
    array: 'process must return an apache-arrow Table (or RecordBatch), or { table, rejected }, but returned an array of 2 items',
    object: 'process must return an apache-arrow Table (or RecordBatch), or { table, rejected }, but returned an object with key rows',
    inner: 'process must return an apache-arrow Table (or RecordBatch), or { table, rejected }, but returned { table: the string "x" }',
    'past-end': 'rejected row 2 is out of range: the input has 2 rows',
    reason: 'rejected[0].reason is the number 7; expected a string',
  };
  for (const [what, message] of Object.entries(expect)) {
    const e = await failure((await ready(source, { what })).process(ints([1n, 2n])));
    assert.deepEqual([e.tag, e.message], ['failed', message], what);
  }
  const batch = await (await ready(source, { what: 'batch' })).process(ints([1n, 2n]));
  assert.equal(batch.table.numRows, 2);
  const ok = await (await ready(source, { what: 'ok' })).process(ints([1n, 2n]));
  assert.deepEqual(ok.rejected, [{ row: 1, reason: 'bigint row' }]);
});

test('bytes that are not an IPC stream are invalid input', async () => {
  const harness = await ready(`
    import { defineTransform } from '@ingot/sdk';
    export const transform = defineTransform({ process: (table) => table });
  `);
  const e = await failure(harness.process(new Uint8Array([0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, 1, 2, 3])));
  assert.equal(e.tag, 'invalid-input');
  assert.match(e.message, /^not an Arrow IPC stream: /);
});

const TYPED = `
  import { defineTransform, buildTable, field, schema, timestampMicrosUtc, processingTime, int64Column,
    Utf8, Int32, Int64, Binary, Float64, Bool, DateDay, log } from '@ingot/sdk';
  export const OUT = schema([
    field('id', new Int64(), false),
    field('at', timestampMicrosUtc(), false),
    field('small', new Int32(), true),
    field('name', new Utf8(), true),
    field('blob', new Binary(), true),
    field('ratio', new Float64(), true),
    field('flag', new Bool(), true),
    field('day', new DateDay(), true),
  ]);
  export const transform = defineTransform({
    init(config) { return config.empty === 'yes'; },
    process(table, empty) {
      log.info('rows ' + table.numRows);
      if (empty) return buildTable(OUT, { id: [], at: [], small: [], name: [], blob: [], ratio: [], flag: [], day: [] });
      const ids = int64Column(table, 'n');
      return buildTable(OUT, {
        id: ids,
        at: ids.map(() => processingTime()),
        small: [-2147483648, null, 2147483647],
        name: ['héllo', null, '😀'],
        blob: [new Uint8Array([0, 255]), null, new Uint8Array()],
        ratio: [0.5, null, -0],
        flag: [true, null, false],
        day: [20778, null, -1],
      });
    },
  });
`;

test('output keeps the exact schema, nullability and values through IPC', async () => {
  const harness = await loadTransformSource(TYPED, { processingTime: 1795255201123456n });
  await harness.init();
  const { table, bytes } = await harness.process(ints([9007199254740993n, -9223372036854775808n, 9223372036854775807n]));
  assert.deepEqual(
    table.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
    [
      ['id', 'Int64', false],
      ['at', 'Timestamp<MICROSECOND, UTC>', false],
      ['small', 'Int32', true],
      ['name', 'Utf8', true],
      ['blob', 'Binary', true],
      ['ratio', 'Float64', true],
      ['flag', 'Bool', true],
      ['day', 'Date32<DAY>', true],
    ],
  );
  assert.equal(table.schema.fields[1].type.timezone, 'UTC');
  assert.deepEqual(ipcMessageKinds(bytes), ['Schema', 'RecordBatch']);
  const raw = (name) => Array.from(table.getChild(name).data[0].values.subarray(0, table.numRows));
  assert.deepEqual(raw('id'), [9007199254740993n, -9223372036854775808n, 9223372036854775807n]);
  assert.deepEqual(raw('at'), [1795255201123456n, 1795255201123456n, 1795255201123456n]);
  assert.deepEqual(table.getChild('small').toArray().length, 3);
  assert.deepEqual([0, 1, 2].map((i) => table.getChild('small').get(i)), [-2147483648, null, 2147483647]);
  assert.deepEqual([0, 1, 2].map((i) => table.getChild('name').get(i)), ['héllo', null, '😀']);
  assert.deepEqual([0, 1, 2].map((i) => table.getChild('blob').get(i)), [new Uint8Array([0, 255]), null, new Uint8Array()]);
  assert.deepEqual([0, 1, 2].map((i) => table.getChild('ratio').get(i)), [0.5, null, -0]);
  assert.deepEqual([0, 1, 2].map((i) => table.getChild('flag').get(i)), [true, null, false]);
  assert.deepEqual(raw('day'), [20778, 0, -1]);
  assert.deepEqual(harness.logs, [['info', 'rows 3']]);
});

test('no output rows is a schema-only stream with the full schema', async () => {
  const harness = await loadTransformSource(TYPED);
  await harness.init({ empty: 'yes' });
  const { table, bytes } = await harness.process(ints([]));
  assert.deepEqual(ipcMessageKinds(bytes), ['Schema']);
  assert.equal(table.numRows, 0);
  assert.equal(table.schema.fields.length, 8);
  assert.equal(table.schema.fields[0].nullable, false);
});

test('buildTable refuses values that do not fit, naming the column and row', async () => {
  const source = `
    import { defineTransform, buildTable, field, Int64, Int32, Utf8 } from '@ingot/sdk';
    export const transform = defineTransform({
      init(config) { return config.what; },
      process(table, what) {
        const f = { a: field('a', new Int64(), false), b: field('b', new Int32(), true), c: field('c', new Utf8(), true) };
        switch (what) {
          case 'null': return buildTable([f.a], { a: [1n, null] });
          case 'float': return buildTable([f.a], { a: [1.5] });
          case 'range': return buildTable([f.b], { b: [2 ** 31] });
          case 'text': return buildTable([f.c], { c: [42] });
          case 'length': return buildTable([f.a, f.b], { a: [1n], b: [1, 2] });
          case 'missing': return buildTable([f.a, f.b], { a: [1n] });
          case 'extra': return buildTable([f.a], { a: [1n], z: [] });
          case 'nullable': return field('x', new Int64());
        }
      },
    });
  `;
  const expect = {
    null: /^TypeError: column `a` is not nullable, but row 1 is null\n/,
    float: /^TypeError: column `a` \(Int64\) row 0: expected a 64-bit integer \(BigInt\), got number 1\.5\n/,
    range: /^TypeError: column `b` \(Int32\) row 0: expected a 32-bit integer, got number 2147483648\n/,
    text: /^TypeError: column `c` \(Utf8\) row 0: expected a string, got number 42\n/,
    length: /^TypeError: buildTable: column `b` has 2 values, column `a` has 1\n/,
    missing: /^TypeError: buildTable: no values for column `b`\n/,
    extra: /^TypeError: buildTable: column `z` is not in the schema\n/,
    nullable: /^TypeError: field `x`: say whether it is nullable \(true or false\), got undefined\n/,
  };
  for (const [what, pattern] of Object.entries(expect)) {
    const e = await failure((await ready(source, { what })).process(ints([1n])));
    assert.equal(e.tag, 'failed', what);
    assert.match(e.message, pattern, what);
    assert.match(e.message, /fixture\/index\.js:\d+:\d+/, `${what}: the frame of the transform`);
  }
});

test('typescript sources build (types are stripped)', async () => {
  const harness = await loadTransformSource(
    `
    import { defineTransform, buildTable, field, Utf8, type Config, type Table } from '@ingot/sdk';
    interface State { greeting: string }
    const schema = [field('greeting', new Utf8(), false)];
    export const transform = defineTransform<State>({
      init(config: Config): State { return { greeting: config.greeting ?? 'hi' }; },
      process(table: Table, state: State): Table {
        return buildTable(schema, { greeting: [state.greeting as string] });
      },
    });
  `,
    { fileName: 'index.ts' },
  );
  await harness.init({ greeting: 'hello' });
  const { table } = await harness.process(ints([1n]));
  assert.equal(table.getChild('greeting').get(0), 'hello');
});

test('a table returned as is keeps the input schema', async () => {
  const harness = await ready(`
    import { defineTransform } from '@ingot/sdk';
    export const transform = defineTransform({ process: (table) => table });
  `);
  const input = withCdf(makeBatch([new Field('s', new Utf8(), false)], [['a', 'b']]), ['insert', 'delete']);
  const { table } = await harness.process(input);
  assert.deepEqual(
    table.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`),
    input.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`),
  );
  assert.ok(table instanceof Table);
  assert.ok(new Schema(table.schema.fields));
});
