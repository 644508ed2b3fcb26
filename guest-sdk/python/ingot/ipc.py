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

from ._ipc_decode import decode
from ._ipc_encode import encode
from ._ipc_format import IpcError

__all__ = ["IpcError", "decode", "encode"]
