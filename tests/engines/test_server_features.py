"""Every behaviour feature computed inside a real PostgreSQL 15 server and a local Spark
session (tests/servers.py) by the feature query ported to their SQL
(segexplore/features/sql_dialects.py) equals the pandas implementation's: on the bundled
sample (today and on an earlier date), with purchases from the orders, on the tiny base,
on the raw sample after cleaning and, on PostgreSQL, on generated bases whose events sit
on the window edges.

The servers hold microseconds: the generated times are whole microseconds (a nanosecond
past an edge, which pandas tells apart, is on the edge there).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import servers
from feature_parity import assert_same_values, bases, feature_tables
from hypothesis import HealthCheck, given, settings
from servers import load_postgres, load_spark

import segexplore as se
from segexplore.datasets.generate import generate_base
from segexplore.datasets.raw import make_raw
from segexplore.features.compute import compute_features
from segexplore.features.registry import FeatureConfig
from segexplore.features.sql import POSITION, as_pandas_features, feature_query

postgres_server, postgres, spark = servers.postgres_server, servers.postgres, servers.spark


def _query(base: se.ContactBase, names: dict[str, str], dialect: str,
           config: FeatureConfig | None = None) -> str:
    columns = {name: list(table.columns) for name, table in feature_tables(base).items()}
    query = feature_query(base.as_of, columns=columns, tables=names, dialect=dialect,
                          purchases_from=base.activity.purchase_source, config=config)
    return f"SELECT * FROM ({query}) AS f ORDER BY {POSITION}"


def on_postgres(connection: Any, base: se.ContactBase, prefix: str = "f_",
                config: FeatureConfig | None = None) -> pd.DataFrame:
    names = load_postgres(connection, feature_tables(base), prefix=prefix)
    # Not prepared: the generated bases reload tables of the same names with other types.
    cursor = connection.execute(_query(base, names, "postgres", config), prepare=False)
    raw = pd.DataFrame(cursor.fetchall(), columns=[c.name for c in cursor.description])
    return as_pandas_features(raw, index=base.contacts.index)


def on_spark(session: Any, base: se.ContactBase, prefix: str = "f_",
             config: FeatureConfig | None = None) -> pd.DataFrame:
    names = load_spark(session, feature_tables(base), prefix=prefix)
    raw = session.sql(_query(base, names, "spark", config)).toPandas()
    return as_pandas_features(raw, index=base.contacts.index)


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


def _from_orders(sample: se.ContactBase) -> se.ContactBase:
    events = sample.events[sample.events["event_type"] != "purchase"]
    base = se.read_base(sample.contacts, events, sample.orders, clean=False)
    assert base.activity.purchase_source == "orders"
    return base


def _raw_sample() -> se.ContactBase:
    raw = make_raw(generate_base(3_000, seed=5), seed=5)
    base = se.read_base(raw["contacts"], raw["events"], raw["orders"])
    assert len(base.report.merges) > 0  # the messy export really was cleaned
    return base


def _float_weights() -> tuple[se.ContactBase, FeatureConfig]:
    """Weights whose float sums are not their decimal sums: 0.1 + 0.2 > 0.3 in float64."""
    contacts = pd.DataFrame({"contact_id": [1], "email": ["a@x.fr"]})
    events = pd.DataFrame({
        "contact_id": [1, 1, 1], "event_type": ["visit", "add_to_cart", "purchase"],
        "timestamp": pd.to_datetime(["2026-02-01", "2026-02-02", "2026-02-03"]),
        "brand": ["Nike", "Nike", "Adidas"], "amount": [None, None, 30.0]})
    config = FeatureConfig(affinity_weights={"visit": 0.1, "add_to_cart": 0.2,
                                             "purchase": 0.3})
    return se.ContactBase(contacts, events, as_of="2026-03-01"), config


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_weights_add_up_as_floats_as_in_numpy(request, engine):
    # Without the doubles, PostgreSQL and Spark add 0.1 + 0.2 exactly: a tie with 0.3 that
    # the smaller brand, Adidas, wins.
    base, config = _float_weights()
    expected = compute_features(base.contacts, base.activity, base.as_of, config=config)
    assert expected["preferred_brand"].tolist() == ["Nike"]
    run = on_postgres if engine == "postgres" else on_spark
    got = run(request.getfixturevalue(engine), base, prefix="w_", config=config)
    assert got["preferred_brand"].tolist() == ["Nike"]


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_a_tie_goes_to_the_first_value_in_code_point_order(request, engine):
    # "Nike" < "adidas" by code points (pandas, DuckDB); an en-US collation sorts the other
    # way, as PostgreSQL would without COLLATE "C".
    contacts = pd.DataFrame({"contact_id": [1], "email": ["a@x.fr"]})
    events = pd.DataFrame({"contact_id": [1, 1], "event_type": ["visit", "visit"],
                           "timestamp": pd.to_datetime(["2026-02-01", "2026-02-02"]),
                           "brand": ["adidas", "Nike"]})
    base = se.ContactBase(contacts, events, as_of="2026-03-01")
    assert base.features["preferred_brand"].tolist() == ["Nike"]
    run = on_postgres if engine == "postgres" else on_spark
    got = run(request.getfixturevalue(engine), base, prefix="c_")
    assert got["preferred_brand"].tolist() == ["Nike"]


# --- PostgreSQL ------------------------------------------------------------------------------

def test_postgres_every_feature_on_the_sample(postgres, sample):
    assert_same_values(sample.features, on_postgres(postgres, sample))


def test_postgres_every_feature_on_the_sample_on_an_earlier_date(postgres, sample):
    earlier = sample.at("2026-06-30 12:00")
    assert_same_values(earlier.features, on_postgres(postgres, earlier))


def test_postgres_every_feature_when_purchases_come_from_the_orders(postgres, sample):
    base = _from_orders(sample)
    assert_same_values(base.features, on_postgres(postgres, base))


def test_postgres_every_feature_on_the_tiny_base(postgres, tiny_base):
    assert_same_values(tiny_base.features, on_postgres(postgres, tiny_base))


def test_postgres_every_feature_on_the_raw_sample_after_cleaning(postgres):
    base = _raw_sample()
    assert_same_values(base.features, on_postgres(postgres, base))


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(base=bases(resolution=pd.Timedelta(1, "us")))
def test_postgres_every_feature_on_generated_bases_on_the_window_edges(postgres, base):
    assert_same_values(base.features, on_postgres(postgres, base, prefix="g_"))


# --- Spark -----------------------------------------------------------------------------------

def test_spark_every_feature_on_the_sample(spark, sample):
    assert_same_values(sample.features, on_spark(spark, sample))


def test_spark_every_feature_when_purchases_come_from_the_orders(spark, sample):
    base = _from_orders(sample)
    assert_same_values(base.features, on_spark(spark, base, prefix="o_"))


def test_spark_every_feature_on_the_tiny_base(spark, tiny_base):
    assert_same_values(tiny_base.features, on_spark(spark, tiny_base, prefix="t_"))
