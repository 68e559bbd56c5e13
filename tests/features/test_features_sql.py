"""The SQL implementation of the features gives the pandas implementation's values.

Every feature, on the bundled sample (today and on an earlier date), on the raw sample after
cleaning, on the tiny hand-made base, and on hypothesis-generated bases whose events sit on
the window edges. Counts, dates, scores, categories and flags are compared for equality;
sums of amounts to 1e-12 relative (DuckDB adds in another order than numpy, which moves the
last bit of 466.29 and nothing else).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import segexplore as se
from segexplore.datasets.generate import generate_base
from segexplore.datasets.raw import make_raw
from segexplore.features.registry import FEATURES
from segexplore.features.sql import POSITION, compute_features_sql

#: Sums of float amounts: the only columns whose last bit depends on the order of addition.
SUMS = {"revenue_30d", "revenue_90d", "revenue_365d", "revenue_total", "avg_basket",
        "items_365d", "engagement_score"}


def by_sql(base: se.ContactBase, buckets: int = 1) -> pd.DataFrame:
    connection = duckdb.connect()
    contacts = base.contacts.assign(**{POSITION: np.arange(len(base.contacts))})
    connection.register("contacts", contacts)
    columns = {"contacts": list(contacts.columns)}
    for name in ("events", "orders"):
        table = getattr(base, name)
        if table is not None:
            connection.register(name, table)
            columns[name] = list(table.columns)
    return compute_features_sql(connection, base.as_of, columns=columns,
                                purchases_from=base.activity.purchase_source,
                                index=base.contacts.index, buckets=buckets)


def assert_same_features(base: se.ContactBase, buckets: int = 1) -> None:
    expected, got = base.features, by_sql(base, buckets)
    assert list(got.columns) == list(expected.columns) == list(FEATURES)
    assert got.index.equals(expected.index)
    for name in expected.columns:
        want, have = expected[name], got[name]
        if name.startswith("preferred_"):
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


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


def test_every_feature_on_the_sample(sample):
    assert_same_features(sample)


def test_every_feature_on_the_sample_on_an_earlier_date(sample):
    assert_same_features(sample.at("2026-06-30 12:00"))


def test_every_feature_on_the_raw_sample_after_cleaning():
    raw = make_raw(generate_base(3_000, seed=5), seed=5)
    base = se.read_base(raw["contacts"], raw["events"], raw["orders"])
    assert len(base.report.merges) > 0  # the messy export really was cleaned
    assert_same_features(base)


def test_every_feature_on_the_tiny_base(tiny_base):
    assert_same_features(tiny_base)


def test_every_feature_when_purchases_come_from_the_orders(sample):
    events = sample.events[sample.events["event_type"] != "purchase"]
    base = se.read_base(sample.contacts, events, sample.orders, clean=False)
    assert base.activity.purchase_source == "orders"
    assert_same_features(base)


AS_OF = pd.Timestamp("2026-03-01 00:00:00")
_EDGES = [AS_OF, AS_OF - pd.Timedelta(days=30), AS_OF - pd.Timedelta(days=90),
          AS_OF - pd.Timedelta(days=365), AS_OF - pd.Timedelta(days=30) + pd.Timedelta(1, "ns"),
          AS_OF - pd.Timedelta(hours=24), AS_OF - pd.Timedelta(hours=23),
          AS_OF + pd.Timedelta(seconds=1), AS_OF - pd.Timedelta(days=180),
          AS_OF - pd.Timedelta(days=400)]
_TIMES = st.one_of(st.sampled_from(_EDGES),
                   st.integers(0, 500 * 86_400).map(lambda s: AS_OF - pd.Timedelta(seconds=s)))


@st.composite
def bases(draw):
    n = draw(st.integers(1, 12))
    ids = draw(st.lists(st.integers(1, 10**6), min_size=n, max_size=n, unique=True))
    contacts = pd.DataFrame({
        "contact_id": ids, "email": [f"c{i}@x.fr" for i in ids], "consent": "given",
        "signup_date": [draw(st.one_of(st.none(), _TIMES)) for _ in ids],
        "birth_date": [draw(st.one_of(st.none(), st.sampled_from(
            ["1984-02-29", "1990-03-01", "2000-02-28", "1975-12-31", "2026-03-02"])))
            for _ in ids]})
    contacts["birth_date"] = pd.to_datetime(contacts["birth_date"])
    contacts["signup_date"] = pd.to_datetime(contacts["signup_date"])
    rows = draw(st.lists(st.tuples(
        st.sampled_from(ids + [999_999_999]),  # an unknown contact too
        _TIMES, st.sampled_from(["open", "click", "visit", "add_to_cart", "purchase"]),
        st.sampled_from([None, "Nike", "Adidas", "Puma"]),
        st.one_of(st.none(), st.sampled_from([10.0, 0.1, 0.2, 49.99, 0.0]))), max_size=40))
    events = pd.DataFrame(rows, columns=["contact_id", "timestamp", "event_type", "brand",
                                         "amount"])
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    events["amount"] = events["amount"].astype(float)
    use_orders = draw(st.booleans())
    orders = None
    if use_orders:
        orders = events[events["event_type"] == "purchase"].drop(columns="event_type")
        orders = orders.assign(order_id=range(len(orders)))
        events = events[events["event_type"] != "purchase"]
    if draw(st.booleans()):  # text ids, a quote in them: the buckets' bounds are literals
        as_text = {i: f"id'{i:07d}" for i in ids + [999_999_999]}
        contacts["contact_id"] = contacts["contact_id"].map(as_text)
        for table in (events, orders):
            if table is not None:
                table["contact_id"] = table["contact_id"].map(as_text)
    return se.ContactBase(contacts, events.reset_index(drop=True), orders, as_of=AS_OF)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bases())
def test_every_feature_on_generated_bases_with_events_on_the_window_edges(base):
    assert_same_features(base)
    # and a range of contacts at a time (as on bases over BUCKET_CONTACTS)
    assert_same_features(base, buckets=3)


def test_revenue_is_float_even_when_every_amount_is_missing():
    # Found by the generated bases: pandas gave int64 revenue when no amount was known.
    contacts = pd.DataFrame({"contact_id": [1, 2], "email": ["a@x.fr", "b@x.fr"]})
    events = pd.DataFrame({"contact_id": [1], "timestamp": pd.to_datetime(["2026-01-01"]),
                           "event_type": ["purchase"], "amount": [float("nan")]})
    base = se.ContactBase(contacts, events, as_of="2026-03-01")
    assert base.features["revenue_365d"].dtype == np.float64
    assert base.features["revenue_365d"].tolist() == [0.0, 0.0]
    assert base.features["purchases_365d"].tolist() == [1, 0]
    assert_same_features(base)


def test_the_registry_declares_the_kind_each_feature_has(sample):
    from segexplore.features.registry import FEATURE_KINDS
    from segexplore.model.roles import value_kind

    assert FEATURE_KINDS == {name: value_kind(sample.features[name].dtype)
                             for name in sample.features.columns}
