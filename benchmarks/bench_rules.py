"""Rule evaluation speed on the 1M-contact / 20M-event base, against plain pandas.

Run: ``python benchmarks/bench_rules.py [--contacts N]``. Targets (rule-engine issue):
5-condition attribute count < 5 ms median; count + value counts of 5 attributes < 10 ms;
an uncached event condition < 0.5 s, and < 5 ms when only another condition changes.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from common import generated_tables, report, timed

import segexplore as se
from segexplore.rules.engines.sql import run_duckdb

FIVE = ('region = "Île-de-France" and device = "Android" and language = "fr" '
        'and consent = "given" and loyalty_tier in ("gold", "silver")')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    args = parser.parse_args()
    tables = generated_tables(args.contacts)
    base = se.read_base(tables["contacts"], tables["events"], tables["orders"], clean=False)
    contacts = base.contacts
    print(f"{len(contacts):,} contacts, {len(base.events):,} events, as of {base.as_of:%Y-%m-%d}")
    _, _ = timed(lambda: base.activity)  # built once per base, like a session would
    rows = []

    evaluator = base.evaluator()
    rule = se.parse(FIVE)
    ours, mask = timed(lambda: np.count_nonzero(evaluator.array(rule)), repeat=25)

    as_strings = contacts[["region", "device", "language", "consent", "loyalty_tier"]].astype("str")

    def pandas_strings():
        return ((as_strings["region"] == "Île-de-France") & (as_strings["device"] == "Android")
                & (as_strings["language"] == "fr") & (as_strings["consent"] == "given")
                & as_strings["loyalty_tier"].isin(["gold", "silver"])).sum()

    def pandas_categories():
        return ((contacts["region"] == "Île-de-France") & (contacts["device"] == "Android")
                & (contacts["language"] == "fr") & (contacts["consent"] == "given")
                & contacts["loyalty_tier"].isin(["gold", "silver"])).sum()

    strings, expected = timed(pandas_strings, repeat=5)
    categories, _ = timed(pandas_categories, repeat=10)
    assert int(mask) == int(expected), (mask, expected)
    rows.append(("5-condition count (parsed rule)", ours, strings, "< 5 ms; baseline: pandas on strings"))
    rows.append(("   same, baseline pandas on categoricals", ours, categories, ""))

    attributes = ["city", "device", "language", "loyalty_tier", "signup_source"]

    def redraw():
        member = evaluator.array(rule)
        return np.count_nonzero(member), [np.bincount(contacts[a].cat.codes.to_numpy()[member] + 1,
                                          minlength=len(contacts[a].cat.categories) + 1)
                              for a in attributes]

    def redraw_pandas():
        member = pandas_categories_mask()
        return member.sum(), [contacts.loc[member, a].value_counts() for a in attributes]

    def pandas_categories_mask():
        return ((contacts["region"] == "Île-de-France") & (contacts["device"] == "Android")
                & (contacts["language"] == "fr") & (contacts["consent"] == "given")
                & contacts["loyalty_tier"].isin(["gold", "silver"]))

    ours, _ = timed(redraw, repeat=15)
    baseline, _ = timed(redraw_pandas, repeat=5)
    rows.append(("count + value counts of 5 attributes in segment", ours, baseline,
                 "< 10 ms; baseline: pandas value_counts"))

    brand = str(base.events.loc[base.events["event_type"] == "purchase", "brand"].mode()[0])
    event_rule = f'count(purchase where brand = "{brand}", last 60 days) >= 2'
    first, _ = timed(lambda: evaluator.array(se.parse(event_rule + ' and city = "Lyon"')))
    cached, _ = timed(lambda: evaluator.array(se.parse(event_rule + ' and city = "Paris"')),
                      repeat=15)
    events = base.events
    since = base.as_of - pd.Timedelta(days=60)

    def pandas_event():
        chosen = events[(events["event_type"] == "purchase") & (events["brand"] == brand)
                        & (events["timestamp"] > since) & (events["timestamp"] <= base.as_of)]
        counts = chosen.groupby("contact_id").size()
        return contacts["contact_id"].map(counts).fillna(0).ge(2).sum()

    baseline, expected = timed(pandas_event, repeat=3)
    assert int(evaluator.array(se.parse(event_rule)).sum()) == int(expected)
    rows.append((f"event condition, first time ({event_rule[:28]}...)", first, baseline,
                 "< 500 ms; baseline: pandas filter+groupby"))
    rows.append(("event condition cached, another condition changed", cached, None, "< 5 ms"))

    duck, duck_mask = timed(lambda: run_duckdb(event_rule, base))
    assert int(duck_mask.sum()) == int(expected)
    rows.append(("same event rule in DuckDB (compile + register + run)", duck, baseline, "info"))
    report(rows)


if __name__ == "__main__":
    main()
