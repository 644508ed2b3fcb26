// `log-parse` in TypeScript: the silver stage of the application-log
// pipeline, a port of transforms/log-parse/rust/src/lib.rs that writes the
// same rows, rejects the same rows, and has the same output schema.
//
// Each bronze row is one Kafka record whose `value` is a JSON log line:
//
//   {"ts":"2026-11-21T10:00:01.123Z","level":"INFO","service":"svc-3","host":"host-17","latency_ms":42,"msg":"request 7 handled"}
//
// Every inserted bronze row becomes one typed silver row (`ts`, `level`,
// `service`, `host`, `latency_ms`, `message`), keeps its Kafka lineage
// (`topic`, `partition`, `offset`) and is stamped with `processed_at`, the
// host's processing time. A line that cannot be parsed is rejected to the
// stage's quarantine with the reason. Bronze is append-only, so other change
// types are skipped. The stage takes no configuration.
//
// To agree with the Rust stage on every line, JSON is read with the SDK's
// `parseJson` (serde_json's grammar and number model: `42` is an integer,
// `42.0`, `4.2e1` and `-0` are not, so they are rejected as `latency_ms`
// exactly as serde_json's `as_i64` rejects them), non-string values are kept
// as serde_json prints them (`toJson`), timestamps are read by the SDK's port
// of the Rust RFC 3339 parser, and levels are upper-cased in ASCII only, as
// Rust's `to_ascii_uppercase` does.

import {
  Int32,
  Int64,
  Utf8,
  JsonError,
  buildTable,
  utf8Column,
  Utf8Error,
  changeTypes,
  field,
  parseJson,
  parseRfc3339,
  processingTime,
  schema,
  timestampMicrosUtc,
  toJson,
  values,
  defineTransform,
  type Rejected,
  type Table,
} from '@ingot/sdk';

/** Levels a line may carry (any case); `WARNING` is read as `WARN`. */
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
type Level = (typeof LEVELS)[number];

/** One parsed log line. */
interface LogLine {
  ts: bigint;
  level: Level;
  service: string | null;
  host: string | null;
  latencyMs: bigint | null;
  message: string | null;
}

/** The silver table: the parsed line, its Kafka lineage, the processing time. */
export const SILVER_SCHEMA = schema([
  field('ts', timestampMicrosUtc(), false),
  field('level', new Utf8(), false),
  field('service', new Utf8(), true),
  field('host', new Utf8(), true),
  field('latency_ms', new Int64(), true),
  field('message', new Utf8(), true),
  field('topic', new Utf8(), false),
  field('partition', new Int32(), false),
  field('offset', new Int64(), false),
  field('processed_at', timestampMicrosUtc(), false),
]);

export const transform = defineTransform({
  process(input: Table) {
    const changes = changeTypes(input);
    const lines = utf8Column(input, 'value');
    const parsed: [number, LogLine][] = [];
    const rejected: Rejected[] = [];
    lines.forEach((value, row) => {
      if (changes[row] !== 'insert') return;
      const line = parse(value);
      if (typeof line === 'string') rejected.push({ row, reason: line });
      else parsed.push([row, line]);
    });
    return { table: silverBatch(input, parsed), rejected };
  },
});

/** The silver rows of the parsed lines, with the Kafka lineage of the input row each came from. */
function silverBatch(input: Table, parsed: [number, LogLine][]): Table {
  const topic = values(input, 'topic', new Utf8()) as (string | null)[];
  const partition = values(input, 'partition', new Int32()) as (number | null)[];
  const offset = values(input, 'offset', new Int64()) as (bigint | null)[];
  const rows = parsed.map(([row]) => row);
  const lines = parsed.map(([, line]) => line);
  const now = processingTime();
  return buildTable(SILVER_SCHEMA, {
    ts: lines.map((l) => l.ts),
    level: lines.map((l) => l.level),
    service: lines.map((l) => l.service),
    host: lines.map((l) => l.host),
    latency_ms: lines.map((l) => l.latencyMs),
    message: lines.map((l) => l.message),
    topic: rows.map((r) => topic[r]),
    partition: rows.map((r) => partition[r]),
    offset: rows.map((r) => offset[r]),
    processed_at: lines.map(() => now),
  });
}

type Json = null | boolean | string | number | bigint | Json[] | { [key: string]: Json };
type Fields = { [key: string]: Json };

/** One Kafka value (decoded as UTF-8) as a log line, or why it cannot be one. */
function parse(value: string | Utf8Error | null): LogLine | string {
  if (value === null) return 'value is null';
  if (value instanceof Utf8Error) return `value is not UTF-8: ${value.message}`;
  let json: Json;
  try {
    json = parseJson(value) as Json;
  } catch (e) {
    if (e instanceof JsonError) return `value is not valid JSON: ${e.message}`;
    throw e;
  }
  if (Array.isArray(json)) return 'value is a JSON array, not an object';
  if (json === null || typeof json !== 'object') return `value is not a JSON object: ${toJson(json)}`;
  const fields = json;

  const rawLevel = requiredStr(fields, 'level');
  if (rawLevel.error !== undefined) return rawLevel.error;
  const upper = asciiUppercase(rawLevel.value);
  const level = upper === 'WARNING' ? 'WARN' : LEVELS.find((l) => l === upper);
  if (level === undefined) return `unknown level \`${rawLevel.value}\``;

  const ts = requiredStr(fields, 'ts');
  if (ts.error !== undefined) return ts.error;
  let micros: bigint;
  try {
    micros = parseRfc3339(ts.value);
  } catch (e) {
    return `\`ts\` is not an RFC 3339 timestamp: ${(e as Error).message}`;
  }

  let latencyMs: bigint | null = null;
  const latency = fields.latency_ms;
  if (latency !== undefined && latency !== null) {
    // serde_json's `as_i64`: an integer literal within i64 (parseJson gives
    // those as BigInt, and every float as a number).
    if (typeof latency !== 'bigint' || BigInt.asIntN(64, latency) !== latency) {
      return `\`latency_ms\` is not an integer: ${toJson(latency)}`;
    }
    latencyMs = latency;
  }

  return {
    ts: micros,
    level,
    service: optionalText(fields, 'service'),
    host: optionalText(fields, 'host'),
    latencyMs,
    message: optionalText(fields, 'msg') ?? optionalText(fields, 'message'),
  };
}

/** A field the line cannot do without, as a string. */
function requiredStr(fields: Fields, name: string): { value: string; error?: undefined } | { error: string } {
  const v = fields[name];
  if (v === undefined || v === null) return { error: `missing field \`${name}\`` };
  if (typeof v === 'string') return { value: v };
  return { error: `\`${name}\` is not a string: ${toJson(v)}` };
}

/** An optional text field; a number or other JSON value is kept as its JSON text. */
function optionalText(fields: Fields, name: string): string | null {
  const v = fields[name];
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? v : toJson(v);
}

/** Rust's `str::to_ascii_uppercase`: only a-z change (`ı` and `ß` do not). */
function asciiUppercase(text: string): string {
  return text.replace(/[a-z]+/g, (s) => s.toUpperCase());
}
