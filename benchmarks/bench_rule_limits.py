"""Rules at their limits: very long rules, huge windows and value hints, timed with a baseline.

Run: ``python benchmarks/bench_rule_limits.py``. Targets (real-exports issue):

- SQL compilation of a flat ``and`` of N terms is linear: 40,000 terms take < 8x the time of
  10,000, and compiling costs < 5x parsing the same text (it was 16x: sqlglot copied every
  operand);
- value hints on a 1M-contact base answer in < 1 s; baseline: the ``isin`` they replace;
- ``anniversary within next 1000000000 days`` counts in < 10 s (it built a 10**9-day range);
  baseline: the 365-day window, which covers every birthday too.
"""

from __future__ import annotations

import pandas as pd
from common import report, timed

import segexplore as se
from segexplore.rules.engines.sql import compile_rule
from segexplore.rules.hints import value_hints
from segexplore.rules.parser import parse


def flat_and(n: int) -> str:
    return " and ".join(f"engagement_score != {i}" for i in range(n))


def main() -> None:
    sample = se.load_sample()
    rows = []

    compile_rule(parse(flat_and(500)), sample)  # warm up sqlglot's caches
    small, large = parse(flat_and(10_000)), parse(flat_and(40_000))
    t_small, _ = timed(lambda: compile_rule(small, sample), repeat=3)
    t_large, _ = timed(lambda: compile_rule(large, sample), repeat=3)
    t_parse, _ = timed(lambda: parse(flat_and(10_000)), repeat=3)
    rows.append(("SQL compile, 40,000 terms vs 10,000", t_large, t_small, "< 8x (linear: 4x)"))
    rows.append(("SQL compile vs parse, 10,000 terms", t_small, t_parse, "< 5x"))

    contacts = pd.concat([sample.contacts] * 50, ignore_index=True)
    contacts["contact_id"] = range(len(contacts))
    big = se.ContactBase(contacts, roles=sample.roles, as_of=sample.as_of)
    text = 'region = "Ile-de-France" and city = "lyon"'
    hints_seconds, hints = timed(lambda: value_hints(text, big), repeat=3)
    assert len(hints) == 2, hints
    isin_seconds, _ = timed(lambda: (contacts["region"].isin(["Ile-de-France"]).any(),
                                     contacts["city"].isin(["lyon"]).any()), repeat=3)
    rows.append((f"value hints, {len(contacts):,} contacts", hints_seconds, isin_seconds,
                 "< 1 s; baseline: pandas isin"))

    huge = "birth_date anniversary within next 1000000000 days"
    year = "birth_date anniversary within next 366 days"
    huge_seconds, n_huge = timed(lambda: sample.count(huge), repeat=3)
    year_seconds, n_year = timed(lambda: sample.count(year), repeat=3)
    assert n_huge == n_year, (n_huge, n_year)
    rows.append(("anniversary within 10**9 days vs 366 days", huge_seconds, year_seconds, "< 10 s"))
    report(rows)


if __name__ == "__main__":
    main()
