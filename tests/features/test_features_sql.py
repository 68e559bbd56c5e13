"""The SQL implementation of the features gives the pandas implementation's values.

Every feature, on the bundled sample (today and on an earlier date), on the raw sample after
cleaning, on the tiny hand-made base, and on hypothesis-generated bases whose events sit on
the window edges. Compared by tests/feature_parity.py: counts, dates, scores, categories and
flags equal, sums of amounts to 1e-12 relative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_parity import assert_same_values, bases, by_sql
from hypothesis import HealthCheck, given, settings

import segexplore as se
from segexplore.datasets.generate import generate_base
from segexplore.datasets.raw import make_raw


def assert_same_features(base: se.ContactBase, buckets: int = 1) -> None:
    assert_same_values(base.features, by_sql(base, buckets))


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
