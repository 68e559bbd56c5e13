"""Issue 15, the Build tab's "Why is this contact in?" box.

Headless, as tests/widgets/test_widgets.py: the rule is typed into the builder's text box,
the contact into the look-up box and *Why?* clicked; what the box shows is checked against
the bundled sample's own columns and events, computed here with plain pandas.
"""

from __future__ import annotations

import re
from html import unescape

import pandas as pd
import pytest
from duckdb_sample import duck, pandas_base  # noqa: F401 (fixtures)

import segexplore as se
from segexplore.widgets import SegmentBuilder, explore
from segexplore.widgets.lookup import HIDDEN

CITY_OR_AGE = 'city = "Liège" or age >= 60'
FR_BUYERS = 'country = "FR" and count(purchase, last 365 days) >= 1'


@pytest.fixture(scope="module")
def base() -> se.ContactBase:
    return se.load_sample()


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html)))


def shown_rows(html: str) -> list[dict[str, str]]:
    """The rows of the look-up table: ``{header: cell text}``, indentation removed."""
    table = re.search(r'<table class="se-table se-lookup-table".*?</table>', html, re.S)
    assert table, html
    headers = [_text(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table.group(0))]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)[1:]:
        cells = [_text(c).replace("\u00a0", " ").strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        rows.append(dict(zip(headers, cells, strict=True)))
    return rows


def look_up(builder: SegmentBuilder, rule: str, contact: str) -> str:
    builder.rule_text.value = rule
    builder.lookup.contact.value = contact
    builder.lookup.button.click()
    return builder.lookup.output.value


def test_a_hand_picked_contact_is_explained_condition_by_condition(base):
    contacts = base.contacts
    first = contacts.iloc[0]  # Élise, of Liège, born 1996-10-25
    age = base.as_of.year - first["birth_date"].year - (
        (base.as_of.month, base.as_of.day) < (first["birth_date"].month,
                                              first["birth_date"].day))
    builder = SegmentBuilder(base, debounce=0, chart_attributes=["city"])
    html = look_up(builder, CITY_OR_AGE, f"  {first['email'].upper()} ")  # as typed
    rows = shown_rows(html)
    assert [r["condition"] for r in rows] == [CITY_OR_AGE, 'city = "Liège"', "age >= 60"]
    assert rows[1]["value"] == first["city"] == "Liège" and rows[1]["holds"] == "yes"
    assert rows[2]["value"] == str(age) == "30" and rows[2]["holds"] == "no"
    assert rows[0]["holds"] == "yes"
    members = int(((contacts["city"] == "Liège") | (base.evaluator().column("age") >= 60)).sum())
    assert f"Contact {first['contact_id']} is in the segment" in _text(html)
    assert f"{members:,}".replace(",", "\u202f") in _text(html)  # the sample reads French


def test_an_event_condition_shows_the_events_counted_in_the_window(base):
    contacts, events = base.contacts, base.events
    start = base.as_of - pd.Timedelta(days=365)
    purchases = events[(events["event_type"] == "purchase") & (events["timestamp"] > start)
                       & (events["timestamp"] <= base.as_of)]
    per_contact = purchases.groupby("contact_id").size()
    french = contacts.loc[contacts["country"] == "FR", "contact_id"]
    buyer = int(per_contact[per_contact.index.isin(french)].sort_values().index[-1])
    stranger = int(contacts.loc[(contacts["country"] == "BE")
                                & ~contacts["contact_id"].isin(per_contact.index),
                                "contact_id"].iloc[0])
    builder = SegmentBuilder(base, debounce=0, chart_attributes=["city"])

    rows = shown_rows(look_up(builder, FR_BUYERS, str(buyer)))
    assert [r["holds"] for r in rows] == ["yes", "yes", "yes"]
    assert rows[1]["value"] == "FR"
    assert int(rows[2]["count"]) == int(per_contact[buyer]) > 1
    assert "after" in rows[2]["window"] and "up to" in rows[2]["window"]

    html = look_up(builder, FR_BUYERS, str(stranger))
    rows = shown_rows(html)
    assert [r["holds"] for r in rows] == ["no", "no", "no"]
    assert rows[1]["value"] == "BE" and rows[2]["count"] == "0"
    assert f"Contact {stranger} is not in the segment" in _text(html)


def test_unknown_contacts_and_broken_rules_are_messages(base):
    builder = SegmentBuilder(base, debounce=0, chart_attributes=["city"])
    html = look_up(builder, CITY_OR_AGE, "nobody@example.org")
    assert "no contact with email 'nobody@example.org'" in _text(html)
    assert "se-error-box" in html and "Traceback" not in html
    html = look_up(builder, CITY_OR_AGE, "999999")
    assert "no contact with contact_id '999999'" in _text(html)
    builder.lookup.contact.value = ""
    builder.lookup.button.click()
    assert "Type an email or a contact id first." in _text(builder.lookup.output.value)

    # a half-typed rule: its error (and caret), not the rule before it
    html = look_up(builder, 'city = "Liège" and', "1")
    assert "Fix the rule first" in _text(html) and "se-error-caret" in html
    assert "se-lookup-table" not in html
    # a rule that parses but names nothing the base has
    html = look_up(builder, "favourite_colour = 3", "1")
    assert "unknown field 'favourite_colour'" in _text(html)
    assert "se-lookup-table" not in html


def test_a_changed_rule_withdraws_the_table_shown(base):
    builder = SegmentBuilder(base, debounce=0, chart_attributes=["city"])
    assert "se-lookup-table" in look_up(builder, CITY_OR_AGE, "1")
    builder.rule_text.value = 'city = "Lyon"'
    assert "se-lookup-table" not in builder.lookup.output.value
    assert "The rule changed" in _text(builder.lookup.output.value)


def test_stakeholder_mode_shows_none_of_the_contacts_personal_data(base):
    first = base.contacts.iloc[0]
    app = explore(base, mask_pii=True, debounce=0, lazy=False)
    html = look_up(app.builder, 'city = "Liège" and first_name is not missing',
                   first["email"])
    rows = shown_rows(html)
    assert rows[1]["value"] == "Liège"  # not personal data: shown
    assert rows[2]["value"] == HIDDEN and rows[2]["holds"] == "yes"
    text = _text(html)
    assert first["first_name"] not in text and first["last_name"] not in text
    assert first["email"] not in text and "Contact 1 " not in text
    assert "This contact is in the segment" in text
    html = look_up(app.builder, CITY_OR_AGE, "nobody@example.org")
    assert "nobody@example.org" not in html
    assert "No contact has this email or contact id." in _text(html)


def test_a_duckdb_base_explains_as_the_pandas_base(pandas_base, duck):  # noqa: F811
    email = pandas_base.contacts["email"].iloc[4]
    shown = []
    for each in (pandas_base, duck):
        builder = SegmentBuilder(each, debounce=0, chart_attributes=["city"])
        shown.append(shown_rows(look_up(builder, FR_BUYERS, email)))
    assert shown[0] == shown[1]
    assert len(shown[0]) == 3
