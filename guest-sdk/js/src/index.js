// @ingot/sdk: write ingot transforms in JavaScript or TypeScript.
//
// An ingot stage runs a WebAssembly component of the `ingot:transform`
// `stage` world (guest-sdk/wit/transform.wit is the contract). This module
// hides the boundary: a transform is an object with `init(config)` and
// `process(table)` over apache-arrow Tables, and `defineTransform` turns it
// into the WIT export (Arrow IPC decoding and encoding, rejected rows, error
// mapping). `guest-sdk/js/build.mjs` bundles it with apache-arrow and this SDK
// and builds the component with ComponentizeJS.
//
//   import { defineTransform, changeTypes, buildTable, field, Int64 } from '@ingot/sdk';
//
//   export const transform = defineTransform({
//     init(config) { return { field: config.field ?? 'amount' }; },
//     process(table, state) { ...; return buildTable(schema, columns); },
//   });
//
// The export must be named `transform` (the WIT interface's name).

import { log as hostLog, processingTime as hostProcessingTime } from 'ingot:transform/host@0.1.0';
import { RecordBatch, RecordBatchReader, Table, tableToIPC } from 'apache-arrow';
import { CALL_MARKER, Failed, InvalidConfig, InvalidInput, describeValue, toWitError } from './errors.js';

export { TransformError, InvalidConfig, InvalidInput, Failed, describeThrown, describeValue, toWitError } from './errors.js';
export {
  CHANGE_TYPE,
  COMMIT_VERSION,
  COMMIT_TIMESTAMP,
  CDF_COLUMNS,
  isCdfColumn,
  changeTypes,
  sign,
  column,
  textColumn,
  bytesColumn,
  utf8Column,
  Utf8Error,
  int64Column,
  values,
} from './columns.js';
export { field, schema, timestampMicrosUtc, buildTable } from './table.js';
export { parseRfc3339, parseDate, TimeError } from './time.js';
export { parseJson, toJson, JsonError, compareUtf8, decodeUtf8, utf8Error, formatFloat } from './json.js';

// apache-arrow, for types and anything the helpers do not cover. The whole
// library is `arrow`; the names a transform usually needs are re-exported.
export * as arrow from 'apache-arrow';
export {
  Table,
  RecordBatch,
  Schema,
  Field,
  DataType,
  Type,
  TimeUnit,
  Bool,
  Int8,
  Int16,
  Int32,
  Int64,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Float32,
  Float64,
  Utf8,
  LargeUtf8,
  Binary,
  LargeBinary,
  DateDay,
  Timestamp,
  TimestampSecond,
  TimestampMillisecond,
  TimestampMicrosecond,
  TimestampNanosecond,
  List,
  Struct,
  tableFromIPC,
  tableToIPC,
  vectorFromArray,
  makeData,
} from 'apache-arrow';

// ---- host services ----------------------------------------------------------

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

/**
 * Writes `message` to the host's log at `level` (`trace`, `debug`, `info`,
 * `warn` or `error`), tagged with the tenant, pipeline, stage and module.
 * Also `log.info(message)` and the like.
 */
export function log(level, message) {
  if (!LEVELS.includes(level)) {
    throw new TypeError(`log level must be one of ${LEVELS.join(', ')}, got ${describeValue(level)}`);
  }
  hostLog(level, typeof message === 'string' ? message : String(message));
}
for (const level of LEVELS) log[level] = (message) => log(level, message);

/**
 * The time the host began processing the current range of input, in
 * microseconds since the Unix epoch (a BigInt): constant for every call
 * that contributes to one output commit. Stamp rows with it, never with a
 * clock (the component has none: replay must give the same rows).
 */
export function processingTime() {
  return BigInt(hostProcessingTime());
}

/**
 * The value of the stage configuration key `key`; `InvalidConfig`
 * (``missing key `key` ``) when the pipeline file does not set it.
 */
export function requireConfig(config, key) {
  const value = Object.prototype.hasOwnProperty.call(config, key) ? config[key] : undefined;
  if (value === undefined) throw new InvalidConfig(`missing key \`${key}\``);
  return value;
}

// ---- the export -----------------------------------------------------------

/**
 * The WIT export object of a transform. `spec.process(table, state)` is
 * required; `spec.init(config)` is optional. Both are called with `this`
 * set to `spec`.
 *
 * - `init(config)`: `config` is the stage's `config` table from the pipeline
 *   file as a frozen object of string values (a repeated key keeps its last
 *   value). What it returns is the `state` handed to every `process`.
 *   Called once per instance, before any `process`.
 * - `process(table, state)`: `table` is the input batch as an apache-arrow
 *   Table (the input table's columns plus `_change_type`, `_commit_version`,
 *   `_commit_timestamp`). Return an apache-arrow Table (or RecordBatch) of
 *   output rows, or `{ table, rejected }` where `rejected` lists input rows
 *   to quarantine as `{ row, reason }` (row: the index in `table`). The
 *   output schema must be the same on every call.
 *
 * Either may return a Promise. What they throw ends the call: an
 * `InvalidConfig`, `InvalidInput` or `Failed` as that WIT case with its
 * message; anything else as `failed` with its own message and stack trace.
 */
export function defineTransform(spec) {
  if (spec === null || typeof spec !== 'object') {
    throw new TypeError(`defineTransform expects an object with a process function, got ${describeValue(spec)}`);
  }
  if (typeof spec.process !== 'function') {
    throw new TypeError(`defineTransform: \`process\` must be a function, got ${describeValue(spec.process)}`);
  }
  if (spec.init !== undefined && typeof spec.init !== 'function') {
    throw new TypeError(`defineTransform: \`init\` must be a function when given, got ${describeValue(spec.init)}`);
  }

  let ready = false;
  let state;

  return {
    init(pairs) {
      ready = false;
      state = undefined;
      return guard(() => {
        const config = Object.freeze(Object.fromEntries(pairs));
        return then(
          spec.init ? ingotCallsTheTransform(spec.init, spec, config) : undefined,
          (result) => {
            state = result;
            ready = true;
          },
        );
      });
    },

    process(bytes) {
      return guard(() => {
        if (!ready) throw new Failed('process called before init');
        let input;
        try {
          // (tableFromIPC would read bytes without a schema as an empty table.)
          const reader = RecordBatchReader.from(bytes).open();
          const { schema } = reader;
          if (!schema) throw new Error('it holds no schema message');
          input = new Table(schema, reader.readAll());
        } catch (e) {
          throw new InvalidInput(`not an Arrow IPC stream: ${e?.message ?? e}`);
        }
        return then(
          ingotCallsTheTransform(spec.process, spec, input, state),
          (result) => encodeOutput(result, input.numRows),
        );
      });
    },
  };
}

// Calls the author's code; the name marks where stack traces are cut (the
// author's function is the frame right above it).
function ingotCallsTheTransform(fn, self, ...args) {
  return fn.apply(self, args);
}
if (ingotCallsTheTransform.name !== CALL_MARKER) throw new Error('the call marker was renamed');

function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
}

function then(value, next) {
  return isThenable(value) ? value.then(next) : next(value);
}

// Runs `body`; whatever it throws (or rejects with) is thrown as the WIT
// error variant `{ tag, val }`, which the component glue returns as `err`.
function guard(body) {
  let result;
  try {
    result = body();
  } catch (e) {
    throw toWitError(e);
  }
  if (isThenable(result)) {
    return result.then(undefined, (e) => {
      throw toWitError(e);
    });
  }
  return result;
}

function encodeOutput(result, inputRows) {
  let table = result;
  let rejected = [];
  if (!isTableLike(result) && result !== null && typeof result === 'object' && 'table' in result) {
    table = result.table;
    rejected = result.rejected ?? [];
  }
  if (table instanceof RecordBatch) table = new Table([table]);
  if (!(table instanceof Table)) {
    const what = table === result ? describeValue(result) : `{ table: ${describeValue(table)} }`;
    throw new Failed(
      `process must return an apache-arrow Table (or RecordBatch), or { table, rejected }, but returned ${what}`,
    );
  }
  if (!Array.isArray(rejected)) {
    throw new Failed(`process returned \`rejected\` as ${describeValue(rejected)}; expected an array of { row, reason }`);
  }
  const out = rejected.map((r, i) => {
    if (r === null || typeof r !== 'object') {
      throw new Failed(`rejected[${i}] is ${describeValue(r)}; expected { row, reason }`);
    }
    const row = typeof r.row === 'bigint' ? Number(r.row) : r.row;
    if (typeof row !== 'number' || !Number.isInteger(row) || row < 0) {
      throw new Failed(`rejected[${i}].row is ${describeValue(r.row)}; expected the index of an input row`);
    }
    if (row >= inputRows) {
      throw new Failed(`rejected row ${row} is out of range: the input has ${inputRows} rows`);
    }
    if (typeof r.reason !== 'string') {
      throw new Failed(`rejected[${i}].reason is ${describeValue(r.reason)}; expected a string`);
    }
    return { row, reason: r.reason };
  });
  // Like the Rust SDK: no empty record batches, so no rows is a schema-only stream.
  const batches = table.batches.filter((b) => b.numRows > 0);
  const batch = tableToIPC(new Table(table.schema, batches), 'stream');
  return { batch, rejected: out };
}

function isTableLike(value) {
  return value instanceof Table || value instanceof RecordBatch;
}
