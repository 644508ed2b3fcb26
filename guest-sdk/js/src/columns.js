// Reading input tables: the Change Data Feed columns, and column values with
// errors that name the column (the JS side of the Rust SDK's `cdf.rs`).

import { DateUnit, Int64, Type, makeVector } from 'apache-arrow';
import { InvalidInput } from './errors.js';
import { utf8Error } from './json.js';

/** The CDF column holding each row's change type (utf8). */
export const CHANGE_TYPE = '_change_type';
/** The CDF column holding the input table version of each row (int64). */
export const COMMIT_VERSION = '_commit_version';
/** The CDF column holding the commit time of each row (timestamp, µs, UTC). */
export const COMMIT_TIMESTAMP = '_commit_timestamp';
/** The three Change Data Feed columns every input batch carries. */
export const CDF_COLUMNS = Object.freeze([CHANGE_TYPE, COMMIT_VERSION, COMMIT_TIMESTAMP]);

const CHANGE_TYPES = new Set(['insert', 'update_preimage', 'update_postimage', 'delete']);

/** Whether `name` is one of the CDF columns. */
export function isCdfColumn(name) {
  return CDF_COLUMNS.includes(name);
}

/**
 * The change type of every row: `insert`, `update_preimage`,
 * `update_postimage` or `delete`. Throws `InvalidInput` when the column is
 * missing, not a string column, or holds a null or unknown value.
 */
export function changeTypes(table) {
  return textColumn(table, CHANGE_TYPE).map((value, row) => {
    if (value === null) throw new InvalidInput(`column \`${CHANGE_TYPE}\` is null at row ${row}`);
    if (!CHANGE_TYPES.has(value)) {
      throw new InvalidInput(`column \`${CHANGE_TYPE}\` has unknown change type \`${value}\` at row ${row}`);
    }
    return value;
  });
}

/**
 * +1 for a row that appears (`insert`, `update_postimage`), -1 for one that
 * goes away (`delete`, `update_preimage`): the sign of an incremental
 * aggregate's delta. A number; use `BigInt(sign(c))` with Int64 values.
 */
export function sign(changeType) {
  switch (changeType) {
    case 'insert':
    case 'update_postimage':
      return 1;
    case 'delete':
    case 'update_preimage':
      return -1;
    default:
      throw new TypeError(`unknown change type ${JSON.stringify(changeType)}`);
  }
}

/** The column `name` (an apache-arrow Vector); `InvalidInput` when missing. */
export function column(table, name) {
  const vector = table.getChild(name);
  if (vector === null || vector === undefined) throw new InvalidInput(`missing column \`${name}\``);
  return vector;
}

const STRING_TYPES = new Set([Type.Utf8, Type.LargeUtf8, Type.Utf8View]);
const BINARY_TYPES = new Set([Type.Binary, Type.LargeBinary, Type.BinaryView]);
const OFFSET_TYPES = new Set([Type.Utf8, Type.LargeUtf8, Type.Binary, Type.LargeBinary]);

/**
 * The values of the string column `name` (utf8, large utf8 or utf8 view),
 * `null` where null. `InvalidInput` naming the column when it is missing or
 * not a string column.
 */
export function textColumn(table, name) {
  const vector = column(table, name);
  if (!STRING_TYPES.has(vector.type.typeId)) throw wrongType(name, vector.type, 'a string type');
  return generic(vector);
}

/**
 * The values of the byte column `name` (binary, large binary, binary view,
 * or any string type, as its UTF-8 bytes), `null` where null. The arrays are
 * views into the input batch. `InvalidInput` naming the column when it is
 * missing or not a binary or string column.
 */
export function bytesColumn(table, name) {
  const vector = column(table, name);
  const id = vector.type.typeId;
  if (!BINARY_TYPES.has(id) && !STRING_TYPES.has(id)) {
    throw wrongType(name, vector.type, 'a binary or string type');
  }
  const out = [];
  for (const data of vector.data) {
    if (OFFSET_TYPES.has(data.type.typeId)) {
      const offsets = data.valueOffsets; // already sliced to the chunk
      const bytes = data.values;
      for (let i = 0; i < data.length; i++) {
        out.push(data.getValid(i) ? bytes.subarray(Number(offsets[i]), Number(offsets[i + 1])) : null);
      }
    } else {
      for (const bytes of bytesOfChunk(data)) out.push(bytes);
    }
  }
  return out;
}

/** A value that is not UTF-8; `message` is Rust's `from_utf8` error text. */
export class Utf8Error extends TypeError {
  constructor(error) {
    super(error.message);
    this.name = 'Utf8Error';
    this.validUpTo = error.validUpTo;
    this.errorLen = error.errorLen;
  }
}

/**
 * The values of the byte column `name` (binary or string types) decoded as
 * UTF-8 text: a string, `null` where null, or a `Utf8Error` in place of a
 * value that is not UTF-8 (as `std::str::from_utf8` would refuse it; a byte
 * order mark is kept). Faster than `bytesColumn` and decoding each value.
 */
export function utf8Column(table, name) {
  const vector = column(table, name);
  const id = vector.type.typeId;
  if (!BINARY_TYPES.has(id) && !STRING_TYPES.has(id)) {
    throw wrongType(name, vector.type, 'a binary or string type');
  }
  const out = [];
  for (const data of vector.data) {
    if (OFFSET_TYPES.has(data.type.typeId)) {
      readStrings(data, out, true);
    } else {
      for (const bytes of bytesOfChunk(data)) out.push(bytes === null ? null : checkedText(bytes));
    }
  }
  return out;
}

function checkedText(bytes) {
  const text = decoder.decode(bytes);
  if (text.includes('\ufffd')) {
    const error = utf8Error(bytes);
    if (error) return new Utf8Error(error);
  }
  return text;
}

function bytesOfChunk(data) {
  const chunk = makeVector(data);
  const encoder = new TextEncoder();
  return Array.from({ length: data.length }, (_, i) => {
    const value = data.getValid(i) ? chunk.get(i) : null;
    return typeof value === 'string' ? encoder.encode(value) : value ?? null;
  });
}

/**
 * The values of column `name` as plain JS values, `null` where null, with
 * nothing lost: 64-bit integers, timestamps, durations, 64-bit times and
 * millisecond dates as BigInt (in the column's own unit: apache-arrow's own
 * `get` turns timestamps into lossy millisecond numbers), other numbers as
 * numbers, strings as strings, binary as Uint8Array, booleans as booleans,
 * anything else as apache-arrow's `get` returns it.
 *
 * With `type` (an apache-arrow DataType such as `new Int64()`), the column
 * must have that type (a timestamp's time zone is only compared when `type`
 * names one), else `InvalidInput` says what was found and what was expected.
 */
export function values(table, name, type) {
  const vector = column(table, name);
  if (type !== undefined && !sameType(vector.type, type)) throw wrongType(name, vector.type, String(type));
  if (!isRaw64(vector.type)) return generic(vector);
  const out = [];
  for (const data of vector.data) {
    const raw = data.values; // already sliced to the chunk
    if (data.nullCount === 0) for (let i = 0; i < data.length; i++) out.push(raw[i]);
    else for (let i = 0; i < data.length; i++) out.push(data.getValid(i) ? raw[i] : null);
  }
  return out;
}

/** The BigInt values of the Int64 column `name`, `null` where null. */
export function int64Column(table, name) {
  return values(table, name, new Int64());
}

// Types stored as 64-bit integers, read raw as BigInt.
function isRaw64(type) {
  switch (type.typeId) {
    case Type.Timestamp:
    case Type.Duration:
      return true;
    case Type.Time:
    case Type.Int:
      return type.bitWidth === 64;
    case Type.Date:
      return type.unit === DateUnit.MILLISECOND;
    default:
      return false;
  }
}

function sameType(actual, expected) {
  if (actual.typeId !== expected.typeId) return false;
  if (actual.typeId === Type.Timestamp) {
    return actual.unit === expected.unit && (expected.timezone == null || expected.timezone === actual.timezone);
  }
  return String(actual) === String(expected);
}

// Column values through apache-arrow's accessors, chunk by chunk, with fast
// paths for strings and fixed-width numbers (StarlingMonkey interprets
// apache-arrow's generic `get` slowly).
function generic(vector) {
  const out = [];
  for (const data of vector.data) {
    const id = data.type.typeId;
    if (id === Type.Utf8 || id === Type.LargeUtf8) {
      readStrings(data, out);
    } else if ((id === Type.Int && data.type.bitWidth <= 32) || (id === Type.Float && data.type.precision > 0)) {
      const raw = data.values;
      if (data.nullCount === 0) for (let i = 0; i < data.length; i++) out.push(raw[i]);
      else for (let i = 0; i < data.length; i++) out.push(data.getValid(i) ? raw[i] : null);
    } else {
      const chunk = makeVector(data);
      for (let i = 0; i < data.length; i++) out.push(chunk.get(i) ?? null);
    }
  }
  return out;
}

const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

// Decodes a chunk's values (Utf8 or Binary with offsets). All-ASCII bytes
// (the common case) are decoded once and sliced, since byte offsets are then
// string offsets; otherwise each value is decoded (and, when `checked`,
// checked: a Utf8Error in place of a value that is not UTF-8).
function readStrings(data, out, checked = false) {
  const offsets = data.valueOffsets;
  const start = Number(offsets[0]);
  const end = Number(offsets[data.length]);
  const bytes = data.values;
  const all = decoder.decode(bytes.subarray(start, end));
  const ascii = all.length === end - start && !all.includes('\ufffd');
  for (let i = 0; i < data.length; i++) {
    if (!data.getValid(i)) {
      out.push(null);
    } else if (ascii) {
      out.push(all.slice(Number(offsets[i]) - start, Number(offsets[i + 1]) - start));
    } else {
      const value = bytes.subarray(Number(offsets[i]), Number(offsets[i + 1]));
      out.push(checked ? checkedText(value) : decoder.decode(value));
    }
  }
}

function wrongType(name, found, expected) {
  return new InvalidInput(`column \`${name}\` has type ${found}, expected ${expected}`);
}
