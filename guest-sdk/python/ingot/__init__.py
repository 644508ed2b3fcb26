"""ingot's Python SDK: a transform is a class with ``init`` and ``process``.

A transform reads one batch of input changes (a :class:`Batch` of Python
lists, one per column) and returns the output rows as a :class:`Batch`, or an
:class:`Output` that also names the input rows it refuses::

    import ingot

    class Upper(ingot.Transform):
        def init(self, config):
            self.column = config.get("column", "name")

        def process(self, batch):
            schema = ingot.Schema([ingot.Field(self.column, ingot.utf8())])
            values = [None if v is None else v.upper() for v in batch[self.column]]
            return ingot.Batch(schema, [values])

    Transform = ingot.export(Upper)   # the name componentize-py looks for

The host feeds the input table's columns plus the Change Data Feed columns
``_change_type``, ``_commit_version`` and ``_commit_timestamp``. Arrow IPC
crosses the Wasm boundary; :mod:`ingot.ipc` encodes and decodes it, so the
author never touches bytes.

An exception raised by ``init`` or ``process`` fails the call: the host
retries the batch, then isolates the rows at fault, and reports the
exception's type, message and traceback in the stage error.
:class:`InvalidConfig` and :class:`InvalidInput` say whose fault it is.

Outside a component (unit tests on a workstation) the same classes run on
plain CPython: see :mod:`ingot.testing`.
"""

import os
import sys
import traceback

from . import ipc
from .arrow import (
    Batch,
    DataType,
    Field,
    MissingColumn,
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
    struct,
    timestamp,
    uint8,
    uint16,
    uint32,
    uint64,
    utf8,
)
from .ipc import IpcError

try:  # Inside a component built by componentize-py.
    from componentize_py_types import Err as _Err
    from wit_world.imports import host as _host
    from wit_world.imports import types as _types
except ImportError:  # Plain CPython: tests and tools.
    _host = None

__all__ = [
    "Batch", "DataType", "Field", "MissingColumn", "Schema", "IpcError", "ipc",
    "binary", "bool_", "date32", "float32", "float64", "int8", "int16", "int32", "int64",
    "large_binary", "large_list", "large_utf8", "list_", "map_", "null", "struct", "timestamp",
    "uint8", "uint16", "uint32", "uint64", "utf8",
    "CDF_COLUMNS", "INSERT", "UPDATE_PREIMAGE", "UPDATE_POSTIMAGE", "DELETE", "sign",
    "InvalidConfig", "InvalidInput", "Output", "Transform", "export",
    "log", "trace", "debug", "info", "warn", "error", "processing_time",
]

#: The Change Data Feed columns the host adds to every input batch.
CDF_COLUMNS = ("_change_type", "_commit_version", "_commit_timestamp")

#: Values of ``_change_type``.
INSERT = "insert"
UPDATE_PREIMAGE = "update_preimage"
UPDATE_POSTIMAGE = "update_postimage"
DELETE = "delete"

_SIGNS = {INSERT: 1, UPDATE_POSTIMAGE: 1, UPDATE_PREIMAGE: -1, DELETE: -1}


def sign(change_type):
    """+1 for a change that adds a row (insert, update postimage), -1 for one
    that removes it (delete, update preimage)."""
    try:
        return _SIGNS[change_type]
    except KeyError:
        raise InvalidInput(f"unknown _change_type {change_type!r}") from None


class InvalidConfig(Exception):
    """The stage configuration is unusable (a missing or malformed key)."""


class InvalidInput(Exception):
    """The input batch is not what the transform expects (a missing column, a
    wrong type): a pipeline wiring problem, not a bad row."""


class Output:
    """Output rows plus the input rows refused, each with its reason."""

    __slots__ = ("batch", "rejected")

    def __init__(self, batch, rejected=None):
        self.batch = batch
        self.rejected = list(rejected or [])

    def reject(self, row, reason):
        """Refuses input row ``row`` (zero-based); the host quarantines it."""
        self.rejected.append((int(row), str(reason)))

    def __repr__(self):
        return f"Output({self.batch.num_rows} rows, {len(self.rejected)} rejected)"


class Transform:
    """Base class of a transform. Override ``process``; ``init`` is optional.

    ``init(config)`` runs once per instance with the stage's ``config`` table
    as a ``dict`` of strings. ``process(batch)`` runs per input batch and
    returns a :class:`Batch` or an :class:`Output`. An instance may keep state
    between calls, but the host may discard it at any batch boundary.
    """

    def init(self, config):
        pass

    def process(self, batch):
        raise NotImplementedError(f"{type(self).__name__} does not define process(batch)")


# Log levels, and what plain CPython prints them as.
_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


def log(level, message):
    """Writes ``message`` to the host's log at ``level`` ("trace" ... "error"),
    tagged with the tenant, pipeline, stage and module."""
    name = str(level).upper()
    if name not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS).lower()}")
    if _host is None:
        print(f"[{name}] {message}", file=sys.stderr)
    else:
        _host.log(_types.Level[name], str(message))


def trace(message):
    log("trace", message)


def debug(message):
    log("debug", message)


def info(message):
    log("info", message)


def warn(message):
    log("warn", message)


def error(message):
    log("error", message)


# What processing_time() returns outside a component (set by ingot.testing).
_local_processing_time = 0


def processing_time():
    """The time the host began processing the current range of input, in
    microseconds since the Unix epoch (UTC): constant for every call of one
    output commit, so stamping rows with it keeps a replay identical."""
    if _host is None:
        return _local_processing_time
    return _host.processing_time()


_SDK_DIR = os.path.dirname(os.path.abspath(__file__))


def describe(exc):
    """An exception as the stage error shows it: type and message first, then
    the traceback, without the SDK's own frames (the author's code is what
    the reader looks for)."""
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_SDK_DIR):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()
    return f"{type(exc).__name__}: {exc}\n{text}"


def _config_dict(pairs):
    config = {}
    for key, value in pairs:
        config[key] = value
    return config


def _call_process(transform, batch):
    """``transform.process(batch)`` as an :class:`Output`. A column missing
    from the input is the input's fault: it becomes :class:`InvalidInput`."""
    try:
        result = transform.process(batch)
    except MissingColumn as exc:
        raise InvalidInput(f"missing column: {exc}") from exc
    return _output_of(result, transform)


def _output_of(result, transform):
    """The ``Output`` a ``process`` return value stands for."""
    if isinstance(result, Output):
        output = result
    elif isinstance(result, Batch):
        output = Output(result)
    else:
        raise TypeError(
            f"{type(transform).__name__}.process returned {type(result).__name__}; "
            "expected an ingot.Batch or an ingot.Output"
        )
    if not isinstance(output.batch, Batch):
        raise TypeError(
            f"{type(transform).__name__}.process returned an Output whose batch is "
            f"{type(output.batch).__name__}, not an ingot.Batch"
        )
    return output


def export(cls):
    """Turns a :class:`Transform` subclass into the class componentize-py
    exports as the ``transform`` interface. Bind the result to the name
    ``Transform`` in the app module::

        Transform = ingot.export(MyTransform)
    """
    if not (isinstance(cls, type) and callable(getattr(cls, "process", None))):
        raise TypeError(f"ingot.export needs a class with a process method, got {cls!r}")

    class Export:
        # One user instance per component instance: componentize-py may make
        # a new Export for each call, so the instance lives on the class.
        instance = None

        def init(self, config):
            try:
                instance = cls()
                instance.init(_config_dict(config))
                Export.instance = instance
            except BaseException as exc:  # noqa: BLE001 - every failure reaches the host
                raise _wit_error(exc) from None

        def process(self, batch):
            try:
                instance = Export.instance
                if instance is None:
                    raise RuntimeError("process was called before init")
                output = _call_process(instance, ipc.decode(batch))
                rejected = [_types.Rejected(row=row, reason=reason) for row, reason in output.rejected]
                return _types.Output(batch=ipc.encode(output.batch), rejected=rejected)
            except BaseException as exc:  # noqa: BLE001
                raise _wit_error(exc) from None

    Export.__name__ = Export.__qualname__ = f"Export[{cls.__name__}]"
    return Export


def _wit_error(exc):
    """The WIT ``error`` variant for ``exc``, raised as componentize-py's Err."""
    if isinstance(exc, InvalidConfig):
        return _Err(_types.Error_InvalidConfig(describe(exc)))
    if isinstance(exc, InvalidInput):
        return _Err(_types.Error_InvalidInput(describe(exc)))
    return _Err(_types.Error_Failed(describe(exc)))
