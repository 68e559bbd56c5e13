"""Benchmark of ActivityTable and compute_features against a hand-written numpy baseline.

Builds a base (``segexplore.datasets.generate.generate_base`` when available, otherwise random
numpy data with realistic proportions), then times in the same run:

* building the :class:`~segexplore.features.activity.ActivityTable`;
* one filtered count (visits of one brand in the last 60 days), cold and warm;
* :func:`~segexplore.features.compute.compute_features`;
* a baseline written the obvious way with numpy and pandas on the raw event arrays
  (boolean masks per type and window, ``np.bincount``, ``np.maximum.at``, a dense
  contact x brand matrix for affinity, ``pd.merge_asof`` for carts), computing the same
  aggregations, and checks that both agree on a few columns.

Run: ``python benchmarks/bench_features.py [--contacts 1000000] [--synthetic]``.
Target: compute_features within 1.5x of the baseline.
"""

from __future__ import annotations

import argparse
import gc
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd

from segexplore.features.activity import ActivityTable
from segexplore.features.compute import compute_features
from segexplore.features.times import window

TYPES = ["open", "click", "visit", "add_to_cart", "purchase"]
DAY_NS = 86_400 * 10**9


@contextmanager
def timer(results: dict[str, float], name: str):
    """Time the block; keep the best of repeated runs (the machine is shared and noisy)."""
    gc.collect()
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    results[name] = min(elapsed, results.get(name, np.inf))


def synthetic_base(n: int, events_per_contact: float, seed: int = 0):
    """Random base: skewed activity per contact, 3 years, whole-second timestamps."""
    rng = np.random.default_rng(seed)
    m = int(n * events_per_contact)
    as_of = pd.Timestamp("2026-10-31")
    ids = np.arange(1, n + 1)
    activity = rng.lognormal(0, 1.2, n)
    positions = rng.choice(n, size=m, p=activity / activity.sum())
    seconds = np.sort(rng.integers(0, 3 * 365 * 86_400, m))
    type_codes = rng.choice(5, size=m, p=[0.42, 0.07, 0.43, 0.055, 0.025]).astype(np.int8)
    shop = type_codes >= 2
    brands = [f"brand_{i:02d}" for i in range(30)]
    events = pd.DataFrame({
        "contact_id": ids[positions],
        "timestamp": (as_of - pd.Timedelta(days=3 * 365)).to_datetime64()
        + seconds.astype("timedelta64[s]"),
        "event_type": pd.Categorical.from_codes(type_codes, categories=TYPES),
        "campaign_id": pd.Categorical.from_codes(
            np.where(~shop, rng.integers(0, 300, m), -1), [f"cmp{i}" for i in range(300)]),
        "brand": pd.Categorical.from_codes(np.where(shop, rng.integers(0, 30, m), -1), brands),
        "category": pd.Categorical.from_codes(np.where(shop, rng.integers(0, 8, m), -1),
                                              [f"cat_{i}" for i in range(8)]),
        "amount": np.where(type_codes == 4, np.round(rng.lognormal(4, 0.6, m), 2), np.nan),
        "items": pd.arrays.IntegerArray(rng.integers(1, 5, m), type_codes != 4),
    })
    contacts = pd.DataFrame({
        "contact_id": ids,
        "birth_date": pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 25_000, n), "D"),
        "signup_date": as_of - pd.to_timedelta(rng.integers(1, 3_000, n), "D"),
    })
    return contacts, events, as_of


def load_base(n: int, events_per_contact: float, synthetic: bool):
    if not synthetic:
        try:
            from segexplore.datasets.generate import generate_base

            tables = generate_base(n, events_per_contact=events_per_contact)
            as_of = pd.Timestamp(tables["events"]["timestamp"].max()).ceil("D")
            return tables["contacts"], tables["events"], as_of, "sample.generate_base"
        except ImportError:
            pass
    contacts, events, as_of = synthetic_base(n, events_per_contact)
    return contacts, events, as_of, "synthetic numpy"


def baseline(contacts: pd.DataFrame, events: pd.DataFrame, as_of: pd.Timestamp,
             positions: np.ndarray) -> dict[str, np.ndarray]:
    """The same aggregations written directly on the raw (unsorted-by-type) event arrays."""
    n = len(contacts)
    as_of_ns = as_of.as_unit("ns").value
    times = events["timestamp"].to_numpy("datetime64[ns]").view(np.int64)
    codes = events["event_type"].cat.codes.to_numpy()
    known = (positions >= 0) & (times <= as_of_ns)
    type_index = {name: i for i, name in enumerate(events["event_type"].cat.categories)}
    amount = events["amount"].to_numpy(dtype=float, na_value=np.nan)
    items = events["items"].to_numpy(dtype=float, na_value=np.nan)
    out: dict[str, np.ndarray] = {}
    of_type = {kind: known & (codes == type_index[kind]) for kind in TYPES}

    def in_window(days):
        return times > as_of_ns - days * DAY_NS

    last_activity = np.full(n, np.iinfo(np.int64).min)
    for kind in TYPES:
        mask = of_type[kind]
        last = np.full(n, np.iinfo(np.int64).min)
        np.maximum.at(last, positions[mask], times[mask])
        last_activity = np.maximum(last_activity, last)
        out[f"last_{kind}_date"] = last.view("datetime64[ns]")
    out["last_activity_date"] = last_activity.view("datetime64[ns]")
    purchase = of_type["purchase"]
    for days in (30, 90, 365):
        mask = purchase & in_window(days)
        out[f"purchases_{days}d"] = np.bincount(positions[mask], minlength=n)
        ok = mask & ~np.isnan(amount)
        out[f"revenue_{days}d"] = np.bincount(positions[ok], amount[ok], minlength=n)
    out["purchases_total"] = np.bincount(positions[purchase], minlength=n)
    ok = purchase & ~np.isnan(amount)
    out["revenue_total"] = np.bincount(positions[ok], amount[ok], minlength=n)
    ok = purchase & in_window(365) & ~np.isnan(items)
    out["items_365d"] = np.bincount(positions[ok], items[ok], minlength=n)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, positions[purchase], times[purchase])
    out["first_purchase_date"] = first
    for kind, plural in (("open", "opens"), ("click", "clicks"), ("visit", "visits")):
        for days in (30, 90):
            mask = of_type[kind] & in_window(days)
            out[f"{plural}_{days}d"] = np.bincount(positions[mask], minlength=n)
    raw = np.zeros(n)
    for kind, weight in (("open", 1.0), ("click", 2.0), ("visit", 2.0)):
        mask = of_type[kind] & in_window(365)
        raw += np.bincount(positions[mask],
                           weight * np.exp2((times[mask] - as_of_ns) / (30 * DAY_NS)),
                           minlength=n)
    out["engagement_raw"] = raw
    # RFM: pandas ranks on the 365-day buyers.
    buyers = out["purchases_365d"] > 0
    frame = pd.DataFrame({"r": out["last_purchase_date"].view(np.int64)[buyers],
                          "f": out["purchases_365d"][buyers], "m": out["revenue_365d"][buyers]})
    for column in "rfm":
        ranks = frame[column].rank(method="first")
        out[f"rfm_{column}"] = np.ceil(ranks * 5 / len(frame)).to_numpy()
    # Affinity: dense contact x value matrix, argmax.
    weights = np.select([of_type["purchase"], of_type["visit"] | of_type["add_to_cart"]],
                        [3.0, 1.0], 0.0) * in_window(365)
    for prop in ("brand", "category"):
        categories = events[prop].cat.categories
        alphabetical = np.argsort(np.argsort(categories.to_numpy()))  # ties -> first name
        prop_codes = np.append(alphabetical, -1)[events[prop].cat.codes.to_numpy()]
        k = len(categories)
        ok = (weights > 0) & (prop_codes >= 0)
        dense = np.bincount(positions[ok] * k + prop_codes[ok], weights[ok],
                            minlength=n * k).reshape(n, k)
        best = np.sort(categories.to_numpy())[dense.argmax(axis=1)]
        out[f"preferred_{prop}"] = np.where(dense.max(axis=1) > 0, best, None)
        del dense
    # Carts: merge_asof to the next purchase of the same contact.
    cart = of_type["add_to_cart"] & in_window(30) & (times + DAY_NS <= as_of_ns)
    carts = pd.DataFrame({"pos": positions[cart], "t": times[cart]}).sort_values("t")
    buys = pd.DataFrame({"pos": positions[purchase], "tp": times[purchase]}).sort_values("tp")
    merged = pd.merge_asof(carts, buys, left_on="t", right_on="tp", by="pos",
                           direction="forward", allow_exact_matches=False)
    abandoned = merged["tp"].isna() | (merged["tp"] > merged["t"] + DAY_NS)
    out["carts_abandoned_30d"] = np.bincount(merged["pos"][abandoned], minlength=n)
    # Tenure, birthdays and lifecycle with pandas datetime accessors.
    signup = contacts["signup_date"]
    out["days_since_signup"] = ((as_of - signup) / pd.Timedelta(days=1)).to_numpy()
    birth = contacts["birth_date"]
    had_birthday = (birth.dt.month < as_of.month) | ((birth.dt.month == as_of.month)
                                                     & (birth.dt.day <= as_of.day))
    out["age"] = (as_of.year - birth.dt.year - (~had_birthday)).to_numpy()
    days_since = (as_of_ns - out["last_purchase_date"].view(np.int64)) / DAY_NS
    out["lifecycle"] = np.select([days_since < 90, days_since < 180, days_since >= 0],
                                 [1, 2, 3], 4)
    out["inactive"] = last_activity <= as_of_ns - 365 * DAY_NS
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--events-per-contact", type=float, default=20.0)
    parser.add_argument("--synthetic", action="store_true", help="skip sample.generate_base")
    parser.add_argument("--repeat", type=int, default=3, help="keep the best of N runs")
    parser.add_argument("--shuffle", action="store_true",
                        help="shuffle the events first (the build must then sort them)")
    args = parser.parse_args()

    started = time.perf_counter()
    contacts, events, as_of, source = load_base(args.contacts, args.events_per_contact,
                                                args.synthetic)
    if args.shuffle:
        events = events.sample(frac=1.0, random_state=0).reset_index(drop=True)
        source += ", shuffled"
    print(f"base: {source}, {len(contacts):,} contacts, {len(events):,} events, "
          f"as_of {as_of} (generated in {time.perf_counter() - started:.1f} s)")
    results: dict[str, float] = {}

    for _ in range(args.repeat):
        with timer(results, "ActivityTable build"):
            table = ActivityTable(contacts["contact_id"], events, None)
        start, end = window(as_of, 60)
        top_brand = events["brand"].value_counts().index[0]
        with timer(results, "filtered count, cold (60 d, 1 brand)"):
            mask = table.property("visit", "brand") == top_brand
            table.count("visit", start=start, end=end, where=mask)
        with timer(results, "filtered count, warm (60 d, 1 brand)"):
            mask = table.property("visit", "brand") == top_brand
            table.count("visit", start=start, end=end, where=mask)
        with timer(results, "compute_features"):
            features = compute_features(contacts, table, as_of)
        with timer(results, "compute_features, again (warm caches)"):
            compute_features(contacts, table, as_of)
        with timer(results, "compute_features, as_of 90 days back"):
            compute_features(contacts, table, as_of - pd.Timedelta(days=90))

        with timer(results, "baseline: map ids (factorize)"):
            codes, uniques = pd.factorize(events["contact_id"])
            positions = np.append(pd.Index(contacts["contact_id"]).get_indexer(uniques),
                                  -1)[codes]
        with timer(results, "baseline: aggregations"):
            reference = baseline(contacts, events, as_of, positions)
    for name in ("purchases_30d", "revenue_90d", "opens_30d", "carts_abandoned_30d",
                 "items_365d"):
        np.testing.assert_allclose(features[name].to_numpy(float), reference[name], err_msg=name)
    np.testing.assert_array_equal(features["last_open_date"].to_numpy(),
                                  reference["last_open_date"])
    preferred = features["preferred_brand"].astype(object).to_numpy()
    assert ((preferred == reference["preferred_brand"])
            | (pd.isna(preferred) & pd.isna(reference["preferred_brand"]))).all()
    np.testing.assert_array_equal(features["inactive"].to_numpy(), reference["inactive"])

    width = max(map(len, results)) + 2
    print(f"\n{'step (best of ' + str(args.repeat) + ')':<{width}}{'seconds':>10}")
    print("-" * (width + 10))
    for name, seconds in results.items():
        print(f"{name:<{width}}{seconds:>10.3f}")
    print("-" * (width + 10))
    ratio = results["compute_features"] / results["baseline: aggregations"]
    whole = ((results["ActivityTable build"] + results["compute_features"])
             / (results["baseline: map ids (factorize)"] + results["baseline: aggregations"]))
    print(f"{'compute_features / baseline':<{width}}{ratio:>10.2f}   (target <= 1.5)")
    print(f"{'build + features / ids + baseline':<{width}}{whole:>10.2f}")
    print(f"{'features':<{width}}{features.shape[1]:>10d} columns, checked against baseline")


if __name__ == "__main__":
    main()
