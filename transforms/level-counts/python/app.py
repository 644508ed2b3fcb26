"""level-counts in Python: the gold stage of the application-log pipeline, a
port of transforms/level-counts/rust that writes identical rows.

Reads silver's Change Data Feed and emits, per ``level`` in the batch, the
signed change of that level's row count and latency sum (wrapping at 64
bits, as the Rust stage does); the stage runs in
``accumulate`` mode keyed by ``level``. An insert or update postimage counts
+1 and adds its ``latency_ms``; a delete or update preimage counts -1 and
subtracts it; a null latency adds nothing. Levels whose deltas are both zero
are left out. A row with a null ``level`` is rejected. No configuration.
"""

import ingot

GOLD = ingot.Schema([
    ingot.Field("level", ingot.utf8(), False),
    ingot.Field("count", ingot.int64(), False),
    ingot.Field("latency_ms_sum", ingot.int64(), False),
])


def wrap(n):
    """``n`` as a signed 64-bit integer, wrapping around as the Rust stage's
    release build does, so the output stays encodable and identical."""
    return (n + (1 << 63)) % (1 << 64) - (1 << 63)


def utf8_order(text):
    """Sort key of Rust's string order (bytes of UTF-8), which Python's code
    point order can differ from only for surrogates; kept explicit anyway."""
    return text.encode("utf-8", "surrogatepass")


class LevelCounts(ingot.Transform):
    def process(self, batch):
        deltas = {}
        output = ingot.Output(None)
        for row, (change, level, latency) in enumerate(
            zip(batch["_change_type"], batch["level"], batch["latency_ms"])
        ):
            if level is None:
                output.reject(row, "`level` is null")
                continue
            sign = ingot.sign(change)
            count, total = deltas.get(level, (0, 0))
            deltas[level] = (wrap(count + sign), wrap(total + sign * (latency or 0)))
        levels = sorted((l for l, d in deltas.items() if d != (0, 0)), key=utf8_order)
        output.batch = ingot.Batch(GOLD, [
            levels,
            [deltas[l][0] for l in levels],
            [deltas[l][1] for l in levels],
        ])
        return output


Transform = ingot.export(LevelCounts)
