"""The Arrow data model of the ingot Python SDK: types, fields, schemas, batches.

Pure Python (no pyarrow: C extensions do not run inside a componentize-py
component). A :class:`Batch` holds one Python ``list`` per column; ``ingot.ipc``
reads and writes it as an Arrow IPC stream.

Python values by Arrow type:

=====================  ==================================================
ints, uints            ``int``
float32, float64       ``float``
bool                   ``bool``
utf8, large_utf8       ``str``
binary, large_binary   ``bytes``
date32                 ``int``: days since 1970-01-01
timestamp              ``int``: count of its unit since the Unix epoch (UTC)
list, large_list       ``list``
struct                 ``dict`` (field name -> value)
map                    ``list`` of ``(key, value)`` tuples
null                   ``None``
=====================  ==================================================

``None`` is a null everywhere.
"""

__all__ = [
    "DataType",
    "Field",
    "MissingColumn",
    "Schema",
    "Batch",
    "null",
    "bool_",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
    "utf8",
    "large_utf8",
    "binary",
    "large_binary",
    "date32",
    "timestamp",
    "list_",
    "large_list",
    "struct",
    "map_",
]

from itertools import repeat

TIME_UNITS = ("s", "ms", "us", "ns")

# Names of the types without parameters.
_PRIMITIVES = (
    "null",
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float32",
    "float64",
    "utf8",
    "large_utf8",
    "binary",
    "large_binary",
    "date32",
)


class DataType:
    """An Arrow data type. Immutable and hashable; build one with the
    module-level constructors (``int64()``, ``timestamp("us", "UTC")``,
    ``list_(Field("item", utf8()))``...), not with this class.

    ``name`` is the type's kind ("int64", "timestamp", "list", "struct"...).
    Parameterised types also expose ``unit`` and ``tz`` (timestamp), ``item``
    (list, large_list; for map the entries field), ``fields`` (struct),
    ``entries`` and ``keys_sorted`` (map); on other types these are None.
    """

    __slots__ = ("_name", "_params", "_hash")

    def __init__(self, name, params=()):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_params", params)
        object.__setattr__(self, "_hash", hash((name, params)))

    def __setattr__(self, key, value):
        raise AttributeError("DataType is immutable")

    def __delattr__(self, key):
        raise AttributeError("DataType is immutable")

    def __reduce__(self):
        return (DataType, (self._name, self._params))

    @property
    def name(self):
        return self._name

    @property
    def unit(self):
        return self._params[0] if self._name == "timestamp" else None

    @property
    def tz(self):
        return self._params[1] if self._name == "timestamp" else None

    @property
    def item(self):
        if self._name in ("list", "large_list", "map"):
            return self._params[0]
        return None

    @property
    def fields(self):
        return list(self._params[0]) if self._name == "struct" else None

    @property
    def entries(self):
        return self._params[0] if self._name == "map" else None

    @property
    def keys_sorted(self):
        return self._params[1] if self._name == "map" else None

    @property
    def is_nested(self):
        """True for list, large_list, struct and map."""
        return self._name in ("list", "large_list", "struct", "map")

    def __eq__(self, other):
        if not isinstance(other, DataType):
            return NotImplemented
        return self._name == other._name and self._params == other._params

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return self._hash

    def __repr__(self):
        name = self._name
        if name == "timestamp":
            unit, tz = self._params
            return f"timestamp[{unit}]" if tz is None else f"timestamp[{unit}, tz={tz}]"
        if name in ("list", "large_list"):
            return f"{name}<{self._params[0]}>"
        if name == "struct":
            return "struct<" + ", ".join(str(f) for f in self._params[0]) + ">"
        if name == "map":
            entries, keys_sorted = self._params
            return f"map<{entries}, keys_sorted>" if keys_sorted else f"map<{entries}>"
        return name

    __str__ = __repr__


class Field:
    """A named, typed column (or child of a nested type).

    ``Field(name, type, nullable=True, metadata=None)``; ``metadata`` is a
    ``dict[str, str]`` (copied). Fields compare and hash by all four; treat
    them as immutable.
    """

    __slots__ = ("name", "type", "nullable", "metadata")

    def __init__(self, name, type, nullable=True, metadata=None):
        if not isinstance(name, str):
            raise TypeError(f"Field name must be a str, got {name!r}")
        if not isinstance(type, DataType):
            raise TypeError(
                f"Field {name!r}: type must be an ingot.arrow.DataType "
                f"(e.g. int64()), got {type!r}"
            )
        self.name = name
        self.type = type
        self.nullable = bool(nullable)
        self.metadata = _metadata(metadata, f"field {name!r}")

    def with_name(self, name):
        return Field(name, self.type, self.nullable, self.metadata)

    def __eq__(self, other):
        if not isinstance(other, Field):
            return NotImplemented
        return (
            self.name == other.name
            and self.type == other.type
            and self.nullable == other.nullable
            and self.metadata == other.metadata
        )

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash((self.name, self.type, self.nullable, tuple(sorted(self.metadata.items()))))

    def __str__(self):
        return f"{self.name}: {self.type}" + ("" if self.nullable else " not null")

    def __repr__(self):
        s = f"Field({self.name!r}, {self.type!r}"
        if not self.nullable:
            s += ", nullable=False"
        if self.metadata:
            s += f", metadata={self.metadata!r}"
        return s + ")"


class MissingColumn(KeyError):
    """A column the code asked for is not in the schema. Raised from a
    transform, it is reported as the input's fault (``invalid-input``)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class Schema:
    """The fields of a batch, in column order, and the schema's metadata.

    ``Schema(fields, metadata=None)``.
    """

    __slots__ = ("fields", "metadata", "_index")

    def __init__(self, fields, metadata=None):
        fields = list(fields)
        index = {}
        for i, f in enumerate(fields):
            if not isinstance(f, Field):
                raise TypeError(f"Schema field {i} must be an ingot.arrow.Field, got {f!r}")
            index.setdefault(f.name, i)
        self.fields = fields
        self.metadata = _metadata(metadata, "schema")
        self._index = index

    @property
    def names(self):
        return [f.name for f in self.fields]

    def index(self, name):
        """The position of the column called ``name`` (:class:`MissingColumn`,
        a KeyError, if none)."""
        try:
            return self._index[name]
        except (KeyError, TypeError):
            raise MissingColumn(
                f"no column {name!r} in the schema; its columns are: "
                + (", ".join(repr(n) for n in self.names) or "(none)")
            ) from None

    def field(self, name_or_index):
        """The field called ``name`` (KeyError naming it and listing the
        columns if there is none), or at an integer position."""
        if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
            return self.fields[name_or_index]
        return self.fields[self.index(name_or_index)]

    def __contains__(self, name):
        return name in self._index

    def __len__(self):
        return len(self.fields)

    def __iter__(self):
        return iter(self.fields)

    def __eq__(self, other):
        if not isinstance(other, Schema):
            return NotImplemented
        return self.fields == other.fields and self.metadata == other.metadata

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __repr__(self):
        lines = ["Schema("] + [f"  {f}," for f in self.fields]
        if self.metadata:
            lines.append(f"  metadata={self.metadata!r},")
        return "\n".join(lines) + "\n)" if self.fields or self.metadata else "Schema()"


class Batch:
    """Rows of a schema, held as one Python list per column.

    ``Batch(schema, columns)``: ``columns`` is a list of lists, one per field,
    all the same length. A batch read by ``ingot.ipc.decode`` decodes a
    column's values only when it is first accessed, then keeps them.
    ``column()`` returns the batch's own list: copy it before changing it.
    Values are not checked here; ``ingot.ipc.encode`` checks them against
    the types.
    """

    __slots__ = ("schema", "num_rows", "_columns", "_pending")

    def __init__(self, schema, columns, num_rows=None):
        if not isinstance(schema, Schema):
            raise TypeError(f"Batch schema must be an ingot.arrow.Schema, got {schema!r}")
        columns = list(columns)
        fields = schema.fields
        if len(columns) != len(fields):
            raise ValueError(
                f"the batch has {len(columns)} columns but its schema has "
                f"{len(fields)} fields ({', '.join(repr(n) for n in schema.names)})"
            )
        cols = []
        n = num_rows
        first = None
        for f, c in zip(fields, columns):
            if not isinstance(c, list):
                if isinstance(c, (str, bytes, dict)) or not hasattr(c, "__iter__"):
                    raise TypeError(
                        f"column {f.name!r} must be a list of values, got {type(c).__name__}"
                    )
                c = list(c)
            if n is None:
                n, first = len(c), f.name
            elif len(c) != n:
                expected = f"the length of column {first!r}" if first is not None else "num_rows"
                raise ValueError(f"column {f.name!r} has {len(c)} values, expected {n} ({expected})")
            cols.append(c)
        self.schema = schema
        self.num_rows = n or 0
        self._columns = cols
        self._pending = None

    @classmethod
    def _lazy(cls, schema, num_rows, loaders):
        """A batch whose column ``i`` is ``loaders[i]()`` (called once, on
        first access). Used by ``ingot.ipc.decode``."""
        self = cls.__new__(cls)
        self.schema = schema
        self.num_rows = num_rows
        self._columns = [None] * len(loaders)
        self._pending = list(loaders)
        return self

    def _position(self, name_or_index):
        if isinstance(name_or_index, int) and not isinstance(name_or_index, bool):
            n = len(self._columns)
            i = name_or_index + n if name_or_index < 0 else name_or_index
            if not 0 <= i < n:
                raise IndexError(f"column index {name_or_index} out of range: the batch has {n} columns")
            return i
        return self.schema.index(name_or_index)

    def column(self, name_or_index):
        """The values of a column (by name or position); None for nulls."""
        i = self._position(name_or_index)
        col = self._columns[i]
        if col is None:
            pending = self._pending
            col = pending[i]()
            self._columns[i] = col
            pending[i] = None
        return col

    def __getitem__(self, name):
        return self.column(name)

    @property
    def columns(self):
        """All the columns, as a list of lists (decoding any not yet read)."""
        return [self.column(i) for i in range(len(self._columns))]

    @property
    def num_columns(self):
        return len(self._columns)

    def __len__(self):
        return self.num_rows

    def rows(self):
        """The rows as dicts (column name -> value)."""
        names = self.schema.names
        if not names:
            return [{} for _ in range(self.num_rows)]
        return list(map(dict, map(zip, repeat(names), zip(*self.columns))))

    def to_dict(self):
        """The columns as a dict (column name -> list of values)."""
        return {f.name: self.column(i) for i, f in enumerate(self.schema.fields)}

    @staticmethod
    def from_rows(schema, rows):
        """A batch from row dicts; a missing key is a null, keys that are not
        columns of ``schema`` are ignored."""
        rows = rows if isinstance(rows, list) else list(rows)
        for i, r in enumerate(rows):
            if not hasattr(r, "get"):
                raise TypeError(f"row {i} must be a dict, got {type(r).__name__}")
        names = schema.names
        return Batch(schema, [[r.get(n) for r in rows] for n in names], num_rows=len(rows))

    @staticmethod
    def from_columns(schema, columns):
        """A batch from a dict of column name -> list of values. KeyError if a
        column of the schema is missing, ValueError if one has the wrong
        length or the dict has a column the schema does not."""
        if not hasattr(columns, "keys"):
            raise TypeError(f"columns must be a dict of column name -> values, got {type(columns).__name__}")
        extra = [k for k in columns.keys() if k not in schema]
        if extra:
            raise ValueError(
                f"column {extra[0]!r} is not in the schema; its columns are: "
                + (", ".join(repr(n) for n in schema.names) or "(none)")
            )
        cols = []
        for f in schema.fields:
            try:
                cols.append(columns[f.name])
            except KeyError:
                raise KeyError(
                    f"column {f.name!r} of the schema is missing; given: "
                    + (", ".join(repr(k) for k in columns.keys()) or "(none)")
                ) from None
        return Batch(schema, cols)

    @staticmethod
    def empty(schema):
        """A batch of ``schema`` with no rows."""
        return Batch(schema, [[] for _ in schema.fields], num_rows=0)

    def __eq__(self, other):
        if not isinstance(other, Batch):
            return NotImplemented
        return (
            self.schema == other.schema
            and self.num_rows == other.num_rows
            and self.columns == other.columns
        )

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = None

    def __repr__(self):
        return (
            f"<Batch {self.num_rows} rows: "
            + ", ".join(str(f) for f in self.schema.fields)
            + ">"
        )


def _metadata(metadata, what):
    if metadata is None:
        return {}
    out = {}
    for k, v in dict(metadata).items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{what}: metadata keys and values must be str, got {k!r}: {v!r}")
        out[k] = v
    return out


_CACHE = {name: DataType(name) for name in _PRIMITIVES}


def null():
    return _CACHE["null"]


def bool_():
    return _CACHE["bool"]


def int8():
    return _CACHE["int8"]


def int16():
    return _CACHE["int16"]


def int32():
    return _CACHE["int32"]


def int64():
    return _CACHE["int64"]


def uint8():
    return _CACHE["uint8"]


def uint16():
    return _CACHE["uint16"]


def uint32():
    return _CACHE["uint32"]


def uint64():
    return _CACHE["uint64"]


def float32():
    return _CACHE["float32"]


def float64():
    return _CACHE["float64"]


def utf8():
    return _CACHE["utf8"]


def large_utf8():
    return _CACHE["large_utf8"]


def binary():
    return _CACHE["binary"]


def large_binary():
    return _CACHE["large_binary"]


def date32():
    return _CACHE["date32"]


def timestamp(unit="us", tz=None):
    """``timestamp(unit="us", tz=None)``: unit is one of "s", "ms", "us", "ns";
    ``tz`` an IANA name or offset ("UTC", "+02:00"). Values are always counts
    since the Unix epoch in UTC; ``tz`` only says how to display them."""
    if unit not in TIME_UNITS:
        raise ValueError(f"timestamp unit must be one of {', '.join(TIME_UNITS)}, got {unit!r}")
    if tz is not None and not isinstance(tz, str):
        raise TypeError(f"timestamp tz must be a str or None, got {tz!r}")
    return DataType("timestamp", (unit, tz))


def _child(item, what):
    if isinstance(item, DataType):
        raise TypeError(f"{what} takes a Field (e.g. Field('item', {item!r})), got the DataType {item!r}")
    if not isinstance(item, Field):
        raise TypeError(f"{what} takes a Field, got {item!r}")
    return item


def list_(item):
    """A variable-size list of ``item`` (a Field, conventionally named "item")."""
    return DataType("list", (_child(item, "list_"),))


def large_list(item):
    """Like ``list_`` with 64-bit offsets."""
    return DataType("large_list", (_child(item, "large_list"),))


def struct(fields):
    """A struct of the given fields (values are dicts)."""
    fields = tuple(_child(f, "struct") for f in fields)
    return DataType("struct", (fields,))


def map_(entries, keys_sorted=False):
    """A map; ``entries`` is a Field of a struct type with two fields, the
    key (not nullable) and the value, e.g.
    ``Field("entries", struct([Field("key", utf8(), False), Field("value", int64())]), False)``.
    Values are lists of ``(key, value)`` tuples."""
    entries = _child(entries, "map_")
    if entries.type.name != "struct" or len(entries.type.fields) != 2:
        raise ValueError(f"map_ entries must be a struct field with two fields (key, value), got {entries}")
    return DataType("map", (entries, bool(keys_sorted)))
