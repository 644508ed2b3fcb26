// Run a JS transform in Node, through the same boundary the component has.
//
// `loadTransform(dir)` bundles the transform exactly as build.mjs does
// (esbuild, platform neutral, the SDK and apache-arrow included), except that
// the host import `ingot:transform/host@0.1.0` is a stub that records logs
// and returns a settable processing time. The harness then plays the host:
// it encodes each input table as an Arrow IPC stream, calls the exported
// `transform.process(bytes)`, and decodes what comes back, so `node --test`
// exercises the real boundary without a Wasm runtime (like the Rust SDK's
// `testing::Harness`).
//
//   import { loadTransform, bronze } from '../../../guest-sdk/js/testing.mjs';
//   const harness = await loadTransform(new URL('.', import.meta.url));
//   await harness.init({});
//   const { table, rejected } = await harness.process(bronze('logs', [['insert', line]]));

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  Binary,
  Field,
  Int32,
  Int64,
  List,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Utf8,
  makeData,
  tableFromIPC,
  tableToIPC,
  RecordBatch,
  Type,
  MessageReader,
  MessageHeader,
} from 'apache-arrow';
import { bundle, transformDir } from './build.mjs';

// The harness's apache-arrow (tests cannot import it by name from outside
// guest-sdk/js): build inputs and read outputs with these.
export * from 'apache-arrow';

const HOST_STUB = fileURLToPath(new URL('./testing-host.mjs', import.meta.url));
const CURRENT = Symbol.for('ingot.testing.host');
let loaded = 0;

/** A call that ended in the WIT `error` variant: `tag` is its case, `message` its text. */
export class CallError extends Error {
  constructor(tag, message) {
    super(message);
    this.name = 'CallError';
    this.tag = tag;
  }
}

/**
 * Bundles the transform in `sourceDir` (a path or file: URL) for Node and
 * returns a `Harness` for it. Each call makes a new module instance.
 */
export async function loadTransform(sourceDir, { processingTime = 0n } = {}) {
  const dir = sourceDir instanceof URL ? fileURLToPath(sourceDir) : String(sourceDir);
  const work = await mkdtemp(join(tmpdir(), 'ingot-js-test-'));
  try {
    // A name of its own, so that the stack rewriters of two bundles of one
    // folder (loaded by one test process) never meet.
    loaded += 1;
    const bundleName = `${basename(transformDir(dir))}-${loaded}.js`;
    const { code, name } = await bundle(dir, { hostModule: HOST_STUB, outDir: work, bundleName });
    const file = join(work, name);
    await writeFile(file, code);
    const module = await import(pathToFileURL(file).href);
    if (!module.transform) throw new Error(`${dir}: the entry does not export \`transform\``);
    return new Harness(module.transform, BigInt(processingTime));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * `loadTransform` for a transform given as source text (`fileName` in a
 * temporary folder named `name`, so stack traces say `name/fileName:line`).
 */
export async function loadTransformSource(source, { fileName = 'index.js', name = 'fixture', ...options } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'ingot-js-src-'));
  try {
    const folder = join(dir, name);
    await mkdir(folder);
    await writeFile(join(folder, fileName), source);
    return await loadTransform(folder, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The kinds of the messages of an IPC stream, e.g. `['Schema', 'RecordBatch']`. */
export function ipcMessageKinds(bytes) {
  const reader = new MessageReader(bytes);
  const kinds = [];
  for (let m = reader.readMessage(); m !== null; m = reader.readMessage()) {
    kinds.push(MessageHeader[m.headerType]);
    if (m.bodyLength > 0) reader.readMessageBody(m.bodyLength);
  }
  return kinds;
}

/** One transform instance, driven as the host drives the component. */
export class Harness {
  constructor(exported, processingTime) {
    this.exported = exported;
    /** What `processingTime()` returns, microseconds since the epoch (BigInt). */
    this.processingTime = processingTime;
    /** Every `[level, message]` the transform logged, oldest first. */
    this.logs = [];
  }

  /** `init` with `config` (an object or [key, value] pairs); rejects with a CallError. */
  async init(config = {}) {
    const pairs = Array.isArray(config) ? config : Object.entries(config);
    await this.call(() => this.exported.init(pairs.map(([k, v]) => [String(k), String(v)])));
  }

  /**
   * `process` over `input` (an apache-arrow Table or RecordBatch of this
   * package's apache-arrow, or IPC stream bytes). Resolves to `{ table,
   * rejected, bytes }`: the output decoded, the rejected rows, the raw
   * output stream. Rejects with a CallError.
   */
  async process(input) {
    const bytes = input instanceof Uint8Array ? input : encode(input);
    const output = await this.call(() => this.exported.process(bytes));
    // What the component glue would refuse to lower.
    if (!(output?.batch instanceof Uint8Array)) throw new Error('process output: `batch` is not a Uint8Array');
    for (const r of output.rejected) {
      if (!Number.isInteger(r.row) || r.row < 0 || r.row > 0xffffffff || typeof r.reason !== 'string') {
        throw new Error(`process output: invalid rejected row ${JSON.stringify(r)}`);
      }
    }
    return { table: tableFromIPC(output.batch), rejected: output.rejected, bytes: output.batch };
  }

  async call(body) {
    globalThis[CURRENT] = this;
    try {
      return await body();
    } catch (e) {
      // The glue turns a thrown `{ tag, val }` into the `err` case; anything
      // else would trap the component.
      if (e && typeof e === 'object' && !(e instanceof Error) && typeof e.val === 'string') {
        throw new CallError(e.tag, e.val);
      }
      throw new Error(`the export threw something the component glue cannot return (it would trap): ${e?.stack ?? e}`);
    } finally {
      globalThis[CURRENT] = undefined;
    }
  }
}

function encode(input) {
  const table = input instanceof RecordBatch ? new Table([input]) : input;
  return tableToIPC(table, 'stream');
}

// ---- input fixtures: the host's CDF batches ---------------------------------

const utc = () => new TimestampMicrosecond('UTC');

/** The partition of every row of `bronze`. */
export const BRONZE_PARTITION = 3;
/** The offset of the first row of `bronze`; row i has offset 100 + i. */
export const BRONZE_FIRST_OFFSET = 100n;
/** The Kafka timestamp of every row of `bronze` (2026-11-23T10:00:00Z, µs). */
export const BRONZE_TIMESTAMP = 1795428000000000n;
/** The ingest time of every row of `bronze`: one second later. */
export const BRONZE_INGEST_TIME = BRONZE_TIMESTAMP + 1000000n;

/**
 * `table` with the CDF columns appended: `changes` (one per row) as
 * `_change_type`, commit version 1 and commit timestamp 0 on every row.
 * `table` is an apache-arrow Table (or `{ fields, data }`, see `makeBatch`).
 */
export function withCdf(table, changes) {
  if (changes.length !== table.numRows) throw new Error('one change type per row of the table');
  const n = changes.length;
  const fields = [
    ...table.schema.fields,
    new Field('_change_type', new Utf8(), false),
    new Field('_commit_version', new Int64(), false),
    new Field('_commit_timestamp', utc(), false),
  ];
  const columns = table.schema.fields.map((f) => concatData(table.getChild(f.name)));
  columns.push(strings(new Utf8(), changes), ints64(new Int64(), Array(n).fill(1n)), ints64(utc(), Array(n).fill(0n)));
  return makeTableOf(fields, n, columns);
}

/**
 * A bronze CDF batch exactly as the host hands it to a stage reading bronze
 * (same columns, types and nullability as the host's bronze table, then the
 * CDF columns): one row per `[changeType, value]` of `rows`, `value` the
 * Kafka value (a string, a Uint8Array, or null for a tombstone). Topic
 * `topic`, partition 3, offsets 100, 101, ..., a null key, no headers.
 * With `{ utf8Value: true }` the `value` column is Utf8 instead of Binary.
 */
export function bronze(topic, rows, { utf8Value = false } = {}) {
  const n = rows.length;
  const encoder = new TextEncoder();
  const values = rows.map(([, v]) => (v == null ? null : typeof v === 'string' ? encoder.encode(v) : v));
  const headerItem = new Field(
    'element',
    new Struct([new Field('key', new Utf8(), false), new Field('value', new Binary(), true)]),
    true,
  );
  const valueType = utf8Value ? new Utf8() : new Binary();
  const fields = [
    new Field('topic', new Utf8(), false),
    new Field('partition', new Int32(), false),
    new Field('offset', new Int64(), false),
    new Field('timestamp', utc(), true),
    new Field('key', new Binary(), true),
    new Field('value', valueType, true),
    new Field('headers', new List(headerItem), true),
    new Field('ingest_time', utc(), false),
  ];
  const headers = makeData({
    type: new List(headerItem),
    length: n,
    nullCount: 0,
    valueOffsets: new Int32Array(n + 1),
    child: makeData({
      type: headerItem.type,
      length: 0,
      nullCount: 0,
      children: [makeData({ type: new Utf8(), length: 0, valueOffsets: new Int32Array(1), data: new Uint8Array(0) }),
        makeData({ type: new Binary(), length: 0, valueOffsets: new Int32Array(1), data: new Uint8Array(0) })],
    }),
  });
  const columns = [
    strings(new Utf8(), Array(n).fill(topic)),
    makeData({ type: new Int32(), length: n, nullCount: 0, data: new Int32Array(n).fill(BRONZE_PARTITION) }),
    ints64(new Int64(), Array.from({ length: n }, (_, i) => BRONZE_FIRST_OFFSET + BigInt(i))),
    ints64(utc(), Array(n).fill(BRONZE_TIMESTAMP)),
    bytes(new Binary(), Array(n).fill(null)),
    bytes(valueType, values),
    headers,
    ints64(utc(), Array(n).fill(BRONZE_INGEST_TIME)),
  ];
  const table = makeTableOf(fields, n, columns);
  return withCdf(table, rows.map(([c]) => c));
}

/**
 * A table of `fields` (apache-arrow Fields) and `columns` (arrays of JS
 * values: BigInt for 64-bit types and timestamps, numbers, strings,
 * Uint8Arrays, null) for test inputs.
 */
export function makeBatch(fields, columns) {
  const n = columns[0]?.length ?? 0;
  const data = fields.map((f, i) => {
    const v = columns[i];
    const id = f.type.typeId;
    if (id === Type.Utf8) return strings(f.type, v);
    if (id === Type.Binary) return bytes(f.type, v);
    if (id === Type.Timestamp || (id === Type.Int && f.type.bitWidth === 64)) return ints64(f.type, v);
    if (id === Type.Int && f.type.bitWidth === 32) return makeData({ type: f.type, length: n, ...validity(v), data: Int32Array.from(v, (x) => x ?? 0) });
    throw new Error(`makeBatch: unsupported type ${f.type}`);
  });
  return makeTableOf(fields, n, data);
}

function makeTableOf(fields, n, children) {
  const schema = new Schema(fields);
  const data = makeData({ type: new Struct(fields), length: n, nullCount: 0, children });
  return new Table(schema, [new RecordBatch(schema, data)]);
}

function validity(values) {
  const nullBitmap = new Uint8Array((values.length + 7) >> 3);
  let nullCount = 0;
  values.forEach((v, i) => {
    if (v == null) nullCount += 1;
    else nullBitmap[i >> 3] |= 1 << (i & 7);
  });
  return { nullCount, nullBitmap: nullCount ? nullBitmap : undefined };
}

function strings(type, values) {
  const encoder = new TextEncoder();
  return bytes(type, values.map((v) => (v == null ? null : encoder.encode(v))));
}

function bytes(type, values) {
  const total = values.reduce((sum, v) => sum + (v ? v.length : 0), 0);
  const data = new Uint8Array(total);
  const valueOffsets = new Int32Array(values.length + 1);
  let at = 0;
  values.forEach((v, i) => {
    if (v) {
      data.set(v, at);
      at += v.length;
    }
    valueOffsets[i + 1] = at;
  });
  return makeData({ type, length: values.length, ...validity(values), valueOffsets, data });
}

function ints64(type, values) {
  return makeData({ type, length: values.length, ...validity(values), data: BigInt64Array.from(values, (v) => v ?? 0n) });
}

function concatData(vector) {
  if (vector.data.length === 1) return vector.data[0];
  throw new Error('withCdf: the table must have one batch');
}
