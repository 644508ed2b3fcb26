"""Arrow IPC stream format, read and written in pure Python.

``decode(data) -> Batch`` reads a stream (a schema message, record batch
messages, an optional end-of-stream marker) into one :class:`~ingot.arrow.Batch`
holding the rows of all its record batches. Columns are decoded lazily: a
column's values are built the first time it is accessed, then kept.

``encode(batch) -> bytes`` writes a stream of the schema, one record batch
(also when it has no rows) and the end-of-stream marker: metadata version
V5, little-endian, buffers 8-byte aligned, no validity buffer for a column
without nulls.

Types: null, bool, int8/16/32/64, uint8/16/32/64, float32/64, utf8,
large_utf8, binary, large_binary, date32, timestamp (s/ms/us/ns, with or
without a time zone), list, large_list, struct and map, nested in any way.
Not supported (an :class:`IpcError` names the field): dictionary encoding,
compressed bodies (LZ4/ZSTD), big-endian streams, and the other Arrow types
(decimal, float16, date64, time, duration, interval, fixed-size binary and
list, union, view and run-end-encoded types).
"""

import struct
import sys
from array import array
from bisect import bisect_right
from collections.abc import Mapping
from functools import partial
from itertools import accumulate, chain, islice, repeat

from . import _flatbuf as fb
from .arrow import Batch, Field, Schema, TIME_UNITS
from . import arrow as _arrow

__all__ = ["IpcError", "decode", "encode"]


class IpcError(ValueError):
    """A stream that cannot be read, or a batch that cannot be written; the
    message says which message, field, column or row."""


_LITTLE = sys.byteorder == "little"
_CONTINUATION = 0xFFFFFFFF
_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_V5 = 4
_VERSIONS = {0: "V1", 1: "V2", 2: "V3", 3: "V4", 4: "V5"}
_HEADERS = {1: "Schema", 2: "DictionaryBatch", 3: "RecordBatch", 4: "Tensor", 5: "SparseTensor"}
_CODECS = {0: "LZ4_FRAME", 1: "ZSTD"}
_TYPE_NAMES = {
    0: "NONE", 1: "Null", 2: "Int", 3: "FloatingPoint", 4: "Binary", 5: "Utf8",
    6: "Bool", 7: "Decimal", 8: "Date", 9: "Time", 10: "Timestamp", 11: "Interval",
    12: "List", 13: "Struct", 14: "Union", 15: "FixedSizeBinary", 16: "FixedSizeList",
    17: "Map", 18: "Duration", 19: "LargeBinary", 20: "LargeUtf8", 21: "LargeList",
    22: "RunEndEncoded", 23: "BinaryView", 24: "Utf8View", 25: "ListView",
    26: "LargeListView",
}
_INTS = {
    (8, True): "int8", (16, True): "int16", (32, True): "int32", (64, True): "int64",
    (8, False): "uint8", (16, False): "uint16", (32, False): "uint32", (64, False): "uint64",
}

# Fixed-width types: struct/array code, byte width, min, max.
_FIXED = {
    "int8": ("b", 1, -(1 << 7), (1 << 7) - 1),
    "int16": ("h", 2, -(1 << 15), (1 << 15) - 1),
    "int32": ("i", 4, -(1 << 31), (1 << 31) - 1),
    "int64": ("q", 8, -(1 << 63), (1 << 63) - 1),
    "uint8": ("B", 1, 0, (1 << 8) - 1),
    "uint16": ("H", 2, 0, (1 << 16) - 1),
    "uint32": ("I", 4, 0, (1 << 32) - 1),
    "uint64": ("Q", 8, 0, (1 << 64) - 1),
    "float32": ("f", 4, None, None),
    "float64": ("d", 8, None, None),
    "date32": ("i", 4, -(1 << 31), (1 << 31) - 1),
    "timestamp": ("q", 8, -(1 << 63), (1 << 63) - 1),
}
for _code, _width in (("i", 4), ("I", 4), ("q", 8), ("Q", 8), ("h", 2), ("H", 2)):
    if array(_code).itemsize != _width:  # pragma: no cover - no such platform in use
        raise ImportError(f"ingot.ipc needs array({_code!r}) to be {_width} bytes")
# Longest column read: more would not fit a Wasm guest's memory anyway, and a
# corrupt length must not make us allocate it.
_MAX_LENGTH = (1 << 31) - 1
_BYTES_LIKE = ("utf8", "large_utf8", "binary", "large_binary")
_LISTS = ("list", "large_list", "map")
_NoneType = type(None)


# --- decoding --------------------------------------------------------------


def decode(data):
    """The rows of an Arrow IPC stream as one Batch (all its record batches
    concatenated; no rows if it has none)."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)  # our own copy: columns decode lazily from it
    elif not isinstance(data, bytes):
        raise TypeError(f"decode takes bytes, got {type(data).__name__}")
    view = memoryview(data)
    size = len(data)
    pos = 0
    index = 0
    schema = None
    parts = []  # per record batch: (row count, [column plan per field])
    while pos < size:
        if pos + 4 > size:
            raise IpcError(f"truncated stream: {size - pos} stray bytes at offset {pos}, where message {index} should start")
        marker = struct.unpack_from("<I", data, pos)[0]
        if marker == _CONTINUATION:
            if pos + 8 > size:
                raise IpcError(f"truncated stream: message {index} has no length")
            meta_len = struct.unpack_from("<i", data, pos + 4)[0]
            pos += 8
        else:  # the format before Arrow 0.15: no continuation marker
            meta_len = struct.unpack_from("<i", data, pos)[0]
            pos += 4
        if meta_len == 0:
            break  # end of stream
        if meta_len < 0 or pos + meta_len > size:
            raise IpcError(
                f"message {index}: its metadata ({meta_len} bytes at offset {pos}) "
                f"overruns the {size}-byte stream"
            )
        meta = data[pos : pos + meta_len]
        pos += meta_len
        try:
            message = fb.root(meta)
            version = message.scalar(0, "h", 0)
            header_type = message.scalar(1, "B", 0)
            header = message.table(2)
            body_len = message.scalar(3, "q", 0)
        except (fb.FlatbufError, struct.error) as e:
            raise IpcError(f"message {index}: malformed metadata flatbuffer: {e}") from None
        kind = _HEADERS.get(header_type, f"unknown header type {header_type}")
        label = f"message {index} ({kind})"
        if version < 3:
            raise IpcError(f"{label}: metadata version {_VERSIONS.get(version, version)} is not supported (V4 or V5 only)")
        if header is None:
            raise IpcError(f"{label}: no header")
        if body_len < 0 or pos + body_len > size:
            raise IpcError(f"{label}: its body ({body_len} bytes at offset {pos}) overruns the {size}-byte stream")
        body = view[pos : pos + body_len]
        pos += body_len
        try:
            if header_type == 1:
                if schema is not None:
                    raise IpcError(f"{label}: a second schema message in the stream")
                schema = _read_schema(header, label)
            elif header_type == 3:
                if schema is None:
                    raise IpcError(f"{label}: a record batch before the schema message")
                parts.append(_plan_batch(header, body, schema, label))
            elif header_type == 2:
                raise IpcError(f"{label}: dictionary batches are not supported (dictionary-encoded fields are not)")
            else:
                raise IpcError(f"{label}: not a message of an IPC stream of record batches")
        except (fb.FlatbufError, struct.error, UnicodeDecodeError) as e:
            raise IpcError(f"{label}: malformed metadata: {e}") from None
        except RecursionError:
            raise IpcError(f"{label}: fields nested too deeply to read") from None
        index += 1
    if schema is None:
        raise IpcError("the stream has no schema message" + (" (it is empty)" if size == 0 else ""))
    num_rows = sum(p[0] for p in parts)
    loaders = [
        partial(_load_column, field, [(p[2], p[1][i]) for p in parts])
        for i, field in enumerate(schema.fields)
    ]
    return Batch._lazy(schema, num_rows, loaders)


def _kv(tables):
    return {t.string(0) or "": t.string(1) or "" for t in tables}


def _read_schema(header, label):
    if header.scalar(0, "h", 0) != 0:
        raise IpcError(f"{label}: big-endian streams are not supported")
    fields = [_read_field(t, None, label) for t in header.tables(1)]
    return Schema(fields, _kv(header.tables(2)))


def _read_field(table, parent, label):
    name = table.string(0) or ""
    path = name if parent is None else f"{parent}.{name}"
    if table.has(4):
        raise IpcError(
            f"{label}: field {path!r} is dictionary-encoded, which ingot.ipc does not support; "
            "send its plain value type instead"
        )
    nullable = bool(table.scalar(1, "?", False))
    type_id = table.scalar(2, "B", 0)
    params = table.table(3)
    children = [_read_field(t, path, label) for t in table.tables(5)]
    dtype = _read_type(type_id, params, children, path, label)
    return Field(name, dtype, nullable, _kv(table.tables(6)))


def _param(table, slot, fmt, default):
    return default if table is None else table.scalar(slot, fmt, default)


def _read_type(type_id, params, children, path, label):
    def unsupported(what):
        return IpcError(f"{label}: field {path!r} has type {what}, which ingot.ipc does not support")

    def n_children(n):
        if len(children) != n:
            raise IpcError(
                f"{label}: field {path!r} of type {_TYPE_NAMES[type_id]} has "
                f"{len(children)} children, expected {n}"
            )

    if type_id == 1:
        return _arrow.null()
    if type_id == 2:
        bits = _param(params, 0, "i", 0)
        signed = bool(_param(params, 1, "?", False))
        name = _INTS.get((bits, signed))
        if name is None:
            raise unsupported(f"Int(bitWidth={bits}, signed={signed})")
        return getattr(_arrow, name)()
    if type_id == 3:
        precision = _param(params, 0, "h", 0)
        if precision == 1:
            return _arrow.float32()
        if precision == 2:
            return _arrow.float64()
        raise unsupported("float16" if precision == 0 else f"FloatingPoint(precision={precision})")
    if type_id == 4:
        return _arrow.binary()
    if type_id == 5:
        return _arrow.utf8()
    if type_id == 6:
        return _arrow.bool_()
    if type_id == 8:
        unit = _param(params, 0, "h", 1)
        if unit == 0:
            return _arrow.date32()
        raise unsupported("date64" if unit == 1 else f"Date(unit={unit})")
    if type_id == 10:
        unit = _param(params, 0, "h", 0)
        if not 0 <= unit < 4:
            raise unsupported(f"Timestamp(unit={unit})")
        return _arrow.timestamp(TIME_UNITS[unit], None if params is None else params.string(1))
    if type_id == 12:
        n_children(1)
        return _arrow.list_(children[0])
    if type_id == 21:
        n_children(1)
        return _arrow.large_list(children[0])
    if type_id == 13:
        return _arrow.struct(children)
    if type_id == 17:
        n_children(1)
        entries = children[0]
        if entries.type.name != "struct" or len(entries.type.fields) != 2:
            raise IpcError(f"{label}: map field {path!r} has entries {entries}, expected a struct of key and value")
        return _arrow.map_(entries, bool(_param(params, 0, "?", False)))
    if type_id == 19:
        return _arrow.large_binary()
    if type_id == 20:
        return _arrow.large_utf8()
    raise unsupported(_TYPE_NAMES.get(type_id, f"#{type_id}"))


class _Col:
    """Where one field's data lies in a record batch's body."""

    __slots__ = ("field", "path", "length", "nulls", "validity", "buffers", "children")

    def __init__(self, field, path, length, nulls, validity, buffers, children):
        self.field = field
        self.path = path
        self.length = length
        self.nulls = nulls
        self.validity = validity  # memoryview, or None when there are no nulls
        self.buffers = buffers
        self.children = children


class _Cursor:
    __slots__ = ("nodes", "buffers", "node_i", "buffer_i", "body", "label")

    def __init__(self, nodes, buffers, body, label):
        self.nodes = nodes
        self.buffers = buffers
        self.node_i = 0
        self.buffer_i = 0
        self.body = body
        self.label = label

    def node(self, path):
        i = self.node_i
        if 2 * i + 1 >= len(self.nodes):
            raise IpcError(f"{self.label}: no field node left for field {path!r} (the message has {len(self.nodes) // 2})")
        self.node_i = i + 1
        length, nulls = self.nodes[2 * i], self.nodes[2 * i + 1]
        if not 0 <= length <= _MAX_LENGTH or not 0 <= nulls <= length:
            raise IpcError(f"{self.label}: field {path!r} has a bad field node (length {length}, null count {nulls})")
        return length, nulls

    def buffer(self, path, need, what):
        i = self.buffer_i
        if 2 * i + 1 >= len(self.buffers):
            raise IpcError(f"{self.label}: no buffer left for the {what} of field {path!r} (the message has {len(self.buffers) // 2})")
        self.buffer_i = i + 1
        offset, length = self.buffers[2 * i], self.buffers[2 * i + 1]
        if offset < 0 or length < 0 or offset + length > len(self.body):
            raise IpcError(
                f"{self.label}: the {what} buffer of field {path!r} (offset {offset}, length {length}) "
                f"lies outside the {len(self.body)}-byte body"
            )
        if length < need:
            raise IpcError(f"{self.label}: the {what} buffer of field {path!r} has {length} bytes, expected at least {need}")
        return self.body[offset : offset + length]


def _plan_batch(header, body, schema, label):
    length = header.scalar(0, "q", 0)
    if not 0 <= length <= _MAX_LENGTH:
        raise IpcError(f"{label}: a record batch of {length} rows")
    if header.has(3):
        codec = _param(header.table(3), 0, "b", 0)
        raise IpcError(
            f"{label}: the body is compressed ({_CODECS.get(codec, codec)}), which ingot.ipc "
            "does not support; write the stream uncompressed"
        )
    cursor = _Cursor(header.structs(1, "qq"), header.structs(2, "qq"), body, label)
    cols = []
    for field in schema.fields:
        col = _plan(field, field.name, cursor)
        if col.length != length:
            raise IpcError(f"{label}: column {field.name!r} has {col.length} values but the batch has {length} rows")
        cols.append(col)
    return length, cols, label


def _plan(field, path, cur):
    name = field.type.name
    length, nulls = cur.node(path)
    if name == "null":
        return _Col(field, path, length, length, None, (), ())
    validity = cur.buffer(path, (length + 7) // 8 if nulls else 0, "validity")
    if not nulls:
        validity = None  # a bitmap may be there, but it has nothing to say
    if name in _FIXED:
        data = cur.buffer(path, length * _FIXED[name][1], "data")
        return _Col(field, path, length, nulls, validity, (data,), ())
    if name == "bool":
        data = cur.buffer(path, (length + 7) // 8, "data")
        return _Col(field, path, length, nulls, validity, (data,), ())
    if name in _BYTES_LIKE:
        width = 8 if name.startswith("large_") else 4
        offsets = cur.buffer(path, (length + 1) * width if length else 0, "offsets")
        data = cur.buffer(path, 0, "data")
        return _Col(field, path, length, nulls, validity, (offsets, data), ())
    if name in _LISTS:
        width = 8 if name == "large_list" else 4
        offsets = cur.buffer(path, (length + 1) * width if length else 0, "offsets")
        item = field.type.item
        child = _plan(item, f"{path}[]" if name != "map" else f"{path}{{}}", cur)
        return _Col(field, path, length, nulls, validity, (offsets,), (child,))
    if name == "struct":
        children = []
        for f in field.type.fields:
            child = _plan(f, f"{path}.{f.name}", cur)
            if child.length < length:
                raise IpcError(f"{cur.label}: struct field {path!r} has {length} rows but its child {f.name!r} has {child.length}")
            children.append(child)
        return _Col(field, path, length, nulls, validity, (), tuple(children))
    raise IpcError(f"{cur.label}: field {path!r} has type {field.type}, which ingot.ipc cannot read")


def _load_column(field, parts):
    """The values of a top-level column: its parts in every record batch,
    decoded and concatenated."""
    out = []
    for label, col in parts:
        try:
            values = _values(col)
        except IpcError as e:
            raise IpcError(f"{label}: {e}") from None
        except (ValueError, TypeError, IndexError, OverflowError, struct.error, RecursionError) as e:
            raise IpcError(f"{label}: cannot decode column {field.name!r}: {e}") from None
        except MemoryError:
            raise IpcError(f"{label}: column {field.name!r} ({col.length} rows) does not fit in memory") from None
        if len(parts) == 1:
            return values
        out.extend(values)
    return out


def _fixed(buf, code, width, n):
    if n == 0:
        return []
    if _LITTLE:
        return buf[: n * width].cast(code).tolist()
    return list(struct.unpack_from("<%d%s" % (n, code), buf))


def _bits(buf, n):
    """The first ``n`` bits of an LSB-first bitmap, as a str of "0"/"1"."""
    if n == 0:
        return ""
    x = int.from_bytes(buf[: (n + 7) // 8], "little")
    return format(x, "0%db" % n)[::-1][:n]


def _offsets(col, width):
    n = col.length
    if n == 0:
        return [0]
    return _fixed(col.buffers[0], "q" if width == 8 else "i", width, n + 1)


def _check_offsets(offs, limit, col, what):
    if offs[0] < 0 or offs[-1] > limit or offs[0] > offs[-1]:
        raise IpcError(
            f"field {col.path!r}: offsets run from {offs[0]} to {offs[-1]}, "
            f"outside the {limit} {what}"
        )


def _values(col):
    field = col.field
    name = field.type.name
    n = col.length
    if name == "null":
        return [None] * n
    if name in _FIXED:
        code, width, _lo, _hi = _FIXED[name]
        values = _fixed(col.buffers[0], code, width, n)
    elif name == "bool":
        values = [c == "1" for c in _bits(col.buffers[0], n)]
    elif name in _BYTES_LIKE:
        width = 8 if name.startswith("large_") else 4
        offs = _offsets(col, width)
        data = bytes(col.buffers[1])
        _check_offsets(offs, len(data), col, "bytes of its data buffer")
        ends = islice(offs, 1, None)
        if name in ("utf8", "large_utf8"):
            if data.isascii():
                text = data.decode("ascii")
                values = [text[a:b] for a, b in zip(offs, ends)]
            else:
                try:
                    values = [data[a:b].decode("utf-8") for a, b in zip(offs, ends)]
                except UnicodeDecodeError:
                    for i in range(n):
                        try:
                            data[offs[i] : offs[i + 1]].decode("utf-8")
                        except UnicodeDecodeError as e:
                            raise IpcError(f"field {col.path!r}, value {i}: invalid UTF-8: {e.reason}") from None
                    raise
        else:
            values = [data[a:b] for a, b in zip(offs, ends)]
    elif name in _LISTS:
        offs = _offsets(col, 8 if name == "large_list" else 4)
        child = col.children[0]
        if name == "map":
            keys, items = (_values(c) for c in child.children)
            flat = list(zip(keys, items))
            del flat[child.length :]
        else:
            flat = _values(child)
        _check_offsets(offs, child.length, col, "values of its child")
        values = [flat[a:b] for a, b in zip(offs, islice(offs, 1, None))]
    elif name == "struct":
        values = _struct_rows([c.field.name for c in col.children], [_values(c) for c in col.children], n)
    else:  # pragma: no cover - _plan refuses the others
        raise IpcError(f"field {col.path!r}: cannot decode type {field.type}")
    if col.validity is None:
        return values
    bits = _bits(col.validity, n)
    if 4 * col.nulls > n:
        return [v if b == "1" else None for v, b in zip(values, bits)]
    # Few nulls: find them (str.find runs in C) rather than test every row.
    find = bits.find
    i = find("0")
    while i != -1:
        values[i] = None
        i = find("0", i + 1)
    return values


def _struct_rows(names, children, n):
    """Row dicts from a struct's child columns (dict displays of up to four
    keys are about three times faster than ``dict(zip(...))``)."""
    if any(len(c) != n for c in children):
        children = [c[:n] for c in children]
    k = len(names)
    if k == 0:
        return [{} for _ in range(n)]
    if k == 1:
        (a,) = names
        return [{a: x} for x in children[0]]
    if k == 2:
        a, b = names
        return [{a: x, b: y} for x, y in zip(*children)]
    if k == 3:
        a, b, c = names
        return [{a: x, b: y, c: z} for x, y, z in zip(*children)]
    if k == 4:
        a, b, c, d = names
        return [{a: x, b: y, c: z, d: w} for x, y, z, w in zip(*children)]
    return list(map(dict, map(zip, repeat(names), zip(*children))))


# --- encoding --------------------------------------------------------------


class _Bad(Exception):
    """A value that cannot be written: row within the values being encoded,
    the place in the column (e.g. "headers[].key"), and what is wrong."""

    def __init__(self, row, path, message):
        super().__init__(message)
        self.row = row
        self.path = path
        self.message = message


def encode(batch):
    """The Arrow IPC stream of ``batch``: schema, one record batch, end of
    stream."""
    if not isinstance(batch, Batch):
        raise TypeError(f"encode takes an ingot.arrow.Batch, got {type(batch).__name__}")
    schema = batch.schema
    nodes = []
    buffers = []
    for i, field in enumerate(schema.fields):
        values = batch.column(i)
        if len(values) != batch.num_rows:
            raise IpcError(f"column {field.name!r} has {len(values)} values but the batch has {batch.num_rows} rows")
        try:
            _encode(field, values, field.name, nodes, buffers)
        except _Bad as e:
            where = "" if e.path == field.name else f"{e.path}: "
            raise IpcError(f"column {field.name!r}, row {e.row}: {where}{e.message}") from None
    body = []
    spans = []
    offset = 0
    for b in buffers:
        n = len(b)
        spans.append(offset)
        spans.append(n)
        body.append(b)
        pad = -n % 8
        if pad:
            body.append(bytes(pad))
        offset += n + pad
    record_batch = fb.T(
        (0, "q", batch.num_rows),
        (1, "o", fb.StructVec(_pack_pairs(nodes), len(nodes))),
        (2, "o", fb.StructVec(struct.pack("<%dq" % len(spans), *spans), len(spans) // 2)),
    )
    return b"".join(
        [
            _message(1, _schema_table(schema), 0),
            _message(3, record_batch, offset),
            *body,
            _EOS,
        ]
    )


def _pack_pairs(pairs):
    return struct.pack("<%dq" % (2 * len(pairs)), *chain.from_iterable(pairs))


def _message(header_type, header, body_len):
    meta = fb.build(fb.T((0, "h", _V5), (1, "B", header_type), (2, "o", header), (3, "q", body_len)))
    return struct.pack("<Ii", _CONTINUATION, len(meta)) + meta


def _kv_vec(metadata):
    if not metadata:
        return None
    return fb.TableVec(fb.T((0, "o", fb.Str(k)), (1, "o", fb.Str(v))) for k, v in metadata.items())


def _schema_table(schema):
    return fb.T(
        (0, "h", 0),
        (1, "o", fb.TableVec(_field_table(f) for f in schema.fields)),
        (2, "o", _kv_vec(schema.metadata)),
    )


_SIMPLE_TYPE_IDS = {
    "null": 1, "binary": 4, "utf8": 5, "bool": 6, "large_binary": 19, "large_utf8": 20,
}


def _field_table(field):
    t = field.type
    name = t.name
    children = []
    if name in _SIMPLE_TYPE_IDS:
        type_id, params = _SIMPLE_TYPE_IDS[name], fb.T()
    elif name in _FIXED and name.startswith(("int", "uint")):
        type_id = 2
        params = fb.T((0, "i", 8 * _FIXED[name][1]), (1, "?", name.startswith("int")))
    elif name in ("float32", "float64"):
        type_id, params = 3, fb.T((0, "h", 1 if name == "float32" else 2))
    elif name == "date32":
        type_id, params = 8, fb.T((0, "h", 0))
    elif name == "timestamp":
        tz = None if t.tz is None else fb.Str(t.tz)
        type_id, params = 10, fb.T((0, "h", TIME_UNITS.index(t.unit)), (1, "o", tz))
    elif name in ("list", "large_list"):
        type_id, params, children = (12 if name == "list" else 21), fb.T(), [t.item]
    elif name == "struct":
        type_id, params, children = 13, fb.T(), t.fields
    elif name == "map":
        type_id, params, children = 17, fb.T((0, "?", t.keys_sorted)), [t.entries]
    else:  # pragma: no cover - every DataType is one of the above
        raise IpcError(f"field {field.name!r}: cannot write type {t}")
    return fb.T(
        (0, "o", fb.Str(field.name)),
        (1, "?", field.nullable),
        (2, "B", type_id),
        (3, "o", params),
        (5, "o", fb.TableVec(_field_table(c) for c in children)),
        (6, "o", _kv_vec(field.metadata)),
    )


def _short(value):
    r = repr(value)
    return r if len(r) <= 60 else r[:57] + "..."


def _is_int(t):
    return issubclass(t, int) and not issubclass(t, bool)


def _is_float(t):
    return issubclass(t, float) or _is_int(t)


def _is_bytes(t):
    return issubclass(t, (bytes, bytearray, memoryview))


def _is_list(t):
    return issubclass(t, (list, tuple))


def _is_mapping(t):
    return issubclass(t, Mapping)


def _is_map_value(t):
    return issubclass(t, (list, tuple, Mapping))


_ACCEPTS = {
    "int": (frozenset([int]), _is_int, "an int"),
    "float": (frozenset([float, int]), _is_float, "a float or int"),
    "bool": (frozenset([bool]), lambda t: issubclass(t, bool), "a bool"),
    "str": (frozenset([str]), lambda t: issubclass(t, str), "a str"),
    "bytes": (frozenset([bytes]), _is_bytes, "bytes"),
    "list": (frozenset([list]), _is_list, "a list"),
    "dict": (frozenset([dict]), _is_mapping, "a dict"),
    "map": (frozenset([list]), _is_map_value, "a list of (key, value) pairs or a dict"),
}


def _check_types(values, kind, path):
    """Raise _Bad at the first value (other than None) not of ``kind``;
    return the set of the values' types."""
    types = set(map(type, values))
    types.discard(_NoneType)
    exact, accepts, what = _ACCEPTS[kind]
    if types <= exact:
        return types
    bad = {t for t in types if not accepts(t)}
    if bad:
        for i, v in enumerate(values):
            if type(v) in bad:
                raise _Bad(i, path, f"expected {what}, got {type(v).__name__} {_short(v)}")
    return types


def _validity(values, n):
    bits = "".join(["0" if v is None else "1" for v in reversed(values)])
    return int(bits, 2).to_bytes((n + 7) // 8, "little")


def _bool_bitmap(values, n):
    if n == 0:
        return b""
    bits = "".join(["1" if v else "0" for v in reversed(values)])
    return int(bits, 2).to_bytes((n + 7) // 8, "little")


def _pack(code, values):
    a = array(code, values)
    if not _LITTLE:
        a.byteswap()
    return a.tobytes()


def _filler(t):
    """A valid value of type ``t``, written under a null parent for a child
    that is not nullable."""
    name = t.name
    if name in ("float32", "float64"):
        return 0.0
    if name in _FIXED:
        return 0
    if name == "bool":
        return False
    if name in ("utf8", "large_utf8"):
        return ""
    if name in ("binary", "large_binary"):
        return b""
    if name in _LISTS:
        return []
    if name == "struct":
        return {f.name: None if f.nullable else _filler(f.type) for f in t.fields}
    return None


def _encode(field, values, path, nodes, buffers):
    t = field.type
    name = t.name
    n = len(values)
    nulls = values.count(None)
    if nulls and not field.nullable:
        raise _Bad(values.index(None), path, f"null in the non-nullable field {field.name!r}")
    if name == "null":
        if nulls != n:
            i = next(i for i, v in enumerate(values) if v is not None)
            raise _Bad(i, path, f"expected None (the type is null), got {_short(values[i])}")
        nodes.append((n, n))
        return
    nodes.append((n, nulls))
    buffers.append(_validity(values, n) if nulls else b"")

    if name in _FIXED:
        code, _width, lo, hi = _FIXED[name]
        is_float = lo is None
        _check_types(values, "float" if is_float else "int", path)
        if nulls:
            zero = 0.0 if is_float else 0
            values = [zero if v is None else v for v in values]
        try:
            buffers.append(_pack(code, values))
        except (OverflowError, TypeError, ValueError) as e:
            for i, v in enumerate(values):
                if not is_float and not lo <= v <= hi:
                    raise _Bad(i, path, f"{v} is out of range for {t} ({lo}..{hi})") from None
                try:
                    array(code, [v])
                except (OverflowError, TypeError, ValueError) as e1:
                    raise _Bad(i, path, f"{_short(v)} cannot be written as {t}: {e1}") from None
            raise IpcError(f"{path}: cannot write as {t}: {e}") from None
    elif name == "bool":
        _check_types(values, "bool", path)
        buffers.append(_bool_bitmap(values, n))
    elif name in _BYTES_LIKE:
        large = name.startswith("large_")
        if name.endswith("utf8"):
            _check_types(values, "str", path)
            if nulls:
                values = ["" if v is None else v for v in values]
            text = "".join(values)
            if text.isascii():
                data = text.encode("ascii")
                lengths = map(len, values)
            else:
                try:
                    encoded = [s.encode("utf-8") for s in values]
                except UnicodeEncodeError:
                    for i, s in enumerate(values):
                        try:
                            s.encode("utf-8")
                        except UnicodeEncodeError as e:
                            raise _Bad(i, path, f"{_short(s)} is not valid UTF-8 text: {e.reason}") from None
                    raise
                data = b"".join(encoded)
                lengths = map(len, encoded)
        else:
            types = _check_types(values, "bytes", path)
            if nulls:
                values = [b"" if v is None else v for v in values]
            if any(issubclass(ty, memoryview) for ty in types):
                values = [bytes(v) if isinstance(v, memoryview) else v for v in values]
            data = b"".join(values)
            lengths = map(len, values)
        offsets = list(accumulate(lengths, initial=0))
        _check_offset_range(offsets, large, path, "bytes", "large_utf8/large_binary")
        buffers.append(_pack("q" if large else "i", offsets))
        buffers.append(data)
    elif name in ("list", "large_list"):
        _check_types(values, "list", path)
        if nulls:
            present = [v for v in values if v is not None]
            lengths = [0 if v is None else len(v) for v in values]
        else:
            present = values
            lengths = map(len, values)
        offsets = list(accumulate(lengths, initial=0))
        large = name == "large_list"
        _check_offset_range(offsets, large, path, "items", "large_list")
        buffers.append(_pack("q" if large else "i", offsets))
        flat = list(chain.from_iterable(present))
        try:
            _encode(t.item, flat, f"{path}[]", nodes, buffers)
        except _Bad as e:
            e.row = bisect_right(offsets, e.row) - 1
            raise
    elif name == "map":
        types = _check_types(values, "map", path)
        if any(issubclass(ty, Mapping) for ty in types):
            values = [list(v.items()) if isinstance(v, Mapping) else v for v in values]
        present = [v for v in values if v is not None] if nulls else values
        lengths = [0 if v is None else len(v) for v in values] if nulls else map(len, values)
        offsets = list(accumulate(lengths, initial=0))
        _check_offset_range(offsets, False, path, "entries", None)
        buffers.append(_pack("i", offsets))
        entries = list(chain.from_iterable(present))
        try:
            entry_types = set(map(type, entries))
            if not all(_is_list(ty) for ty in entry_types) or not set(map(len, entries)) <= {2}:
                for i, e in enumerate(entries):
                    if not _is_list(type(e)) or len(e) != 2:
                        raise _Bad(i, f"{path}{{}}", f"a map entry must be a (key, value) pair, got {_short(e)}")
            entries_field = t.entries
            key_field, value_field = entries_field.type.fields
            nodes.append((len(entries), 0))
            buffers.append(b"")
            _encode(key_field, [e[0] for e in entries], f"{path}{{}}.{key_field.name}", nodes, buffers)
            _encode(value_field, [e[1] for e in entries], f"{path}{{}}.{value_field.name}", nodes, buffers)
        except _Bad as e:
            e.row = bisect_right(offsets, e.row) - 1
            raise
    elif name == "struct":
        _check_types(values, "dict", path)
        for f in t.fields:
            key = f.name
            if nulls:
                fill = None if f.nullable else _filler(f.type)
                child = [fill if v is None else v.get(key) for v in values]
            else:
                child = [v.get(key) for v in values]
            _encode(f, child, f"{path}.{key}", nodes, buffers)
    else:  # pragma: no cover - every DataType is one of the above
        raise IpcError(f"{path}: cannot write type {t}")


def _check_offset_range(offsets, large, path, what, instead):
    limit = (1 << 63) - 1 if large else (1 << 31) - 1
    if offsets[-1] > limit:
        row = bisect_right(offsets, limit) - 1
        hint = f"; use {instead}" if instead else ""
        raise _Bad(row, path, f"the column holds more than {limit} {what}, too many for 32-bit offsets{hint}")
