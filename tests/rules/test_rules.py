"""Segment rule tree, text grammar, canonical printer, builders and JSON/YAML schema."""

from __future__ import annotations

import json
import pickle
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from segexplore.errors import RuleFormatError, RuleSyntaxError, SegexploreError
from segexplore.rules import nodes as rules
from segexplore.rules import parser as rule_parser
from segexplore.rules import serialize
from segexplore.rules.builders import aggregate, count, field, segment
from segexplore.rules.events import (
    DateRangeWindow,
    EventAggregate,
    EventSpec,
    LastPerformed,
    LastWindow,
    NotFollowedBy,
)
from segexplore.rules.nodes import (
    SCHEMA,
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

DAYS_30 = LastWindow(Duration(30, "days"))

#: The nine rules of the brief, each with its tree written out by hand.
EXAMPLES = [
    (
        'region = "Île-de-France" and device = "Android" and count(purchase, last 30 days) >= 3',
        And(Compare("region", "=", "Île-de-France"), Compare("device", "=", "Android"),
            EventAggregate("count", "purchase", None, None, DAYS_30, ">=", 3)),
    ),
    (
        'city = "Lyon" and device = "Android" and count(visit, last 30 days) >= 5',
        And(Compare("city", "=", "Lyon"), Compare("device", "=", "Android"),
            EventAggregate("count", "visit", None, None, DAYS_30, ">=", 5)),
    ),
    (
        "sum(purchase.items, last 180 days) >= 6",
        EventAggregate("sum", "purchase", "items", None, LastWindow(Duration(180, "days")),
                       ">=", 6),
    ),
    (
        'count(purchase where brand = "Nike", last 365 days) >= 2 or '
        'count(click where brand = "Nike", last 90 days) >= 3',
        Or(EventAggregate("count", "purchase", None, Compare("brand", "=", "Nike"),
                          LastWindow(Duration(365, "days")), ">=", 2),
           EventAggregate("count", "click", None, Compare("brand", "=", "Nike"),
                          LastWindow(Duration(90, "days")), ">=", 3)),
    ),
    (
        "performed(add_to_cart not followed by purchase within 24 hours, last 7 days)",
        NotFollowedBy(EventSpec("add_to_cart"), EventSpec("purchase"), Duration(24, "hours"),
                      LastWindow(Duration(7, "days"))),
    ),
    (
        'language = "nl" and segment("Clients groupe A")',
        And(Compare("language", "=", "nl"), SegmentRef("Clients groupe A")),
    ),
    (
        'interests has any ("sport", "outdoor") and not (consent = "withdrawn")',
        And(Has("interests", "any", ("sport", "outdoor")),
            Not(Compare("consent", "=", "withdrawn"))),
    ),
    (
        "signup_date within last 90 days and birth_date is not missing",
        And(WithinLast("signup_date", Duration(90, "days")), IsMissing("birth_date", True)),
    ),
    (
        "last_purchase_date more than 365 days ago",
        MoreThanAgo("last_purchase_date", Duration(365, "days")),
    ),
]


@pytest.mark.parametrize(("text", "tree"), EXAMPLES, ids=[f"ex{i}" for i in range(1, 10)])
def test_brief_examples_parse_to_the_expected_tree(text: str, tree: Rule) -> None:
    assert parse(text) == tree
    assert str(tree) == text  # the examples are already canonical
    assert rule_from_json(tree.to_json()) == tree


# -- every node kind: text -> tree -> canonical text ------------------------------------------

CASES = [
    ('age >= 18', Compare("age", ">=", 18), None),
    ('score == -2.5', Compare("score", "=", -2.5), "score = -2.5"),
    ("tier <> 'gold'", Compare("tier", "!=", "gold"), 'tier != "gold"'),
    ("optin = TRUE", Compare("optin", "=", True), "optin = true"),
    ("x = 1e3", Compare("x", "=", 1000.0), "x = 1000.0"),
    ("signup_date >= 2026-01-31", Compare("signup_date", ">=", date(2026, 1, 31)), None),
    ('city in ("Lyon", "Paris")', InList("city", ("Lyon", "Paris")), None),
    ('city not in ("Lyon",)', InList("city", ("Lyon",), negated=True), 'city not in ("Lyon")'),
    ("age between 18 and 30", Between("age", 18, 30), None),
    ("signup_date between 2026-01-01 and 2026-03-31",
     Between("signup_date", date(2026, 1, 1), date(2026, 3, 31)), None),
    ('email ends with "@gmail.com"', TextMatch("email", "ends with", "@gmail.com"), None),
    ('name STARTS WITH "Jo"', TextMatch("name", "starts with", "Jo"), 'name starts with "Jo"'),
    ('name contains "ée"', TextMatch("name", "contains", "ée"), None),
    ("phone is missing", IsMissing("phone"), None),
    ("signup_date before 2026-01-01", DateCompare("signup_date", "before", date(2026, 1, 1)),
     None),
    ("seen after 2026-01-31T10:00", DateCompare("seen", "after", datetime(2026, 1, 31, 10)),
     "seen after 2026-01-31T10:00:00"),
    ("birth_date anniversary within next 7 days", Anniversary("birth_date", 7), None),
    ("birthday within next 1 day", Anniversary("birth_date", 1),
     "birth_date anniversary within next 1 day"),
    ('interests has "sport"', Has("interests", "any", ("sport",)), None),
    ('interests has any ("sport")', Has("interests", "any", ("sport",)),
     'interests has "sport"'),
    ('interests has all ("a", "b")', Has("interests", "all", ("a", "b")), None),
    ('interests has none ("a")', Has("interests", "none", ("a",)), None),
    ("purchase_propensity in top 10%", TopPercent("purchase_propensity", 10.0), None),
    ("score in top 2.5%", TopPercent("score", 2.5), None),
    ("`Code postal` = \"75001\"", Compare("Code postal", "=", "75001"), None),
    ("`count` = 1", Compare("count", "=", 1), None),
    ("`a``b` = 1", Compare("a`b", "=", 1), None),
    ("prénom = \"Zoé\"", Compare("prénom", "=", "Zoé"), None),
    ("avg(purchase.amount, last 365 days) > 80",
     EventAggregate("avg", "purchase", "amount", None, LastWindow(Duration(365, "days")), ">", 80),
     None),
    ("max(purchase.amount) < 1000.5",
     EventAggregate("max", "purchase", "amount", None, None, "<", 1000.5), None),
    ("count(open, between 2026-01-01 and 2026-03-31) = 0",
     EventAggregate("count", "open", window=DateRangeWindow(date(2026, 1, 1), date(2026, 3, 31)),
                    op="=", value=0), None),
    ('count(purchase where brand = "Nike" and amount > 50, last 365 days) >= 2',
     EventAggregate("count", "purchase",
                    where=And(Compare("brand", "=", "Nike"), Compare("amount", ">", 50)),
                    window=LastWindow(Duration(365, "days")), op=">=", value=2), None),
    ("performed(purchase, at least 3 times, last 30 days)",
     EventAggregate("count", "purchase", window=DAYS_30, op=">=", value=3),
     "count(purchase, last 30 days) >= 3"),
    ("performed(purchase, last 30 days, at most 2 times)",
     EventAggregate("count", "purchase", window=DAYS_30, op="<=", value=2),
     "count(purchase, last 30 days) <= 2"),
    ("performed(visit, exactly 1 time)", EventAggregate("count", "visit", op="=", value=1),
     "count(visit) = 1"),
    ('performed(click where brand = "Nike", last 90 days)',
     EventAggregate("count", "click", where=Compare("brand", "=", "Nike"),
                    window=LastWindow(Duration(90, "days"))),
     'count(click where brand = "Nike", last 90 days) >= 1'),
    ('performed(add_to_cart where brand = "Nike" not followed by purchase where '
     'brand = "Nike" within 2 days)',
     NotFollowedBy(EventSpec("add_to_cart", Compare("brand", "=", "Nike")),
                   EventSpec("purchase", Compare("brand", "=", "Nike")), Duration(2, "days")),
     None),
    ("last(purchase) more than 30 days ago",
     LastPerformed(EventSpec("purchase"), "more than ago", Duration(30, "days")), None),
    ('last(click where brand="Nike") within last 7 days',
     LastPerformed(EventSpec("click", Compare("brand", "=", "Nike")), "within last",
                   Duration(7, "days")),
     'last(click where brand = "Nike") within last 7 days'),
    ("x within last 1 week", WithinLast("x", Duration(1, "weeks")), None),
    ("x within last 2 MONTHS", WithinLast("x", Duration(2, "months")), "x within last 2 months"),
]


@pytest.mark.parametrize(("text", "tree", "canonical"), CASES, ids=[c[0] for c in CASES])
def test_each_node_kind_parses_and_prints(text: str, tree: Rule, canonical: str | None) -> None:
    parsed = parse(text)
    assert parsed == tree
    assert str(parsed) == (canonical or text)
    assert parse(str(parsed)) == parsed


def test_literal_types_are_kept() -> None:
    assert type(parse("x = 3").value) is int
    assert type(parse("x = 3.0").value) is float
    assert type(parse("x = -7").value) is int
    assert type(parse("x = true").value) is bool
    assert type(parse("x = 2026-01-31").value) is date
    assert type(parse("x = 2026-01-31T10:00:00.5").value) is datetime
    assert parse("x = 2026-01-31T10:00:00.5").value.microsecond == 500_000
    assert str(Compare("x", "=", 0.1 + 0.2)) == "x = 0.30000000000000004"


def test_strings_escape_and_unescape() -> None:
    rule = Compare("x", "=", 'say "hi"\\ \n\t ok')
    assert str(rule) == r'x = "say \"hi\"\\ \n\t ok"'
    assert parse(str(rule)) == rule
    assert parse(r"x = 'it\'s'") == Compare("x", "=", "it's")
    assert parse("x = 'a \"b\"'") == Compare("x", "=", 'a "b"')
    assert parse('x = "# not a comment"').value == "# not a comment"


def test_keywords_are_case_insensitive_and_comments_are_dropped() -> None:
    text = """
        # loyal Lyon customers
        City = "Lyon" AND NOT (Tier IN ("bronze"))   # not the small ones
        Or COUNT(purchase, LAST 3 Days) >= 1
    """
    expected = Or(And(Compare("City", "=", "Lyon"), Not(InList("Tier", ("bronze",)))),
                  EventAggregate("count", "purchase", window=LastWindow(Duration(3, "days"))))
    assert parse(text) == expected
    assert str(parse(text)) == ('City = "Lyon" and not (Tier in ("bronze")) '
                                "or count(purchase, last 3 days) >= 1")


def test_precedence_not_and_or() -> None:
    a, b, c = (Compare(n, "=", 1) for n in "abc")
    assert parse("a = 1 or b = 1 and c = 1") == Or(a, And(b, c))
    assert parse("(a = 1 or b = 1) and c = 1") == And(Or(a, b), c)
    assert parse("not a = 1 and b = 1") == And(Not(a), b)
    assert parse("not (a = 1 and b = 1)") == Not(And(a, b))
    assert str(And(Or(a, b), c)) == "(a = 1 or b = 1) and c = 1"
    assert str(Or(And(a, b), c)) == "a = 1 and b = 1 or c = 1"
    assert str(Not(And(a, b))) == "not (a = 1 and b = 1)"
    assert str(Not(SegmentRef("A"))) == 'not segment("A")'
    assert str(Not(Not(a))) == "not not (a = 1)"
    assert parse("((a = 1))") == a


def test_str_of_parse_is_idempotent() -> None:
    texts = [t for t, _ in EXAMPLES] + [c[0] for c in CASES] + [
        "A=1 AND(b=2 OR c=3)", "not not x = 1", "x in (1, 2.5, \"a\", 2026-01-01, true)"]
    for text in texts:
        once = str(parse(text))
        assert str(parse(once)) == once


# -- logical nodes and operators -------------------------------------------------------------

def test_and_or_flatten_and_need_two_children() -> None:
    a, b, c = (Compare(n, "=", 1) for n in "abc")
    assert a & (b & c) == And(a, b, c) == And([a, b, c]) == And(children=(a, b, c))
    assert (a | b) | c == Or(a, b, c)
    assert (a | b) & c == And(Or(a, b), c)
    assert ~a == Not(a)
    assert And(a, b).children == (a, b)
    assert Not(a).children == (a,)
    with pytest.raises(ValueError, match="at least two"):
        And(a)
    with pytest.raises(TypeError):
        And(a, "b = 1")
    with pytest.raises(TypeError):
        a & "b = 1"


def test_nodes_are_immutable_hashable_and_picklable() -> None:
    rule = parse(EXAMPLES[3][0])
    with pytest.raises(AttributeError):
        rule.children = ()
    assert len({rule, parse(EXAMPLES[3][0])}) == 1
    assert pickle.loads(pickle.dumps(rule)) == rule


def test_values_are_normalised_on_construction() -> None:
    assert Compare("x", "==", 1) == Compare("x", "=", 1)
    assert Compare("x", "<>", 1).op == "!="
    assert InList("x", ["a", "b"]).values == ("a", "b")
    assert TextMatch("x", "STARTS_WITH", "a").op == "starts with"
    assert Duration(1, "Day") == Duration(1, "days")
    assert WithinLast("x", "30 days").duration == Duration(30, "days")
    assert TopPercent("x", 10).percent == 10.0 and type(TopPercent("x", 10).percent) is float
    assert Has("x", "any", "sport").values == ("sport",)
    assert type(Compare("x", "=", datetime(2026, 1, 1)).value) is datetime


@pytest.mark.parametrize("build", [
    lambda: Compare("", "=", 1), lambda: Compare("x", "~", 1), lambda: Compare("x", "=", None),
    lambda: Compare("x", "=", float("nan")), lambda: InList("x", ()),
    lambda: Between("x", 1, date(2026, 1, 1)), lambda: Between("x", "a", "b"),
    lambda: Duration(0, "days"), lambda: Duration(3, "years"), lambda: Duration(1.5, "days"),
    lambda: Has("x", "some", ("a",)), lambda: Has("x", "any", (1,)),
    lambda: TopPercent("x", 0), lambda: TopPercent("x", 101), lambda: Anniversary("x", -1),
    lambda: EventAggregate("count", "purchase", "amount"), lambda: EventAggregate("sum", "p"),
    lambda: EventAggregate("count", "p", where=SegmentRef("A")),
    lambda: EventSpec("p", where=EventAggregate("count", "q")),
    lambda: IsMissing("x", negated="yes"),
    lambda: DateCompare("x", "before", "2026-01-01"),
    lambda: Compare("x", "=", datetime(2026, 1, 1, tzinfo=__import__("datetime").timezone.utc)),
])
def test_invalid_nodes_are_refused(build) -> None:
    with pytest.raises((TypeError, ValueError)):
        build()


# -- introspection ---------------------------------------------------------------------------

def test_fields_segments_events_and_walk() -> None:
    rule = parse('city = "Lyon" and (segment("A") or not segment("B")) and '
                 'count(purchase where brand = "Nike", last 30 days) >= 2 and '
                 'last(click where campaign_id = "c1") within last 7 days and '
                 'interests has "sport" and count(purchase where brand = "Nike", '
                 'last 30 days) >= 2')
    assert rule.fields() == {"city", "interests"}  # not brand/campaign_id: event properties
    assert rule.segment_refs() == {"A", "B"}
    events = rule.event_conditions()
    assert [type(e) for e in events] == [EventAggregate, LastPerformed]  # repeats dropped
    kinds = [n.kind for n in rule.walk()]
    assert kinds[:3] == ["and", "compare", "or"] and "last_performed" in kinds
    assert "compare" not in [n.kind for n in events[0].walk()]
    inside = [n for n in rule.walk(include_where=True) if isinstance(n, Compare)]
    assert {n.field for n in inside} == {"city", "brand", "campaign_id"}
    assert events[0].event == EventSpec("purchase", Compare("brand", "=", "Nike"))


def test_repr_is_readable() -> None:
    assert repr(parse('city = "Lyon"')) == """Rule('city = "Lyon"')"""
    assert repr(Duration(30, "days")) == "Duration(30, 'days')"
    assert "purchase" in repr(count("purchase"))


# -- builders -------------------------------------------------------------------------------

def test_builders_make_the_same_nodes_as_text() -> None:
    assert (field("city") == "Lyon") == parse('city = "Lyon"')
    assert (field("age") != 3) == parse("age != 3")
    assert (field("age") < 3) & (field("age") >= 1) == parse("age < 3 and age >= 1")
    assert field("age").between(18, 30) == parse("age between 18 and 30")
    assert field("d").between("2026-01-01", "2026-02-01") == parse(
        "d between 2026-01-01 and 2026-02-01")
    assert field("interests").has_any("sport") == parse('interests has "sport"')
    assert field("interests").has_all(["a", "b"]) == parse('interests has all ("a", "b")')
    assert field("interests").has_none("a") == parse('interests has none ("a")')
    assert field("city").isin("Lyon", "Paris") == parse('city in ("Lyon", "Paris")')
    assert field("city").notin(["Lyon"]) == parse('city not in ("Lyon")')
    assert field("email").contains("@") == parse('email contains "@"')
    assert field("x").is_not_missing() == parse("x is not missing")
    assert field("d").after("2026-01-01") == parse("d after 2026-01-01")
    assert field("d").within_last("30 days") == parse("d within last 30 days")
    assert field("d").more_than_ago("90 days") == parse("d more than 90 days ago")
    assert field("score").in_top(10) == parse("score in top 10%")
    assert segment("Clients groupe A") == SegmentRef("Clients groupe A")
    assert (count("purchase", last="30 days") >= 3) == parse(
        "count(purchase, last 30 days) >= 3")
    assert (count("purchase", where=field("brand") == "Nike", last="365 days") >= 2) == parse(
        'count(purchase where brand = "Nike", last 365 days) >= 2')
    assert (count("click", where='brand = "Nike"') > 0) == parse(
        'count(click where brand = "Nike") > 0')
    assert (aggregate("sum", "purchase.items", last="180 days") >= 6) == parse(EXAMPLES[2][0])
    assert (count("open", between=("2026-01-01", "2026-03-31")) == 0) == parse(
        "count(open, between 2026-01-01 and 2026-03-31) = 0")
    with pytest.raises(ValueError):
        aggregate("sum", "purchase")


# -- syntax errors --------------------------------------------------------------------------

ERRORS = [
    ("city =", 6, "expected a value after '=' but found end of text"),
    ('name cotains "x"', 5, "did you mean 'contains'"),
    ('(city = "Lyon" and x = 1', 0, "unbalanced parenthesis"),
    ('city = "Lyon")', 13, "unbalanced parenthesis"),
    ('x = 1 and (y = 2 z = 3)', 17, "expected ')' to close the '(' at position 10"),
    ('city = "Lyo', 7, "unterminated string"),
    ("", 0, "expected a condition"),
    ('city = "a" adn x = 1', 11, "did you mean 'and'"),
    ("cnt(purchase) >= 3", 0, "did you mean 'count'"),
    ("count(purchase.amount) > 1", 14, "takes no property"),
    ("count(purchase, last 30 dys) >= 3", 24, "did you mean 'days'"),
    ("count(purchase, last 30 days)", 29, "expected a comparison"),
    ("x in ()", 6, "expected a value"),
    ("x before 2026-02-30", 9, "invalid date"),
    ("x @ 3", 2, "unexpected character '@'"),
    ("x => 3", 2, "did you mean '>='"),
    ("segment(Clients)", 8, "in quotes"),
    ('count(p where segment("a")) > 1', 14, "inside a where-clause"),
    ("x has any (1, 2)", 16, "in quotes"),
    ("x in top 0%", 9, "above 0"),
    ("x within last 0 days", 14, ">= 1"),
    ('x = "a\\q"', 6, "unknown escape"),
    ("`abc = 1", 0, "unterminated name"),
    ('Code postal = "75001"', 5, "backticks"),
    ("x between 1 and 2026-01-01", 16, "both be numbers or both be dates"),
    ("performed(a, last 3 days, last 4 days)", 26, "given twice"),
    ("(" * 150 + "x = 1" + ")" * 150, 100, "nested more than"),
]


@pytest.mark.parametrize(("text", "position", "message"), ERRORS, ids=[e[0][:40] for e in ERRORS])
def test_syntax_errors_say_where_and_what(text: str, position: int, message: str) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse(text)
    assert info.value.position == position
    assert message in str(info.value)
    assert isinstance(info.value, SegexploreError) and isinstance(info.value, ValueError)


def test_parse_refuses_non_text() -> None:
    with pytest.raises(TypeError):
        parse(3)  # type: ignore[arg-type]


# -- JSON / YAML schema ----------------------------------------------------------------------

def test_to_dict_follows_the_documented_schema() -> None:
    rule = parse('signup_date after 2026-01-31 and count(purchase where amount > 50, '
                 'between 2026-01-01 and 2026-03-31T12:00:00) >= 2')
    assert rule.to_dict() == {"kind": "and", "children": [
        {"kind": "date_compare", "field": "signup_date", "op": "after",
         "value": {"date": "2026-01-31"}},
        {"kind": "event_aggregate", "func": "count", "event_type": "purchase", "property": None,
         "where": {"kind": "compare", "field": "amount", "op": ">", "value": 50},
         "window": {"kind": "date_range", "start": {"date": "2026-01-01"},
                    "end": {"datetime": "2026-03-31T12:00:00"}},
         "op": ">=", "value": 2},
    ]}
    document = json.loads(rule.to_json())
    assert document["schema"] == SCHEMA == "segexplore.rule/1"
    assert rule_from_json(rule.to_json(indent=2)) == rule
    assert rule_from_yaml(rule.to_yaml()) == rule
    assert rule.to_yaml().startswith("schema: segexplore.rule/1\nrule:\n  kind: and\n")


def test_hand_written_yaml_may_omit_defaults_and_use_native_dates() -> None:
    text = """
schema: segexplore.rule/1
rule:
  kind: and
  children:
    - {kind: is_missing, field: phone}
    - {kind: date_compare, field: signup_date, op: before, value: 2026-01-31}
    - {kind: event_aggregate, func: count, event_type: purchase, op: ">=", value: 3,
       window: {kind: last, duration: {amount: 30, unit: days}}}
"""
    assert rule_from_yaml(text) == parse(
        "phone is missing and signup_date before 2026-01-31 and "
        "count(purchase, last 30 days) >= 3")


@pytest.mark.parametrize(("document", "message"), [
    ({"schema": "segexplore.rule/2", "rule": {}}, "unsupported rule schema"),
    ({"schema": SCHEMA}, "exactly the keys"),
    ({"schema": SCHEMA, "rule": {"kind": "like", "field": "x"}}, "unknown rule kind 'like'"),
    ({"schema": SCHEMA, "rule": {"kind": "compare", "field": "x", "op": "="}},
     "missing key 'value'"),
    ({"schema": SCHEMA, "rule": {"kind": "compare", "field": "x", "op": "=", "value": 1,
                                 "colour": "red"}}, "unexpected key 'colour'"),
    ({"schema": SCHEMA, "rule": {"kind": "compare", "field": "x", "op": "~", "value": 1}},
     "comparison operator"),
    ({"schema": SCHEMA, "rule": {"kind": "and", "children": [
        {"kind": "is_missing", "field": "x"}, {"kind": "compare", "field": "y", "op": "=",
                                               "value": {"date": "31/01/2026"}}]}},
     "rule.children[1].value"),
    ({"schema": SCHEMA, "rule": {"kind": "within_last", "field": "x",
                                 "duration": {"amount": 3, "unit": "years"}}}, "duration unit"),
])
def test_bad_documents_raise_rule_format_error(document: dict, message: str) -> None:
    with pytest.raises(RuleFormatError, match=re.escape(message)):
        rule_from_dict(document)
    with pytest.raises(RuleFormatError):
        rule_from_json(json.dumps(document))


def test_documents_need_the_envelope_and_valid_syntax() -> None:
    with pytest.raises(RuleFormatError, match="'schema'"):
        rule_from_json('{"kind": "is_missing", "field": "x"}')
    with pytest.raises(RuleFormatError, match="not valid JSON"):
        rule_from_json("{")
    with pytest.raises(RuleFormatError, match="not valid YAML"):
        rule_from_yaml("a: [")
    assert rule_from_dict({"kind": "is_missing", "field": "x"}) == IsMissing("x")
    assert isinstance(RuleFormatError("x"), ValueError)


# -- guards ---------------------------------------------------------------------------------

def test_rule_modules_never_evaluate_text() -> None:
    forbidden = re.compile(r"\b(eval|exec|literal_eval)\(|\.query\(|pd\.eval")
    for module in (rules, rule_parser):
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert not forbidden.search(source), module.__name__
        assert "ipywidgets" not in source and "plotly" not in source


def test_grammar_reference_documents_every_kind() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
    text = docs.read_text(encoding="utf-8")
    for kind in serialize._KINDS:
        assert f"`{kind}`" in text, kind
    for example, _ in EXAMPLES:
        assert example in text
