"""Arrow IPC: the error type and the format's constants, shared by the
decoder (:mod:`ingot._ipc_decode`) and the encoder (:mod:`ingot._ipc_encode`)."""

import sys
from array import array

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
