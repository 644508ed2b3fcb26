#!/usr/bin/env python3
"""The Python half of the cross test of ``ingot.ipc`` against arrow-rs
(``tests/sdk/python_ipc.rs``).

    python3 guest-sdk/python/tests/roundtrip.py DIR

For each ``DIR/<name>.arrows`` written by arrow-rs:

- ``<name>.json``: the batch ``ingot.ipc.decode`` reads, rendered as
  canonical JSON (see :func:`render_batch`); Rust renders the batch it wrote
  the same way and compares.
- ``<name>.out.arrows``: that batch written back by ``ingot.ipc.encode``;
  Rust reads it with arrow-rs and compares it with what it wrote.

Then, for batches built here from literal Python values:

- ``py_<name>.arrows`` (``ingot.ipc.encode``) and ``py_<name>.json``, the
  rendering of the literal values, which Rust expects to get back from
  reading the stream with arrow-rs.

A fixture that fails leaves ``<name>.error`` (the traceback) instead, and the
exit status is 1.

Canonical JSON: ``{"schema": {"fields": [F...], "metadata": {...}},
"num_rows": N, "columns": [[value per row] per column]}`` with
``F = {"name", "type" (the DataType repr), "nullable", "metadata",
"children": [F...]}``. Values: null for a null, ints as JSON ints, floats
as JSON numbers except "NaN", "inf", "-inf" (float32 values are widened to
float64 exactly as Rust's ``f64::from``), bytes as lowercase hex, lists as
arrays, structs as objects, maps as arrays of ``[key, value]``.
"""

import json
import math
import os
import struct
import sys
import traceback

if sys.version_info < (3, 11):
    sys.exit(f"Python 3.11+ is required to test the ingot Python SDK; this is {sys.version.split()[0]}")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from ingot import ipc  # noqa: E402
from ingot.arrow import (  # noqa: E402
    Batch,
    Field,
    Schema,
    binary,
    bool_,
    date32,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    large_binary,
    large_list,
    large_utf8,
    list_,
    map_,
    null,
    struct as struct_,
    timestamp,
    uint8,
    uint16,
    uint32,
    uint64,
    utf8,
)

# --- the canonical JSON rendering --------------------------------------------


def _children(t):
    if t.name in ("list", "large_list"):
        return [t.item]
    if t.name == "struct":
        return t.fields
    if t.name == "map":
        return [t.entries]
    return []


def render_field(f):
    return {
        "name": f.name,
        "type": repr(f.type),
        "nullable": f.nullable,
        "metadata": dict(f.metadata),
        "children": [render_field(c) for c in _children(f.type)],
    }


def _float(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def render_value(t, v):
    if v is None:
        return None
    name = t.name
    if name == "float32":
        return _float(struct.unpack("<f", struct.pack("<f", v))[0])
    if name == "float64":
        return _float(v)
    if name in ("binary", "large_binary"):
        return bytes(v).hex()
    if name in ("list", "large_list"):
        it = t.item.type
        return [render_value(it, x) for x in v]
    if name == "struct":
        return {f.name: render_value(f.type, v.get(f.name)) for f in t.fields}
    if name == "map":
        kf, vf = t.entries.type.fields
        pairs = v.items() if hasattr(v, "items") else v
        return [[render_value(kf.type, k), render_value(vf.type, x)] for k, x in pairs]
    return v  # ints, bools, str, null: as they are (a wrong Python type shows in JSON)


def render_batch(batch):
    return {
        "schema": {
            "fields": [render_field(f) for f in batch.schema.fields],
            "metadata": dict(batch.schema.metadata),
        },
        "num_rows": batch.num_rows,
        "columns": [
            [render_value(f.type, v) for v in batch.column(i)]
            for i, f in enumerate(batch.schema.fields)
        ],
    }


def dump(obj):
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


# --- batches built from Python values ----------------------------------------


def _entries(key_type, value_type, names=("key", "value")):
    return Field(
        "entries",
        struct_([Field(names[0], key_type, False), Field(names[1], value_type)]),
        False,
    )


def python_batches():
    """(name, Batch) pairs built from literal values."""
    out = []

    scalars = Schema(
        [
            Field("i8", int8()),
            Field("i16", int16()),
            Field("i32", int32()),
            Field("i64", int64(), False),
            Field("u8", uint8()),
            Field("u16", uint16()),
            Field("u32", uint32()),
            Field("u64", uint64()),
            Field("f32", float32()),
            Field("f64", float64()),
            Field("flag", bool_()),
            Field("text", utf8()),
            Field("big_text", large_utf8()),
            Field("blob", binary()),
            Field("big_blob", large_binary()),
            Field("day", date32()),
            Field("ts_s", timestamp("s")),
            Field("ts_ms", timestamp("ms", "+05:30")),
            Field("ts_us", timestamp("us", "UTC")),
            Field("ts_ns", timestamp("ns", "America/New_York")),
            Field("nothing", null()),
        ]
    )
    out.append(
        (
            "scalars",
            Batch.from_columns(
                scalars,
                {
                    "i8": [-128, 127, None, 0, -1],
                    "i16": [-32768, 32767, 0, None, 5],
                    "i32": [-(2**31), 2**31 - 1, None, 1, None],
                    "i64": [-(2**63), 2**63 - 1, 0, -1, 123456789012],
                    "u8": [0, 255, None, 1, 2],
                    "u16": [0, 65535, 1, None, 2],
                    "u32": [0, 2**32 - 1, None, 3, 4],
                    "u64": [0, 2**64 - 1, 2**63, None, 1],
                    "f32": [1.5, float("nan"), float("inf"), None, 0.1],
                    "f64": [0.1, float("-inf"), float("nan"), -0.0, 1e300],
                    "flag": [True, False, None, True, False],
                    "text": ["", "héllo wörld", None, "日本語 🦀", 'quote " back \\ nl \n'],
                    "big_text": ["ascii", None, "ünïcödé", "", "x" * 100],
                    "blob": [b"", b"\x00\xff\x10", None, bytearray(b"ba"), b"\x80"],
                    "big_blob": [None, b"", b"\xde\xad\xbe\xef", b"z" * 33, None],
                    "day": [-719162, -1, 0, None, 2932896],
                    "ts_s": [-1, 0, None, 1700000000, -(2**40)],
                    "ts_ms": [-(2**63), 2**63 - 1, None, 0, 1],
                    "ts_us": [1_700_000_000_000_000, -1_000_000, None, 0, 5],
                    "ts_ns": [-1, None, 1_700_000_000_123_456_789, 0, 2**62],
                    "nothing": [None] * 5,
                },
            ),
        )
    )

    header = struct_([Field("key", utf8(), False), Field("value", binary())])
    nested = Schema(
        [
            Field("ints", list_(Field("item", int32()))),
            Field("strict_ints", list_(Field("item", int64(), False)), False),
            Field("words", large_list(Field("item", utf8()))),
            Field("point", struct_([Field("x", float64(), False), Field("y", float64()), Field("label", utf8(), False)])),
            Field("deep", list_(Field("item", struct_([Field("k", utf8(), False), Field("v", list_(Field("item", int32())))])))),
            Field("attrs", map_(_entries(utf8(), int64()))),
            Field("headers", list_(Field("item", header))),
            Field("empty_struct", struct_([])),
            Field("lists_of_lists", list_(Field("item", list_(Field("item", bool_()))))),
        ]
    )
    out.append(
        (
            "nested",
            Batch.from_rows(
                nested,
                [
                    {
                        "ints": [1, None, 3],
                        "strict_ints": [1, 2],
                        "words": ["a", None, "ü"],
                        "point": {"x": 1.0, "y": None, "label": "origin"},
                        "deep": [{"k": "a", "v": [1, 2]}, {"k": "b", "v": None}, None],
                        "attrs": [("a", 1), ("b", None)],
                        "headers": [{"key": "trace", "value": b"\x01"}, {"key": "x", "value": None}],
                        "empty_struct": {},
                        "lists_of_lists": [[True], [], None, [None, False]],
                    },
                    {
                        "ints": None,
                        "strict_ints": [],
                        "words": None,
                        "point": None,
                        "deep": None,
                        "attrs": None,
                        "headers": None,
                        "empty_struct": None,
                        "lists_of_lists": None,
                    },
                    {
                        "ints": [],
                        "strict_ints": [-(2**63)],
                        "words": [],
                        "point": {"x": -0.5, "y": float("nan"), "label": ""},
                        "deep": [],
                        "attrs": {"é": -(2**63), "z": 0},
                        "headers": [],
                        "empty_struct": {},
                        "lists_of_lists": [],
                    },
                    {
                        "ints": [None],
                        "strict_ints": [7, 8, 9],
                        "words": [""],
                        "point": {"x": 2.5, "label": "no y key"},
                        "deep": [{"k": "", "v": []}],
                        "attrs": [],
                        "headers": [{"key": "k", "value": b""}],
                        "lists_of_lists": [[None]],
                    },
                ],
            ),
        )
    )

    bronze = bronze_schema()
    out.append(("bronze", Batch.from_rows(bronze, bronze_rows(500))))
    out.append(("bronze_empty", Batch.empty(bronze)))

    meta = Schema(
        [
            Field("id", int64(), False, {"comment": "primary key", "empty": ""}),
            Field("tags", list_(Field("item", utf8(), True, {"ünï": "cödé"}))),
            Field("s", struct_([Field("a", int32(), False, {"x": "y"})]), True, {"s": "t"}),
        ],
        {"ingot.table": "py_metadata", "empty": ""},
    )
    out.append(
        (
            "metadata",
            Batch(meta, [[1, 2, 3], [["a"], None, []], [{"a": 1}, None, {"a": -1}]]),
        )
    )

    large = Schema([Field("s", utf8()), Field("ls", large_utf8()), Field("b", binary())])
    strings = ["€" * (1 << 18) + "x" * 4] + [
        None if i % 97 == 0 else (f"value-{i}" if i % 3 else f"välue-{i}") for i in range(10_000)
    ]
    blobs = [None if s is None else s.encode() for s in strings]
    out.append(("large_strings", Batch(large, [strings, strings, blobs])))
    return out


def bronze_schema():
    header = struct_([Field("key", utf8(), False), Field("value", binary())])
    return Schema(
        [
            Field("topic", utf8(), False),
            Field("partition", int32(), False),
            Field("offset", int64(), False),
            Field("timestamp", timestamp("us", "UTC")),
            Field("key", binary()),
            Field("value", binary()),
            Field("headers", list_(Field("item", header))),
            Field("_change_type", utf8()),
            Field("_commit_version", int64()),
            Field("_commit_timestamp", timestamp("us", "UTC")),
        ]
    )


def bronze_rows(n):
    rows = []
    for i in range(n):
        rows.append(
            {
                "topic": "logs" if i % 5 else "événements",
                "partition": i % 3,
                "offset": 1_000_000 + i,
                "timestamp": None if i % 11 == 0 else 1_700_000_000_000_000 + i * 1000,
                "key": None if i % 4 == 0 else f"k{i % 17}".encode(),
                "value": f'{{"n":{i},"msg":"line {i} of the log"}}'.encode(),
                "headers": None
                if i % 7 == 0
                else [{"key": f"h{j}", "value": None if j == 1 else bytes([i % 256, j])} for j in range(i % 3)],
                "_change_type": "insert",
                "_commit_version": i // 100,
                "_commit_timestamp": 1_700_000_100_000_000 + i // 100,
            }
        )
    return rows


# --- the driver ----------------------------------------------------------------


def _write(path, data, mode="wb"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
        f.write(data)


def main(directory):
    failed = []
    done = 0
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".arrows") or name.endswith(".out.arrows") or name.startswith("py_"):
            continue
        stem = name[: -len(".arrows")]
        try:
            with open(os.path.join(directory, name), "rb") as f:
                batch = ipc.decode(f.read())
            rendered = dump(render_batch(batch))
            encoded = ipc.encode(batch)
            _write(os.path.join(directory, stem + ".json"), rendered, "w")
            _write(os.path.join(directory, stem + ".out.arrows"), encoded)
            done += 1
        except Exception:  # noqa: BLE001 - reported per fixture to the Rust side
            failed.append(stem)
            _write(os.path.join(directory, stem + ".error"), traceback.format_exc(), "w")
    for stem, batch in python_batches():
        stem = "py_" + stem
        try:
            _write(os.path.join(directory, stem + ".json"), dump(render_batch(batch)), "w")
            _write(os.path.join(directory, stem + ".arrows"), ipc.encode(batch))
            done += 1
        except Exception:  # noqa: BLE001
            failed.append(stem)
            _write(os.path.join(directory, stem + ".error"), traceback.format_exc(), "w")
    print(f"roundtrip.py: {done} fixtures done, {len(failed)} failed{': ' if failed else ''}{', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: roundtrip.py DIR")
    sys.exit(main(sys.argv[1]))
