"""A minimal FlatBuffers reader and writer, enough for Arrow's IPC metadata
(Schema.fbs, Message.fbs). Private to ``ingot.ipc``.

Reading: :class:`Table` over a ``bytes`` buffer, with accessors by vtable
slot (slot ``n`` is the n-th field declared in the .fbs table). Every read
is bounds-checked and raises :class:`FlatbufError`.

Writing: describe the tree with :class:`T` (a table), :class:`Str`,
:class:`TableVec`, :class:`StructVec` and :class:`ScalarVec`, then
:func:`build` lays it out front to back (each object before the objects it
refers to, so every offset points forward as FlatBuffers requires), with
every scalar aligned to its size from the start of the buffer.
"""

import struct

__all__ = ["FlatbufError", "Table", "root", "T", "Str", "TableVec", "StructVec", "ScalarVec", "build"]

_U16 = struct.Struct("<H")
_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")

_SIZES = {"b": 1, "B": 1, "?": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4, "d": 8, "o": 4}


class FlatbufError(Exception):
    """A malformed flatbuffer: an offset or length outside the buffer."""


class Table:
    """A table at ``pos`` in ``buf``."""

    __slots__ = ("buf", "pos", "_vt", "_vtlen")

    def __init__(self, buf, pos):
        n = len(buf)
        if pos < 0 or pos + 4 > n:
            raise FlatbufError(f"table offset {pos} outside the {n}-byte buffer")
        vt = pos - _I32.unpack_from(buf, pos)[0]
        if vt < 0 or vt + 4 > n:
            raise FlatbufError(f"vtable offset {vt} outside the {n}-byte buffer")
        vtlen = _U16.unpack_from(buf, vt)[0]
        if vtlen < 4 or vt + vtlen > n:
            raise FlatbufError(f"vtable at {vt} has a bad length {vtlen}")
        self.buf = buf
        self.pos = pos
        self._vt = vt
        self._vtlen = vtlen

    def _field(self, slot):
        """The absolute position of the field in ``slot``, or 0 if absent."""
        o = 4 + 2 * slot
        if o + 2 > self._vtlen:
            return 0
        off = _U16.unpack_from(self.buf, self._vt + o)[0]
        return self.pos + off if off else 0

    def has(self, slot):
        return self._field(slot) != 0

    def scalar(self, slot, fmt, default):
        p = self._field(slot)
        if not p:
            return default
        size = _SIZES[fmt]
        if p + size > len(self.buf):
            raise FlatbufError(f"field {slot} at {p} outside the buffer")
        return struct.unpack_from("<" + fmt, self.buf, p)[0]

    def _deref(self, slot):
        p = self._field(slot)
        if not p:
            return 0
        if p + 4 > len(self.buf):
            raise FlatbufError(f"offset field {slot} at {p} outside the buffer")
        target = p + _U32.unpack_from(self.buf, p)[0]
        if target + 4 > len(self.buf):
            raise FlatbufError(f"field {slot} points at {target}, outside the buffer")
        return target

    def table(self, slot):
        """The sub-table in ``slot``, or None."""
        p = self._deref(slot)
        return Table(self.buf, p) if p else None

    def string(self, slot):
        """The string in ``slot`` (decoded as UTF-8), or None."""
        p = self._deref(slot)
        if not p:
            return None
        n = _U32.unpack_from(self.buf, p)[0]
        if p + 4 + n > len(self.buf):
            raise FlatbufError(f"string of {n} bytes at {p} overruns the buffer")
        return bytes(self.buf[p + 4 : p + 4 + n]).decode("utf-8")

    def vector(self, slot, elem_size):
        """``(start, count)`` of the vector in ``slot``, or None."""
        p = self._deref(slot)
        if not p:
            return None
        n = _U32.unpack_from(self.buf, p)[0]
        if p + 4 + n * elem_size > len(self.buf):
            raise FlatbufError(f"vector of {n} x {elem_size} bytes at {p} overruns the buffer")
        return p + 4, n

    def tables(self, slot):
        """The tables of the vector of tables in ``slot`` ([] if absent)."""
        v = self.vector(slot, 4)
        if v is None:
            return []
        start, n = v
        buf = self.buf
        out = []
        for i in range(n):
            at = start + 4 * i
            out.append(Table(buf, at + _U32.unpack_from(buf, at)[0]))
        return out

    def structs(self, slot, fmt):
        """The vector of structs in ``slot`` as a flat tuple of fields, each
        struct laid out as ``fmt`` (e.g. "qq"); () if absent."""
        size = struct.calcsize("<" + fmt)
        v = self.vector(slot, size)
        if v is None:
            return ()
        start, n = v
        return struct.unpack_from("<" + fmt * n, self.buf, start)


def root(buf):
    """The root table of a finished flatbuffer."""
    if len(buf) < 4:
        raise FlatbufError(f"a {len(buf)}-byte buffer holds no flatbuffer")
    return Table(buf, _U32.unpack_from(buf, 0)[0])


# --- writing ---------------------------------------------------------------


class T:
    """A table to write: ``T((slot, fmt, value), ...)``. ``fmt`` is a struct
    format character for a scalar or "o" for a reference (a T, Str, or
    vector); fields whose value is None are left out."""

    __slots__ = ("fields",)

    def __init__(self, *fields):
        self.fields = [f for f in fields if f[2] is not None]


class Str:
    __slots__ = ("data",)

    def __init__(self, text):
        self.data = text.encode("utf-8")


class TableVec:
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = list(items)


class StructVec:
    """A vector of ``count`` structs already packed in ``data``, aligned to
    ``align``."""

    __slots__ = ("data", "count", "align")

    def __init__(self, data, count, align=8):
        self.data = data
        self.count = count
        self.align = align


class ScalarVec:
    __slots__ = ("fmt", "values")

    def __init__(self, fmt, values):
        self.fmt = fmt
        self.values = list(values)


def build(root_table):
    """The bytes of a flatbuffer whose root is ``root_table``, padded to a
    multiple of 8."""
    buf = bytearray(4)
    pos = _emit(buf, root_table)
    _U32.pack_into(buf, 0, pos)
    buf.extend(bytes(-len(buf) % 8))
    return bytes(buf)


def _pad(buf, align, extra=0):
    buf.extend(bytes(-(len(buf) + extra) % align))


def _emit(buf, obj):
    if isinstance(obj, T):
        return _emit_table(buf, obj)
    if isinstance(obj, Str):
        _pad(buf, 4)
        pos = len(buf)
        buf += _U32.pack(len(obj.data))
        buf += obj.data
        buf.append(0)
        return pos
    if isinstance(obj, TableVec):
        _pad(buf, 4)
        pos = len(buf)
        n = len(obj.items)
        buf += _U32.pack(n)
        buf.extend(bytes(4 * n))
        for i, item in enumerate(obj.items):
            at = pos + 4 + 4 * i
            _U32.pack_into(buf, at, _emit(buf, item) - at)
        return pos
    if isinstance(obj, StructVec):
        _pad(buf, max(obj.align, 4), 4)
        pos = len(buf)
        buf += _U32.pack(obj.count)
        buf += obj.data
        return pos
    if isinstance(obj, ScalarVec):
        size = _SIZES[obj.fmt]
        _pad(buf, max(size, 4), 4)
        pos = len(buf)
        buf += _U32.pack(len(obj.values))
        buf += struct.pack("<%d%s" % (len(obj.values), obj.fmt), *obj.values)
        return pos
    raise TypeError(f"cannot write {obj!r} into a flatbuffer")


def _emit_table(buf, table):
    # Inline layout: the soffset to the vtable, then the fields, largest
    # first, each aligned to its size (the table itself starts 8-aligned).
    layout = []
    off = 4
    for slot, fmt, value in sorted(table.fields, key=lambda f: -_SIZES[f[1]]):
        size = _SIZES[fmt]
        off += -off % size
        layout.append((slot, fmt, value, off))
        off += size
    nslots = max((f[0] for f in table.fields), default=-1) + 1
    slots = [0] * nslots
    for slot, _fmt, _value, at in layout:
        slots[slot] = at
    vtable = struct.pack("<%dH" % (2 + nslots), 4 + 2 * nslots, off, *slots)

    _pad(buf, 2)
    vt_pos = len(buf)
    buf += vtable
    _pad(buf, 8)
    pos = len(buf)
    buf.extend(bytes(off))
    _I32.pack_into(buf, pos, pos - vt_pos)
    refs = []
    for _slot, fmt, value, at in layout:
        if fmt == "o":
            refs.append((pos + at, value))
        else:
            struct.pack_into("<" + fmt, buf, pos + at, value)
    for at, child in refs:
        _U32.pack_into(buf, at, _emit(buf, child) - at)
    return pos
