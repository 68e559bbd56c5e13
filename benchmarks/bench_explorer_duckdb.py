"""The explorer on a DuckDB base: render, a rule change, beside plain DuckDB queries.

Run: ``python benchmarks/bench_explorer_duckdb.py --data DIR [--repeat 3]
[--memory-limit 4GB] [--threads 2]``, DIR written by ``segexplore sample --contacts N
--out DIR`` (one file a table, or ``--chunk-contacts``: folders of parts). In one process,
as a dashboard's kernel does:

- open: ``read_base(engine="duckdb")`` (what ``segexplore dashboard --engine duckdb``
  does before the explorer);
- render: ``explore(base)`` as in a Voilà kernel (every tab built, the profile left for a
  click), then the Build tab's charts drawn (``show_charts``): what the page waits for;
- round trip: a new rule typed in the builder (``set_text``) with five charted
  attributes: its size, hints, and the five distribution tables and figures, each rule
  new (nothing kept from an earlier one); and the part of it spent in
  ``Breakdowns.size`` and ``.tables`` (the query, and laying its counts out), the rest
  being Python (parsing, rows, hints, figures); then each rule of the last round asked
  again (its breakdown kept: no scan);
- count + 5 breakdowns: the engine part alone, for another new rule
  (``Breakdowns.size(segment, charted)`` then ``.tables``: one query);
- baselines, hand-written on the same connection and views, the same work: one
  ``GROUPING SETS ((), (a), (b), ...)`` query with the rule as a ``WHERE`` (what the
  ratios divide by), and, for reference, ``count(*)`` and five ``GROUP BY`` queries.

Targets (issue 13) at 10M contacts: render < 15 s, round trip < 300 ms, count + 5
breakdowns < 100 ms. The machine's load average is printed before and after: the
timings of a shared machine follow it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's segexplore

from common import report  # noqa: E402

import segexplore as se  # noqa: E402
from segexplore.dashboards import find_tables  # noqa: E402
from segexplore.widgets import explore  # noqa: E402
from segexplore.widgets.state.distribution import Breakdowns  # noqa: E402

#: The charted attributes of the round trip.
CHARTED = ("city", "region", "device", "loyalty_tier", "language")
#: New rules, each with its hand-written WHERE (the baselines'), on generated bases.
RULES = (
    ('device = "Android" and city = "Lyon"', "device = 'Android' AND city = 'Lyon'"),
    ('region = "Île-de-France" and loyalty_tier in ("gold", "silver")',
     "region = 'Île-de-France' AND loyalty_tier IN ('gold', 'silver')"),
    ('language = "nl" and country = "BE" and gender = "F"',
     "language = 'nl' AND country = 'BE' AND gender = 'F'"),
    ('device in ("iOS", "Desktop") and gender = "M" and country = "FR"',
     "device IN ('iOS', 'Desktop') AND gender = 'M' AND country = 'FR'"),
    ('city = "Paris" and device = "iOS" and loyalty_tier = "bronze"',
     "city = 'Paris' AND device = 'iOS' AND loyalty_tier = 'bronze'"),
    ('region = "Flandre" and language = "nl" and device = "Android"',
     "region = 'Flandre' AND language = 'nl' AND device = 'Android'"),
)


def _median(times: list[float]) -> float:
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="folder of contacts/events/orders")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds over the rules (each round asks them anew)")
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    tables = find_tables(args.data, folders=True)
    started = time.perf_counter()
    base = se.read_base(tables["contacts"], tables.get("events"), tables.get("orders"),
                        engine="duckdb", memory_limit=args.memory_limit, threads=args.threads)
    opened = time.perf_counter() - started
    print(f"{base.contact_count:,} contacts", flush=True)

    started = time.perf_counter()
    app = explore(base, debounce=0, lazy=True)
    built = time.perf_counter() - started
    started = time.perf_counter()
    app.builder.show_charts()
    charts = time.perf_counter() - started

    builder = app.builder
    builder.max_charts = len(CHARTED)
    builder.chart_fields.value = CHARTED  # the base-wide codings, made once
    counting = _Timed(builder._breakdowns)  # the engine's part of the round trip
    connection = base.connection
    trips: list[float] = []
    trip_engine: list[float] = []
    engine: list[float] = []
    plain: list[float] = []
    grouped: list[float] = []
    breakdowns = Breakdowns(base)
    sets = ", ".join(f'("{c}")' for c in CHARTED)
    for round_ in range(args.repeat):
        for number, (text, condition) in enumerate(RULES):
            # Each rule is new to the base (a kept one is a dictionary look-up): a
            # condition no contact fails, different every time, makes it so.
            salt = f" and not city = \"nowhere {round_}-{number}\""
            rule = text + salt
            counting.spent = 0.0
            started = time.perf_counter()
            builder.set_text(rule)
            trips.append(time.perf_counter() - started)
            trip_engine.append(counting.spent)
            assert builder.error.value == "", builder.error.value
            rule = text + salt.replace("nowhere", "nowhere again")
            # the baselines' WHERE has the new condition too: the same work
            where = (f"{condition} AND city IS DISTINCT FROM "
                     f"'nowhere again {round_}-{number}'")
            segment = base.segment(rule, save=False)
            started = time.perf_counter()
            size = breakdowns.size(segment, CHARTED)
            breakdowns.tables(CHARTED)
            engine.append(time.perf_counter() - started)

            started = time.perf_counter()
            (expected,), = connection.execute(
                f"SELECT count(*) FROM contacts WHERE {where}").fetchall()
            for column in CHARTED:
                connection.execute(f'SELECT "{column}", count(*) FROM contacts '
                                   f"WHERE {where} GROUP BY 1").fetchall()
            plain.append(time.perf_counter() - started)
            assert size == expected == builder.size, (rule, size, expected, builder.size)

            started = time.perf_counter()
            connection.execute(f"SELECT {', '.join(CHARTED)}, count(*) FROM contacts "
                               f"WHERE {where} GROUP BY GROUPING SETS ((), {sets})"
                               ).fetchall()
            grouped.append(time.perf_counter() - started)

    again: list[float] = []
    for number, (text, _) in enumerate(RULES):  # the last round's rules, asked again
        started = time.perf_counter()
        builder.set_text(text + f" and not city = \"nowhere {args.repeat - 1}-{number}\"")
        again.append(time.perf_counter() - started)

    print(f"read_base(engine='duckdb'): {opened:.2f} s (not the explorer's; before it)")
    one_query = _median(grouped)
    python = [trip - spent for trip, spent in zip(trips, trip_engine, strict=True)]
    report([
        ("render: explore(base) + the Build tab's charts", built + charts, None, "< 15 s"),
        ("  explore(base), every tab built", built, None, ""),
        ("  the Build tab's charts (show_charts)", charts, None, ""),
        ("round trip: new rule, size + 5 charts (set_text)", _median(trips), one_query,
         "< 300 ms"),
        ("  of which Breakdowns.size + .tables", _median(trip_engine), one_query, ""),
        ("  of which the rest (parse, rows, hints, figures)", _median(python), None, ""),
        ("  a rule asked again (its counts kept)", _median(again), one_query, ""),
        ("count + 5 breakdowns (Breakdowns.size + .tables)", _median(engine), one_query,
         "< 100 ms"),
        ("  beside count(*) + 5 GROUP BY, hand-written", _median(engine), _median(plain), ""),
    ])
    print(f"(medians over {len(trips)} rules; baseline: one hand-written GROUPING SETS "
          f"query, count + 5 sets, unless said; load average after: "
          f"{os.getloadavg()[0]:.2f})")


class _Timed:
    """Adds up the time spent in a Breakdowns' ``size`` and ``tables`` (in ``spent``)."""

    def __init__(self, breakdowns: Breakdowns) -> None:
        self.spent = 0.0
        for name in ("size", "tables"):
            setattr(breakdowns, name, self._timing(getattr(breakdowns, name)))

    def _timing(self, method):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.spent += time.perf_counter() - started
        return timed


if __name__ == "__main__":
    main()
