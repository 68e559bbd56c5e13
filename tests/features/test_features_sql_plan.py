"""The ways the SQL features are computed for speed give the pandas implementation's values.

The purchases held by the events are aggregated apart from the other events, the preferred
brand and category come from one ``arg_min`` per property (ties to the smallest value), the
RFM group is worked out for the scored contacts only, and the last stage reads the
per-range aggregates where they are: each checked against
:func:`segexplore.features.compute.compute_features`, in one query and a range of contacts
at a time.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

import segexplore as se
from segexplore.features.compute import compute_features
from segexplore.features.registry import FeatureConfig
from segexplore.features.sql import POSITION, compute_features_sql

AS_OF = pd.Timestamp("2026-03-01 00:00:00")


def features_by_sql(base: se.ContactBase, config: FeatureConfig | None = None,
                    buckets: int = 1) -> pd.DataFrame:
    """The SQL features of ``base``'s tables, registered in a fresh DuckDB."""
    connection = duckdb.connect()
    tables = {"contacts": base.contacts.assign(**{POSITION: np.arange(len(base.contacts))}),
              "events": base.events, "orders": base.orders}
    tables = {name: table for name, table in tables.items() if table is not None}
    for name, table in tables.items():
        connection.register(name, table)
    columns = {name: list(table.columns) for name, table in tables.items()}
    return compute_features_sql(connection, base.as_of, columns=columns,
                                purchases_from=base.activity.purchase_source, config=config,
                                index=base.contacts.index, buckets=buckets)


def features_by_pandas(base: se.ContactBase, config: FeatureConfig | None = None
                       ) -> pd.DataFrame:
    return compute_features(base.contacts, base.activity, base.as_of, config=config)


def tie_base() -> se.ContactBase:
    """Contacts whose brands and categories tie, and one with events but no purchase."""
    day = pd.Timedelta(days=1)
    rows = [
        # 1: Puma and Adidas one visit each (a tie: Adidas), Nike older than a year
        (1, AS_OF - 3 * day, "visit", "Puma", "shoes", None),
        (1, AS_OF - 4 * day, "visit", "Adidas", "bags", None),
        (1, AS_OF - 400 * day, "purchase", "Nike", "shoes", 20.0),
        # 2: a purchase (weight 3) against three visits (weight 1 each): a tie, Adidas
        (2, AS_OF - 5 * day, "purchase", "Puma", "bags", 10.0),
        (2, AS_OF - 6 * day, "visit", "Adidas", "shoes", None),
        (2, AS_OF - 7 * day, "visit", "Adidas", "shoes", None),
        (2, AS_OF - 8 * day, "add_to_cart", "Adidas", "shoes", None),
        # 3: events but no purchase, a brand and no category
        (3, AS_OF - 2 * day, "open", None, None, None),
        (3, AS_OF - 40 * day, "click", None, None, None),
        (3, AS_OF - 50 * day, "add_to_cart", "Nike", None, None),
    ]
    events = pd.DataFrame(rows, columns=["contact_id", "timestamp", "event_type", "brand",
                                         "category", "amount"])
    events["amount"] = events["amount"].astype(float)
    contacts = pd.DataFrame({"contact_id": [1, 2, 3, 4],
                             "email": [f"c{i}@x.fr" for i in range(1, 5)],
                             "consent": "given"})
    return se.ContactBase(contacts, events, as_of=AS_OF)


def assert_frames_agree(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal column for column: sums of amounts to 1e-12 relative, the rest exactly."""
    assert list(got.columns) == list(expected.columns)
    for name in expected.columns:
        want, have = expected[name], got[name]
        if pd.api.types.is_float_dtype(want.dtype):
            np.testing.assert_allclose(have.to_numpy(float), want.to_numpy(float),
                                       rtol=1e-12, atol=0, equal_nan=True, err_msg=name)
            continue
        same = (have.astype(object) == want.astype(object)).fillna(False) | (
            have.isna() & want.isna())
        assert bool(same.all()), (name, want.tolist(), have.tolist())


@pytest.mark.parametrize("buckets", [1, 3])
def test_ties_in_brand_and_category_go_to_the_smallest_value(buckets):
    base = tie_base()
    got = features_by_sql(base, buckets=buckets)
    assert got["preferred_brand"].astype(object).tolist()[:3] == ["Adidas", "Adidas", "Nike"]
    assert got["preferred_category"].astype(object).tolist()[:2] == ["bags", "bags"]
    assert pd.isna(got["preferred_category"].iloc[2]) and pd.isna(got["preferred_brand"].iloc[3])
    assert_frames_agree(got.astype({c: object for c in ("preferred_brand",
                                                        "preferred_category")}),
                        features_by_pandas(base).astype({c: object for c in (
                            "preferred_brand", "preferred_category")}))


@pytest.mark.parametrize("buckets", [1, 3])
def test_contacts_without_purchases_count_none_when_the_events_hold_purchases(buckets):
    base = tie_base()
    assert base.activity.purchase_source == "events"
    got = features_by_sql(base, buckets=buckets)
    assert got["purchases_total"].tolist() == [1, 1, 0, 0]
    assert got["revenue_total"].tolist() == [20.0, 10.0, 0.0, 0.0]
    assert got["rfm_group"].astype(object).tolist()[2:] == ["never_purchased"] * 2
    assert got["rfm_group"].iloc[0] == "lost"  # a purchase, none in the last year
    assert pd.isna(got["rfm_score"].iloc[0]) and isinstance(got["rfm_score"].iloc[1], str)


def test_engagement_weights_of_other_kinds_and_of_purchases():
    # add_to_cart weighs in the engagement here, and purchases too: the events the
    # aggregates of the other events read, and the purchases' own decayed sum.
    config = FeatureConfig(engagement_weights={"open": 1.0, "add_to_cart": 0.5,
                                               "purchase": 4.0},
                           affinity_weights={"visit": 0.25, "purchase": 2.0})
    base = se.load_sample()
    expected = features_by_pandas(base, config)
    for buckets in (1, 3):
        got = features_by_sql(base, config, buckets=buckets)
        assert (got["engagement_score"] > 0).sum() == (expected["engagement_score"] > 0).sum()
        categorical = {c: object for c in ("preferred_brand", "preferred_category")}
        assert_frames_agree(got.astype(categorical), expected.astype(categorical))
