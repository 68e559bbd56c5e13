"""Customer value on the 1M-contact generated base: ``clv`` beside ``propensity``.

Times, in one run, on the same base (activity table and features built first, outside
both timings):

* ``purchase_summary`` at as_of (the vectorised frequency / recency / T / monetary table);
* ``clv``: calibration summary, BG/NBD and Gamma-Gamma MAP fits (PyMC-Marketing), holdout
  validation, and scoring every contact (p_alive, expected purchases at 90 and 365 days,
  expected order value, CLV over 365 days);
* the same with a 10 % yearly discount rate (twelve monthly steps of expected purchases);
* with ``--models``, the same ``clv`` for the MBG/NBD and the Pareto/NBD;
* ``propensity`` (purchase, 30 days): the baseline the issue asks to compare with.

The first ``clv`` of a machine also compiles PyTensor's C code for the two likelihoods
(about 45 s on 2 cores, cached under ``~/.pytensor``); a warm-up fit on the 20,000-contact
sample is timed separately so that the 1M numbers are the fits themselves.

Run: ``python benchmarks/bench_clv.py [--contacts 1000000] [--no-propensity]
[--models mbgnbd,pareto_nbd]``.
Target: fit and score 1M contacts faster than the propensity model.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import generated_tables, report, timed

import segexplore as se
from segexplore.ml.clv import clv, purchase_summary
from segexplore.ml.score import propensity


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--no-propensity", action="store_true")
    parser.add_argument("--models", default="",
                        help="further transaction models to time, comma-separated "
                             "(mbgnbd, pareto_nbd)")
    args = parser.parse_args()

    started = time.perf_counter()
    clv(se.load_sample())
    warm = time.perf_counter() - started

    tables = generated_tables(args.contacts)
    base = se.read_base(tables["contacts"], tables["events"], tables["orders"], clean=False)
    _ = base.features  # shared by both models: outside the timings
    purchases = base.activity.n_events("purchase")
    print(f"{len(base.contacts):,} contacts, {len(base.events):,} events, "
          f"{len(base.orders):,} orders ({purchases:,} purchases), as of {base.as_of:%Y-%m-%d}")
    print(f"warm-up clv on the 20,000-contact sample (compiles on a new machine): {warm:.1f} s")

    summary_time, summary = timed(lambda: purchase_summary(base), repeat=3)
    clv_time, model = timed(lambda: clv(base))
    discount_time, _ = timed(lambda: clv(base, discount_rate=0.1))
    rows = [(f"purchase_summary ({len(summary):,} buyers)", summary_time, None, ""),
            ("clv: fit + validate + score", clv_time, None, "< propensity"),
            ("clv, 10% yearly discount", discount_time, None, "")]
    others = []
    for name in filter(None, args.models.split(",")):
        other_time, other = timed(lambda name=name: clv(base, model=name))
        rows.append((f"clv, model={name}", other_time, None, ""))
        others.append(other)
    if not args.no_propensity:
        propensity_time, fitted = timed(lambda: propensity(base))
        rows = [(name, ours, propensity_time if "clv" in name else None, target)
                for name, ours, _, target in rows]
        rows.append(("propensity (purchase, 30 days)", propensity_time, None, "baseline"))
    report(rows)
    print(model)
    scores = model.scores
    print(f"scored {int(scores['p_alive'].notna().sum()):,} buyers; "
          f"mean predicted_clv_365d {np.nanmean(scores['predicted_clv_365d']):.2f}")
    print(model.validation.to_string(index=False))
    for other in others:
        print(other)
        print(other.validation.to_string(index=False))
    if not args.no_propensity:
        print(fitted)


if __name__ == "__main__":
    main()
