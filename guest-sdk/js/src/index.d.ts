// Types of @ingot/sdk (src/index.js). apache-arrow's own types come from the
// apache-arrow package in guest-sdk/js/node_modules.

import type { DataType, Field, RecordBatch, Schema, Table, Vector } from 'apache-arrow';

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

// ---- defining a transform ---------------------------------------------------

/** The stage's `config` table from the pipeline file: string keys and values. */
export type Config = Readonly<Record<string, string>>;

/** An input row the transform refuses: its index in the input table, and why. */
export interface Rejected {
  row: number;
  reason: string;
}

/** What `process` returns: output rows, or output rows and rejected input rows. */
export type ProcessResult = Table | RecordBatch | { table: Table | RecordBatch; rejected?: Rejected[] };

export interface TransformSpec<State = void> {
  /**
   * Called once per instance, before any `process`, with the stage's
   * configuration; what it returns is the `state` every `process` gets.
   * Throw `InvalidConfig` for a missing or malformed key.
   */
  init?(config: Config): State | Promise<State>;
  /**
   * Transforms one batch of input changes (the input table's columns plus
   * `_change_type`, `_commit_version`, `_commit_timestamp`) into output rows
   * and rejected input rows. The output schema must be the same on every
   * call. Throw `InvalidInput` when the batch lacks a column or has a wrong
   * type; anything else thrown fails the call with its message and stack.
   */
  process(table: Table, state: State): ProcessResult | Promise<ProcessResult>;
}

/** The WIT `error` variant, as the component glue takes it. */
export type WitError =
  | { tag: 'invalid-config'; val: string }
  | { tag: 'invalid-input'; val: string }
  | { tag: 'failed'; val: string };

/** The `ingot:transform/transform` export; name it `transform`. */
export interface TransformExport {
  init(config: [string, string][]): void | Promise<void>;
  process(batch: Uint8Array): { batch: Uint8Array; rejected: Rejected[] } | Promise<{ batch: Uint8Array; rejected: Rejected[] }>;
}

/**
 * The WIT export of a transform: `export const transform = defineTransform({ init, process })`.
 * `init` and `process` are called with `this` set to `spec`.
 */
export function defineTransform<State = void>(spec: TransformSpec<State>): TransformExport;

// ---- errors -------------------------------------------------------------------

/** Base class of the errors that end a call as one WIT `error` case. */
export class TransformError extends Error {
  constructor(message: string, kind: WitError['tag'], options?: { cause?: unknown });
  readonly kind: WitError['tag'];
}
/** The stage configuration is unusable (a missing or malformed key). */
export class InvalidConfig extends TransformError {
  constructor(message: string, options?: { cause?: unknown });
}
/** The input batch is not what the transform expects (a missing column, a wrong type). */
export class InvalidInput extends TransformError {
  constructor(message: string, options?: { cause?: unknown });
}
/** The call failed, with a message for the operator (reported without a stack). */
export class Failed extends TransformError {
  constructor(message: string, options?: { cause?: unknown });
}
/** The WIT error for any thrown value (what `defineTransform` reports). */
export function toWitError(thrown: unknown): WitError;
/** `Name: message` and the stack of an Error (frames mapped to the sources), or what was thrown. */
export function describeThrown(thrown: unknown): string;
/** A short description of any value: `undefined`, `the number 42`, `an object with keys a, b`. */
export function describeValue(value: unknown): string;

// ---- host services --------------------------------------------------------------

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** Writes to the host's log, tagged with the tenant, pipeline, stage and module. */
export const log: {
  (level: Level, message: string): void;
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
};

/** The host's processing time of the current input range, µs since the epoch (UTC). */
export function processingTime(): bigint;

/** `config[key]`, or `InvalidConfig` (``missing key `key` ``) when not set. */
export function requireConfig(config: Config, key: string): string;

// ---- reading input --------------------------------------------------------------

export type ChangeType = 'insert' | 'update_preimage' | 'update_postimage' | 'delete';

export const CHANGE_TYPE: '_change_type';
export const COMMIT_VERSION: '_commit_version';
export const COMMIT_TIMESTAMP: '_commit_timestamp';
export const CDF_COLUMNS: readonly ['_change_type', '_commit_version', '_commit_timestamp'];
export function isCdfColumn(name: string): boolean;

/** Every row's change type; `InvalidInput` on a missing column, a null or an unknown value. */
export function changeTypes(table: Table): ChangeType[];
/** +1 for insert and update_postimage, -1 for delete and update_preimage. */
export function sign(changeType: ChangeType): 1 | -1;
/** The column `name`; `InvalidInput` (``missing column `name` ``) when absent. */
export function column(table: Table, name: string): Vector;
/** A string column's values (utf8, large utf8, utf8 view), null where null. */
export function textColumn(table: Table, name: string): (string | null)[];
/** A binary (or string) column's values as bytes, null where null. */
export function bytesColumn(table: Table, name: string): (Uint8Array | null)[];
/** A value that is not UTF-8; `message` is Rust's `from_utf8` error text. */
export class Utf8Error extends TypeError {
  readonly validUpTo: number;
  readonly errorLen: number | null;
}
/**
 * A binary (or string) column's values decoded as UTF-8: a string, null
 * where null, or a Utf8Error in place of a value that is not UTF-8.
 */
export function utf8Column(table: Table, name: string): (string | null | Utf8Error)[];
/** An Int64 column's values as BigInt, null where null. */
export function int64Column(table: Table, name: string): (bigint | null)[];
/**
 * A column's values with nothing lost (64-bit integers, timestamps,
 * durations as BigInt in the column's unit), null where null; with `type`,
 * `InvalidInput` unless the column has that type.
 */
export function values(table: Table, name: string, type?: DataType): unknown[];

// ---- building output ----------------------------------------------------------------

/** A field whose nullability must be said. */
export function field<T extends DataType>(name: string, type: T, nullable: boolean): Field<T>;
export function schema(fields: Field[]): Schema;
/** `Timestamp(MICROSECOND, "UTC")`. */
export function timestampMicrosUtc(): DataType;
/**
 * A Table of `schema` holding `columns` (by field name, or in field order),
 * values converted exactly: BigInt (or safe integers) for 64-bit types and
 * timestamps, numbers, strings, Uint8Arrays, booleans, null.
 */
export function buildTable(schema: Schema | Field[], columns: Record<string, ArrayLike<unknown>> | ArrayLike<unknown>[]): Table;

// ---- text formats -------------------------------------------------------------------

/** Why a text is not an RFC 3339 timestamp or ISO 8601 date. */
export class TimeError extends RangeError {}
/** µs since the epoch of an RFC 3339 timestamp, exactly as the Rust SDK reads it. */
export function parseRfc3339(text: string): bigint;
/** Days since the epoch of a `YYYY-MM-DD` date. */
export function parseDate(text: string): number;

/** A JSON value as `parseJson` returns it: integers are BigInt, other numbers doubles. */
export type JsonValue = null | boolean | string | number | bigint | JsonValue[] | { [key: string]: JsonValue };
/** A JSON text serde_json refuses, with serde_json's message. */
export class JsonError extends SyntaxError {
  readonly code: string;
  readonly line: number;
  readonly column: number;
}
/** JSON exactly as serde_json reads it; bytes must be UTF-8 (else TypeError). */
export function parseJson(input: string | Uint8Array): JsonValue;
/** A value as serde_json's Display prints it (keys sorted, floats as `1.0`). */
export function toJson(value: unknown): string;
/** Compares strings in UTF-8 byte order (Rust's `str` order). */
export function compareUtf8(a: string, b: string): number;
/** Bytes as a string; TypeError with Rust's `from_utf8` message when not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string;
/** Where bytes stop being UTF-8 (Rust's `Utf8Error`), or null. */
export function utf8Error(bytes: Uint8Array): { validUpTo: number; errorLen: number | null; message: string } | null;
/** A double as serde_json prints it. */
export function formatFloat(value: number): string;
