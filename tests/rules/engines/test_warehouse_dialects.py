"""Rules compiled for BigQuery and Snowflake are SQL those dialects read: no server runs
here, so sqlglot's own reader of each dialect is the check. The text parses back, re-renders
the same, names no function the dialect's reader does not know, and keeps none of the
DuckDB spellings (types, functions, intervals, quoting) the warehouse would reject.

The rules: the hand-computed cases on the tiny base (tests/rule_cases.py), the feature rules
on the sample (tests/sql_parity.py) and generated rules on the tiny base."""

from __future__ import annotations

import re

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from rule_cases import CASES
from rule_strategies import RULES
from sql_parity import FEATURE_RULES, compiled, tiny_base
from sqlglot import exp

import segexplore as se

WAREHOUSES = ("bigquery", "snowflake")

#: DuckDB spellings the compiler must not leave: ``::`` casts (BigQuery has none; the
#: compiler writes CAST), epoch/list/struct functions, DuckDB's timestamp builders.
_DUCKDB_ONLY = re.compile(r"::|\bepoch_(?:ns|us|ms)\b|\bmake_timestamp|\blist_|\bstruct_pack\b"
                          r"|\bstrftime\b|\bregexp_full_match\b", re.IGNORECASE)

#: What each warehouse spells differently from DuckDB, read from the emitted text: the
#: pattern must never appear, with the reason.
_FOREIGN = {
    "bigquery": [
        (r'"', 'double quotes make a string in BigQuery, not an identifier: `c`.`city`'),
        (r"\bAS (?:TEXT|VARCHAR)\b", "BigQuery's text type is STRING"),
        (r"\bAS DOUBLE\b", "BigQuery's float type is FLOAT64"),
        (r"\bAS TIMESTAMP\b", "pandas' naive times are DATETIME in BigQuery; a TIMESTAMP "
                              "literal against a DATETIME column is an error"),
        (r"\b(?:MONTH|DAY)\(", "BigQuery has no MONTH()/DAY(): EXTRACT(MONTH FROM ...)"),
        (r"\bSTRPOS\(|\bLOCATE\(|\bCHARINDEX\(", "BigQuery finds text with INSTR"),
    ],
    "snowflake": [
        (r"`", "Snowflake quotes identifiers with double quotes"),
        (r"\bAS TEXT\b", "VARCHAR, Snowflake's own name"),
        (r"\bSTRPOS\(|\bLOCATE\(|\bINSTR\(", "Snowflake finds text with CHARINDEX"),
        (r"\bINTERVAL '\d+' [A-Z]+", "Snowflake's interval is one string: INTERVAL '24 HOUR'"),
        (r"\bEXTRACT\(", "not needed: MONTH()/DAY() are Snowflake's"),
    ],
}

#: What each warehouse must spell its own way, for the rules that use it.
_OWN = {
    "bigquery": {"contains": "INSTR(", "anniversary": "EXTRACT(MONTH FROM ",
                 "followed": "INTERVAL '24' HOUR", "time": "AS DATETIME)"},
    "snowflake": {"contains": "CHARINDEX(", "anniversary": "MONTH(",
                  "followed": "INTERVAL '24 HOUR'", "time": "AS TIMESTAMP)"},
}


@pytest.fixture(scope="module")
def tiny() -> se.ContactBase:
    return tiny_base()


@pytest.fixture(scope="module")
def sample() -> se.ContactBase:
    return se.load_sample()


def check_warehouse_text(text: str, dialect: str) -> None:
    """``text`` is SQL ``dialect`` reads: parsed back without error, re-rendered the same
    (text and tree), no function the reader does not know (an ``Anonymous`` node), no
    DuckDB-only or foreign spelling."""
    tree = sqlglot.parse_one(text, read=dialect)
    again = tree.sql(dialect=dialect)
    assert again == text
    assert sqlglot.parse_one(again, read=dialect) == tree
    unknown = sorted({node.name for node in tree.find_all(exp.Anonymous)})
    assert not unknown, f"functions {dialect} does not know: {unknown}"
    assert not _DUCKDB_ONLY.search(text), text
    for pattern, why in _FOREIGN[dialect]:
        assert not re.search(pattern, text), f"{why}: {text}"


@pytest.mark.parametrize("dialect", WAREHOUSES)
@pytest.mark.parametrize("text", [text for text, _ in CASES])
def test_hand_computed_cases_read_back(tiny, text, dialect):
    check_warehouse_text(compiled(text, tiny, dialect, {}), dialect)


@pytest.mark.parametrize("dialect", WAREHOUSES)
@pytest.mark.parametrize("text", FEATURE_RULES)
def test_feature_rules_read_back(sample, text, dialect):
    check_warehouse_text(compiled(text, sample, dialect, {}), dialect)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES)
def test_generated_rules_read_back(tiny, rule):
    for dialect in WAREHOUSES:
        check_warehouse_text(compiled(rule, tiny, dialect, {}), dialect)


@pytest.mark.parametrize("dialect", WAREHOUSES)
def test_each_warehouse_spells_its_own(tiny, dialect):
    """The checks above are not vacuous: the texts use each warehouse's own spelling of
    text search, date parts, intervals and times (the spellings DuckDB's would break)."""
    own = _OWN[dialect]
    rules = {"contains": 'city contains "RUX"',
             "anniversary": "birth_date anniversary within next 7 days",
             "followed": "performed(add_to_cart not followed by purchase within 24 hours, "
                         "last 7 days)",
             "time": "signup_date before 2024-01-01"}
    for what, text in rules.items():
        sql = compiled(text, tiny, dialect, {})
        assert own[what] in sql, (what, sql)
        check_warehouse_text(sql, dialect)
    duckdb = compiled(rules["followed"], tiny, "duckdb", {})
    assert any(re.search(p, duckdb) for p, _ in _FOREIGN[dialect]), duckdb
