"""log-parse in Python: the silver stage of the application-log pipeline, a
port of transforms/log-parse/rust that writes identical rows.

Each inserted bronze row is one Kafka record whose ``value`` is a JSON log
line such as ``{"ts":"2026-11-21T10:00:01.123Z","level":"INFO","service":
"svc-3","host":"host-17","latency_ms":42,"msg":"request 7 handled"}``. It
becomes one typed silver row with its Kafka lineage and the processing
time; a line that cannot be parsed is rejected with the reason. Other
change types are skipped (bronze is append-only). No configuration.
"""

import json

import ingot
from ingot.time import TimeError, parse_rfc3339

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1

UTC_MICROS = ingot.timestamp("us", "UTC")
SILVER = ingot.Schema([
    ingot.Field("ts", UTC_MICROS, False),
    ingot.Field("level", ingot.utf8(), False),
    ingot.Field("service", ingot.utf8(), True),
    ingot.Field("host", ingot.utf8(), True),
    ingot.Field("latency_ms", ingot.int64(), True),
    ingot.Field("message", ingot.utf8(), True),
    ingot.Field("topic", ingot.utf8(), False),
    ingot.Field("partition", ingot.int32(), False),
    ingot.Field("offset", ingot.int64(), False),
    ingot.Field("processed_at", UTC_MICROS, False),
])


class Unparsable(Exception):
    """Why one line is rejected."""


def _refuse_constant(name):
    # serde_json (the Rust port's parser) has no NaN or Infinity literals.
    raise ValueError(f"`{name}` is not valid JSON")


def _json_text(value):
    """A JSON value as serde_json renders it: compact, keys sorted."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def required_str(fields, name):
    value = fields.get(name)
    if value is None:
        raise Unparsable(f"missing field `{name}`")
    if not isinstance(value, str):
        raise Unparsable(f"`{name}` is not a string: {_json_text(value)}")
    return value


def optional_text(fields, name):
    """An optional text field; another JSON value is kept as its JSON text."""
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    return _json_text(value)


def parse(value):
    """One Kafka value as (ts, level, service, host, latency_ms, message)."""
    if value is None:
        raise Unparsable("value is null")
    if isinstance(value, str):  # a utf8 `value` column
        text = value
    else:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Unparsable(f"value is not UTF-8: {e}") from None
    try:
        fields = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as e:
        raise Unparsable(f"value is not valid JSON: {e}") from None
    if isinstance(fields, list):
        raise Unparsable("value is a JSON array, not an object")
    if not isinstance(fields, dict):
        raise Unparsable(f"value is not a JSON object: {_json_text(fields)}")
    raw_level = required_str(fields, "level")
    # ASCII-only upper-casing, like Rust's to_ascii_uppercase.
    upper = raw_level.encode("utf-8").upper().decode("utf-8")
    level = "WARN" if upper == "WARNING" else upper
    if level not in LEVELS:
        raise Unparsable(f"unknown level `{raw_level}`")
    try:
        ts = parse_rfc3339(required_str(fields, "ts"))
    except TimeError as e:
        raise Unparsable(f"`ts` is not an RFC 3339 timestamp: {e}") from None
    latency_ms = fields.get("latency_ms")
    if latency_ms is not None and (
        type(latency_ms) is not int or not I64_MIN <= latency_ms <= I64_MAX
    ):
        raise Unparsable(f"`latency_ms` is not an integer: {_json_text(latency_ms)}")
    message = optional_text(fields, "msg")
    if message is None:
        message = optional_text(fields, "message")
    return ts, level, optional_text(fields, "service"), optional_text(fields, "host"), latency_ms, message


class LogParse(ingot.Transform):
    def process(self, batch):
        changes = batch["_change_type"]
        values = batch["value"]
        rows, lines, rejected = [], [], []
        for row, (change, value) in enumerate(zip(changes, values)):
            if change != ingot.INSERT:
                continue
            try:
                lines.append(parse(value))
                rows.append(row)
            except Unparsable as why:
                rejected.append((row, str(why)))
        topic, partition, offset = batch["topic"], batch["partition"], batch["offset"]
        columns = [list(column) for column in zip(*lines)] if lines else [[] for _ in range(6)]
        columns += [
            [topic[r] for r in rows],
            [partition[r] for r in rows],
            [offset[r] for r in rows],
            [ingot.processing_time()] * len(rows),
        ]
        return ingot.Output(ingot.Batch(SILVER, columns), rejected)


Transform = ingot.export(LogParse)
