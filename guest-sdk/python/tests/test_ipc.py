"""Tests of ``ingot.ipc``, the pure-Python Arrow IPC stream codec, and of the
``ingot.arrow`` data model it reads and writes.

Run from the repository root::

    python3 -m unittest discover -s guest-sdk/python/tests -p test_ipc.py

The cross test against arrow-rs (``cargo nextest run --workspace -E 'binary(sdk)'``)
checks the codec both ways on many more fixtures; this file needs nothing
but CPython 3.11+.
"""

import base64
import json
import math
import os
import random
import struct
import sys
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from ingot import _flatbuf as fb  # noqa: E402
from ingot import _ipc_encode, ipc  # noqa: E402
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
from ingot.ipc import IpcError  # noqa: E402
from roundtrip import bronze_rows, bronze_schema, render_batch  # noqa: E402

# tests/sdk/python_ipc.rs's "wide" fixture as arrow-rs 59 writes it (zlib,
# base64): one column of every supported type, 6 rows, nulls at every level.
WIDE_ARROW_RS = """
eNrFWF1sFFUUPrN/Xbbb0tJWqhTdmD4Q5adKgSpF1ugDMeqLmEhCUrbtFtZud2t3Ci0xdmI04YGH
PhhBQ5QHMUAwQmIIJlU2LPEJEkJ8wMQQHwjhwYQaMZa2MJ47c+/03rM7ttudwk1Pd+7c8/Odn3vm
zpimaY4sA6gDNiJQC1GohgBeATRa90BjsyhehPn9MFInW0Cy70ettTBfY7oCSAdSvUmmoBopldmb
1dfrie50ElbjPI+MHyLtQGpEulIFcBhpN9JapHshgMtInyHtQ+pAiiLdCAKcRNKROpHuoaHjSO8h
3fMDHEJag/SmD2AQAU6grXGOp3fKNFs4Zhw1vfgP2aCd487fN807/5pmneO75mfXH+N9m9P2eRTp
7JTMBxbfacI3glSLNJhNZfSuTBZpOJ1GbCjb6ODQNI4H4tOmyXDaXOgj8jXP8dUf5XoZ1jTytt9X
/Ulzfzo5zzjyXOA4m20dPmb3JN6LgwMTMKywP5EeTuYwfvdlbBAU2H7n2PqTozk2xxRBMqMPpVAI
ww0DiUFova/gjU5IeFtmTPN1Ba9WM87x9nKeOPLsIzriko49uM7wUX9G8F5M8ofhTOnJAXFjP5Od
Lu3XD6iT8fQTOatekslBdj3L9QvczC/m8yGml2ObRT2t0yr2Ttn/WfR/uri2bs7M1QzF3cP8nCmN
Oz1r4+5GOjZdHJPD02pM2L8Ez3VOHxru0QF+VfE2dUh4r6D+e0rMNMf2nVm7FgTW5QxPYmhvsiud
yuldw3pfB7TNuOdxzQPTnJyRMYOFmeU/7pLHBmaDaRfbqIut5ODo/9gZRzsXZkrU/4x7vUSEHdyy
G18EmFLir0ViIv7YN8NcBYvp822bXt7YZvPpua6BXFe2ry+X1BlH56yqYy3XcdbR4bd65qsDyaFU
T2LD28kDXbuyQ6wkrf6B+jL4h3dHrbuHZ5V9FGnl+lgfjkh9mNUVq9N3d74Gy2w9w/ins7q6RjDx
PEDmIatHDcQICn9YnB6oMrz3wZQlA04NI7/VI9pV/nAd57nO+VncehN6ksV5j8rbIGptJ8Yo6tRX
dyqTGGLt18qtxB8Q/J8gP9MrOC+ofI2C7wzyRRy9VsnCrQel6/2Gade7zYXrD5WaC9U5vgcs/xl1
Z7NWD+94WLznr5tze5710b50NqFvbocdpq23hfPaOQlhLkNWrEReHBkM3FFVv49dv286+8iSG8Za
RvVwuQTv56azFxxelo/JEryXTPuezPvCZva8fwKpFvtAwKo8sd+4H745PwKWXFiqLaajwzozNFpy
sg7aH/aYan8IWucKyzU4bhbv83FT3eecn7kH10rw5+f8k/mZixxfsY8xLt/C918ATztz+0/qL7ab
RQNNmlNh29coPIU6V1o7OMp1x5sUdj87gTXz8xar3z99tmxIYlonzTUpXwCi6tzXoUz+Sue+Mtd9
HuNbavvgsl4lEuoRvsA8/gZd5uCyHlggHiizfkKLlGdjt3QtcMUJv0HW8/w3SgQdeX4hnn+GpuIQ
8zahj8gLgMJ+3KeuGz7Vfp6siwIQ9uN+Iu8n9sm6SJQjHyDyASJP1kXinXiQucHnLUKezzeSRDny
fC6ancHn9UKe8IuNIPTHq9T9YVSRfFap+kWjdeIfJvjDanzyZN06GEnxiS8j8mQ9T9atJizLR4g8
Wc+TdevlWJavJvLVJP5kXRSWk/8okY8S+aha32Iu7EMNyWcNySdZz/O5OENYB1Ypf/FagofM87Uq
futlQra/XMVvLFf7VZ7w8w8Zc/VUR+zXqXjzZF0UqiNfT+TrSX+oJ/VVr/ZPWEH8WUH6DVnPr1Dc
sF98ZPkGEo8Ggsdl7uS/Qc2P85FH6G9U68FoJPpc5k59E33QROqLjK1Q2TDwJD323OLlV0OlANgZ
DmlsceKvgCfDME37nQp/xqoWKS90yPnjt8fILvcufmBqvgqkt1Zu33rf9TknsfLGloqt2zHXpONE
OUg2eGBfzrvLMQh8S2QfO8Z2JKwvY8zezQBXr1zZ9qjy/+UXbPy4nX/JILt4UsTFODYMhzpvbfmI
yq+q0P6TFcpv9aZ/WI/9Gu7Pevl8N8/YVziVTmdjBwrnh9K9t4+cuH3szJ3TX8Umv/7W+GA4qydj
z8a6Ez39sd2xTDoWGUwnUhlFfp1H+IPkt87llzy+IZHrSaUKE5nC9z2F872FUwfLtLvKI/x+TiH+
bF5wDzfrEt09xqLtroelGQGXvND3vJvf/Xz3YAV2Ku2/v4T+UfpfxxsAx/NrH9n+c+m/AH+9k5SZ
tKXd/4b6nC/Gpy1V/cefbm6NhCD/02TJOATnEd/mcfybrn667eGxIyspSoBzmf5zxfgq7l/f/DZd
yu+FPn9Xe9h7/HzfhkrsU7exqULbGvkOxmvQeFT7X8TWJ8UgWIb/GsmPf4H7yqv6JZ+Rin4DpO/S
58pbHtjWOPkJLeQZlihMpBM5/bGdf9Z5WL8Bl2fcUp/fNKmGfRxHcIGyI6OFiUqevy95WD9yHQXK
OLdWPia3q3PxHvDHxfkkty1R/1lo/lZ5WD/+MmNv7d/unmQltld7GD/fIvBXexQ7KCNnS+1/qMwe
pJG+ESrj/SPRXTg1MnrwseXf5VxqzLM+Tx+Y5Ps+EN/199SlZzInuJpw3OvzjwuOi+r59O6Y+hZb
/P3oP3rq4MU=
"""

# Its columns, rendered as roundtrip.py renders them (arrow-rs agrees).
WIDE_COLUMNS = r"""
[
[-128, -1, null, 0, 127, 42],
[-32768, null, -1, 0, 32767, null],
[null, -2147483648, -1, 0, 2147483647, 7],
[-9223372036854775808, -1, 0, 1, 9223372036854775807, 9007199254740992],
[0, null, 255, 1, 2, null],
[0, 65535, null, 1, 2, 3],
[4294967295, 0, 1, null, 2, 3],
[18446744073709551615, 0, 9223372036854775808, 1, null, 2],
[1.5, "NaN", "inf", "-inf", null, 0.10000000149011612],
[0.1, "NaN", null, "-inf", -0.0, 1e+300],
[true, false, null, true, true, null],
["", "h\u00e9llo w\u00f6rld", null, "\u65e5\u672c\u8a9e \ud83e\udd80", "quote \" back \\ nl \n", "plain"],
["ascii", null, "\u00fcn\u00efc\u00f6d\u00e9", "", null, "z"],
["", "00ff10", null, "616263", "80", null],
[null, "", "deadbeef", "7a", null, "00"],
[-719162, -1, 0, null, 19000, 2932896],
[-1, 0, null, 1700000000, -1099511627776, 1],
[-9223372036854775808, 9223372036854775807, null, 0, -1, 1],
[1700000000000000, -1000000, null, 0, 5, null],
[-1, null, 1700000000123456789, 0, 4611686018427387904, -86400000000000],
[-86400000, null, 0, 1, null, 2],
[[1, null, 3], null, [], [null], [2147483647, -2147483648], null],
[[1, 2], [], [3], null, [-9223372036854775808, 9223372036854775807], [0]],
[["a", null, "\u00fc"], null, [], [""], [null, null], ["last"]],
[{"a": 1, "b": "x", "c": [1.0]}, {"a": null, "b": "y", "c": null}, null, {"a": 4, "b": "", "c": []}, {"a": null, "b": "\u00fc", "c": [null, "NaN"]}, {"a": 6, "b": "z", "c": [-0.5]}],
[[{"k": "a", "v": [1, 2]}, {"k": "b", "v": null}], null, [null], [], [{"k": "", "v": [null]}, {"k": "e", "v": [5]}], []],
[[["a", 1], ["b", null]], null, [], [["\u00e9", -9223372036854775808]], [["x", 0], ["y", 1], ["z", null]], null],
[null, null, null, null, null, null],
[{"x": 0.0, "y": 0.0}, {"x": 1.0, "y": null}, {"x": -1.0, "y": -1.0}, {"x": 2.5, "y": null}, {"x": 1e-300, "y": 1.7976931348623157e+308}, {"x": 3.0, "y": 2.2250738585072014e-308}]
]
"""

WIDE_TYPES = [
    ('int8', 'int8', True),
    ('int16', 'int16', True),
    ('int32', 'int32', True),
    ('int64', 'int64', False),
    ('uint8', 'uint8', True),
    ('uint16', 'uint16', True),
    ('uint32', 'uint32', True),
    ('uint64', 'uint64', True),
    ('float32', 'float32', True),
    ('float64', 'float64', True),
    ('bool', 'bool', True),
    ('utf8', 'utf8', True),
    ('large_utf8', 'large_utf8', True),
    ('binary', 'binary', True),
    ('large_binary', 'large_binary', True),
    ('date32', 'date32', True),
    ('ts_s', 'timestamp[s]', True),
    ('ts_ms', 'timestamp[ms]', True),
    ('ts_us_utc', 'timestamp[us, tz=UTC]', True),
    ('ts_ns_new_york', 'timestamp[ns, tz=America/New_York]', True),
    ('ts_ms_offset', 'timestamp[ms, tz=+05:30]', True),
    ('list_int32', 'list<item: int32>', True),
    ('list_not_null_items', 'list<item: int64 not null>', True),
    ('large_list_utf8', 'large_list<item: utf8>', True),
    ('struct', 'struct<a: int32, b: utf8 not null, c: list<item: float64>>', True),
    ('deep', 'list<item: struct<k: utf8 not null, v: list<item: int32>>>', True),
    ('map', 'map<entries: struct<keys: utf8 not null, values: int64> not null>', True),
    ('null', 'null', True),
    ('point_not_null', 'struct<x: float64 not null, y: float64>', False),
]


def entries(key_type, value_type):
    return Field("entries", struct_([Field("key", key_type, False), Field("value", value_type)]), False)


def messages(data):
    """The framed messages of a stream: [(metadata table, whole message bytes)],
    the end-of-stream marker excluded."""
    out = []
    pos = 0
    while pos < len(data):
        cont, length = struct.unpack_from("<Ii", data, pos)
        assert cont == 0xFFFFFFFF
        if length == 0:
            break
        meta = data[pos + 8 : pos + 8 + length]
        message = fb.root(meta)
        body_len = message.scalar(3, "q", 0)
        end = pos + 8 + length + body_len
        out.append((message, data[pos:end]))
        pos = end
    return out


EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"

ALL_TYPES = Schema(
    [
        Field("i8", int8()),
        Field("i16", int16()),
        Field("i32", int32()),
        Field("i64", int64()),
        Field("u8", uint8()),
        Field("u16", uint16()),
        Field("u32", uint32()),
        Field("u64", uint64()),
        Field("f32", float32()),
        Field("f64", float64()),
        Field("b", bool_()),
        Field("s", utf8()),
        Field("ls", large_utf8()),
        Field("bin", binary()),
        Field("lbin", large_binary()),
        Field("d", date32()),
        Field("ts", timestamp("ns", "Europe/Paris")),
        Field("l", list_(Field("item", int32()))),
        Field("ll", large_list(Field("item", utf8(), False))),
        Field("st", struct_([Field("a", int64(), False), Field("b", utf8())])),
        Field("m", map_(entries(utf8(), float64()))),
        Field("n", null()),
    ]
)

ALL_ROWS = [
    {
        "i8": -128, "i16": 32767, "i32": -(2**31), "i64": 2**63 - 1, "u8": 255, "u16": 0,
        "u32": 2**32 - 1, "u64": 2**64 - 1, "f32": 0.5, "f64": -1e-300, "b": True, "s": "é",
        "ls": "x", "bin": b"\x00", "lbin": b"", "d": -1, "ts": -(2**63), "l": [1, None],
        "ll": ["a", ""], "st": {"a": 1, "b": None}, "m": [("k", 1.0), ("j", None)], "n": None,
    },
    {},
    {
        "i8": 0, "i16": None, "i32": 7, "i64": 0, "u8": None, "u16": 65535, "u32": 0, "u64": 0,
        "f32": -2.25, "f64": float("inf"), "b": False, "s": "", "ls": "ünï", "bin": b"",
        "lbin": b"\xff" * 9, "d": 19000, "ts": 0, "l": [], "ll": [], "st": None, "m": [], "n": None,
    },
]


class RoundTrip(unittest.TestCase):
    def roundtrip(self, batch):
        data = ipc.encode(batch)
        back = ipc.decode(data)
        self.assertEqual(back.schema, batch.schema)
        self.assertEqual(back.num_rows, batch.num_rows)
        return back

    def test_every_type_with_nulls(self):
        batch = Batch.from_rows(ALL_TYPES, ALL_ROWS)
        back = self.roundtrip(batch)
        rows = back.rows()
        self.assertEqual(rows[1], {f.name: None for f in ALL_TYPES})
        self.assertEqual(rows[0]["u64"], 2**64 - 1)
        self.assertEqual(rows[0]["m"], [("k", 1.0), ("j", None)])
        self.assertEqual(rows[2]["f64"], float("inf"))
        self.assertEqual(render_batch(back), render_batch(batch))

    def test_python_types_of_values(self):
        back = self.roundtrip(Batch.from_rows(ALL_TYPES, ALL_ROWS))
        row = back.rows()[0]
        for name, t in [("i64", int), ("f32", float), ("f64", float), ("b", bool), ("s", str),
                        ("ls", str), ("bin", bytes), ("lbin", bytes), ("d", int), ("ts", int),
                        ("l", list), ("ll", list), ("st", dict), ("m", list)]:
            self.assertIs(type(row[name]), t, name)
        self.assertIs(type(row["m"][0]), tuple)
        self.assertIs(type(back.column("b")[2]), bool)

    def test_float_specials(self):
        schema = Schema([Field("f", float64()), Field("g", float32())])
        nan = float("nan")
        batch = Batch(schema, [[nan, -0.0, float("-inf"), 5], [nan, 0.1, 3.4e38, 1]])
        back = self.roundtrip(batch)
        f, g = back.column("f"), back.column("g")
        self.assertTrue(math.isnan(f[0]) and math.isnan(g[0]))
        self.assertEqual(math.copysign(1, f[1]), -1.0)
        self.assertEqual(f[2:], [float("-inf"), 5.0])
        self.assertIs(type(f[3]), float)
        self.assertEqual(g[1], struct.unpack("<f", struct.pack("<f", 0.1))[0])

    def test_nested_nulls(self):
        item = struct_([Field("k", utf8(), False), Field("v", list_(Field("item", int32())))])
        schema = Schema(
            [
                Field("deep", list_(Field("item", item))),
                Field("pt", struct_([Field("x", float64(), False), Field("tags", list_(Field("item", utf8(), False)), False)])),
            ]
        )
        batch = Batch(
            schema,
            [
                [[{"k": "a", "v": [1, None]}, None, {"k": "b", "v": None}], None, [], [None]],
                [{"x": 1.0, "tags": ["t"]}, None, {"x": 2.0, "tags": []}, None],
            ],
        )
        back = self.roundtrip(batch)
        self.assertEqual(back.column("deep"), batch.column("deep"))
        self.assertEqual(back.column("pt"), batch.column("pt"))

    def test_struct_dicts_missing_and_extra_keys(self):
        schema = Schema([Field("s", struct_([Field("a", int32()), Field("b", utf8())]))])
        back = self.roundtrip(Batch(schema, [[{"a": 1}, {"b": "x", "zzz": 5}]]))
        self.assertEqual(back.column(0), [{"a": 1, "b": None}, {"a": None, "b": "x"}])

    def test_map_from_dicts_and_pairs(self):
        schema = Schema([Field("m", map_(entries(utf8(), int64()), keys_sorted=True))])
        back = self.roundtrip(Batch(schema, [[{"a": 1, "b": 2}, [["c", 3]], None, ()]]))
        self.assertEqual(back.column("m"), [[("a", 1), ("b", 2)], [("c", 3)], None, []])
        self.assertTrue(back.schema.field("m").type.keys_sorted)

    def test_empty_batch(self):
        back = self.roundtrip(Batch.empty(ALL_TYPES))
        self.assertEqual(back.num_rows, 0)
        self.assertEqual(back.rows(), [])
        self.assertEqual(back.column("st"), [])

    def test_batch_without_columns_keeps_its_rows(self):
        back = self.roundtrip(Batch(Schema([]), [], num_rows=3))
        self.assertEqual(back.rows(), [{}, {}, {}])

    def test_metadata_and_nullability(self):
        schema = Schema(
            [
                Field("id", int64(), False, {"comment": "key", "": ""}),
                Field("l", list_(Field("element", utf8(), False, {"ünï": "cödé"})), True, {"a": "b"}),
            ],
            {"owner": "ingot"},
        )
        back = self.roundtrip(Batch(schema, [[1, 2], [["x"], None]]))
        self.assertEqual(back.schema.field("l").type.item.metadata, {"ünï": "cödé"})
        self.assertFalse(back.schema.field("l").type.item.nullable)
        self.assertEqual(back.schema.field("l").type.item.name, "element")

    def test_large_strings(self):
        big = "€" * (1 << 18) + "a" * 100
        strings = [big] + [None if i % 10 == 0 else f"välue-{i}" for i in range(10_000)]
        schema = Schema([Field("s", utf8()), Field("ls", large_utf8()), Field("b", binary())])
        blobs = [None if s is None else s.encode() for s in strings]
        back = self.roundtrip(Batch(schema, [strings, strings, blobs]))
        self.assertEqual(back.column("s"), strings)
        self.assertEqual(back.column("ls"), strings)
        self.assertEqual(back.column("b"), blobs)

    def test_bronze(self):
        batch = Batch.from_rows(bronze_schema(), bronze_rows(300))
        back = self.roundtrip(batch)
        self.assertEqual(back.rows(), batch.rows())

    def test_accepts_int_subclasses_tuples_and_bytearrays(self):
        import enum

        class Level(enum.IntEnum):
            HIGH = 3

        schema = Schema([Field("i", int64()), Field("l", list_(Field("item", int8()))), Field("b", binary()), Field("f", float64())])
        back = self.roundtrip(Batch(schema, [[Level.HIGH], [(1, 2)], [bytearray(b"ab")], [3]]))
        self.assertEqual(back.rows(), [{"i": 3, "l": [1, 2], "b": b"ab", "f": 3.0}])


class ArrowRsStream(unittest.TestCase):
    """A stream written by arrow-rs, decoded without the Rust side."""

    def setUp(self):
        self.data = zlib.decompress(base64.b64decode("".join(WIDE_ARROW_RS.split())))

    def test_reads_what_arrow_rs_wrote(self):
        batch = ipc.decode(self.data)
        self.assertEqual(
            [(f.name, repr(f.type), f.nullable) for f in batch.schema.fields],
            [tuple(t) for t in WIDE_TYPES],
        )
        self.assertEqual(batch.schema.metadata, {"ingot.table": "wide"})
        self.assertEqual(render_batch(batch)["columns"], json.loads(WIDE_COLUMNS))

    def test_re_encodes_it_identically_in_substance(self):
        batch = ipc.decode(self.data)
        again = ipc.decode(ipc.encode(batch))
        self.assertEqual(render_batch(again), render_batch(batch))


class Lazy(unittest.TestCase):
    def test_columns_decode_on_first_access_only(self):
        batch = ipc.decode(ipc.encode(Batch.from_rows(ALL_TYPES, ALL_ROWS)))
        self.assertTrue(all(c is None for c in batch._columns))
        s = batch.column("s")
        self.assertIs(batch["s"], s)  # cached
        decoded = [i for i, c in enumerate(batch._columns) if c is not None]
        self.assertEqual(decoded, [ALL_TYPES.index("s")])

    def test_corrupt_column_fails_only_when_read(self):
        schema = Schema([Field("a", int32()), Field("s", utf8())])
        data = bytearray(ipc.encode(Batch(schema, [[1, 2], ["ok", "\u00e9"]])))
        i = data.index("\u00e9".encode())
        data[i] = 0xFF  # invalid UTF-8
        batch = ipc.decode(bytes(data))
        self.assertEqual(batch.column("a"), [1, 2])
        with self.assertRaisesRegex(IpcError, r"field 's', value 1: invalid UTF-8"):
            batch.column("s")


class Concatenation(unittest.TestCase):
    def test_several_record_batches_make_one_batch(self):
        schema = bronze_schema()
        rows = bronze_rows(50)
        parts = [rows[:10], [], rows[10:11], rows[11:]]
        encoded = [ipc.encode(Batch.from_rows(schema, p)) for p in parts]
        stream = messages(encoded[0])[0][1]  # the schema
        for e in encoded:
            stream += messages(e)[1][1]  # each record batch
        batch = ipc.decode(stream + EOS)
        self.assertEqual(batch.num_rows, 50)
        self.assertEqual(batch.rows(), Batch.from_rows(schema, rows).rows())

    def test_schema_only_stream_is_an_empty_batch(self):
        data = ipc.encode(Batch(Schema([Field("a", utf8())]), [["x"]]))
        schema_only = messages(data)[0][1] + EOS
        batch = ipc.decode(schema_only)
        self.assertEqual((batch.num_rows, batch.column("a")), (0, []))

    def test_missing_end_of_stream_and_legacy_framing(self):
        data = ipc.encode(Batch(Schema([Field("a", int64())]), [[1, None]]))
        self.assertEqual(ipc.decode(data[: -len(EOS)]).column(0), [1, None])
        legacy = b""
        for _message, raw in messages(data):
            legacy += raw[4:]  # no continuation marker before the length
        self.assertEqual(ipc.decode(legacy + b"\x00\x00\x00\x00").column(0), [1, None])


class WireFormat(unittest.TestCase):
    def test_layout(self):
        schema = Schema([Field("a", int64()), Field("s", utf8()), Field("l", list_(Field("item", int8())))])
        data = ipc.encode(Batch(schema, [[1, 2, 3], ["x", None, "yz"], [[1], [2, 3], None]]))
        self.assertTrue(data.endswith(EOS))
        msgs = messages(data)
        self.assertEqual([m.scalar(1, "B", 0) for m, _ in msgs], [1, 3])  # Schema, RecordBatch
        pos = 0
        for message, raw in msgs:
            self.assertEqual(message.scalar(0, "h", 0), 4)  # V5
            self.assertEqual(raw[:4], b"\xff\xff\xff\xff")
            meta_len = struct.unpack_from("<i", raw, 4)[0]
            self.assertEqual((8 + meta_len) % 8, 0)
            self.assertEqual(pos % 8, 0)
            pos += len(raw)
        header = msgs[1][0].table(2)
        self.assertEqual(header.scalar(0, "q", 0), 3)
        nodes = header.structs(1, "qq")
        self.assertEqual(nodes, (3, 0, 3, 1, 3, 1, 3, 0))
        buffers = header.structs(2, "qq")
        spans = list(zip(buffers[::2], buffers[1::2]))
        # a: no nulls -> empty validity; s: validity, offsets, data; l: validity, offsets; item: validity, data
        self.assertEqual([n for _, n in spans], [0, 24, 1, 16, 3, 1, 16, 0, 3])
        self.assertTrue(all(o % 8 == 0 for o, _ in spans))
        self.assertFalse(header.has(3))  # no compression

    def test_flatbuffer_alignment(self):
        # Every table 8-aligned from the start of the metadata, so its 8-byte
        # fields are too (arrow-rs's verifier checks alignment).
        meta = fb.build(fb.T((0, "h", 4), (1, "B", 3), (3, "q", 1 << 40), (2, "o", fb.T((0, "q", 5)))))
        self.assertEqual(len(meta) % 8, 0)
        message = fb.root(meta)
        self.assertEqual(message.pos % 8, 0)
        self.assertEqual(message.scalar(3, "q", 0), 1 << 40)
        self.assertEqual(message.table(2).scalar(0, "q", 0), 5)
        self.assertEqual(message.scalar(4, "q", 77), 77)  # absent -> default


def _stream_with(schema_table=None, record_batch=None, body=b""):
    parts = []
    if schema_table is not None:
        parts.append(_ipc_encode._message(1, schema_table, 0))
    if record_batch is not None:
        parts.append(_ipc_encode._message(3, record_batch, len(body)) + body)
    return b"".join(parts) + EOS


class DecodeErrors(unittest.TestCase):
    def test_empty_input(self):
        with self.assertRaisesRegex(IpcError, "no schema message"):
            ipc.decode(b"")

    def test_compressed_body(self):
        schema = Schema([Field("a", int32())])
        rb = fb.T(
            (0, "q", 0),
            (1, "o", fb.StructVec(struct.pack("<qq", 0, 0), 1)),
            (2, "o", fb.StructVec(struct.pack("<qqqq", 0, 0, 0, 0), 2)),
            (3, "o", fb.T((0, "b", 1), (1, "b", 0))),
        )
        with self.assertRaisesRegex(IpcError, r"message 1 \(RecordBatch\).*compressed \(ZSTD\)"):
            ipc.decode(_stream_with(_ipc_encode._schema_table(schema), rb))

    def test_dictionary_field_is_named(self):
        field = _ipc_encode._field_table(Field("country", utf8()))
        field.fields.append((4, "o", fb.T((0, "q", 0), (1, "o", fb.T((0, "i", 32), (1, "?", True))))))
        nested = fb.T((0, "o", fb.Str("outer")), (1, "?", True), (2, "B", 13), (3, "o", fb.T()), (5, "o", fb.TableVec([field])))
        schema = fb.T((0, "h", 0), (1, "o", fb.TableVec([nested])))
        with self.assertRaisesRegex(IpcError, r"field 'outer.country' is dictionary-encoded"):
            ipc.decode(_stream_with(schema))

    def test_unsupported_type_is_named(self):
        decimal = fb.T((0, "o", fb.Str("price")), (1, "?", True), (2, "B", 7), (3, "o", fb.T((0, "i", 10), (1, "i", 2))), (5, "o", fb.TableVec([])))
        with self.assertRaisesRegex(IpcError, r"field 'price' has type Decimal"):
            ipc.decode(_stream_with(fb.T((0, "h", 0), (1, "o", fb.TableVec([decimal])))))
        date64 = fb.T((0, "o", fb.Str("d")), (1, "?", True), (2, "B", 8), (3, "o", fb.T()), (5, "o", fb.TableVec([])))
        with self.assertRaisesRegex(IpcError, r"field 'd' has type date64"):
            ipc.decode(_stream_with(fb.T((0, "h", 0), (1, "o", fb.TableVec([date64])))))

    def test_big_endian(self):
        with self.assertRaisesRegex(IpcError, "big-endian"):
            ipc.decode(_stream_with(fb.T((0, "h", 1), (1, "o", fb.TableVec([])))))

    def test_buffer_outside_the_body(self):
        schema = Schema([Field("a", int32())])
        rb = fb.T(
            (0, "q", 2),
            (1, "o", fb.StructVec(struct.pack("<qq", 2, 0), 1)),
            (2, "o", fb.StructVec(struct.pack("<qqqq", 0, 0, 0, 64), 2)),
        )
        with self.assertRaisesRegex(IpcError, r"data buffer of field 'a' \(offset 0, length 64\) lies outside the 8-byte body"):
            ipc.decode(_stream_with(_ipc_encode._schema_table(schema), rb, bytes(8)))

    def test_record_batch_before_schema(self):
        rb = fb.T((0, "q", 0))
        with self.assertRaisesRegex(IpcError, "before the schema"):
            ipc.decode(_stream_with(None, rb))

    def test_truncations_raise_only_ipc_errors(self):
        data = ipc.encode(Batch.from_rows(ALL_TYPES, ALL_ROWS))
        for cut in range(len(data)):
            try:
                batch = ipc.decode(data[:cut])
                batch.columns
            except IpcError:
                pass

    def test_corruptions_raise_only_ipc_errors(self):
        data = ipc.encode(Batch.from_rows(ALL_TYPES, ALL_ROWS))
        rng = random.Random(7)
        for _ in range(3000):
            corrupt = bytearray(data)
            for _ in range(rng.randint(1, 3)):
                corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
            try:
                batch = ipc.decode(bytes(corrupt))
                batch.rows()
            except IpcError:
                pass


class EncodeErrors(unittest.TestCase):
    def check(self, schema, columns, pattern):
        with self.assertRaisesRegex(IpcError, pattern):
            ipc.encode(Batch(schema, columns))

    def test_wrong_python_type(self):
        self.check(Schema([Field("n", int64())]), [[1, "2"]], r"column 'n', row 1: expected an int, got str '2'")
        self.check(Schema([Field("n", int64())]), [[True]], r"row 0: expected an int, got bool")
        self.check(Schema([Field("f", float64())]), [[1.0, None, "x"]], r"column 'f', row 2: expected a float or int")
        self.check(Schema([Field("b", bool_())]), [[1]], r"column 'b', row 0: expected a bool, got int")
        self.check(Schema([Field("s", utf8())]), [[b"x"]], r"column 's', row 0: expected a str, got bytes")
        self.check(Schema([Field("b", binary())]), [["x"]], r"column 'b', row 0: expected bytes, got str")
        self.check(Schema([Field("l", list_(Field("item", int8())))]), [["ab"]], r"column 'l', row 0: expected a list, got str")
        self.check(Schema([Field("s", struct_([Field("a", int8())]))]), [[[1]]], r"column 's', row 0: expected a dict, got list")
        self.check(Schema([Field("z", null())]), [[None, 0]], r"column 'z', row 1: expected None")

    def test_out_of_range(self):
        self.check(Schema([Field("n", int32())]), [[0, 2**31]], r"column 'n', row 1: 2147483648 is out of range for int32")
        self.check(Schema([Field("n", uint8())]), [[-1]], r"row 0: -1 is out of range for uint8")
        self.check(Schema([Field("n", uint64())]), [[2**64]], r"out of range for uint64")
        self.check(Schema([Field("d", date32())]), [[2**40]], r"out of range for date32")
        self.check(Schema([Field("f", float64())]), [[10**400]], r"column 'f', row 0: .* cannot be written as float64")

    def test_null_in_non_nullable(self):
        self.check(Schema([Field("id", int64(), False)]), [[1, None]], r"column 'id', row 1: null in the non-nullable field 'id'")

    def test_nested_errors_name_the_top_level_row(self):
        header = struct_([Field("key", utf8(), False), Field("value", binary())])
        schema = Schema([Field("headers", list_(Field("item", header)))])
        rows = [[{"key": "a"}], None, [], [{"key": "b"}, {"key": None, "value": b""}]]
        self.check(schema, [rows], r"column 'headers', row 3: headers\[\]\.key: null in the non-nullable field 'key'")
        deep = Schema([Field("m", map_(entries(utf8(), list_(Field("item", int16())))))])
        self.check(deep, [[[("a", [1])], [("b", [2, 70000])]]], r"column 'm', row 1: m\{\}\.value\[\]: 70000 is out of range for int16")
        self.check(deep, [[[("a", [1], 3)]]], r"column 'm', row 0: m\{\}: a map entry must be a \(key, value\) pair")

    def test_invalid_text(self):
        self.check(Schema([Field("s", utf8())]), [["ok", "bad \ud800"]], r"column 's', row 1: .* is not valid UTF-8")


class DataModel(unittest.TestCase):
    def test_type_reprs(self):
        self.assertEqual(repr(timestamp("us", "UTC")), "timestamp[us, tz=UTC]")
        self.assertEqual(repr(timestamp("ns")), "timestamp[ns]")
        self.assertEqual(repr(list_(Field("item", utf8()))), "list<item: utf8>")
        self.assertEqual(repr(large_list(Field("item", utf8(), False))), "large_list<item: utf8 not null>")
        self.assertEqual(repr(struct_([Field("a", int8()), Field("b", bool_(), False)])), "struct<a: int8, b: bool not null>")
        self.assertEqual(repr(map_(entries(utf8(), int64()))), "map<entries: struct<key: utf8 not null, value: int64> not null>")
        self.assertEqual(repr(bool_()), "bool")

    def test_type_equality_and_attributes(self):
        t = timestamp("ms", "+01:00")
        self.assertEqual(t, timestamp("ms", "+01:00"))
        self.assertNotEqual(t, timestamp("ms"))
        self.assertEqual(hash(t), hash(timestamp("ms", "+01:00")))
        self.assertEqual((t.name, t.unit, t.tz), ("timestamp", "ms", "+01:00"))
        l = list_(Field("item", int32(), False))
        self.assertEqual((l.name, l.item), ("list", Field("item", int32(), False)))
        self.assertNotEqual(l, list_(Field("item", int32())))
        s = struct_([Field("a", int8())])
        self.assertEqual(s.fields, [Field("a", int8())])
        self.assertIsNone(int64().unit)
        with self.assertRaises(AttributeError):
            t.name = "x"
        with self.assertRaises(ValueError):
            timestamp("m")
        with self.assertRaises(TypeError):
            list_(int32())

    def test_schema_lookup(self):
        schema = Schema([Field("a", int8()), Field("b", utf8())])
        self.assertEqual(schema.names, ["a", "b"])
        self.assertEqual(schema.index("b"), 1)
        self.assertEqual(schema.field("b").type, utf8())
        self.assertEqual(len(schema), 2)
        with self.assertRaisesRegex(KeyError, r"no column 'c' in the schema; its columns are: 'a', 'b'"):
            schema.field("c")

    def test_batch_constructors(self):
        schema = Schema([Field("a", int8()), Field("b", utf8())])
        b = Batch.from_rows(schema, [{"a": 1}, {"b": "x", "extra": 0}])
        self.assertEqual(b.column("a"), [1, None])
        self.assertEqual(b["b"], [None, "x"])
        self.assertEqual(b.column(1), [None, "x"])
        self.assertEqual(b.rows(), [{"a": 1, "b": None}, {"a": None, "b": "x"}])
        self.assertEqual(Batch.from_columns(schema, {"a": [1], "b": ["y"]}).num_rows, 1)
        with self.assertRaisesRegex(KeyError, "column 'b' of the schema is missing"):
            Batch.from_columns(schema, {"a": [1]})
        with self.assertRaisesRegex(ValueError, "column 'b' has 2 values, expected 1"):
            Batch.from_columns(schema, {"a": [1], "b": ["x", "y"]})
        with self.assertRaisesRegex(ValueError, "column 'c' is not in the schema"):
            Batch.from_columns(schema, {"a": [1], "b": ["x"], "c": [1]})
        with self.assertRaisesRegex(ValueError, "2 fields"):
            Batch(schema, [[1]])
        self.assertEqual(Batch.empty(schema).num_rows, 0)
        with self.assertRaisesRegex(KeyError, "no column 'zz'"):
            b.column("zz")


if __name__ == "__main__":
    unittest.main()
