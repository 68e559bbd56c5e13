"""Personal data in what stakeholders and the Profile show (issue 11).

- The stakeholder report (``segment_report``, the segment_report dashboard) pseudonymises
  personal data by default; ``mask_pii=False`` is the analyst's explicit opt-out.
- A profile never quotes the values of a column that identifies people (ids, emails,
  phones, nearly unique references): counts, distinct and missing only. Ordinary
  categorical columns keep their top values.

Every expectation is worked out by hand or with plain pandas on the fixture.
"""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest

import segexplore as se
from segexplore.analysis.attributes import attribute_kind, is_identifier
from segexplore.rules.mask import mask_rule
from segexplore.widgets import ProfilePanel, explore, segment_report
from segexplore.widgets.state.fields import pii_columns

#: Email-shaped substrings (lenient: what a reader would take for an address).
EMAILS = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")

N = 40
SHARED_PHONE = "06 12 34 56 78"   # a household: three contacts share it
SHARED_MOBILE = 612345678         # read as a number; two contacts share it
SHARED_REFERRER = "info@shop.fr"  # ten contacts were referred by the shop's address


def widget_text(widget) -> str:
    """Everything a widget tree sends to the page: every synced trait, as text.

    JSON without ASCII escapes (so "Élodie" stays "Élodie"), then HTML entities decoded,
    so a value is found however the widget quoted it.
    """
    parts, stack = [], [widget]
    while stack:
        node = stack.pop()
        state = node.get_state()
        parts.append(json.dumps(state, ensure_ascii=False, default=str))
        stack.extend(getattr(node, "children", ()))  # FigureView's figure is its `spec`
    return html.unescape(" ".join(parts))


def words(text: str) -> set[str]:
    return set(re.findall(r"[^\W\d_]+(?:[-'][^\W\d_]+)*", text))


def people_frame() -> pd.DataFrame:
    """40 contacts with a shared phone, a shared mobile, a shared referrer and a CRM ref."""
    return pd.DataFrame({
        "contact_id": range(1, N + 1),
        "email": [f"person{i}@example.fr" for i in range(N)],
        "first_name": ["Ann", "Bob"] * (N // 2),
        "last_name": ["Peeters"] * 4 + ["Lefebvre"] * (N - 4),
        "Téléphone": [SHARED_PHONE] * 3 + [f"07 00 00 {i:02d} {i:02d}" for i in range(N - 3)],
        "mobile": [SHARED_MOBILE] * 2 + [600000000 + i for i in range(N - 2)],
        "parrain_email": [SHARED_REFERRER] * 10 + [None] * (N - 10),
        "crm_ref": [f"c0a8-{i:04x}-4f1e" for i in range(N)],
        "city": ["Lyon"] * 25 + ["Paris"] * 15,
        "device": ["Android"] * 22 + ["iOS"] * 18,
        "consent": "given",
    })


@pytest.fixture(scope="module")
def people() -> se.ContactBase:
    return se.read_base(people_frame())


@pytest.fixture(scope="module")
def sample() -> se.ContactBase:
    return se.load_sample()


# ------------------------------------------------------------------ which columns identify

def test_identifier_columns_are_recognised_by_role_name_and_content(people):
    contacts = people.contacts
    identifiers = {c for c in contacts.columns
                   if is_identifier(contacts[c], people.roles.roles[c], c)}
    assert identifiers == {"contact_id", "email", "email_original", "Téléphone", "mobile",
                           "parrain_email"}
    # crm_ref is told by its values, nearly all distinct, in the profile (below)
    assert attribute_kind(contacts["email_original"], "text", name="email_original") \
        == "identifier"
    # the words alone do not make an identifier: a yes/no "email_valid", a "phone_verified"
    # flag, a category "email_problem" or "mobile_app" user are ordinary columns
    assert not is_identifier(contacts["email_valid"], "boolean", "email_valid")
    assert not is_identifier(pd.Series([True, False] * 5), "boolean", "phone_verified")
    assert not is_identifier(pd.Series(["no @", "contains a space"] * 5, dtype="category"),
                             "text", "email_problem")
    assert not is_identifier(pd.Series(["yes", "no"] * 5), "categorical", "mobile")


# ------------------------------------------------------------------ the profile

def test_profile_of_the_fixture_shows_no_identifier_value(people):
    prof = people.profile(include_features=False)
    summary = prof.summary.set_index("attribute")
    identifiers = ["contact_id", "email", "email_original", "Téléphone", "mobile",
                   "parrain_email", "crm_ref"]
    assert (summary.loc[identifiers, "kind"] == "identifier").all()
    assert not set(prof.top_values["attribute"]) & set(identifiers)
    for column in ("top", "min", "max", "mean", "p50"):
        assert summary.loc[identifiers, column].isna().all(), column
    # counts still there, by hand: 38 phones (3 share one), 39 mobiles, 1 referrer for 10
    assert summary.loc["Téléphone", "distinct"] == 38
    assert summary.loc["mobile", "distinct"] == 39
    assert (summary.loc["parrain_email", ["count", "missing", "distinct"]].tolist()
            == [10, 30, 1])
    assert summary.loc["crm_ref", "distinct"] == N
    # no identifier value anywhere in the profile's tables or its HTML
    contacts = people.contacts
    secret = ({SHARED_PHONE, SHARED_REFERRER, str(SHARED_MOBILE)}
              | set(contacts["email"]) | set(contacts["crm_ref"]))
    quoted = {str(v) for v in prof.top_values["value"]} | {
        str(v) for v in prof.summary[["top", "min", "max"]].to_numpy().ravel() if pd.notna(v)}
    assert not quoted & secret
    page = html.unescape(prof._repr_html_())
    assert not [s for s in secret if s in page]
    assert not set(EMAILS.findall(page)) & secret  # (plotly.js itself names its authors)
    # ordinary columns keep their top values, as plain pandas counts them
    top = prof.top_values
    for column in ("city", "device", "first_name"):
        shown = top[top["attribute"] == column].set_index("value")["count"]
        expected = contacts[column].value_counts()
        assert shown.to_dict() == {k: int(v) for k, v in expected.items()}, column
    assert summary.loc["city", "top"] == "Lyon" and summary.loc["city", "top_count"] == 25


def test_masked_profile_decides_identifiers_on_the_real_values(people):
    # pseudonymised emails no longer look like emails: the kind must not change with them
    masked = people.profile(include_features=False, mask_pii=True).summary.set_index(
        "attribute")
    plain = people.profile(include_features=False).summary.set_index("attribute")
    assert masked["kind"].equals(plain["kind"])
    assert masked.loc["first_name", "top"] in ("A.", "B.")


def test_profile_of_the_sample_shows_no_email(sample):
    prof = sample.profile()
    contacts = sample.contacts
    emails = set(contacts["email"].dropna()) | set(contacts["email_original"].dropna())
    summary = prof.summary.set_index("attribute")
    assert (summary.loc[["contact_id", "email", "email_original"], "kind"]
            == "identifier").all()
    assert summary.loc["email_original", "distinct"] == contacts["email_original"].nunique()
    assert not {str(v) for v in prof.top_values["value"]} & emails
    assert not {str(v) for v in prof.top_values["value"]
                if EMAILS.fullmatch(str(v))}
    page = html.unescape(prof._repr_html_())
    assert not set(EMAILS.findall(page)) & emails
    # categorical columns as before: the three devices with their pandas counts
    top = prof.top_values
    devices = top[top["attribute"] == "device"].set_index("value")["count"].to_dict()
    assert devices == {k: int(v) for k, v in contacts["device"].value_counts().items()}


def test_profile_panel_and_explorer_profile_tab_show_no_identifier(people, sample):
    contacts = people.contacts
    secret = ({SHARED_PHONE, SHARED_REFERRER, str(SHARED_MOBILE)}
              | set(contacts["email"]) | set(contacts["crm_ref"]))
    panel = ProfilePanel(people)
    assert "crm_ref" not in panel.attribute.options
    assert "Téléphone" not in panel.attribute.options
    seen = []
    for attribute in panel.attribute.options:  # every attribute the analyst can pick
        panel.attribute.value = attribute
        seen.append(widget_text(panel))
    text = " ".join(seen)
    assert not [s for s in secret if s in text]
    panel.attribute.value = "city"
    assert "Lyon" in panel.top_values.value and "Paris" in panel.top_values.value
    # the explorer's Profile tab on the sample
    app = explore(sample, debounce=0)
    app.profile_panel.run()
    emails = set(sample.contacts["email"]) | set(sample.contacts["email_original"])
    tab = widget_text(app.profile_panel)
    assert not set(EMAILS.findall(tab)) & emails
    assert not EMAILS.findall(tab)


# ------------------------------------------------------------------ the stakeholder report

def _people_segments(base: se.ContactBase) -> dict[str, object]:
    contacts = base.contacts
    row = contacts.iloc[7]
    email, first, last = row["email"], row["first_name"], row["last_name"]
    return {
        "One person": base.segment(f'email = "{email}"', name="One person", save=False),
        "Namesakes": base.segment(f'first_name = "{first}" and last_name = "{last}"',
                                  name="Namesakes", save=False),
        "Android": base.segment('device = "Android"', name="Android", save=False),
    }


def test_report_masks_people_by_default_and_shows_them_on_opt_out(sample):
    contacts = sample.contacts
    segments = _people_segments(sample)
    row = contacts.iloc[7]
    report = segment_report(sample, segments)
    text = widget_text(report)
    emails = set(contacts["email"].dropna()) | set(contacts["email_original"].dropna())
    assert not set(EMAILS.findall(text)) & emails
    assert not [e for e in (row["email"], row["email_original"]) if e in text]
    # no first or last name of any contact as a word of the page
    names = set(contacts["first_name"].dropna()) | set(contacts["last_name"].dropna())
    assert not words(text) & names
    # the sizes are those of the real rules
    sizes = report.parts.tables["sizes"].set_index("segment")["size"].to_dict()
    assert sizes == {"One person": 1,
                     "Namesakes": int(((contacts["first_name"] == row["first_name"])
                                       & (contacts["last_name"] == row["last_name"])).sum()),
                     "Android": int((contacts["device"] == "Android").sum())}
    # the analyst's opt-out shows the rules as written
    plain = widget_text(segment_report(sample, segments, mask_pii=False))
    assert row["email"] in plain
    assert {row["first_name"], row["last_name"]} <= words(plain)


def test_report_masks_phones_referrers_and_emails_in_descriptions(people):
    contacts = people.contacts
    email = contacts["email"].iloc[3]
    segments = [
        people.segment(f'`Téléphone` = "{SHARED_PHONE}"', name="Household", save=False),
        people.segment(f"mobile = {SHARED_MOBILE}", name="Mobile", save=False),
        people.segment(f'parrain_email = "{SHARED_REFERRER}" and first_name = "Ann"',
                       name="Referred", save=False,
                       description=f"asked by {email} on the phone"),
        people.segment('last_name in ("Peeters", "Lefebvre") and city = "Lyon"',
                       name="Two families", save=False),
    ]
    text = widget_text(segment_report(people, segments))
    secret = {SHARED_PHONE, str(SHARED_MOBILE), SHARED_REFERRER, email, "Peeters",
              "Lefebvre"}
    assert not [s for s in secret if s in text]
    assert "Ann" not in words(text) and "Lyon" in text  # a city is not personal data
    plain = widget_text(segment_report(people, segments, mask_pii=False))
    assert secret <= {s for s in secret if s in plain}


def test_segment_report_dashboard_masks_by_default():
    """The dashboard notebook calls ``segment_report(base, segments)``: the default masks."""
    import inspect

    from segexplore.widgets.report import SegmentReport

    assert inspect.signature(segment_report).parameters["mask_pii"].default is True
    assert inspect.signature(SegmentReport).parameters["mask_pii"].default is True


def test_mask_rule_masks_personal_literals_only(people):
    rule = people.segment(
        '(first_name = "Ann" or email in ("a@b.fr", "c@d.fr")) and city = "Lyon" and '
        'count(purchase where brand = "x@y.fr", last 30 days) >= 1').rule
    masked = str(mask_rule(rule, pii_columns(people), salt="s"))
    assert "Ann" not in masked and "A." in masked
    assert not EMAILS.findall(masked)
    assert 'city = "Lyon"' in masked and "last 30 days" in masked
    assert str(mask_rule(rule, pii_columns(people), salt="s")) == masked  # stable
    assert np.array_equal(people.segment(rule).mask, people.segment(str(rule)).mask)


def test_report_leaves_a_numeric_phone_out_of_the_differences():
    # A landline read as numbers ("tel_fixe"), role numeric: compare() tests it and the
    # report would chart it (min/max, distributions are phone numbers). Not with the mask.
    frame = people_frame().drop(columns=["mobile"])
    frame["tel_fixe"] = [140000000 + i for i in range(N)]
    frame["score"] = [i % 7 for i in range(N)]
    base = se.read_base(frame)
    assert base.roles.roles["tel_fixe"] == "numeric"
    assert "tel_fixe" in pii_columns(base)
    segments = [base.segment("tel_fixe >= 140000020", name="Late numbers", save=False),
                base.segment('city = "Lyon"', name="Lyon", save=False)]
    plain = segment_report(base, segments, mask_pii=False)
    assert "tel_fixe" in set(plain.parts.tables["differences"]["attribute"])
    masked = segment_report(base, segments)
    assert "tel_fixe" not in set(masked.parts.tables["differences"]["attribute"])
    assert not [f for f in masked.parts.figures if "tel_fixe" in f]
    text = widget_text(masked)
    assert "140000020" not in text and "tel_fixe >= " in text
