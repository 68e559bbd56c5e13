"""``explain`` on a base held in an engine (a DuckDB base; a connected base on PostgreSQL 15,
Spark and a DuckDB connection) is the pandas engine's explain of the same tables: the same
rows, values, thresholds, windows, counts and results, node by node, for members and
non-members, rules of every kind (fields, dates, ``top N%``, event conditions with filters,
``not followed by``, ``last(...)``, saved segments), and the same errors."""

from __future__ import annotations

import pandas as pd
import pytest
import servers
from test_server_stats import _connected, pandas_base  # noqa: F401 (a fixture)

import segexplore as se
from segexplore.errors import NotFoundError

postgres_server, postgres, spark = servers.postgres_server, servers.postgres, servers.spark

RULES = (
    'country = "FR" and count(purchase, last 365 days) >= 1',
    'city = "Liège" or age >= 60',
    'revenue_365d in top 10% and not rfm_group = "champions"',
    'count(purchase where brand = "Nike", last 365 days) >= 1 or signup_date within '
    'last 730 days',
    "performed(add_to_cart not followed by purchase within 24 hours, last 90 days)",
    "last(purchase) more than 30 days ago or avg(purchase.amount, last 365 days) > 80",
    'segment("Android") and city = "Lyon"',
)


def _contacts(base: se.ContactBase, rule: str) -> list:
    """A member and a non-member of ``rule`` (by email), and one by contact_id."""
    mask = base.segment(rule, save=False).mask.to_numpy()
    contacts = base.contacts
    out = []
    if mask.any():
        out.append(contacts["email"][mask].iloc[len(contacts[mask]) // 2])
    if (~mask).any():
        out.append(int(contacts["contact_id"][~mask].iloc[7]))
    return out


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs == want.attrs


@pytest.mark.parametrize("engine", ["duckdb", "postgres", "spark"])
def test_explain_on_a_connected_base_is_the_pandas_explain(request, engine, pandas_base):
    pandas_base.segment('device = "Android"', name="Android")
    with _connected(engine, pandas_base, request) as connected:
        connected.segment('device = "Android"', name="Android")
        checked = 0
        for rule in RULES:
            for contact in _contacts(pandas_base, rule):
                want = pandas_base.segment(rule, save=False).explain(contact)
                _same(connected.segment(rule, save=False).explain(contact), want)
                checked += len(want)
        assert checked > 40
        with pytest.raises(NotFoundError, match="no contact with email 'nobody@x.fr'"):
            connected.segment('city = "Lyon"').explain("nobody@x.fr")


def test_explain_on_a_duckdb_base_is_the_pandas_explain():
    """A reported gap: explain read ``base.contacts``, which a DuckDB base does not hold."""
    folder = se.sample_path()
    duck = se.read_base(*(folder / f"{t}.parquet" for t in ("contacts", "events", "orders")),
                        engine="duckdb")
    sample = se.load_sample(clean=False)
    for base in (duck, sample):
        base.segment('device = "Android"', name="Android")
    for rule in RULES:
        for contact in _contacts(sample, rule):
            _same(duck.segment(rule, save=False).explain(contact),
                  sample.segment(rule, save=False).explain(contact))
