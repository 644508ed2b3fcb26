"""Arrow IPC stream encoding: ``encode(batch) -> bytes`` (see :mod:`ingot.ipc`)."""

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

from ._ipc_format import (IpcError, _BYTES_LIKE, _CONTINUATION, _EOS, _FIXED, _LISTS, _LITTLE, _NoneType, _V5)


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
