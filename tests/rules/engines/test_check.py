"""One checker for every engine: ``rules.check`` reads a base's schema, never its rows.

The DuckDB, PostgreSQL and Spark engines to come hold tables that are not pandas frames;
they check a rule with :func:`check_rule` on a schema of their own. Here that schema is
plain dictionaries written from the base's column kinds (what a DuckDB ``DESCRIBE`` gives),
and every error must read exactly as the pandas and SQL engines raise it on the base.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest

import segexplore as se
from segexplore.errors import RuleEvaluationError
from segexplore.features.registry import FEATURES
from segexplore.model.roles import value_kind
from segexplore.rules.check import BaseSchema, check_rule
from segexplore.rules.engines.sql import compile_rule


class TableSchema:
    """A schema from column kinds alone: no DataFrame, no activity index, no features."""

    def __init__(self, as_of, segments, contacts: dict[str, str], features: dict[str, str],
                 properties: dict[str, dict[str, str]]) -> None:
        self.as_of, self.segments = as_of, segments
        self._contacts, self._features, self._properties = contacts, features, properties

    @property
    def contact_columns(self) -> Sequence[str]:
        return list(self._contacts)

    def contact_kind(self, name: str) -> str:
        return self._contacts[name]

    def feature_kind(self, name: str) -> str:
        return self._features[name]

    @property
    def event_types(self) -> Sequence[str]:
        return sorted(self._properties)

    def property_names(self, event_type: str) -> Sequence[str]:
        return list(self._properties.get(event_type, {}))

    def property_kind(self, event_type: str, name: str) -> str:
        return self._properties[event_type][name]


def _kinds(frame: pd.DataFrame) -> dict[str, str]:
    return {str(c): value_kind(t) for c, t in frame.dtypes.items()}


@pytest.fixture(scope="module")
def sample() -> se.ContactBase:
    base = se.load_sample()
    base.segment('city = "Lyon"', name="Lyon")
    return base


@pytest.fixture(scope="module")
def table_schema(sample) -> TableSchema:
    activity = sample.activity
    properties = {t: {p: value_kind(activity.property(t, p).dtype)
                      for p in activity.property_names(t)} for t in activity.event_types}
    features = _kinds(sample.features)
    assert set(features) <= set(FEATURES)
    return TableSchema(sample.as_of, sample.segments, _kinds(sample.contacts), features,
                       properties)


BAD_RULES = [
    'citty = "Lyon"',                                     # unknown field, did you mean
    'city = "Lyon" and ag > 30',                          # its position in the text
    "engagment_score > 10",                               # a misspelt feature
    "count(purchse, last 30 days) >= 1",                  # unknown event type
    'count(purchase where brnd = "Nike") >= 1',           # unknown property
    "sum(purchase.brand) > 1",                            # aggregate of a text property
    'city = 3.5',                                         # type mismatch
    'signup_date = "yesterday"',
    'engagement_score contains "a"',
    "city in top 10%",
    'count(purchase where amount = "big") >= 1',          # type mismatch in a where-filter
    'segment("Lyonn")',                                   # unknown saved segment
    "performed(add_to_cart not followed by purchase within 2 months)",
    "performed(add_to_cart not followed by purchase within 110000 days)",
    'city = "Lyon" and (segment("Lyon") or citty = "x")',
]


def _message(call) -> str:
    with pytest.raises(RuleEvaluationError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize("text", BAD_RULES)
def test_a_schema_of_column_kinds_gives_the_engines_own_errors(sample, table_schema, text):
    from_schema = _message(lambda: check_rule(text, table_schema))
    assert from_schema == _message(lambda: sample.count(text))
    assert from_schema == _message(lambda: compile_rule(text, sample))
    assert from_schema == _message(lambda: check_rule(text, BaseSchema(sample)))


@pytest.mark.parametrize("text", [
    'city = "Lyon" and engagement_score > 10 and segment("Lyon")',
    'count(purchase where brand = "Nike" and amount > 20, last 90 days) >= 1',
    "avg(purchase.amount) > 30 and last(visit) within last 7 days",
    "performed(add_to_cart not followed by purchase within 24 hours, last 30 days)",
])
def test_valid_rules_pass_on_column_kinds(table_schema, text):
    check_rule(text, table_schema)


def test_a_cycle_of_saved_segments_is_found_from_the_schema(table_schema):
    segments = {"A": se.parse('segment("B")'), "B": se.parse('segment("A")')}
    schema = TableSchema(table_schema.as_of, segments, table_schema._contacts,
                         table_schema._features, table_schema._properties)
    with pytest.raises(RuleEvaluationError, match="cycle: A -> B -> A"):
        check_rule('segment("A")', schema)


def test_checking_reads_no_rows():
    class Rowless(TableSchema):
        def __getattr__(self, name):  # anything beyond the Schema protocol
            raise AssertionError(f"the checker asked for {name!r}")

    schema = Rowless(pd.Timestamp("2026-10-31"), {}, {"city": "category", "age": "number"},
                     {}, {"purchase": {"amount": "number", "brand": "category"}})
    check_rule('city = "Lyon" and age > 3 and sum(purchase.amount, last 30 days) > 10',
               schema)
    with pytest.raises(RuleEvaluationError, match="holds a number"):
        check_rule('age = "old"', schema)


def test_the_pandas_engine_checks_with_the_same_checker(sample, monkeypatch):
    import segexplore.rules.engines.pandas as pandas_engine

    calls = []
    real = pandas_engine.check_rule
    monkeypatch.setattr(pandas_engine, "check_rule",
                        lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    evaluator = pandas_engine.Evaluator(sample)
    evaluator.check('city = "Lyon"')
    evaluator.array(se.parse("engagement_score > 10"))
    assert [str(rule) for rule in calls] == ['city = "Lyon"', "engagement_score > 10"]
