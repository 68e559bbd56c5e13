"""End-to-end clustering of the 1M-contact / 20M-event base with ``discover``.

Times, in one run:

* loading the cached generated tables into a ContactBase (``clean=False``);
* building the activity table and computing the behaviour features;
* ``discover`` with k-means over k = 2..10 (fit on a 50,000 sample, silhouette on 5,000,
  every contact assigned, profiles, a rule per cluster measured on every contact);
* the 2-D projection behind ``charts_ml.cluster_projection``;
* with ``--propensity``, a 30-day purchase propensity and a 90-day churn model (features at
  three dates each, a training sample of 200,000, validation and scoring on everyone).

Run: ``python benchmarks/bench_discover.py [--contacts 1000000] [--method kmeans]
[--propensity]``.
Target: features + discover under 60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from common import generated_tables

import segexplore as se
from segexplore.ml.discover import discover
from segexplore.ml.score import churn, propensity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--method", default="kmeans")
    parser.add_argument("--propensity", action="store_true",
                        help="also time propensity() and churn() on the same base")
    args = parser.parse_args()
    tables = generated_tables(args.contacts)

    started = time.perf_counter()
    base = se.read_base(tables["contacts"], tables["events"], tables["orders"], clean=False)
    loaded = time.perf_counter()
    _ = base.features  # activity table + features, computed once per base
    featured = time.perf_counter()
    found = discover(base, method=args.method)
    discovered = time.perf_counter()
    _ = found.projection  # computed lazily for the chart
    projected = time.perf_counter()

    print(f"{len(base.contacts):,} contacts, {len(base.events):,} events, "
          f"as of {base.as_of:%Y-%m-%d}")
    print(f"{'load (clean=False)':<40}{loaded - started:8.1f} s")
    print(f"{'activity table + features':<40}{featured - loaded:8.1f} s")
    print(f"{'discover (' + args.method + ', k=2..10)':<40}{discovered - featured:8.1f} s")
    print(f"{'projection (PCA, 5,000 points)':<40}{projected - discovered:8.1f} s")
    print(f"{'features + discover':<40}{discovered - loaded:8.1f} s   target < 60 s")
    with pd.option_context("display.width", 200, "display.max_colwidth", 120):
        print(found.scores.to_string(index=False))
        print(found.clusters.to_string(index=False))
    if args.propensity:
        for name, fit in (("propensity (purchase, 30 days)", propensity), ("churn (90 days)", churn)):
            started = time.perf_counter()
            model = fit(base)
            print(f"{name:<40}{time.perf_counter() - started:8.1f} s   {model!r}")


if __name__ == "__main__":
    main()
