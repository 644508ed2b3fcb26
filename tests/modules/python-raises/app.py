"""Test fixture: a Python transform whose process raises ZeroDivisionError
two frames down, so the stage error must carry the traceback."""

import ingot


def average_latency(rows):
    return sum(rows) / len(rows)  # len(rows) is 0: ZeroDivisionError


class Raises(ingot.Transform):
    def process(self, batch):
        average_latency([])
        return batch


Transform = ingot.export(Raises)
