"""Hypothesis: any rule gives exactly the same members in pandas and in DuckDB."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_strategies import AGGREGATES, DATE_CONDITIONS, HAS, RULES, _text_condition

import segexplore as se
from segexplore.rules.engines.sql import run_duckdb


@pytest.fixture(scope="module")
def base():
    from tiny_base import NOW, contacts_frame, events_frame

    base = se.read_base(contacts_frame(), events_frame(), now=NOW)
    base.segment('loyalty_tier in ("gold", "silver")', name="Clients groupe A")
    return base


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES)
def test_pandas_and_duckdb_agree(base, rule):
    pandas_mask = base.evaluator().mask(rule)
    duckdb_mask = run_duckdb(rule, base)
    assert (pandas_mask == duckdb_mask).all(), str(rule)


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=st.one_of(AGGREGATES, _text_condition(), HAS, DATE_CONDITIONS))
def test_pandas_and_duckdb_agree_on_the_sample(sample, rule):
    pandas_mask = sample.evaluator().mask(rule)
    assert (pandas_mask == run_duckdb(rule, sample)).all(), str(rule)
