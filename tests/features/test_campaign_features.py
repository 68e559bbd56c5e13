"""The features a campaign is planned with, against hand-computed values: preferred send hour
and weekday, discount share, the last abandoned cart (issue 15).

Each fixture is small enough to count by hand; the expected values are written out below
with the reason for each, and both engines (pandas, and the SQL in DuckDB) must give them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_parity import by_sql

import segexplore as se
from segexplore.features.compute import compute_features
from segexplore.features.registry import FEATURE_KINDS, FEATURES, WEEKDAYS, FeatureConfig

# A Sunday at midnight: 2026-03-01.
AS_OF = pd.Timestamp("2026-03-01 00:00:00")
ENGINES = ("pandas", "duckdb")


def features_of(base: se.ContactBase, engine: str) -> pd.DataFrame:
    return base.features if engine == "pandas" else by_sql(base)


def contacts(n: int) -> pd.DataFrame:
    ids = list(range(1, n + 1))
    return pd.DataFrame({"contact_id": ids, "email": [f"c{i}@x.fr" for i in ids],
                         "consent": "given"})


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["contact_id", "timestamp", "event_type", "brand",
                                        "category", "amount", "items"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601")
    for column in ("amount", "items"):
        frame[column] = frame[column].astype(float)
    return frame


@pytest.fixture(scope="module")
def send_base() -> se.ContactBase:
    rows = [
        # 1: two opens on Tuesdays at 9 h, one click on a Friday at 18 h -> 9, tuesday; an
        # open 424 days before as_of is out of the 365-day window.
        (1, "2026-02-10 09:15", "open", None, None, None, None),
        (1, "2026-02-17 09:40", "open", None, None, None, None),
        (1, "2026-02-20 18:05", "click", None, None, None, None),
        (1, "2025-01-01 18:00", "open", None, None, None, None),
        (1, "2025-01-02 18:00", "open", None, None, None, None),
        # 2: a Monday 20 h open and a Wednesday 7 h click tie -> the earliest: 7, monday.
        # Visits do not count.
        (2, "2026-02-23 20:00", "open", None, None, None, None),
        (2, "2026-02-25 07:00", "click", None, None, None, None),
        (2, "2026-02-26 22:00", "visit", None, None, None, None),
        (2, "2026-02-27 22:00", "visit", None, None, None, None),
        # 3: an open exactly 365 days before as_of (outside: the window starts after it)
        # and one a second after as_of (ignored) -> NA.
        (3, "2025-03-01 00:00:00", "open", None, None, None, None),
        (3, "2026-03-01 00:00:01", "open", None, None, None, None),
        # 4: an open exactly at as_of, a Sunday at 0 h -> 0, sunday; one at 23:59:59 on
        # Saturday ties it on the day and loses on the hour.
        (4, "2026-03-01 00:00:00", "open", None, None, None, None),
        (4, "2026-02-28 23:59:59", "open", None, None, None, None),
    ]
    return se.ContactBase(contacts(5), events_frame(rows), as_of=AS_OF)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_preferred_send_hour_and_weekday(send_base, engine):
    features = features_of(send_base, engine)
    assert features["preferred_send_hour"].dtype == "Int8"
    assert features["preferred_send_hour"].tolist() == [9, 7, pd.NA, 0, pd.NA]
    weekday = features["preferred_send_weekday"]
    assert list(weekday.cat.categories) == list(WEEKDAYS)
    assert weekday.astype(object).where(weekday.notna(), None).tolist() == [
        "tuesday", "monday", None, "saturday", None]


@pytest.mark.parametrize("engine", ENGINES)
def test_send_time_weights_change_the_winner(send_base, engine):
    config = FeatureConfig(send_time_weights={"open": 1.0, "click": 3.0})
    if engine == "pandas":
        features = compute_features(send_base.contacts, send_base.activity, AS_OF,
                                    config=config)
    else:
        features = by_sql(send_base, config=config)
    # 1: the click at 18 h on a Friday (3) beats two opens at 9 h on Tuesdays (2); 2: the
    # click at 7 h on a Wednesday (3) beats the open.
    assert features["preferred_send_hour"].tolist()[:2] == [18, 7]
    assert features["preferred_send_weekday"].astype(str).tolist()[:2] == ["friday",
                                                                            "wednesday"]


def orders_frame(rows: list[tuple], *, discount: bool = True, coupon: bool = True
                 ) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["order_id", "contact_id", "timestamp", "amount",
                                        "discount", "coupon"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601")
    frame["discount"] = frame["discount"].astype(float)
    frame["coupon"] = frame["coupon"].astype("string")
    return frame.drop(columns=[c for c, keep in (("discount", discount), ("coupon", coupon))
                               if not keep])


DISCOUNT_ORDERS = [
    # 1: of four purchases in the year, 5.0 off and the coupon NOEL are discounts; 0 off
    # with a blank coupon and a missing discount are not -> 2 / 4. The 10.0 off bought 400
    # days ago is out of the window.
    (1, 1, "2026-02-01 10:00", 20.0, 5.0, None),
    (2, 1, "2026-02-02 10:00", 20.0, 0.0, "NOEL"),
    (3, 1, "2026-02-03 10:00", 20.0, 0.0, "  "),
    (4, 1, "2026-02-04 10:00", 20.0, None, None),
    (5, 1, "2025-01-25 10:00", 20.0, 10.0, None),
    # 2: no purchase -> NaN. 3: one undiscounted purchase -> 0.0.
    (6, 3, "2026-01-10 10:00", 20.0, 0.0, ""),
    # 4: its only purchase is more than a year old -> NaN.
    (7, 4, "2024-01-10 10:00", 20.0, 3.0, "X"),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_discount_share_from_orders(engine):
    base = se.ContactBase(contacts(4), None, orders_frame(DISCOUNT_ORDERS), as_of=AS_OF)
    share = features_of(base, engine)["discount_share_365d"].tolist()
    assert share[0] == 0.5 and np.isnan(share[1]) and share[2] == 0.0 and np.isnan(share[3])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kept", ["discount", "coupon"])
def test_the_discount_share_from_one_column_alone(engine, kept):
    orders = orders_frame(DISCOUNT_ORDERS, discount=kept == "discount",
                          coupon=kept == "coupon")
    base = se.ContactBase(contacts(4), None, orders, as_of=AS_OF)
    # discount alone: only the 5.0 off of four; coupon alone: only NOEL of four.
    assert features_of(base, engine)["discount_share_365d"].iloc[0] == 0.25


@pytest.mark.parametrize("engine", ENGINES)
def test_without_discount_columns_the_share_is_unknown_for_everyone(engine):
    orders = orders_frame(DISCOUNT_ORDERS, discount=False, coupon=False)
    base = se.ContactBase(contacts(4), None, orders, as_of=AS_OF)
    assert features_of(base, engine)["discount_share_365d"].isna().all()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_discount_share_from_purchase_events(engine):
    rows = [(1, "2026-02-01 10:00", "purchase", None, None, 20.0, 1.0),
            (1, "2026-02-02 10:00", "purchase", None, None, 20.0, 1.0),
            (1, "2026-02-03 10:00", "open", None, None, None, None)]
    events = events_frame(rows).assign(coupon=pd.array(["ETE", None, "IGNORED"],
                                                       dtype="string"))
    base = se.ContactBase(contacts(1), events, as_of=AS_OF)
    assert features_of(base, engine)["discount_share_365d"].tolist() == [0.5]


@pytest.fixture(scope="module")
def cart_base() -> se.ContactBase:
    rows = [
        # 1: two carts abandoned (no purchase within 24 h), the later one at 2026-02-20
        # 12:00 holds two lines at that instant: 30 + 12.5 = 42.5, 1 + 2 = 3 items, brands
        # Puma and Adidas -> Adidas, categories shoes -> shoes.
        (1, "2026-02-10 12:00", "add_to_cart", "Nike", "apparel", 99.0, 1),
        (1, "2026-02-20 12:00", "add_to_cart", "Puma", "shoes", 30.0, 1),
        (1, "2026-02-20 12:00", "add_to_cart", "Adidas", None, 12.5, 2),
        # 2: the latest cart is bought 23 h later (not abandoned): the earlier one counts.
        (2, "2026-02-05 08:00", "add_to_cart", "Nike", "shoes", 50.0, None),
        (2, "2026-02-15 08:00", "add_to_cart", "Puma", "shoes", 70.0, 1),
        (2, "2026-02-16 07:00", "purchase", "Puma", "shoes", 70.0, 1),
        # 3: a cart 12 h before as_of is neither abandoned nor bought yet; a cart 40 days
        # old is out of the 30-day window -> nothing.
        (3, "2026-02-28 12:00", "add_to_cart", "Nike", "shoes", 10.0, 1),
        (3, "2026-01-20 12:00", "add_to_cart", "Nike", "shoes", 10.0, 1),
        # 4: an abandoned cart without amount, items, brand or category -> all unknown.
        (4, "2026-02-11 12:00", "add_to_cart", None, None, None, None),
        # 5: a purchase exactly 24 h later is a follow-up: not abandoned.
        (5, "2026-02-12 12:00", "add_to_cart", "Nike", "shoes", 10.0, 1),
        (5, "2026-02-13 12:00", "purchase", "Nike", "shoes", 10.0, 1),
    ]
    return se.ContactBase(contacts(5), events_frame(rows), as_of=AS_OF)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_last_abandoned_cart(cart_base, engine):
    features = features_of(cart_base, engine)
    assert features["carts_abandoned_30d"].tolist() == [3, 1, 0, 1, 0]  # two lines at once

    def values(name):
        column = features[name]
        return column.astype(object).where(column.notna(), None).tolist()
    assert values("last_abandoned_cart_value") == [42.5, 50.0, None, None, None]
    assert values("last_abandoned_cart_items") == [3.0, None, None, None, None]
    assert values("last_abandoned_cart_brand") == ["Adidas", "Nike", None, None, None]
    assert values("last_abandoned_cart_category") == ["shoes", "shoes", None, None, None]
    # The categories are the values that occur, sorted.
    assert list(features["last_abandoned_cart_brand"].cat.categories) == ["Adidas", "Nike"]


def test_the_new_features_are_rule_fields_on_both_engines(cart_base, send_base, tmp_path):
    for name, base, rule, expected in (
            ("carts", cart_base, "last_abandoned_cart_value >= 45 and carts_abandoned_30d >= 1", [2]),
            ("carts", cart_base, 'last_abandoned_cart_brand = "Adidas"', [1]),
            ("sends", send_base, "preferred_send_hour >= 7 and preferred_send_hour < 12",
             [1, 2]),
            ("sends", send_base, 'preferred_send_weekday in ("monday", "tuesday")', [1, 2])):
        got = sorted(base.segment(rule).members()["contact_id"].tolist())
        assert got == expected, rule
        folder = tmp_path / name
        if not folder.exists():
            folder.mkdir()
            base.contacts.to_parquet(folder / "contacts.parquet")
            base.events.to_parquet(folder / "events.parquet")
        duck = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                            engine="duckdb", as_of=AS_OF)
        assert sorted(duck.segment(rule).members()["contact_id"].tolist()) == expected, rule


def test_the_registry_defines_and_types_each_new_feature():
    kinds = {"preferred_send_hour": "number", "preferred_send_weekday": "category",
             "discount_share_365d": "number", "last_abandoned_cart_value": "number",
             "last_abandoned_cart_items": "number", "last_abandoned_cart_brand": "category",
             "last_abandoned_cart_category": "category"}
    for name, kind in kinds.items():
        assert FEATURES[name].endswith(".") and FEATURE_KINDS[name] == kind
