"""The SDK around the codec: the component export (with stand-ins for the
bindings componentize-py generates), errors, the testing harness."""

import sys
import types
import unittest
from dataclasses import dataclass

import ingot
from ingot import ipc
from ingot.testing import Harness, with_cdf

SCHEMA = ingot.Schema([ingot.Field("name", ingot.utf8())])


class Upper(ingot.Transform):
    def init(self, config):
        if "fail" in config:
            raise ingot.InvalidConfig("`fail` is set")
        self.suffix = config.get("suffix", "")

    def process(self, batch):
        out = ingot.Output(None)
        names = []
        for row, name in enumerate(batch["name"]):
            if name is None:
                out.reject(row, "`name` is null")
            else:
                names.append(name.upper() + self.suffix)
        out.batch = ingot.Batch(SCHEMA, [names])
        return out


def helper_that_divides():
    return 1 / 0


class Raises(ingot.Transform):
    def process(self, batch):
        return helper_that_divides()


class ReturnsNone(ingot.Transform):
    def process(self, batch):
        return None


class FakeErr(Exception):
    """componentize-py's Err: carries the WIT error variant."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


def fake_bindings():
    """Stand-ins for wit_world.imports.types/host, installed into the SDK."""

    @dataclass
    class Rejected:
        row: int
        reason: str

    @dataclass
    class Output:
        batch: bytes
        rejected: list

    @dataclass
    class Variant:
        value: str

    t = types.SimpleNamespace(
        Rejected=Rejected,
        Output=Output,
        Error_InvalidConfig=type("Error_InvalidConfig", (Variant,), {}),
        Error_InvalidInput=type("Error_InvalidInput", (Variant,), {}),
        Error_Failed=type("Error_Failed", (Variant,), {}),
    )
    return t


class ExportTest(unittest.TestCase):
    def setUp(self):
        self.saved = (ingot._types, ingot._Err) if hasattr(ingot, "_types") else None
        ingot._types = fake_bindings()
        ingot._Err = FakeErr

    def tearDown(self):
        if self.saved is None:
            del ingot._types, ingot._Err
        else:
            ingot._types, ingot._Err = self.saved

    def call(self, cls, config, batch):
        export = ingot.export(cls)
        export().init(list(config.items()))
        return export().process(ipc.encode(batch))  # a new object per call, as may happen

    def test_a_call_decodes_runs_and_encodes(self):
        batch = with_cdf(ingot.Batch(SCHEMA, [["a", None, "b"]]), ["insert"] * 3)
        out = self.call(Upper, {"suffix": "!"}, batch)
        self.assertEqual(ipc.decode(out.batch)["name"], ["A!", "B!"])
        self.assertEqual([(r.row, r.reason) for r in out.rejected], [(1, "`name` is null")])

    def test_an_exception_is_failed_with_type_message_and_traceback(self):
        batch = with_cdf(ingot.Batch(SCHEMA, [["a"]]), ["insert"])
        with self.assertRaises(FakeErr) as caught:
            self.call(Raises, {}, batch)
        error = caught.exception.value
        self.assertEqual(type(error).__name__, "Error_Failed")
        self.assertTrue(error.value.startswith("ZeroDivisionError: division by zero\n"), error.value)
        self.assertIn("Traceback (most recent call last)", error.value)
        self.assertIn("in helper_that_divides", error.value)

    def test_invalid_config_and_missing_columns_keep_their_kind(self):
        with self.assertRaises(FakeErr) as caught:
            ingot.export(Upper)().init([("fail", "1")])
        self.assertEqual(type(caught.exception.value).__name__, "Error_InvalidConfig")
        other = with_cdf(ingot.Batch(ingot.Schema([ingot.Field("x", ingot.int64())]), [[1]]), ["insert"])
        with self.assertRaises(FakeErr) as caught:
            self.call(Upper, {}, other)
        self.assertEqual(type(caught.exception.value).__name__, "Error_InvalidInput")
        self.assertIn("'name'", caught.exception.value.value)

    def test_a_wrong_return_value_says_what_was_expected(self):
        batch = with_cdf(ingot.Batch(SCHEMA, [["a"]]), ["insert"])
        with self.assertRaises(FakeErr) as caught:
            self.call(ReturnsNone, {}, batch)
        self.assertIn("ReturnsNone.process returned NoneType; expected an ingot.Batch or an ingot.Output",
                      caught.exception.value.value)

    def test_export_refuses_what_is_not_a_transform_class(self):
        with self.assertRaises(TypeError):
            ingot.export(lambda batch: batch)


class HarnessTest(unittest.TestCase):
    def test_processing_time_and_sign(self):
        class Stamp(ingot.Transform):
            def process(self, batch):
                signs = [ingot.sign(c) for c in batch["_change_type"]]
                schema = ingot.Schema([ingot.Field("t", ingot.int64()), ingot.Field("s", ingot.int64())])
                return ingot.Batch(schema, [[ingot.processing_time()] * batch.num_rows, signs])

        batch = with_cdf(ingot.Batch(SCHEMA, [["a", "b", "c", "d"]]),
                         ["insert", "delete", "update_preimage", "update_postimage"])
        out = Harness(Stamp, processing_time=42).process(batch)
        self.assertEqual(out.batch["t"], [42] * 4)
        self.assertEqual(out.batch["s"], [1, -1, -1, 1])
        with self.assertRaises(ingot.InvalidInput):
            ingot.sign("upsert")

    def test_log_outside_a_component_goes_to_stderr(self):
        import io
        saved, sys.stderr = sys.stderr, io.StringIO()
        try:
            ingot.info("hello")
            text = sys.stderr.getvalue()
        finally:
            sys.stderr = saved
        self.assertEqual(text, "[INFO] hello\n")
        with self.assertRaises(ValueError):
            ingot.log("loud", "x")


if __name__ == "__main__":
    unittest.main()
