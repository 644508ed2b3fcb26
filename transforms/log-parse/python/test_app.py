"""The Python log-parse on plain CPython, on the cases of the Rust port's
tests (transforms/log-parse/rust/src/tests.rs): the same rows accepted, the
same values, the same rows rejected. Run: python3 -m unittest discover -s
transforms/log-parse/python (with guest-sdk/python on PYTHONPATH)."""

import unittest

import app
import ingot
from ingot.testing import Harness, bronze

PROCESSING_TIME = 1_800_000_000_000_000
LINE = ('{"ts":"2026-11-21T10:00:01.123Z","level":"INFO","service":"svc-3",'
        '"host":"host-17","latency_ms":42,"msg":"request 7 handled"}')


def run(rows):
    return Harness(app.LogParse, processing_time=PROCESSING_TIME).process(bronze("logs", rows))


def inserts(*values):
    return run([(ingot.INSERT, v.encode()) for v in values])


class LogParseTest(unittest.TestCase):
    def test_a_full_line_becomes_one_typed_row_with_lineage(self):
        out = inserts(LINE)
        self.assertEqual(out.rejected, [])
        self.assertEqual(out.batch.schema, app.SILVER)
        self.assertEqual(out.batch.rows(), [{
            "ts": 1_795_255_201_123_000, "level": "INFO", "service": "svc-3", "host": "host-17",
            "latency_ms": 42, "message": "request 7 handled", "topic": "logs", "partition": 0,
            "offset": 100, "processed_at": PROCESSING_TIME,
        }])

    def test_levels_are_upper_cased_and_warning_is_warn(self):
        line = '{{"ts":"2026-11-21T10:00:00Z","level":"{}"}}'.format
        out = inserts(*(line(l) for l in ["info", "Warning", "fatal", "trace"]))
        self.assertEqual(out.batch["level"], ["INFO", "WARN", "FATAL", "TRACE"])
        # Only ASCII letters are upper-cased, as in Rust: "ınfo" is not INFO.
        self.assertEqual(inserts(line("\u0131nfo")).rejected, [(0, "unknown level `\u0131nfo`")])

    def test_optional_fields_may_be_missing_or_null_and_message_is_an_alias(self):
        out = inserts(
            '{"ts":"2026-11-21T10:00:00Z","level":"INFO"}',
            '{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":null,"service":null,"message":"from message"}',
            '{"ts":"2026-11-21T10:00:00Z","level":"INFO","msg":"from msg","message":"ignored","host":17}',
        )
        self.assertEqual(out.batch["message"], [None, "from message", "from msg"])
        self.assertEqual(out.batch["host"], [None, None, "17"])
        self.assertEqual(out.batch["latency_ms"], [None, None, None])

    def test_unparseable_values_are_rejected_with_the_reason(self):
        cases = [
            ("not json", "value is not valid JSON"),
            ("[1,2]", "value is a JSON array, not an object"),
            ("42", "value is not a JSON object: 42"),
            ('{"ts":"2026-11-21T10:00:00Z"}', "missing field `level`"),
            ('{"ts":"2026-11-21T10:00:00Z","level":null}', "missing field `level`"),
            ('{"ts":"2026-11-21T10:00:00Z","level":3}', "`level` is not a string: 3"),
            ('{"ts":"2026-11-21T10:00:00Z","level":"LOUD"}', "unknown level `LOUD`"),
            ('{"level":"INFO"}', "missing field `ts`"),
            ('{"ts":"21/11/2026","level":"INFO"}',
             "`ts` is not an RFC 3339 timestamp: expected a 4-digit year at byte 0"),
            ('{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":4.5}',
             "`latency_ms` is not an integer: 4.5"),
            ('{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":"42"}',
             '`latency_ms` is not an integer: "42"'),
            # serde_json reads neither a float written as an integer nor NaN as an i64.
            ('{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":42.0}',
             "`latency_ms` is not an integer: 42.0"),
            ('{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":true}',
             "`latency_ms` is not an integer: true"),
            ('{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":9223372036854775808}',
             "`latency_ms` is not an integer: 9223372036854775808"),
            ('{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":NaN}', "value is not valid JSON"),
        ]
        out = inserts(*(value for value, _ in cases))
        self.assertEqual(out.batch.num_rows, 0)
        self.assertEqual([row for row, _ in out.rejected], list(range(len(cases))))
        for (value, expected), (_, reason) in zip(cases, out.rejected):
            self.assertTrue(reason.startswith(expected), f"{value}: {reason!r}, expected {expected!r}")

    def test_null_and_non_utf8_values_are_rejected(self):
        out = run([(ingot.INSERT, None), (ingot.INSERT, b"{\xff}"), (ingot.INSERT, LINE.encode())])
        self.assertEqual(out.batch["offset"], [102])
        self.assertEqual([row for row, _ in out.rejected], [0, 1])
        self.assertEqual(out.rejected[0][1], "value is null")
        self.assertTrue(out.rejected[1][1].startswith("value is not UTF-8"))

    def test_only_inserts_are_parsed_and_reject_rows_index_the_input(self):
        out = run([
            (ingot.DELETE, b"garbage"),
            (ingot.INSERT, LINE.encode()),
            (ingot.UPDATE_PREIMAGE, LINE.encode()),
            (ingot.INSERT, b"garbage"),
        ])
        self.assertEqual(out.batch["offset"], [101])
        self.assertEqual([row for row, _ in out.rejected], [3])

    def test_an_empty_batch_gives_an_empty_silver_batch(self):
        out = run([])
        self.assertEqual(out.batch.num_rows, 0)
        self.assertEqual(out.batch.schema, app.SILVER)

    def test_a_string_value_column_is_accepted(self):
        batch = bronze("logs", [(ingot.INSERT, LINE)], value_type=ingot.utf8())
        self.assertEqual(Harness(app.LogParse).process(batch).batch.num_rows, 1)

    def test_a_batch_without_kafka_columns_is_invalid_input(self):
        batch = ingot.Batch(
            ingot.Schema([ingot.Field("value", ingot.binary()), ingot.Field("_change_type", ingot.utf8())]),
            [[LINE.encode()], ["insert"]],
        )
        with self.assertRaises(ingot.InvalidInput) as caught:
            Harness(app.LogParse).process(batch)
        self.assertIn("topic", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
