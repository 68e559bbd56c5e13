"""``se.connect``: a base whose tables stay in PostgreSQL 15, Spark or a DuckDB connection
(tests/servers.py starts the servers) gives the pandas engine's segments, features and
value counts, writes nothing to the user's tables, and never shows a password."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import servers
from feature_parity import SUMS, assert_same_values
from rule_cases import CASES, SEGMENT_A
from servers import connected_base, load_postgres
from sql_parity import FEATURE_RULES, pandas_members, tiny_base

import segexplore as se
from segexplore.errors import SchemaError, SegexploreError

postgres_server, postgres, spark = servers.postgres_server, servers.postgres, servers.spark


def _tables(base: se.ContactBase) -> dict[str, pd.DataFrame]:
    tables = {"contacts": base.contacts, "events": base.events}
    if base.orders is not None:
        tables["orders"] = base.orders
    return tables


def _connected(engine: str, base: se.ContactBase, request, prefix: str) -> se.ServerBase:
    """``base``'s tables loaded into ``engine`` and opened there with se.connect."""
    return connected_base(request, engine, _tables(base), prefix=prefix, as_of=base.as_of)


ENGINES = ["postgres", "spark", "duckdb"]


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_hand_computed_cases(request, engine):
    base = tiny_base()
    with _connected(engine, base, request, prefix="cn_") as connected:
        rule, name = SEGMENT_A
        connected.segment(rule, name=name)
        for text, expected in CASES:
            members = connected.segment(text).members(["contact_id"])["contact_id"]
            assert sorted(members) == sorted(expected) == pandas_members(base, se.parse(text)), text
        sizes = {text: connected.segment(text).size for text, _ in CASES[:8]}
        assert sizes == {text: len(expected) for text, expected in CASES[:8]}


@pytest.mark.parametrize("engine", ENGINES)
def test_sizes_of_rules_on_the_features(request, engine, sample):
    with _connected(engine, sample, request, prefix="cs_") as connected:
        got = {text: connected.segment(text).size for text in FEATURE_RULES}
        share = connected.segment(FEATURE_RULES[0]).share
    expected = {text: sample.segment(text).size for text in FEATURE_RULES}
    assert got == expected
    assert share == sample.segment(FEATURE_RULES[0]).share


@pytest.mark.parametrize("engine", ["postgres", "duckdb"])
def test_features_members_and_value_counts(request, engine, sample):
    rule = 'city = "Lyon" and purchases_365d >= 1'
    mask = sample.segment(rule).mask
    columns = ["contact_id", "email", "city", "rfm_group", "revenue_total", "last_purchase_date"]
    with _connected(engine, sample, request, prefix="cf_") as connected:
        assert_same_values(sample.features, connected.features)
        counts = connected.value_counts("rfm_group", rule)
        cities = connected.value_counts("city")
        members = connected.segment(rule).members(columns)
        batches = list(connected.member_batches(rule, columns, size=100))
    expected = sample.features["rfm_group"][mask].astype(object).value_counts()
    assert counts.to_dict() == expected.to_dict()
    assert cities.to_dict() == sample.contacts["city"].astype(object).value_counts().to_dict()
    assert list(cities.index) == sorted(cities.index)
    want = pd.concat([sample.contacts[mask], sample.features[mask]], axis=1)[columns]
    want = want.sort_values("contact_id").reset_index(drop=True)
    assert members["contact_id"].tolist() == want["contact_id"].tolist()
    for column in columns:
        if column in SUMS:  # added in the engine's order: the last bit may move
            np.testing.assert_allclose(members[column].to_numpy(float),
                                       want[column].to_numpy(float), rtol=1e-12)
            continue
        assert (members[column].astype(object).tolist()
                == want[column].astype(object).tolist()), column
    # streamed a batch of 100 at a time: every member once, in order
    assert [len(b) for b in batches] == [100] * (len(want) // 100) + (
        [len(want) % 100] if len(want) % 100 else [])
    assert pd.concat(batches)["contact_id"].tolist() == want["contact_id"].tolist()


# --- read-only, credentials -----------------------------------------------------------------

def _user_objects(connection) -> list[tuple]:
    return connection.execute(
        "SELECT table_schema, table_name, table_type FROM information_schema.tables "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
        "AND table_schema NOT LIKE 'pg_temp%' ORDER BY 1, 2").fetchall()


def _digest(connection, table: str) -> str:
    (digest,), = connection.execute(
        f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} AS t").fetchall()
    return digest


def test_a_read_only_role_segments_and_nothing_is_written(postgres, postgres_server, sample):
    names = load_postgres(postgres, _tables(sample), prefix="ro_")
    postgres.execute("DROP ROLE IF EXISTS analyst")
    postgres.execute("CREATE ROLE analyst LOGIN PASSWORD 's3cret'")
    for table in names.values():
        postgres.execute(f"GRANT SELECT ON {table} TO analyst")
    before = _user_objects(postgres), {t: _digest(postgres, t) for t in names.values()}
    url = (f"postgresql://analyst:s3cret@{postgres_server.host}:{postgres_server.port}/"
           f"{postgres_server.dbname}")
    # The role may read the tables and make temporary ones, nothing else: PostgreSQL 15
    # lets no one but the owner create in the public schema.
    with pytest.raises(Exception, match="permission denied"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as probe:
            probe.execute("CREATE TABLE public.probe (x int)")
    with se.connect(url, names["contacts"], names["events"], names["orders"],
                    as_of=sample.as_of) as connected:
        assert "s3cret" not in repr(connected) and "analyst:***@" in repr(connected)
        assert connected.segment("revenue_total in top 10%").size == \
            sample.segment("revenue_total in top 10%").size
        made = postgres.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                                "'segexplore_%'").fetchall()[0][0]
        assert made == 2  # the contacts' positions and the features, temporary
    after = _user_objects(postgres), {t: _digest(postgres, t) for t in names.values()}
    assert after == before
    left = postgres.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE "
                            "'segexplore_%'").fetchall()[0][0]
    assert left == 0


def test_a_scratch_schema_holds_the_work_and_is_emptied(postgres, sample):
    names = load_postgres(postgres, _tables(sample), prefix="sc_")
    postgres.execute("CREATE SCHEMA IF NOT EXISTS segexplore_scratch")
    with se.connect(postgres, names["contacts"], names["events"], names["orders"],
                    scratch="segexplore_scratch", as_of=sample.as_of) as connected:
        assert connected.segment("cart_abandoner = true").size == \
            sample.segment("cart_abandoner = true").size
        held = postgres.execute("SELECT count(*) FROM pg_tables WHERE schemaname = "
                                "'segexplore_scratch'").fetchall()[0][0]
        assert held == 2
    assert postgres.execute("SELECT count(*) FROM pg_tables WHERE schemaname = "
                            "'segexplore_scratch'").fetchall()[0][0] == 0
    assert not postgres.closed  # the caller's connection stays theirs


def test_a_failed_connection_names_the_url_without_its_password(postgres_server):
    url = f"postgresql://ana:s3cret@127.0.0.1:{postgres_server.port + 1}/crm"
    with pytest.raises(SegexploreError) as caught:
        se.connect(url)
    assert "s3cret" not in str(caught.value)
    assert "postgresql://ana:***@127.0.0.1" in str(caught.value)
    assert se.engines.server.masked_source("host=h password='a b' user=u") == \
        "host=h password=*** user=u"


def test_repeated_ids_and_missing_columns_are_refused(postgres):
    contacts = pd.DataFrame({"contact_id": [1, 2, 2], "email": ["a@x.fr", "b@x.fr", "c@x.fr"]})
    events = pd.DataFrame({"contact_id": [1], "timestamp": pd.to_datetime(["2026-01-01"]),
                           "event_type": ["open"]})
    names = load_postgres(postgres, {"contacts": contacts, "events": events}, prefix="bad_")
    with pytest.raises(SchemaError, match=r"bad_contacts.*not unique \(1 rows repeat an id\)"):
        se.connect(postgres, names["contacts"], names["events"], orders=None)
    names = load_postgres(postgres, {"events": events.drop(columns="event_type")},
                          prefix="bad_")
    with pytest.raises(SchemaError, match=r"events table .*bad_events.* no column 'event_type'"):
        se.connect(postgres, "bad_contacts", names["events"], orders=None)
    assert np.array_equal(postgres.execute("SELECT count(*) FROM bad_contacts").fetchall(),
                          [(3,)])
