"""Load and clean speed on the 1M-contact / 20M-event base, against plain pandas.

Run: ``python benchmarks/bench_load.py [--contacts N] [--skip-csv]``. Targets (foundation
issue): Parquet load to a ready ContactBase within 2x of plain ``read_parquet`` + category
conversion; cleaning 1M contacts under 3 s.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from common import DATA, parquet_paths, report, timed

import segexplore as se
from segexplore.io.clean.contacts import clean_contacts
from segexplore.model.report import ProblemLog


def plain_parquet(paths) -> dict[str, pd.DataFrame]:
    """The baseline: read the three files and make low-cardinality text categorical."""
    tables = {name: pd.read_parquet(path) for name, path in paths.items()}
    for frame in tables.values():
        for column in frame.columns:
            values = frame[column]
            if pd.api.types.is_string_dtype(values.dtype) and values.nunique() < 0.5 * len(values):
                frame[column] = values.astype("category")
    return tables


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--skip-csv", action="store_true")
    args = parser.parse_args()
    paths = parquet_paths(args.contacts)
    rows = []

    # Medians of three runs: single timings vary by +-50% on a shared 2-core machine.
    baseline, tables = timed(lambda: plain_parquet(paths), repeat=3)
    ours, base = timed(lambda: se.read_base(paths["contacts"], paths["events"], paths["orders"],
                                            progress=False), repeat=3)
    print(f"{len(base.contacts):,} contacts, {len(base.events):,} events, "
          f"{len(base.orders):,} orders")
    rows.append(("Parquet -> clean ContactBase (read + validate + clean)", ours, baseline,
                 "< 2x; baseline: read_parquet + category conversion"))
    ours_raw, _ = timed(lambda: se.read_base(paths["contacts"], paths["events"], paths["orders"],
                                             clean=False, progress=False), repeat=3)
    rows.append(("Parquet -> ContactBase, clean=False", ours_raw, baseline, "info"))

    contacts = tables["contacts"]
    positions = np.arange(2, len(contacts) + 2)
    ours, _ = timed(lambda: clean_contacts(contacts, file="contacts", rows=positions,
                                           problems=ProblemLog()), repeat=3)
    rows.append(("clean 1M contacts (normalise, validate, de-duplicate)", ours, None, "< 3 s"))

    if not args.skip_csv:
        folder = DATA / f"csv_{args.contacts}"
        folder.mkdir(parents=True, exist_ok=True)
        csv_paths = {name: folder / f"{name}.csv" for name in paths}
        for name, path in csv_paths.items():
            if not path.exists():
                pd.read_parquet(paths[name]).to_csv(path, index=False)
        baseline, _ = timed(lambda: {n: pd.read_csv(p) for n, p in csv_paths.items()})
        dates = {"contacts": ["birth_date", "signup_date", "consent_date"],
                 "events": ["timestamp"], "orders": ["timestamp"]}

        def read_csv_with_dates():
            tables = {n: pd.read_csv(p) for n, p in csv_paths.items()}
            for name, columns in dates.items():
                for column in columns:
                    tables[name][column] = pd.to_datetime(tables[name][column], format="ISO8601")
            return tables

        with_dates, _ = timed(read_csv_with_dates)
        ours, _ = timed(lambda: se.read_base(csv_paths["contacts"], csv_paths["events"],
                                             csv_paths["orders"], progress=False))
        rows.append(("CSV -> clean ContactBase (sniff + read + validate + clean)", ours,
                     baseline, "info; baseline: pandas.read_csv"))
        rows.append(("   same, baseline read_csv + to_datetime of date columns", ours,
                     with_dates, "info"))
    report(rows)


if __name__ == "__main__":
    main()
