// Building output tables with exact Arrow types: the schema says every
// field's name, type and nullability, the columns are plain JS arrays.

import {
  DataType,
  Field,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimeUnit,
  TimestampMicrosecond,
  Type,
  makeData,
  vectorFromArray,
} from 'apache-arrow';

/**
 * A field: `name`, apache-arrow DataType, and whether it may hold nulls.
 * Unlike apache-arrow's `new Field`, nullability must be said (the host
 * compares the output schema, nullability included, with the stage's table).
 */
export function field(name, type, nullable) {
  if (typeof name !== 'string') throw new TypeError(`field name must be a string, got ${typeof name}`);
  if (!(type instanceof DataType)) {
    throw new TypeError(`field \`${name}\`: type must be an apache-arrow DataType (e.g. new Utf8()), got ${type}`);
  }
  if (typeof nullable !== 'boolean') {
    throw new TypeError(`field \`${name}\`: say whether it is nullable (true or false), got ${nullable}`);
  }
  return new Field(name, type, nullable);
}

/** A schema of `fields` (apache-arrow Fields, e.g. from `field`). */
export function schema(fields) {
  return new Schema(fields);
}

/** `Timestamp(MICROSECOND, "UTC")`: the type of Delta timestamps and of `processingTime()`. */
export function timestampMicrosUtc() {
  return new TimestampMicrosecond('UTC');
}

/**
 * An apache-arrow Table of `schema` (a Schema or an array of Fields) whose
 * columns hold `columns`: an object mapping every field name to an array of
 * values (or an array of such arrays, in field order). `null` or `undefined`
 * is a null. Values are converted exactly and checked:
 *
 * - Int64 / Uint64, timestamps, durations, 64-bit times and millisecond
 *   dates: BigInt, or a safe integer number (timestamps in the type's unit,
 *   e.g. microseconds);
 * - other integers and day dates: integer numbers in range (or BigInt);
 * - floats: numbers; booleans: booleans; Utf8 / LargeUtf8: strings;
 *   Binary / LargeBinary: Uint8Array;
 * - other types (lists, structs, decimals, ...): as apache-arrow's
 *   `vectorFromArray` takes them.
 *
 * Throws a TypeError naming the column and row when a value does not fit,
 * a non-nullable column gets a null, or the columns differ in length.
 */
export function buildTable(schemaOrFields, columns) {
  const target = schemaOrFields instanceof Schema ? schemaOrFields : new Schema(schemaOrFields);
  const fields = target.fields;
  let arrays;
  if (Array.isArray(columns)) {
    if (columns.length !== fields.length) {
      throw new TypeError(`buildTable: ${columns.length} columns given for ${fields.length} fields`);
    }
    arrays = columns;
  } else if (columns !== null && typeof columns === 'object') {
    const names = new Set(fields.map((f) => f.name));
    for (const key of Object.keys(columns)) {
      if (!names.has(key)) throw new TypeError(`buildTable: column \`${key}\` is not in the schema`);
    }
    arrays = fields.map((f) => {
      if (!(f.name in columns)) throw new TypeError(`buildTable: no values for column \`${f.name}\``);
      return columns[f.name];
    });
  } else {
    throw new TypeError('buildTable: columns must be an object of arrays (by field name) or an array of arrays');
  }
  let length = null;
  const children = fields.map((f, i) => {
    const values = arrays[i];
    if (values == null || typeof values.length !== 'number' || typeof values === 'string') {
      throw new TypeError(`buildTable: column \`${f.name}\` must be an array, got ${typeof values}`);
    }
    if (length === null) length = values.length;
    else if (values.length !== length) {
      throw new TypeError(
        `buildTable: column \`${f.name}\` has ${values.length} values, column \`${fields[0].name}\` has ${length}`,
      );
    }
    return columnData(f, values);
  });
  length ??= 0;
  if (length === 0) return new Table(target);
  const data = makeData({ type: new Struct(fields), length, nullCount: 0, children });
  return new Table(target, [new RecordBatch(target, data)]);
}

function columnData(f, values) {
  const n = values.length;
  const { type } = f;
  const validity = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  for (let i = 0; i < n; i++) {
    if (values[i] === null || values[i] === undefined) {
      if (!f.nullable) throw new TypeError(`column \`${f.name}\` is not nullable, but row ${i} is ${values[i]}`);
      nullCount += 1;
    } else {
      validity[i >> 3] |= 1 << (i & 7);
    }
  }
  const nullBitmap = nullCount > 0 ? validity : undefined;
  const base = { type, length: n, nullCount, nullBitmap };
  const fail = (i, expected) => {
    const v = values[i];
    const shown = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}n` : String(v);
    return new TypeError(`column \`${f.name}\` (${type}) row ${i}: expected ${expected}, got ${typeof v} ${shown}`);
  };

  switch (type.typeId) {
    case Type.Int: {
      if (type.bitWidth === 64) {
        const data = type.isSigned ? new BigInt64Array(n) : new BigUint64Array(n);
        fill64(values, data, type.isSigned, fail, 'a 64-bit integer (BigInt)');
        return makeData({ ...base, data });
      }
      const data = new type.ArrayType(n);
      fillSmall(values, data, type.isSigned, type.bitWidth, fail, `a ${type.isSigned ? '' : 'non-negative '}${type.bitWidth}-bit integer`);
      return makeData({ ...base, data });
    }
    case Type.Timestamp:
    case Type.Duration: {
      const data = new BigInt64Array(n);
      const unit = TimeUnit[type.unit]?.toLowerCase?.() ?? 'unit';
      fill64(values, data, true, fail, `an integer count of ${unit}s (BigInt)`);
      return makeData({ ...base, data });
    }
    case Type.Time:
    case Type.Date: {
      const wide = type.typeId === Type.Time ? type.bitWidth === 64 : type.unit === 1;
      if (wide) {
        const data = new BigInt64Array(n);
        fill64(values, data, true, fail, 'a 64-bit integer (BigInt)');
        return makeData({ ...base, data });
      }
      const data = new Int32Array(n);
      fillSmall(values, data, true, 32, fail, 'a 32-bit integer');
      return makeData({ ...base, data });
    }
    case Type.Float: {
      if (type.precision === 0) break; // Float16: let apache-arrow convert
      const data = new type.ArrayType(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v == null) continue;
        if (typeof v === 'number') data[i] = v;
        else if (typeof v === 'bigint') data[i] = Number(v);
        else throw fail(i, 'a number');
      }
      return makeData({ ...base, data });
    }
    case Type.Bool: {
      const data = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v == null) continue;
        if (typeof v !== 'boolean') throw fail(i, 'a boolean');
        if (v) data[i >> 3] |= 1 << (i & 7);
      }
      return makeData({ ...base, data });
    }
    case Type.Utf8:
    case Type.LargeUtf8:
    case Type.Binary:
    case Type.LargeBinary: {
      const text = type.typeId === Type.Utf8 || type.typeId === Type.LargeUtf8;
      const large = type.typeId === Type.LargeUtf8 || type.typeId === Type.LargeBinary;
      if (text && !large) {
        const ascii = asciiStrings(values, base, fail);
        if (ascii) return ascii;
      }
      const encoder = new TextEncoder();
      const parts = new Array(n);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v == null) continue;
        let bytes;
        if (text) {
          if (typeof v !== 'string') throw fail(i, 'a string');
          bytes = encoder.encode(v);
        } else {
          if (!(v instanceof Uint8Array)) throw fail(i, 'a Uint8Array');
          bytes = v;
        }
        parts[i] = bytes;
        total += bytes.length;
      }
      if (!large && total > 0x7fffffff) throw new TypeError(`column \`${f.name}\` holds more than 2 GiB; use a large type`);
      const data = new Uint8Array(total);
      const valueOffsets = large ? new BigInt64Array(n + 1) : new Int32Array(n + 1);
      let at = 0;
      for (let i = 0; i < n; i++) {
        const bytes = parts[i];
        if (bytes) {
          data.set(bytes, at);
          at += bytes.length;
        }
        valueOffsets[i + 1] = large ? BigInt(at) : at;
      }
      return makeData({ ...base, data, valueOffsets });
    }
    default:
      break;
  }
  // Everything else: apache-arrow's builders.
  const vector = vectorFromArray(Array.from(values, (v) => (v === undefined ? null : v)), type);
  if (vector.data.length !== 1) throw new TypeError(`column \`${f.name}\`: cannot build a ${type} column`);
  return vector.data[0];
}

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U64_MAX = (1n << 64n) - 1n;

// 64-bit values: BigInt, or a safe integer number; in range.
function fill64(values, data, signed, fail, expected) {
  const min = signed ? I64_MIN : 0n;
  const max = signed ? I64_MAX : U64_MAX;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v === 'bigint') {
      if (v < min || v > max) throw fail(i, expected);
      data[i] = v;
    } else if (typeof v === 'number' && Number.isSafeInteger(v) && (signed || v >= 0)) {
      data[i] = BigInt(v);
    } else {
      throw fail(i, expected);
    }
  }
}

// 8- to 32-bit values: integer numbers (or BigInt) in range.
function fillSmall(values, data, signed, bits, fail, expected) {
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v === 'bigint') v = Number(v);
    else if (typeof v !== 'number' || !Number.isInteger(v)) throw fail(i, expected);
    if (v < min || v > max) throw fail(i, expected);
    data[i] = v;
  }
}

// A Utf8 column in one encode when every string is ASCII (then string
// offsets are byte offsets); null when one is not.
function asciiStrings(values, base, fail) {
  const n = values.length;
  const valueOffsets = new Int32Array(n + 1);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v != null) {
      if (typeof v !== 'string') throw fail(i, 'a string');
      at += v.length;
    }
    valueOffsets[i + 1] = at;
  }
  if (at > 0x7fffffff) return null;
  const joined = Array.prototype.join.call(values, '');
  const data = new TextEncoder().encode(joined);
  if (data.length !== at) return null;
  return makeData({ ...base, data, valueOffsets });
}
