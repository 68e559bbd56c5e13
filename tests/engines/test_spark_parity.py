"""Rules compiled to Spark SQL, run on a real local Spark session (tests/servers.py), select
exactly the pandas engine's members: the hand-computed cases, the generated rules of the
DuckDB tests, and rules on the sample's features.

A Spark query costs a job (planning, scheduling, code generation) whatever its size, so the
rules run several per query (``batch_query``): the hand-computed cases and the feature rules
in one query each, split per rule; the generated rules as lists, one query per list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import servers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_cases import CASES
from rule_strategies import AGGREGATES, DATE_CONDITIONS, HAS, RULES, _text_condition
from servers import load_spark, sql_tables
from sql_parity import (
    FEATURE_RULES,
    batch_query,
    check_rules,
    compiled,
    pandas_members,
    tiny_base,
)

import segexplore as se

# The session fixture (session-scoped): a local[2] SparkSession, time zone UTC.
spark = servers.spark
DIALECT = "spark"

#: Rules per query and queries per test: 300 generated rules on the tiny base and 60 on
#: the sample, as on PostgreSQL.
TINY_BATCH, TINY_EXAMPLES = 10, 30
SAMPLE_BATCH, SAMPLE_EXAMPLES = 5, 12


@pytest.fixture(scope="module", autouse=True)
def _plain_plans(spark) -> Iterator[None]:
    """Adaptive execution off while this module runs: on these small tables re-planning
    each stage costs more than it saves (a batch of 30 rules on the tiny base: 13 s with
    it, 8 s without). Planning only: the rows are the same. Restored for other modules."""
    key = "spark.sql.adaptive.enabled"
    before = spark.conf.get(key)
    spark.conf.set(key, "false")
    yield
    spark.conf.set(key, before)


@pytest.fixture(scope="module")
def tiny(spark):
    base = tiny_base()
    return base, load_spark(spark, sql_tables(base), prefix="tiny_")


@pytest.fixture(scope="module")
def sample(spark):
    base = se.load_sample()
    return base, load_spark(spark, sql_tables(base), prefix="sample_")


def _fetch(spark) -> Callable[[str], list[tuple]]:
    return lambda sql: [tuple(row) for row in spark.sql(sql).collect()]


def _members_by_rule(spark, rules: Sequence[Any], base: se.ContactBase,
                     tables: dict[str, str]) -> list[list]:
    """Each rule's members' ids as Spark selects them (sorted, repeats kept), all the
    rules in one query."""
    found: list[list] = [[] for _ in rules]
    query = batch_query([compiled(rule, base, DIALECT, tables) for rule in rules])
    for k, contact_id in _fetch(spark)(query):
        found[k].append(contact_id)
    return [sorted(ids) for ids in found]


@pytest.fixture(scope="module")
def case_members(spark, tiny) -> list[list]:
    """The hand-computed cases' members on Spark, one query for the 33."""
    base, tables = tiny
    return _members_by_rule(spark, [text for text, _ in CASES], base, tables)


@pytest.fixture(scope="module")
def feature_members(spark, sample) -> list[list]:
    """The feature rules' members on Spark, one query for all of them."""
    base, tables = sample
    return _members_by_rule(spark, FEATURE_RULES, base, tables)


@pytest.mark.parametrize("k", range(len(CASES)), ids=[text for text, _ in CASES])
def test_hand_computed_cases(case_members, tiny, k):
    base, _ = tiny
    text, expected = CASES[k]
    assert case_members[k] == sorted(expected) == pandas_members(base, se.parse(text))


@settings(max_examples=TINY_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rules=st.lists(RULES, min_size=TINY_BATCH, max_size=TINY_BATCH))
def test_generated_rules_on_the_tiny_base(spark, tiny, rules):
    base, tables = tiny
    check_rules(rules, base, DIALECT, tables, _fetch(spark))


@settings(max_examples=SAMPLE_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rules=st.lists(st.one_of(AGGREGATES, _text_condition(), HAS, DATE_CONDITIONS),
                      min_size=SAMPLE_BATCH, max_size=SAMPLE_BATCH))
def test_generated_rules_on_the_sample(spark, sample, rules):
    base, tables = sample
    check_rules(rules, base, DIALECT, tables, _fetch(spark))


@pytest.mark.parametrize("k", range(len(FEATURE_RULES)), ids=FEATURE_RULES)
def test_feature_rules_on_the_sample(feature_members, sample, k):
    base, _ = sample
    assert feature_members[k] == pandas_members(base, se.parse(FEATURE_RULES[k]))
