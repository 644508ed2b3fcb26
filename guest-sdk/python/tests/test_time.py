"""ingot.time against the Rust SDK's own cases (guest-sdk/rust/src/time.rs):
the same text gives the same microseconds, or the same reason."""

import random
import unittest

from ingot.time import TimeError, parse_date, parse_rfc3339


class TimeTest(unittest.TestCase):
    def test_parses_valid_timestamps(self):
        cases = [
            ("1970-01-01T00:00:00Z", 0),
            ("2026-11-21T10:00:01.123Z", 1_795_255_201_123_000),
            ("2026-11-21t10:00:01.123456789z", 1_795_255_201_123_456),
            ("2026-11-21 12:00:01.1+02:00", 1_795_255_201_100_000),
            ("2026-11-21T05:30:01-04:30", 1_795_255_201_000_000),
            ("1969-12-31T23:59:59.999999Z", -1),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
            ("2000-03-01T00:00:00Z", 951_868_800_000_000),
            ("2016-12-31T23:59:60Z", 1_483_228_800_000_000),
        ]
        for text, micros in cases:
            self.assertEqual(parse_rfc3339(text), micros, text)

    def test_refuses_invalid_timestamps_with_a_reason(self):
        cases = [
            ("", "expected a 4-digit year at byte 0"),
            ("2026-11-21", "expected `T` at byte 10"),
            ("2026-11-21T10:00:01", "expected `Z` or an offset at byte 19"),
            ("2026-11-21T10:00:01.Z", "expected fractional digits at byte 20"),
            ("2026-13-01T00:00:00Z", "month 13 is out of range"),
            ("2026-02-29T00:00:00Z", "day 29 is out of range"),
            ("2026-11-21T24:00:00Z", "hour 24 is out of range"),
            ("2026-11-21T10:00:00+24:00", "offset hour 24 is out of range"),
            ("2026-11-21T10:00:00Z tomorrow", "unexpected ` tomorrow` after the timestamp"),
            ("2026/11/21T10:00:00Z", "expected `-` at byte 4"),
            ("yesterday", "expected a 4-digit year at byte 0"),
            # Only ASCII digits count, as in Rust (Python's int() takes others).
            ("２０26-11-21T10:00:00Z", "expected a 4-digit year at byte 0"),
        ]
        for text, reason in cases:
            with self.assertRaises(TimeError, msg=text) as caught:
                parse_rfc3339(text)
            self.assertEqual(str(caught.exception), reason, text)

    def test_parses_valid_dates(self):
        cases = [
            ("1970-01-01", 0), ("1970-01-02", 1), ("1969-12-31", -1), ("2024-02-29", 19_782),
            ("2026-11-21", 20_778), ("0000-01-01", -719_528), ("9999-12-31", 2_932_896),
        ]
        for text, days in cases:
            self.assertEqual(parse_date(text), days, text)

    def test_refuses_invalid_dates_with_a_reason(self):
        cases = [
            ("", "expected a 4-digit year at byte 0"),
            ("2026-11", "expected `-` at byte 7"),
            ("2026-11-31", "day 31 is out of range"),
            ("2025-02-29", "day 29 is out of range"),
            ("2026-00-01", "month 0 is out of range"),
            ("2026-11-21T00:00", "unexpected `T00:00` after the date"),
            ("21/11/2026", "expected a 4-digit year at byte 0"),
        ]
        for text, reason in cases:
            with self.assertRaises(TimeError, msg=text) as caught:
                parse_date(text)
            self.assertEqual(str(caught.exception), reason, text)

    def test_the_fast_path_agrees_with_the_reference_parser(self):
        # Random edits of a valid timestamp: both paths accept the same text
        # with the same value, or refuse it with the same reason.
        from ingot.time import _parse_rfc3339_slowly

        def outcome(parse, text):
            try:
                return ("ok", parse(text))
            except TimeError as e:
                return ("refused", str(e))

        rng = random.Random(7)
        base = list("2026-11-21T10:00:01.123456+02:30")
        alphabet = "0123456789-:TtZz .+"
        accepted = 0
        for _ in range(20_000):
            text = list(base)
            for _ in range(rng.randint(0, 3)):
                pos = rng.randrange(len(text))
                op = rng.random()
                if op < 0.4:
                    text[pos] = rng.choice(alphabet)
                elif op < 0.7:
                    text.insert(pos, rng.choice(alphabet))
                else:
                    del text[pos]
            text = "".join(text)
            fast, slow = outcome(parse_rfc3339, text), outcome(_parse_rfc3339_slowly, text)
            self.assertEqual(fast, slow, text)
            accepted += fast[0] == "ok"
        self.assertGreater(accepted, 1_000)


if __name__ == "__main__":
    unittest.main()
