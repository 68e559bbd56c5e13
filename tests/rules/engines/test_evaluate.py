"""Rule evaluation against memberships worked out by hand, in pandas and in DuckDB.

The tests taking ``tiny_engine_base`` run on both engines (tests/conftest.py): the pandas
base and the same tables opened with ``engine="duckdb"``; ``run_duckdb`` is the SQL
engine over a pandas base's frames."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import member_ids
from rule_cases import CASES, SEGMENT_A
from tiny_base import AS_OF

import segexplore as se
from segexplore.rules.engines.sql import compile_rule, run_duckdb


def _with_segment(base):
    rule, name = SEGMENT_A
    base.segment(rule, name=name)
    return base


@pytest.fixture
def base_with_segment(tiny_base):
    return _with_segment(tiny_base)


@pytest.fixture
def engine_base_with_segment(tiny_engine_base):
    return _with_segment(tiny_engine_base)


def _members(base: se.ContactBase, mask: pd.Series) -> set[int]:
    return member_ids(base, mask)


@pytest.mark.parametrize("text, expected", CASES)
def test_membership_matches_hand_computed(engine_base_with_segment, text, expected):
    base_with_segment = engine_base_with_segment
    assert base_with_segment.as_of == AS_OF
    segment = base_with_segment.segment(text)
    assert _members(base_with_segment, segment.mask) == expected
    assert segment.size == len(expected)


@pytest.mark.parametrize("text, expected", CASES)
def test_duckdb_membership_matches_hand_computed(base_with_segment, text, expected):
    mask = run_duckdb(text, base_with_segment)
    assert _members(base_with_segment, mask) == expected


@pytest.mark.parametrize("dialect", ["postgres", "bigquery", "snowflake", "spark"])
def test_every_example_compiles_for_other_dialects(engine_base_with_segment, dialect):
    base_with_segment = engine_base_with_segment
    for text, _ in CASES:
        sql = compile_rule(text, base_with_segment, dialect=dialect)
        assert sql.startswith(("SELECT", "WITH"))


def test_leap_day_birthdays_are_celebrated_on_feb_28(tiny_engine_base):
    tiny_base = tiny_engine_base.at("2027-02-27")  # 2027 is not a leap year
    assert _members(tiny_base, tiny_base.segment("birth_date anniversary within next 2 days").mask) == {6}


def test_leap_day_birthdays_in_sql_over_pandas_frames(tiny_base):
    tiny_base = tiny_base.at("2027-02-27")
    assert _members(tiny_base, run_duckdb("birth_date anniversary within next 2 days", tiny_base)) == {6}


def test_moving_as_of_back_ignores_later_events(tiny_engine_base):
    tiny_base = tiny_engine_base.at("2026-10-15")
    rule = "count(purchase, last 30 days) >= 1"
    # Window (2026-09-15, 2026-10-15]: contact 1 (10-10) and contact 4 (10-02, 10-12).
    assert _members(tiny_base, tiny_base.segment(rule).mask) == {1, 4}


def test_moving_as_of_back_in_sql_over_pandas_frames(tiny_base):
    tiny_base = tiny_base.at("2026-10-15")
    rule = "count(purchase, last 30 days) >= 1"
    assert _members(tiny_base, run_duckdb(rule, tiny_base)) == {1, 4}


def test_parent_segment_narrows_down(tiny_engine_base):
    tiny_base = tiny_engine_base
    android = tiny_base.segment('device = "Android"', name="Android")
    paris = tiny_base.segment('city = "Paris"', name="Paris Android", parent=android)
    assert _members(tiny_base, paris.mask) == {3, 4}
    assert str(paris.effective_rule) == 'device = "Android" and city = "Paris"'
    by_name = tiny_base.segment('language = "en"', parent="Android")
    assert _members(tiny_base, by_name.mask) == {4}


def test_segments_never_delete_contacts(tiny_base):
    before = len(tiny_base.contacts)
    tiny_base.segment('city = "Lyon"', name="Lyon")
    del tiny_base.segments["Lyon"]
    assert len(tiny_base.contacts) == before


def test_members_hold_contact_columns_and_used_features(tiny_engine_base):
    tiny_base = tiny_engine_base
    members = tiny_base.segment("last_purchase_date more than 365 days ago").members()
    assert members["contact_id"].tolist() == [5]
    assert "last_purchase_date" in members.columns
    assert members["city"].tolist() == ["Gent"]


def test_unknown_field_names_position_and_closest(tiny_engine_base):
    tiny_base = tiny_engine_base
    with pytest.raises(se.RuleEvaluationError) as info:
        tiny_base.segment('device = "iOS" and citty = "Lyon"').mask
    message = str(info.value)
    assert "'citty'" in message and "position 19" in message and "did you mean 'city'" in message


def test_type_mismatch_is_explained(tiny_engine_base):
    tiny_base = tiny_engine_base
    with pytest.raises(se.RuleEvaluationError, match="type mismatch: signup_date holds a date"):
        tiny_base.segment('signup_date > "abc"').mask


def test_unknown_segment_and_cycles(tiny_engine_base):
    tiny_base = tiny_engine_base
    with pytest.raises(se.RuleEvaluationError, match="unknown segment 'Nope'"):
        tiny_base.segment('segment("Nope")').mask
    tiny_base.segment('segment("B")', name="A", save=True)
    tiny_base.segment('segment("A")', name="B", save=True)
    with pytest.raises(se.RuleEvaluationError, match="cycle"):
        tiny_base.segment('segment("A")').mask


def test_event_aggregates_are_cached_between_rules(tiny_base):
    evaluator = tiny_base.evaluator()
    tiny_base.segment('count(purchase where brand = "Nike", last 60 days) >= 2 and city = "Lyon"').mask
    cached = dict(evaluator._aggregates)
    assert len(cached) == 1
    tiny_base.segment('count(purchase where brand = "Nike", last 60 days) >= 2 and city = "Paris"').mask
    assert evaluator._aggregates.keys() == cached.keys()


def test_sql_uses_literals_not_pasted_text(tiny_base):
    sneaky = "x' OR '1'='1"
    rule = se.rules.nodes.Compare("city", "=", sneaky)
    sql = compile_rule(rule, tiny_base)
    assert "'x'' OR ''1''=''1'" in sql
    assert _members(tiny_base, run_duckdb(rule, tiny_base)) == set()
