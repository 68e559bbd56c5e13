"""The stakeholder report's plan section (issue 15): its sizes against an independent
"first rule wins" computation in plain numpy, the fallbacks against pandas' missing
counts, personal data masked by default, and the section in the offline page."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import segexplore as se
from segexplore.errors import ParameterError
from segexplore.model.base import ContactBase
from segexplore.widgets.report import segment_report


class _Tables(HTMLParser):
    """The text of every cell of every table whose class names ``css_class``."""

    def __init__(self, css_class: str) -> None:
        super().__init__()
        self.css_class = css_class
        self.tables: list[list[list[str]]] = []
        self._inside = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and self.css_class in (dict(attrs).get("class") or "").split():
            self._inside = True
            self.tables.append([])
        elif self._inside and tag == "tr":
            self.tables[-1].append([])
        elif self._inside and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._inside = False
        elif self._inside and tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_frame(page: str, css_class: str) -> pd.DataFrame:
    """The one table of ``css_class`` in ``page``, header row as columns."""
    parser = _Tables(css_class)
    parser.feed(page)
    assert len(parser.tables) == 1, (css_class, len(parser.tables))
    header, *rows = parser.tables[0]
    return pd.DataFrame(rows, columns=header)


def as_int(text: str) -> int:
    """A count as the report writes it, in English or French (narrow no-break spaces)."""
    return int("".join(ch for ch in text if ch.isdigit()))


@pytest.fixture(scope="module")
def sample() -> ContactBase:
    return se.load_sample()


@pytest.fixture(scope="module")
def plan_and_expected(sample):
    contacts, features = sample.contacts, sample.features
    email = contacts["email"].iloc[7]
    conditions = [(contacts["email"] == email).fillna(False).to_numpy(bool),
                  (contacts["loyalty_tier"] == "gold").fillna(False).to_numpy(bool),
                  (features["purchases_365d"] >= 1).to_numpy(bool),
                  (contacts["city"] == "Paris").fillna(False).to_numpy(bool)]
    target = (contacts["country"] == "FR").fillna(False).to_numpy(bool)
    names = ["one", "gold", "buyers", "paris"]
    chosen = np.where(target, np.select(conditions, names, default="standard"), "")
    plan = (se.VariantPlan(sample, target='country = "FR"', default="standard",
                           name="rentree")
            .add(f'email = "{email}"', variant="one", subject="Pour " + email)
            .add('loyalty_tier = "gold"', variant="gold",
                 subject="{first_name|Cher client}, votre offre or",
                 template="Bonjour {first_name|cher client}, -20% sur "
                          "{preferred_brand|nos marques}", offer="OR20")
            .add("purchases_365d >= 1", variant="buyers",
                 template="Votre dernier achat date de {days_since_last_purchase} jours")
            .add('city = "Paris"', variant="paris", subject="Paris : {first_name}"))
    return plan, conditions, target, names, chosen, email


def test_the_sizes_are_first_rule_wins_as_plain_numpy_computes_them(sample, plan_and_expected):
    plan, conditions, target, names, chosen, _ = plan_and_expected
    page = segment_report(sample, [], plan=plan).plan_section
    summary = table_frame(page, "se-plan-summary-table").set_index("variant")
    assert summary.index.tolist() == [*names, "standard"]
    assert summary["#"].tolist() == ["1", "2", "3", "4", "default"]
    for name, condition in zip(names, conditions, strict=True):
        matched = int((condition & target).sum())
        assigned = int((chosen == name).sum())
        assert as_int(summary.loc[name, "matched"]) == matched, name
        assert as_int(summary.loc[name, "assigned"]) == assigned, name
        assert as_int(summary.loc[name, "taken_by_earlier"]) == matched - assigned, name
    assert as_int(summary.loc["standard", "assigned"]) == int((chosen == "standard").sum())
    assert sum(as_int(v) for v in summary["assigned"]) == int(target.sum())
    paris_lost = {n: int((conditions[3] & target & (chosen == n)).sum())
                  for n in ("gold", "buyers") if (conditions[3] & target & (chosen == n)).any()}
    assert paris_lost  # the sample has Paris buyers and gold members
    for name, lost in paris_lost.items():
        assert name in summary.loc["paris", "lost_to"]
        assert str(lost) in summary.loc["paris", "lost_to"].replace("\u202f", "")


def test_the_fallbacks_are_pandas_missing_counts(sample, plan_and_expected):
    plan, *_ = plan_and_expected
    page = segment_report(sample, [], plan=plan).plan_section
    missing = table_frame(page, "se-plan-missing-table")
    assigned = plan.assign()
    table = pd.concat([sample.contacts, sample.features], axis=1)
    # gold: first_name and preferred_brand; buyers: days_since_last_purchase; paris: first_name
    assert len(missing) == 4
    for row in missing.itertuples():
        ids = assigned.index[assigned["variant"] == row.variant]
        assert as_int(row.missing) == int(table.loc[ids, row.field].isna().sum()), row
        assert as_int(row.contacts) == len(ids)


def test_personal_data_is_masked_by_default(sample, plan_and_expected):
    plan, *_, email = plan_and_expected
    masked = segment_report(sample, [], plan=plan)
    page = html.unescape(masked.plan_section)
    shown = plan.preview(3)
    names = sample.contacts.set_index("contact_id").loc[shown["contact_id"], "first_name"]
    raw = set(shown["email"]) | {email} | set(names.dropna())
    assert not [value for value in raw if value in page]
    entries = table_frame(page, "se-plan-entries-table").set_index("variant")
    assert entries.loc["one", "who"].startswith('email = "') and email not in entries.loc[
        "one", "who"]
    assert entries.loc["gold", "body"] == ("Bonjour {first_name|cher client}, -20% sur "
                                           "{preferred_brand|nos marques}")
    preview = table_frame(page, "se-plan-preview-table")
    assert sorted(preview["contact_id"]) == sorted(str(i) for i in shown["contact_id"])
    # the analyst's explicit opt-out shows the rule and the rows as they are
    plain = html.unescape(segment_report(sample, [], plan=plan, mask_pii=False).plan_section)
    assert email in plain and all(e in plain for e in shown["email"])


def test_the_section_is_in_the_widget_and_the_offline_page(sample, plan_and_expected,
                                                          tmp_path):
    plan, *_ = plan_and_expected
    base = sample.at(sample.as_of)
    base.segment('device = "Android"', name="Android")
    other = se.VariantPlan(base).add('city = "Paris"', variant="paris")
    report = segment_report(base, plan=other)
    sections = [child.value for child in report.children
                if 'class="se-report-plan"' in getattr(child, "value", "")]
    assert len(sections) == 1 and "The personalisation plan" in sections[0]
    page = report.to_html(tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count('class="se-report-part se-report-plan"') == 1
    summary = table_frame(page, "se-plan-summary-table")
    assert as_int(summary.loc[0, "assigned"]) == base.count('city = "Paris"')
    assert "se-report-plan" not in segment_report(base).to_html(
        tmp_path / "without.html").read_text(encoding="utf-8")


def test_a_plan_on_another_base_is_refused(sample, plan_and_expected):
    plan, *_ = plan_and_expected
    with pytest.raises(ParameterError, match="another base"):
        segment_report(sample.at(sample.as_of), plan=plan)
