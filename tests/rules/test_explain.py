"""Why is this contact in? explain() against hand-made cases on the tiny base (see
tests/tiny_base.py: every value below is read off its rows by hand) and, on the sample,
against the memberships and the plain pandas values."""

from __future__ import annotations

import pandas as pd
import pytest

import segexplore as se
from segexplore.errors import NotFoundError, ParameterError, RuleEvaluationError
from segexplore.model.base import ContactBase
from segexplore.rules.explain import EXPLAIN_COLUMNS, explain


def _rows(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    return [tuple(r) for r in frame[list(columns)].itertuples(index=False)]


def test_conditions_and_an_event_count(tiny_base):
    rule = 'city = "Lyon" and count(purchase, last 30 days) >= 3'
    # contact 1: Lyon, purchases on 10-10, 10-20 and 10-25 (as_of 2026-10-31 00:00)
    why = explain(rule, tiny_base, 1)
    assert list(why.columns) == EXPLAIN_COLUMNS
    assert _rows(why, "path", "depth", "node", "field", "value", "threshold", "count",
                 "result") == [
        ("1", 0, "and", None, None, None, pd.NA, True),
        ("1.1", 1, "condition", "city", "Lyon", '= "Lyon"', pd.NA, True),
        ("1.2", 1, "event", "count(purchase)", 3, ">= 3", 3, True)]
    assert why.loc[2, "window"] == "after 2026-10-01 00:00, up to 2026-10-31 00:00"
    assert why.attrs["contact_id"] == 1 and why.attrs["member"] is True
    # contact 2: Lyon too, but purchases in 2025-06 and 2026-01 only
    why = explain(rule, tiny_base, 2)
    assert _rows(why, "value", "count", "result") == [(None, pd.NA, False),
                                                       ("Lyon", pd.NA, True), (0, 0, False)]
    assert why.attrs["member"] is False


def test_aggregates_where_filters_and_recency(tiny_base):
    # contact 1's purchases in the last 30 days: 100 + 50 + 30
    why = explain("sum(purchase.amount, last 30 days) > 150", tiny_base, 1)
    assert _rows(why, "field", "value", "count", "result") == [
        ("sum(purchase.amount)", 180.0, 3, True)]
    # contact 4: Nike clicks on 09-10, 10-01 and 10-15; contact 1: one, on 10-01
    rule = 'count(click where brand = "Nike", last 90 days) >= 3'
    assert _rows(explain(rule, tiny_base, 4), "value", "result") == [(3, True)]
    assert _rows(explain(rule, tiny_base, 1), "value", "result") == [(1, False)]
    # contact 5 last bought on 2024-01-01 10:00; 90 days before as_of is 2026-08-02
    why = explain("last(purchase) more than 90 days ago", tiny_base, 5)
    assert _rows(why, "value", "threshold", "count", "result") == [
        (pd.Timestamp("2024-01-01 10:00"), "before 2026-08-02 00:00", 1, True)]
    assert _rows(explain("last(purchase) more than 90 days ago", tiny_base, 1),
                 "result") == [(False,)]


@pytest.mark.parametrize("contact, count", [
    (2, 1),  # cart on 10-28, never a purchase after
    (3, 0),  # cart on 10-26 12:00, purchase 22 hours later
    (4, 0),  # cart on 10-30 12:00: its 24 hours are not over at as_of
    (6, 1),  # cart on 10-29 09:00, purchase 25 hours later: too late
])
def test_carts_not_followed_by_a_purchase(tiny_base, contact, count):
    why = explain("performed(add_to_cart not followed by purchase within 24 hours)",
                  tiny_base, contact)
    assert _rows(why, "field", "count", "result") == [
        ("add_to_cart not followed by purchase", count, count > 0)]


def test_saved_segments_are_expanded_and_not_is_shown(tiny_base):
    tiny_base.segment('city = "Lyon" or city = "Paris"', name="Big cities")
    rule = 'segment("Big cities") and not language = "en"'
    # contact 4: Paris, language en
    why = explain(rule, tiny_base, 4)
    assert _rows(why, "path", "node", "condition", "value", "result") == [
        ("1", "and", rule.replace('not language = "en"', 'not (language = "en")'), None,
         False),
        ("1.1", "segment", 'segment("Big cities")', None, True),
        ("1.1.1", "or", 'city = "Lyon" or city = "Paris"', None, True),
        ("1.1.1.1", "condition", 'city = "Lyon"', "Paris", False),
        ("1.1.1.2", "condition", 'city = "Paris"', "Paris", True),
        ("1.2", "not", 'not (language = "en")', None, False),
        ("1.2.1", "condition", 'language = "en"', "en", True)]
    assert why.loc[1, "threshold"] == "the rule of segment 'Big cities'"


def test_a_segment_with_a_parent_explains_the_parent_first(tiny_base):
    french = tiny_base.segment('country = "FR"', name="France")
    android = tiny_base.segment('device = "Android"', name="Android FR", parent=french)
    why = explain(android, tiny_base, 3)
    assert why["condition"].tolist()[1:] == ['country = "FR"', 'device = "Android"']
    assert why["result"].tolist() == [True, True, True]


def test_computed_thresholds(tiny_base):
    # scores 10, 20, ..., 60 and one missing: the top half is 40, 50 and 60
    why = explain("score in top 50%", tiny_base, 4)
    assert _rows(why, "value", "threshold", "result") == [(40.0, "in top 50% (>= 40)", True)]
    # contact 1, born 1990-11-03: three days after as_of
    why = explain("birth_date anniversary within next 7 days", tiny_base, 1)
    assert why.loc[0, "threshold"].endswith("(day and month from 10-31 to 11-07)")
    assert bool(why.loc[0, "result"]) is True
    # contact 3 signed up on 2026-10-20
    why = explain("signup_date within last 30 days", tiny_base, 3)
    assert _rows(why, "value", "threshold", "result") == [
        (pd.Timestamp("2026-10-20"), "within last 30 days (after 2026-10-01 00:00)", True)]


def test_contacts_are_found_by_email_or_id(tiny_base):
    assert explain('city = "Lyon"', tiny_base, "  A@X.FR ").attrs["contact_id"] == 1
    assert explain('city = "Lyon"', tiny_base, "3").attrs["contact_id"] == 3
    with pytest.raises(NotFoundError, match="no contact with email 'nobody@x.fr'"):
        explain('city = "Lyon"', tiny_base, "nobody@x.fr")
    with pytest.raises(NotFoundError, match="contact_id 99"):
        explain('city = "Lyon"', tiny_base, 99)
    twins = ContactBase(pd.DataFrame({"contact_id": [1, 2], "email": ["a@x.fr", "a@x.fr"],
                                      "city": ["Lyon", "Paris"]}), as_of="2026-10-31")
    with pytest.raises(ParameterError, match=r"2 contacts have email.*\[1, 2\]"):
        explain('city = "Lyon"', twins, "a@x.fr")
    with pytest.raises(RuleEvaluationError, match="unknown segment"):
        explain('segment("nope")', tiny_base, 1)
    with pytest.raises(RuleEvaluationError, match="citty"):
        explain('citty = "Lyon"', tiny_base, 1)


def test_on_the_sample_the_explanation_agrees_with_the_membership():
    base = se.load_sample()
    base.segment('country = "FR" and language = "fr"', name="Francophones FR")
    segment = base.segment(
        'segment("Francophones FR") and (loyalty_tier in ("gold", "silver") or '
        'count(purchase, last 365 days) >= 2) and not device = "iOS"', name="target")
    members = segment.mask
    contacts = base.contacts
    picked = pd.concat([contacts[members].head(5), contacts[~members].head(5)])
    for position, row in zip(picked.index, picked.itertuples(), strict=True):
        why = explain(segment, base, row.contact_id).set_index("condition")
        assert why.attrs["member"] == bool(members.loc[position])
        assert why.loc['country = "FR"', "value"] == row.country
        assert why.loc['device = "iOS"', "result"] == (row.device == "iOS")
        assert why.loc['not (device = "iOS")', "result"] == (row.device != "iOS")
        tier = row.loyalty_tier if isinstance(row.loyalty_tier, str) else None
        assert why.loc['loyalty_tier in ("gold", "silver")', "value"] == tier
        assert why.loc['loyalty_tier in ("gold", "silver")', "result"] == (
            tier in ("gold", "silver"))
        orders = base.orders
        bought = orders[(orders["contact_id"] == row.contact_id)
                        & (orders["timestamp"] > base.as_of - pd.Timedelta(days=365))
                        & (orders["timestamp"] <= base.as_of)]
        assert why.loc["count(purchase, last 365 days) >= 2", "count"] == len(bought)


def test_a_segment_explains_itself_through_the_model(tiny_base):
    segment = tiny_base.segment('city = "Lyon" and score >= 15')
    from segexplore.rules.explain import explain

    member = segment.members()["contact_id"].iloc[0]
    assert segment.explain(member).equals(explain(segment, tiny_base, member))
