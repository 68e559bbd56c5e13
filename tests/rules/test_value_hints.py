"""Issue 10: a rule value that matches nobody but looks like an existing one is flagged."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import segexplore as se
from segexplore.errors import RuleValueWarning, SegexploreWarning
from segexplore.rules.hints import value_hints


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


def test_missing_accent_is_flagged_with_the_existing_spelling(sample):
    assert sample.count('region = "Ile-de-France"') == 0
    assert value_hints('region = "Ile-de-France"', sample) == [
        'region = "Ile-de-France" matches no contact; did you mean "Île-de-France"?']


def test_values_that_match_someone_get_no_hint(sample):
    assert value_hints('region = "Île-de-France" and city in ("Lyon", "Paris")', sample) == []
    assert value_hints('city contains "lyon"', sample) == []  # contains ignores case
    assert value_hints("count(purchase, last 30 days) >= 1", sample) == []


def test_values_with_nothing_close_get_no_hint(sample):
    assert value_hints('city = "Tokyo"', sample) == []


@pytest.mark.parametrize("text, message", [
    ('city = "lyon"', 'city = "lyon" matches no contact; did you mean "Lyon"?'),
    ('city = "Lyonn"', 'city = "Lyonn" matches no contact; did you mean "Lyon"?'),
    ('city = "saint etienne"',
     'city = "saint etienne" matches no contact; did you mean "Saint-Étienne"?'),
    ('city in ("Lyon", "Parsi")', 'city in (...): "Parsi" matches no contact; did you mean '
                                  '"Paris"?'),
    ('city != "Lyonn"', 'city != "Lyonn" excludes no contact: no contact has "Lyonn"; '
                        'did you mean "Lyon"?'),
    ('region contains "ile-de"', 'region contains "ile-de" matches no contact; did you mean '
                                 '"Île-de-France"?'),
    ('interests has "sprot"', 'interests has "sprot" matches no contact; did you mean "sport"?'),
    ('rfm_group = "champion"',
     'rfm_group = "champion" matches no contact; did you mean "champions"?'),
    ('count(purchase where brand = "nike", last 90 days) >= 1',
     'purchase where brand = "nike" matches no event; did you mean "Nike"?'),
])
def test_case_accent_and_typo_hints(sample, text, message):
    assert message in value_hints(text, sample)


def test_hints_accept_a_rule_object_and_skip_unknown_fields(sample):
    rule = se.parse('citty = "Lyon" or region = "Ile-de-France"')
    assert value_hints(rule, sample) == [
        'region = "Ile-de-France" matches no contact; did you mean "Île-de-France"?']


def test_hints_on_a_million_contacts_with_categories(sample):
    # Their speed is timed in benchmarks/bench_rule_limits.py.
    contacts = pd.concat([sample.contacts] * 50, ignore_index=True)
    contacts["contact_id"] = range(len(contacts))
    for column in ("city", "region"):  # concat keeps the categories
        assert isinstance(contacts[column].dtype, pd.CategoricalDtype)
    big = se.ContactBase(contacts, roles=sample.roles, as_of=sample.as_of)
    hints = value_hints('region = "Ile-de-France" and city = "lyon"', big)
    assert hints == value_hints('region = "Ile-de-France" and city = "lyon"', sample)
    assert len(hints) == 2


def test_creating_a_segment_warns_once_with_the_hint(sample):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        segment = sample.segment('region = "Ile-de-France"')
        segment.size, segment.mask  # noqa: B018 - using it does not warn again
    hints = [w for w in caught if issubclass(w.category, RuleValueWarning)]
    assert len(hints) == 1
    assert 'did you mean "Île-de-France"?' in str(hints[0].message)
    assert issubclass(RuleValueWarning, SegexploreWarning)
    assert issubclass(RuleValueWarning, UserWarning)
    assert hints[0].filename == __file__  # points at the caller, not at segexplore


def test_a_correct_segment_does_not_warn(sample):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuleValueWarning)
        sample.segment('region = "Île-de-France"')


def test_hints_never_break_on_odd_columns(tiny_base):
    contacts = tiny_base.contacts.copy()
    contacts["tags"] = pd.Series([["a"], {"b": 1}, None, ["c"], None, None, None],
                                 dtype=object)
    tiny_base = se.ContactBase(contacts, tiny_base.events, as_of=tiny_base.as_of)
    assert value_hints('tags = "a"', tiny_base) == []
    assert value_hints('city = "lyon"', tiny_base) == [
        'city = "lyon" matches no contact; did you mean "Lyon"?']
