"""Reads a Delta table ingot wrote with readers independent of ingot: the
`deltalake` Python package (its own build of delta-rs) and polars. Prints
one JSON object: the version, file and row counts, optional per-group
aggregates, and the Change Data Feed's rows per change type.

usage: read_table.py TABLE [--group-by COL] [--sum COL,...] [--cdf-from V]
"""

import argparse
import json
import os
import sys

import polars as pl
from deltalake import DeltaTable


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("table")
    parser.add_argument("--group-by")
    parser.add_argument("--sum", default="")
    parser.add_argument("--cdf-from", type=int)
    args = parser.parse_args()

    table = DeltaTable(args.table)
    frame = pl.read_delta(args.table)
    out = {
        "version": table.version(),
        "files": len(table.file_uris()),
        "rows": frame.height,
        "rows_deltalake": table.to_pyarrow_table().num_rows,
        "history": [
            {"version": h.get("version"), "operation": h.get("operation")}
            for h in table.history()
        ],
    }
    if args.group_by:
        sums = [c for c in args.sum.split(",") if c]
        groups = (
            frame.group_by(args.group_by)
            .agg([pl.len().alias("rows")] + [pl.col(c).sum() for c in sums])
            .sort(args.group_by)
        )
        out["groups"] = {
            str(row.pop(args.group_by)): row for row in groups.to_dicts()
        }
    if args.cdf_from is not None:
        changes = pl.DataFrame(table.load_cdf(starting_version=args.cdf_from).read_all())
        counts = changes.group_by("_change_type").len().to_dicts()
        out["cdf"] = {row["_change_type"]: row["len"] for row in counts}
    print(json.dumps(out))
    sys.stdout.flush()
    # Skip the native libraries' teardown: their thread pools can abort
    # the interpreter's exit ("terminate called without an active
    # exception") after everything was read and printed.
    os._exit(0)


if __name__ == "__main__":
    main()
