"""Property tests: every rule survives text, dict, JSON and YAML round trips exactly.

The strategies generate arbitrary trees of every node kind, with awkward field names
(keywords, unicode, spaces, backticks), strings with quotes/backslashes/newlines, negative
numbers, floats with exponents, dates and datetimes.
"""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segexplore.errors import RuleSyntaxError
from segexplore.rules.events import (
    DateRangeWindow,
    EventAggregate,
    EventSpec,
    LastPerformed,
    LastWindow,
    NotFollowedBy,
)
from segexplore.rules.nodes import (
    And,
    Anniversary,
    Between,
    Compare,
    DateCompare,
    Duration,
    Has,
    InList,
    IsMissing,
    MoreThanAgo,
    Not,
    Or,
    Rule,
    SegmentRef,
    TextMatch,
    TopPercent,
    WithinLast,
)
from segexplore.rules.parser import parse
from segexplore.rules.serialize import rule_from_dict, rule_from_json, rule_from_yaml
from segexplore.rules.text import KEYWORDS, TIME_UNITS
from segexplore.rules.tokens import tokenize

settings.register_profile(
    "rules", max_examples=200, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("rules")

# -- strategies -----------------------------------------------------------------------------

ascii_start = string.ascii_letters + "_"
identifiers = st.builds(  # [A-Za-z_][A-Za-z0-9_]* without from_regex, which misbehaves here
    lambda first, rest: first + rest, st.sampled_from(ascii_start),
    st.text(ascii_start + string.digits, max_size=12))
unicode_identifiers = st.text(
    st.characters(categories=["Lu", "Ll", "Lo", "Nd"]), min_size=1, max_size=10)
names = st.one_of(
    identifiers,
    unicode_identifiers,
    st.sampled_from(sorted(KEYWORDS)).map(str.upper) | st.sampled_from(sorted(KEYWORDS)),
    st.sampled_from(["Code postal", "`tick", "a``b", "é", "1st", "x-y", " ", "birth date"]),
    st.text(min_size=1, max_size=12),
)
texts = st.text(max_size=15) | st.sampled_from(['"', "\\", "'", '\\"', "\n\t\r", "# x", "`"])
integers = st.integers(min_value=-(10**20), max_value=10**20)
floats = st.floats(allow_nan=False, allow_infinity=False)
numbers = integers | floats
dates = st.dates()
datetimes = st.datetimes()
temporals = dates | datetimes
scalars = texts | numbers | st.booleans() | temporals
durations = st.builds(Duration, st.integers(1, 10_000), st.sampled_from(TIME_UNITS))
windows = st.none() | st.builds(LastWindow, durations) | st.builds(DateRangeWindow, temporals,
                                                                   temporals)
value_tuples = st.lists(scalars, min_size=1, max_size=4).map(tuple)
text_tuples = st.lists(texts, min_size=1, max_size=4).map(tuple)

field_conditions = st.one_of(
    st.builds(Compare, names, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), scalars),
    st.builds(InList, names, value_tuples, st.booleans()),
    st.builds(Between, names, numbers, numbers),
    st.builds(Between, names, temporals, temporals),
    st.builds(TextMatch, names, st.sampled_from(["contains", "starts with", "ends with"]), texts),
    st.builds(IsMissing, names, st.booleans()),
    st.builds(DateCompare, names, st.sampled_from(["before", "after"]), temporals),
    st.builds(Has, names, st.sampled_from(["any", "all", "none"]), text_tuples),
    st.builds(WithinLast, names, durations),
    st.builds(MoreThanAgo, names, durations),
)


def _tree(draw, leaves: st.SearchStrategy[Rule], depth: int) -> Rule:
    """A random and/or/not tree; shrinks towards a single leaf."""
    choice = draw(st.integers(0, 5)) if depth > 0 else 0
    if choice <= 2:
        return draw(leaves)
    if choice == 3:
        return Not(_tree(draw, leaves, depth - 1))
    children = [_tree(draw, leaves, depth - 1) for _ in range(draw(st.integers(2, 3)))]
    return And(*children) if choice == 4 else Or(*children)


# Composite strategies rather than st.recursive: hypothesis would otherwise build (and warn
# about) a repr of the whole nested strategy.
@st.composite
def where_rules(draw) -> Rule | None:
    return None if draw(st.booleans()) else _tree(draw, field_conditions, depth=2)


event_specs = st.builds(EventSpec, names, where_rules())
event_conditions = st.one_of(
    st.builds(EventAggregate, st.just("count"), names, st.none(), where_rules(), windows,
              st.sampled_from(["=", "!=", "<", "<=", ">", ">="]), numbers),
    st.builds(EventAggregate, st.sampled_from(["sum", "avg", "min", "max"]), names, names,
              where_rules(), windows, st.sampled_from([">=", "<"]), numbers),
    st.builds(NotFollowedBy, event_specs, event_specs, durations, windows),
    st.builds(LastPerformed, event_specs, st.sampled_from(["more than ago", "within last"]),
              durations),
)
leaves = st.one_of(
    field_conditions,
    event_conditions,
    st.builds(SegmentRef, st.text(min_size=1, max_size=12)),
    st.builds(Anniversary, names, st.integers(0, 400)),
    st.builds(TopPercent, names,
              st.floats(min_value=1e-9, max_value=100) | st.integers(1, 100)),
)


@st.composite
def rule_trees(draw) -> Rule:
    return _tree(draw, leaves, depth=3)


rules = rule_trees()


def typed(data: object) -> object:
    """``data`` with the type of every scalar spelled out: 1 != 1.0 != True here."""
    if isinstance(data, dict):
        return {key: typed(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [typed(value) for value in data]
    return (type(data).__name__, data)


def assert_same(actual: Rule, expected: Rule) -> None:
    assert actual == expected
    assert hash(actual) == hash(expected)
    assert typed(actual.to_dict()) == typed(expected.to_dict())


# -- round trips ----------------------------------------------------------------------------

def check_text_round_trip(rule: Rule) -> None:
    text = str(rule)
    assert_same(parse(text), rule)
    assert str(parse(text)) == text  # canonical text is a fixed point


@PROFILE
@given(rules)
def test_text_round_trip_is_exact(rule: Rule) -> None:
    check_text_round_trip(rule)


@pytest.mark.parametrize("rule", [
    Compare("x", "=", -0.0), Compare("x", "=", 1e16), Compare("x", "=", 5e-324),
    Compare("x", "=", 10**30), TopPercent("score", 12.5), TopPercent("score", 1e-9),
    Compare("`", "=", "\\\""), InList("and", ("or", -1, 2.5, True), negated=True),
])
def test_text_round_trip_edge_cases(rule: Rule) -> None:
    check_text_round_trip(rule)


@PROFILE
@given(rules)
def test_dict_json_and_yaml_round_trips_are_exact(rule: Rule) -> None:
    assert_same(rule_from_dict(rule.to_dict()), rule)
    assert_same(rule_from_dict(json.loads(json.dumps(rule.to_dict()))), rule)
    assert_same(rule_from_json(rule.to_json()), rule)
    assert_same(rule_from_yaml(rule.to_yaml()), rule)


@PROFILE
@given(rules)
def test_repr_shows_the_canonical_text(rule: Rule) -> None:
    assert repr(rule) == f"Rule({str(rule)!r})"


@PROFILE
@given(rules, rules)
def test_operators_build_flattened_logic(left: Rule, right: Rule) -> None:
    both = left & right
    assert isinstance(both, And)
    assert not any(isinstance(child, And) for child in both.children)
    either = left | right
    assert not any(isinstance(child, Or) for child in either.children)
    assert_same(parse(str(both)), both)
    assert_same(parse(str(~either)), ~either)


@PROFILE
@given(rules, st.data())
def test_spacing_comments_and_keyword_case_do_not_matter(rule: Rule, data) -> None:
    tokens = tokenize(str(rule))[:-1]
    separators = st.sampled_from([" ", "  ", "\n", "\t", " # a comment\n"])
    pieces = []
    for token in tokens:
        text = token.text
        if token.kind == "name" and text.lower() in KEYWORDS:
            text = "".join(c.upper() if data.draw(st.booleans()) else c for c in text)
        pieces += [text, data.draw(separators)]
    assert_same(parse("".join(pieces)), rule)


# -- robustness: any text either parses or raises RuleSyntaxError ---------------------------

rule_alphabet = st.sampled_from(list(string.printable) + ["é", "`", "%", "Î"])


@PROFILE
@given(st.text(rule_alphabet, max_size=60))
def test_arbitrary_text_parses_or_raises_rule_syntax_error(text: str) -> None:
    try:
        parse(text)
    except RuleSyntaxError as error:
        assert 0 <= error.position <= len(text)


@PROFILE
@given(rules, st.data())
def test_damaged_rule_text_parses_or_raises_rule_syntax_error(rule: Rule, data) -> None:
    text = str(rule)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 4)))
    insert = data.draw(st.text(rule_alphabet, max_size=2))
    damaged = text[:start] + insert + text[end:]
    try:
        reparsed = parse(damaged)
    except RuleSyntaxError as error:
        assert 0 <= error.position <= len(damaged)
    else:
        assert parse(str(reparsed)) == reparsed


@pytest.mark.parametrize("depth", [50, 99])
def test_deep_nesting_parses(depth: int) -> None:
    text = "(" * depth + "x = 1" + ")" * depth
    assert parse(text) == Compare("x", "=", 1)
    nots = "not " * depth + "x = 1"
    assert str(parse(nots)).startswith("not not")
