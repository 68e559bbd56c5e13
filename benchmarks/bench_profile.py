"""Profile statistics on the 1M-contact base, against pandas ``describe`` + ``value_counts``.

Run: ``python benchmarks/bench_profile.py [--contacts N]``. Target (issue 4): the profile
statistics of a 1M-row base, about 25 columns, under 1 s. The behaviour features are
computed before timing: only the statistics are timed, ours and the baseline in the same
run, on the same columns.
"""

from __future__ import annotations

import argparse

import pandas as pd
from common import generated_tables, report, timed

import segexplore as se
from segexplore.analysis.profile import profile


def pandas_baseline(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.Series]]:
    """What an analyst would type: describe everything, then count the values of each column."""
    return frame.describe(include="all"), [frame[c].value_counts() for c in frame.columns]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tables = generated_tables(args.contacts)
    base = se.read_base(tables["contacts"], tables["events"], tables["orders"], clean=False)
    features = base.features  # computed once, not timed
    contacts = base.contacts
    everything = pd.concat([contacts, features], axis=1)
    print(f"{len(contacts):,} contacts: {contacts.shape[1]} contact columns, "
          f"{features.shape[1]} features")

    rows = []
    ours, _ = timed(lambda: profile(base, include_features=False), repeat=args.repeat)
    baseline, _ = timed(lambda: pandas_baseline(contacts), repeat=1)
    rows.append((f"profile of the contact columns ({contacts.shape[1]})", ours, baseline,
                 "< 1 s; baseline: describe(include='all') + value_counts()"))
    ours, result = timed(lambda: profile(base), repeat=args.repeat)
    baseline, _ = timed(lambda: pandas_baseline(everything), repeat=1)
    rows.append((f"profile of contacts + features ({len(result.summary)} columns)", ours,
                 baseline, "info; same baseline on the same columns"))
    segment = base.segment('device = "Android"', name="Android")
    _ = segment.mask  # evaluated once, not timed
    ours, _ = timed(lambda: profile(segment), repeat=args.repeat)
    members = everything[segment.mask.to_numpy()]
    baseline, _ = timed(lambda: pandas_baseline(members), repeat=1)
    rows.append((f"profile of a segment ({segment.size:,} contacts, all columns)", ours,
                 baseline, "info"))
    report(rows)


if __name__ == "__main__":
    main()
