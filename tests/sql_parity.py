"""What the engine-parity tests on real servers share (tests/engines/test_postgres_parity.py,
test_spark_parity.py): the bases, the rules, and the check that the SQL a rule compiles
to for a dialect selects exactly the pandas engine's members.

The rules are those of the DuckDB tests: the hand-computed cases (tests/rule_cases.py) and
the generated ones (tests/rule_strategies.py) on the tiny base, the generated ones the
sample tests use, and rules on the sample's behaviour features (booleans, categories,
dates, ``in top N%``). Several rules can run as one query (``batch_query``): a Spark query
costs a job each, not the rule's work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rule_cases import SEGMENT_A
from tiny_base import NOW, contacts_frame, events_frame

import segexplore as se
from segexplore.rules.engines.sql import compile_rule

#: Rules on the sample's features, each kind of feature column at least once.
FEATURE_RULES = [
    'rfm_group = "champions"',
    'rfm_group in ("at_risk", "cannot_lose") and consent = "given"',
    "cart_abandoner = true",
    "not (inactive = true) and cart_abandoner = false",
    "inactive != false",
    "revenue_total in top 10%",
    "revenue_365d in top 1%",
    "days_since_last_purchase in top 5%",
    "engagement_score in top 2.5% and purchases_90d >= 1",
    "days_since_last_purchase > 30 and days_since_last_purchase <= 120",
    "last_purchase_date within last 3 months",
    "last_open_date more than 2 weeks ago",
    "first_purchase_date between 2025-01-01 and 2025-12-31",
    "next_birthday before 2026-12-01",
    'lifecycle_stage not in ("lapsed", "never_purchased") and rfm_recency >= 4',
    "age between 25 and 34 and days_to_birthday < 30",
    'rfm_score starts with "5" and preferred_brand != "Nike"',
    'preferred_brand contains "ID" or preferred_brand ends with "bateau"',
    "avg_basket >= 80.5 or items_365d > 6",
    "birth_date anniversary within next 30 days",
    'city < "Lyon" and city >= "Annecy"',
    'first_name > "Zo" or last_name <= "Aubert"',
    'region > "Normandie"',
]


def tiny_base() -> se.ContactBase:
    """The tiny base with the saved segment the hand-computed cases read."""
    base = se.read_base(contacts_frame(), events_frame(), now=NOW)
    rule, name = SEGMENT_A
    base.segment(rule, name=name)
    return base


def pandas_members(base: se.ContactBase, rule: Any) -> list:
    """The pandas engine's members' ids, sorted."""
    mask = base.evaluator().mask(rule)
    return sorted(base.contacts["contact_id"][mask.to_numpy()].tolist())


def compiled(rule: Any, base: se.ContactBase, dialect: str, tables: dict[str, str]) -> str:
    return compile_rule(rule, base, dialect=dialect, tables=tables)


def batch_query(queries: Sequence[str]) -> str:
    """One query of several rules' queries: rows ``(k, contact_id)``, ``k`` the rule's
    position in ``queries``."""
    return " UNION ALL ".join(f"SELECT {k} AS k, q.contact_id FROM ({sql}) AS q"
                              for k, sql in enumerate(queries))


def check_rules(rules: Sequence[Any], base: se.ContactBase, dialect: str,
                tables: dict[str, str], fetch: Callable[[str], list[tuple]]) -> None:
    """Every rule, compiled for ``dialect`` and run in one query by ``fetch`` (the rows),
    selects the pandas engine's members exactly: the same ids, each once."""
    queries = [compiled(rule, base, dialect, tables) for rule in rules]
    found: dict[int, list] = {k: [] for k in range(len(rules))}
    for k, contact_id in fetch(batch_query(queries)):
        found[k].append(contact_id)
    for k, rule in enumerate(rules):
        assert sorted(found[k]) == pandas_members(base, rule), (str(rule), queries[k])
