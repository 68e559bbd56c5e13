"""Rules compiled to PostgreSQL SQL, run on a real PostgreSQL 15 server (tests/servers.py),
select exactly the pandas engine's members: the hand-computed cases, the generated rules of
the DuckDB tests, and rules on the sample's features."""

from __future__ import annotations

import pytest
import servers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_cases import CASES
from rule_strategies import AGGREGATES, DATE_CONDITIONS, HAS, RULES, _text_condition
from servers import load_postgres, sql_tables
from sql_parity import FEATURE_RULES, check_rules, compiled, pandas_members, tiny_base

import segexplore as se

# The server's fixtures (session-scoped): the cluster and a connection to it.
postgres_server, postgres = servers.postgres_server, servers.postgres
DIALECT = "postgres"


@pytest.fixture(scope="module")
def tiny(postgres):
    base = tiny_base()
    return base, load_postgres(postgres, sql_tables(base), prefix="tiny_")


@pytest.fixture(scope="module")
def sample(postgres):
    base = se.load_sample()
    return base, load_postgres(postgres, sql_tables(base), prefix="sample_")


def _fetch(postgres):
    return lambda sql: postgres.execute(sql).fetchall()


@pytest.mark.parametrize("text, expected", CASES)
def test_hand_computed_cases(postgres, tiny, text, expected):
    base, tables = tiny
    rows = postgres.execute(compiled(text, base, DIALECT, tables)).fetchall()
    assert sorted(r[0] for r in rows) == sorted(expected) == pandas_members(base, se.parse(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES)
def test_generated_rules_on_the_tiny_base(postgres, tiny, rule):
    base, tables = tiny
    check_rules([rule], base, DIALECT, tables, _fetch(postgres))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=st.one_of(AGGREGATES, _text_condition(), HAS, DATE_CONDITIONS))
def test_generated_rules_on_the_sample(postgres, sample, rule):
    base, tables = sample
    check_rules([rule], base, DIALECT, tables, _fetch(postgres))


@pytest.mark.parametrize("text", FEATURE_RULES)
def test_feature_rules_on_the_sample(postgres, sample, text):
    base, tables = sample
    check_rules([se.parse(text)], base, DIALECT, tables, _fetch(postgres))
