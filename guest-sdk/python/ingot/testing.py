"""Running a transform on plain CPython, as the host would: for unit tests.

    from ingot.testing import Harness, with_cdf

    harness = Harness(MyTransform, {"column": "name"}, processing_time=1_700_000_000_000_000)
    output = harness.process(with_cdf(batch, ["insert", "delete"]))
    assert output.batch["name"] == ["A"]

``Harness.process`` sends the batch through the same Arrow IPC encoding the
host uses, both ways, so a test also proves the output can be encoded.
"""

import ingot
from ingot import ipc
from ingot.arrow import Batch, Field, Schema, binary, int32, int64, timestamp, utf8


def with_cdf(batch, changes, commit_version=1, commit_timestamp=0):
    """``batch`` plus the Change Data Feed columns the host adds: one change
    type per row (``"insert"``, ``"delete"``, ...), and a commit version and
    timestamp (microseconds) shared by every row."""
    if len(changes) != batch.num_rows:
        raise ValueError(f"{len(changes)} change types for {batch.num_rows} rows")
    fields = list(batch.schema.fields) + [
        Field("_change_type", utf8(), False),
        Field("_commit_version", int64(), False),
        Field("_commit_timestamp", timestamp("us", "UTC"), False),
    ]
    columns = [batch.column(i) for i in range(len(batch.schema))] + [
        list(changes),
        [commit_version] * batch.num_rows,
        [commit_timestamp] * batch.num_rows,
    ]
    return Batch(Schema(fields), columns)


class Harness:
    """One instance of ``cls``, initialised with ``config`` (a dict of strings),
    whose ``processing_time()`` reads ``processing_time``."""

    def __init__(self, cls, config=None, processing_time=0):
        self.processing_time = processing_time
        self.transform = cls()
        self._local_time()
        self.transform.init(dict(config or {}))

    def _local_time(self):
        ingot._local_processing_time = self.processing_time

    def process(self, batch):
        """The ``Output`` of one call on ``batch``, after an IPC round trip of
        the input and of the output batch."""
        self._local_time()
        output = ingot._call_process(self.transform, ipc.decode(ipc.encode(batch)))
        return ingot.Output(ipc.decode(ipc.encode(output.batch)), output.rejected)


def bronze(topic, rows, value_type=None):
    """A bronze batch as the host feeds a silver stage: one row per
    ``(change_type, value)``, Kafka topic ``topic``, partition 0, row ``i`` at
    offset ``100 + i``; ``value`` is binary (or ``value_type``)."""
    schema = Schema([
        Field("topic", utf8(), False),
        Field("partition", int32(), False),
        Field("offset", int64(), False),
        Field("value", value_type or binary(), True),
    ])
    n = len(rows)
    batch = Batch(schema, [[topic] * n, [0] * n, [100 + i for i in range(n)], [v for _, v in rows]])
    return with_cdf(batch, [change for change, _ in rows])
