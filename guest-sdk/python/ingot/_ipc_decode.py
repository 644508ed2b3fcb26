"""Arrow IPC stream decoding: ``decode(data) -> Batch`` (see :mod:`ingot.ipc`)."""

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

from ._ipc_format import (IpcError, _BYTES_LIKE, _CODECS, _CONTINUATION, _FIXED, _HEADERS, _INTS, _LISTS, _LITTLE, _MAX_LENGTH, _TYPE_NAMES, _VERSIONS)


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
