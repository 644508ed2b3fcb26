"""The Python level-counts on plain CPython, on the cases of the Rust port's
tests (transforms/level-counts/rust/src/lib.rs)."""

import unittest

import app
import ingot
from ingot.testing import Harness, with_cdf

I, D = ingot.INSERT, ingot.DELETE
PRE, POST = ingot.UPDATE_PREIMAGE, ingot.UPDATE_POSTIMAGE


def counts(rows):
    schema = ingot.Schema([ingot.Field("level", ingot.utf8()), ingot.Field("latency_ms", ingot.int64())])
    batch = ingot.Batch(schema, [[r[1] for r in rows], [r[2] for r in rows]])
    out = Harness(app.LevelCounts).process(with_cdf(batch, [r[0] for r in rows]))
    assert out.batch.schema == app.GOLD, out.batch.schema
    return [tuple(r.values()) for r in out.batch.rows()], out.rejected


class LevelCountsTest(unittest.TestCase):
    def test_inserts_count_up_and_sum_latency(self):
        rows, rejected = counts([(I, "INFO", 10), (I, "ERROR", 500), (I, "INFO", 32), (I, "INFO", None)])
        self.assertEqual(rows, [("ERROR", 1, 500), ("INFO", 3, 42)])
        self.assertEqual(rejected, [])

    def test_deletes_count_down_and_net_zero_levels_are_omitted(self):
        rows, _ = counts([(I, "INFO", 10), (D, "WARN", 7), (I, "DEBUG", 3), (D, "DEBUG", 3)])
        self.assertEqual(rows, [("INFO", 1, 10), ("WARN", -1, -7)])

    def test_an_update_moves_a_row_between_levels(self):
        rows, _ = counts([(PRE, "INFO", 5), (POST, "ERROR", 9)])
        self.assertEqual(rows, [("ERROR", 1, 9), ("INFO", -1, -5)])

    def test_levels_sort_by_utf8_bytes_like_rust(self):
        rows, _ = counts([(I, "b", 1), (I, "B", 1), (I, "\u00e9", 1), (I, "a", 1)])
        self.assertEqual([r[0] for r in rows], ["B", "a", "b", "\u00e9"])

    def test_sums_wrap_at_64_bits_like_the_rust_release_build(self):
        big = (1 << 63) - 1
        rows, _ = counts([(I, "INFO", big), (I, "INFO", 1)])
        self.assertEqual(rows, [("INFO", 2, -(1 << 63))])

    def test_a_null_level_is_rejected(self):
        rows, rejected = counts([(I, None, 1), (I, "INFO", 2)])
        self.assertEqual(rows, [("INFO", 1, 2)])
        self.assertEqual(rejected, [(0, "`level` is null")])

    def test_an_empty_batch_gives_no_rows(self):
        self.assertEqual(counts([]), ([], []))


if __name__ == "__main__":
    unittest.main()
