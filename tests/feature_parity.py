"""The check that features computed by SQL (DuckDB, PostgreSQL, Spark) are the pandas
implementation's, and the generated bases it runs on: tests/features/test_features_sql.py
and tests/engines/test_server_features.py.

Counts, dates, scores, categories and flags are compared for equality; sums of amounts to
1e-12 relative (an engine adds in another order than numpy, which moves the last bit of
466.29 and nothing else).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from hypothesis import strategies as st

import segexplore as se
from segexplore.features.registry import FEATURES
from segexplore.features.sql import POSITION, compute_features_sql

#: Sums of float amounts: the only columns whose last bit depends on the order of addition.
SUMS = {"revenue_30d", "revenue_90d", "revenue_365d", "revenue_total", "avg_basket",
        "items_365d", "engagement_score", "last_abandoned_cart_value",
        "last_abandoned_cart_items"}


def feature_tables(base) -> dict[str, pd.DataFrame]:
    """The tables the feature query reads: the contacts with their ``position``, the events
    and orders the base has."""
    tables = {"contacts": base.contacts.assign(**{POSITION: np.arange(len(base.contacts))})}
    for name in ("events", "orders"):
        if getattr(base, name) is not None:
            tables[name] = getattr(base, name)
    return tables


def by_sql(base: se.ContactBase, buckets: int = 1, config=None) -> pd.DataFrame:
    """``base``'s features computed by the SQL implementation in DuckDB."""
    connection = duckdb.connect()
    tables = feature_tables(base)
    for name, table in tables.items():
        connection.register(name, table)
    columns = {name: list(table.columns) for name, table in tables.items()}
    return compute_features_sql(connection, base.as_of, columns=columns,
                                purchases_from=base.activity.purchase_source,
                                index=base.contacts.index, buckets=buckets, config=config)


def assert_same_values(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """``got`` has ``expected``'s features: columns, index, dtypes and values."""
    assert list(got.columns) == list(expected.columns) == list(FEATURES)
    assert got.index.equals(expected.index)
    for name in expected.columns:
        want, have = expected[name], got[name]
        if name in ("preferred_brand", "preferred_category"):
            # pandas lists every value of the whole history as a category; SQL the winners.
            assert isinstance(have.dtype, pd.CategoricalDtype) and isinstance(
                want.dtype, pd.CategoricalDtype)
        else:
            assert have.dtype == want.dtype, (name, have.dtype, want.dtype)
        if name in SUMS:
            np.testing.assert_allclose(have.to_numpy(float), want.to_numpy(float),
                                       rtol=1e-12, atol=0, equal_nan=True, err_msg=name)
            continue
        same = (have.astype(object) == want.astype(object)).fillna(False) | (
            have.isna() & want.isna())
        assert bool(same.all()), (name, want[~same].head(3).tolist(), have[~same].head(3).tolist())


AS_OF = pd.Timestamp("2026-03-01 00:00:00")
#: pandas's and DuckDB's smallest step of time (PostgreSQL's and Spark's: a microsecond).
NANOSECOND = pd.Timedelta(1, "ns")


@st.composite
def bases(draw, resolution: pd.Timedelta = NANOSECOND) -> se.ContactBase:
    """Up to 12 contacts, 40 events on and around the windows' edges (``resolution`` past
    one: the engine's smallest step of time), an unknown contact's among them, text ids
    (with a quote) or numbers, purchases from events or orders, with or without discount
    and coupon columns."""
    edges = [AS_OF, AS_OF - pd.Timedelta(days=30), AS_OF - pd.Timedelta(days=90),
             AS_OF - pd.Timedelta(days=365), AS_OF - pd.Timedelta(days=30) + resolution,
             AS_OF - pd.Timedelta(hours=24), AS_OF - pd.Timedelta(hours=23),
             AS_OF + pd.Timedelta(seconds=1), AS_OF - pd.Timedelta(days=180),
             AS_OF - pd.Timedelta(days=400)]
    times = st.one_of(st.sampled_from(edges), st.integers(0, 500 * 86_400).map(
        lambda s: AS_OF - pd.Timedelta(seconds=s)))
    n = draw(st.integers(1, 12))
    ids = draw(st.lists(st.integers(1, 10**6), min_size=n, max_size=n, unique=True))
    contacts = pd.DataFrame({
        "contact_id": ids, "email": [f"c{i}@x.fr" for i in ids], "consent": "given",
        "signup_date": pd.to_datetime([draw(st.one_of(st.none(), times)) for _ in ids]),
        "birth_date": pd.to_datetime([draw(st.one_of(st.none(), st.sampled_from(
            ["1984-02-29", "1990-03-01", "2000-02-28", "1975-12-31", "2026-03-02"])))
            for _ in ids])})
    rows = draw(st.lists(st.tuples(
        st.sampled_from(ids + [999_999_999]), times,
        st.sampled_from(["open", "click", "visit", "add_to_cart", "purchase"]),
        st.sampled_from([None, "Nike", "Adidas", "Puma"]),
        st.one_of(st.none(), st.sampled_from([10.0, 0.1, 0.2, 49.99, 0.0]))), max_size=40))
    events = pd.DataFrame(rows, columns=["contact_id", "timestamp", "event_type", "brand",
                                         "amount"])
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    events["amount"] = events["amount"].astype(float)
    events["items"] = pd.array(draw(st.lists(st.sampled_from([None, 1, 2, 3]), min_size=len(
        events), max_size=len(events))), dtype="Int64").astype(float)
    # Discounts as an amount taken off, a coupon code, both or neither (blank codes too).
    for column, values in (("discount", [None, 0.0, 5.0, -1.0]),
                           ("coupon", [None, "", " ", "NOEL", " -10 "])):
        if draw(st.booleans()):
            events[column] = draw(st.lists(st.sampled_from(values), min_size=len(events),
                                           max_size=len(events)))
    if "discount" in events:
        events["discount"] = events["discount"].astype(float)
    if "coupon" in events:
        events["coupon"] = events["coupon"].astype("string")
    orders = None
    if draw(st.booleans()):
        orders = events[events["event_type"] == "purchase"].drop(columns="event_type")
        orders = orders.assign(order_id=range(len(orders)))
        events = events[events["event_type"] != "purchase"]
    if draw(st.booleans()):
        as_text = {i: f"id'{i:07d}" for i in ids + [999_999_999]}
        contacts["contact_id"] = contacts["contact_id"].map(as_text)
        for table in (events, orders):
            if table is not None:
                table["contact_id"] = table["contact_id"].map(as_text)
    for table in (events, orders):  # typed as the contacts' ids even when empty
        if table is not None:
            table["contact_id"] = table["contact_id"].astype(contacts["contact_id"].dtype)
    return se.ContactBase(contacts, events.reset_index(drop=True), orders, as_of=AS_OF)
