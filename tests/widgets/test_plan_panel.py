"""Issue 15, the explorer's Plan tab: entries in priority order, sizes, fallbacks, preview
and export.

Headless, as tests/widgets/test_widgets.py: the form's widgets are set as the browser would
and their buttons clicked. Every number shown is checked against "first rule wins"
computed here with plain pandas masks over the bundled sample's columns.
"""

from __future__ import annotations

import base64
import io
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from duckdb_sample import duck, pandas_base  # noqa: F401 (fixtures)

import segexplore as se
from segexplore.widgets import explore
from segexplore.widgets.app import TAB_TITLES
from segexplore.widgets.plan_panel import PREVIEW_ROWS, PlanDraft, PlanPanel, new_export_folder
from segexplore.widgets.state.sources import CURRENT

GOLD = 'loyalty_tier = "gold"'
FRANCE = 'country = "FR"'
PARIS = 'city = "Paris"'


@pytest.fixture()
def base() -> se.ContactBase:
    return se.load_sample()


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html)))


def table_rows(html: str, css: str) -> list[dict[str, str]]:
    """The rows of the table of class ``css`` in ``html``: ``{header: cell text}``."""
    table = re.search(rf'<table class="se-table {css}".*?</table>', html, re.S)
    assert table, html
    headers = [_text(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", table.group(0))]
    return [dict(zip(headers, [_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                   row, re.S)], strict=True))
            for row in re.findall(r"<tr>(.*?)</tr>", table.group(0), re.S)[1:]]


def number(text: str) -> int:
    """A count as the page writes it (``12 834`` in French, with U+202F) as an int."""
    return int(re.sub(r"\D", "", text))


def add(panel: PlanPanel, source: str, variant: str, *, subject: str = "",
        template: str = "") -> None:
    panel.source.value = source
    panel.variant.value = variant
    panel.subject.value = subject
    panel.template.value = template
    panel.add_button.click()


def first_match_wins(masks: dict[str, np.ndarray], default: str | None) -> pd.Series:
    """Each contact's variant: the first mask that holds, else ``default`` (None)."""
    n = len(next(iter(masks.values())))
    chosen = np.full(n, None, dtype=object)
    for variant, mask in masks.items():
        chosen[(chosen == None) & mask] = variant  # noqa: E711 (element-wise)
    if default is not None:
        chosen[chosen == None] = default  # noqa: E711
    return pd.Series(chosen)


@pytest.fixture()
def app(base, tmp_path):
    """The explorer with a saved segment "Gold"; the plan: Gold, then the rule being built
    (France), then Paris (inside France: it gets nobody), and the default "others"."""
    app = explore(base, segments={"Gold": GOLD}, debounce=0, lazy=False,
                  export_folder=tmp_path / "exports")
    panel = app.plan_panel
    add(panel, "Gold", "gold", subject="{first_name|Cher client}, merci")
    app.builder.rule_text.value = FRANCE
    add(panel, CURRENT, "france", subject="Bonjour {first_name|cher client}",
        template="Votre statut : {loyalty_tier|membre}")
    app.builder.rule_text.value = PARIS
    add(panel, CURRENT, "paris")
    panel.default_variant.value = "others"
    panel.default_button.click()
    return app


def test_the_plan_tab_follows_the_other_tabs(base):
    app = explore(base, debounce=0, lazy=False)
    assert TAB_TITLES == ("Profile", "Build", "Compare", "Export", "Plan")
    assert app.tabs.children[TAB_TITLES.index("Plan")] is app.plan_panel
    # a segment saved in Build is offered at once
    app.builder.rule_text.value = GOLD
    app.builder.name.value = "Gold"
    app.builder.save_button.click()
    assert list(app.plan_panel.source.options) == [CURRENT, "Gold"]


def test_sizes_are_first_rule_wins_over_plain_pandas_masks(app, base):
    contacts = base.contacts
    masks = {"gold": contacts["loyalty_tier"].eq("gold").to_numpy(),
             "france": contacts["country"].eq("FR").to_numpy(),
             "paris": contacts["city"].eq("Paris").to_numpy()}
    expected = first_match_wins(masks, "others").value_counts()
    rows = {r["variant"]: r for r in table_rows(app.plan_panel.summary_html.value,
                                                "se-plan-summary-table")}
    assert list(rows) == ["gold", "france", "paris", "others"]
    assert [rows[v]["#"] for v in rows] == ["1", "2", "3", "default"]
    assert rows["france"]["who"] == FRANCE and rows["gold"]["who"] == "Gold"
    for variant in ("gold", "france", "others"):
        assert number(rows[variant]["assigned"]) == expected[variant], variant
    assert number(rows["paris"]["assigned"]) == 0 and "paris" not in expected
    # what each entry lost to earlier ones
    gold, france, paris = masks["gold"], masks["france"], masks["paris"]
    assert number(rows["france"]["matched"]) == france.sum() == 16_059
    assert number(rows["france"]["taken_by_earlier"]) == (france & gold).sum()
    assert number(rows["paris"]["taken_by_earlier"]) == paris.sum() == 3_225
    assert rows["paris"]["lost_to"] == (f"gold {(paris & gold).sum():,}, "
                                        f"france {(paris & ~gold).sum():,}")
    assert "0 without a variant" in _text(app.plan_panel.summary_html.value)
    entries = table_rows(app.plan_panel.entries_html.value, "se-plan-entries-table")
    assert [e["variant"] for e in entries] == ["gold", "france", "paris", "others"]


def test_fallback_counts_are_those_of_plain_pandas(app, base):
    contacts = base.contacts
    masks = {"gold": contacts["loyalty_tier"].eq("gold").to_numpy(),
             "france": contacts["country"].eq("FR").to_numpy()}
    in_france = (first_match_wins(masks, None) == "france").to_numpy()
    no_tier = contacts["loyalty_tier"].isna() | contacts["loyalty_tier"].astype(
        "str").str.strip().eq("")
    rows = table_rows(app.plan_panel.missing_html.value, "se-plan-missing-table")
    by_key = {(r["variant"], r["field"]): r for r in rows}
    assert set(by_key) == {("gold", "first_name"), ("france", "first_name"),
                           ("france", "loyalty_tier")}
    tier = by_key[("france", "loyalty_tier")]
    assert number(tier["missing"]) == int((in_france & no_tier.to_numpy()).sum()) > 0
    assert number(tier["contacts"]) == int(in_france.sum())
    assert tier["fallback"] == "membre" and tier["used_in"] == "template"
    assert number(by_key[("gold", "first_name")]["missing"]) == int(
        contacts.loc[masks["gold"], "first_name"].isna().sum())


def test_the_preview_is_masked(app, base):
    html = app.plan_panel.preview_html.value
    rows = table_rows(html, "se-plan-preview-table")
    shown = pd.DataFrame(rows)
    assert shown["variant"].value_counts().to_dict() == {"gold": PREVIEW_ROWS,
                                                         "france": PREVIEW_ROWS,
                                                         "others": PREVIEW_ROWS}
    emails = set(base.contacts["email"])
    assert not emails & set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", _text(html)))
    names = set(base.contacts["first_name"].dropna())
    for subject in shown.loc[shown["variant"] == "gold", "subject"]:
        assert re.fullmatch(r"\w\., merci", subject), subject  # initials only
        assert subject.split(",")[0] not in names
    for row in rows:  # each is one of the variant's contacts
        contact = base.contacts.loc[base.contacts["contact_id"] == int(row["contact_id"])]
        assert len(contact) == 1
        if row["variant"] == "gold":
            assert contact["loyalty_tier"].iloc[0] == "gold"


def test_mistakes_are_messages_and_add_nothing(app, base):
    panel = app.plan_panel
    add(panel, "Gold", "vip", subject="Bonjour {frist_name}")
    assert "did you mean 'first_name'" in _text(panel.status.value)
    add(panel, "Gold", "Gold")  # the variant names compare without case
    assert "is in the plan already" in _text(panel.status.value)
    add(panel, "Gold", "  ")
    assert "variant must be a non-empty text" in _text(panel.status.value)
    assert [e.variant for e in panel.draft.entries] == ["gold", "france", "paris"]
    panel.default_template.value = "Bonjour {first_name"  # unclosed
    panel.default_button.click()
    assert "se-error-box" in panel.status.value and panel.draft.default.variant == "others"
    panel.remove_button.click()
    assert [e.variant for e in panel.draft.entries] == ["gold", "france"]
    assert "paris" not in {r["variant"] for r in table_rows(panel.summary_html.value,
                                                           "se-plan-summary-table")}
    empty = explore(base, debounce=0, lazy=False).plan_panel
    empty.variant.value = "x"
    empty.add_button.click()  # no rule in the Build tab
    assert "Build or save a segment first." in _text(empty.status.value)
    empty.export_button.click()
    assert "add an entry to the plan first" in _text(empty.export_output.value)


def test_export_writes_a_new_folder_each_time(app, base, tmp_path):
    contacts = base.contacts
    panel = app.plan_panel
    panel.name.value = "Rentrée 2026"
    panel.export_button.click()
    first = panel.result
    assert first is not None, panel.export_output.value
    assert first.folder == tmp_path / "exports" / "Rentrée_2026"
    assert list(first.files) == ["Rentree_2026.csv"]  # the export's file names are ASCII
    written = pd.read_csv(first.folder / "Rentree_2026.csv", dtype=str, keep_default_na=False)
    # who may be emailed (consent given, a valid email, once each) of each variant
    masks = {"gold": contacts["loyalty_tier"].eq("gold").to_numpy(),
             "france": contacts["country"].eq("FR").to_numpy(),
             "paris": contacts["city"].eq("Paris").to_numpy()}
    variants = first_match_wins(masks, "others")
    sendable = (contacts["consent"].eq("given") & contacts["email_valid"].astype(bool)
                & contacts["email"].notna()).to_numpy()
    assert contacts.loc[sendable, "email"].is_unique
    assert written["variant"].value_counts().to_dict() == \
        variants[sendable].value_counts().to_dict()
    assert len(written) == int(sendable.sum()) == first.files["Rentree_2026.csv"].rows
    # the link offers the same bytes
    link = re.search(r'download="Rentree_2026.csv" href="data:text/csv;base64,([^"]+)"',
                     panel.export_output.value)
    data = base64.b64decode(link.group(1))
    assert data == (first.folder / "Rentree_2026.csv").read_bytes()
    assert len(pd.read_csv(io.BytesIO(data))) == len(written)
    assert str(first.folder) in _text(panel.export_output.value)

    # again, per variant with the Brevo preset: a new folder, the first one untouched
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    panel.preset.value = "brevo"
    panel.layout_choice.value = "per_variant"
    panel.export_button.click()
    second = panel.result
    assert second.folder == tmp_path / "exports" / "Rentrée_2026_2"
    assert {p.name: p.read_bytes() for p in first.folder.iterdir()} == before
    per_variant = {name: pd.read_csv(second.folder / name, dtype=str, keep_default_na=False)
                   for name in second.files}
    assert {name: len(frame) for name, frame in per_variant.items()} == {
        f"Rentree_2026_{v}.csv": n for v, n in variants[sendable].value_counts().items()} | {
        "Rentree_2026_paris.csv": 0}  # paris got nobody: an empty file, still written
    assert "EMAIL" in next(iter(per_variant.values())).columns  # Brevo's column names
    assert panel.export_output.value.count("se-download-link") == len(second.files) == 4


def test_new_export_folders_never_reuse_a_name(tmp_path):
    (tmp_path / "plan").mkdir()
    (tmp_path / "plan_2").write_text("someone else's file")
    assert new_export_folder(tmp_path, "plan") == tmp_path / "plan_3"
    assert new_export_folder(tmp_path / "new", "plan") == tmp_path / "new" / "plan"


def test_a_duckdb_base_shows_the_pandas_numbers(pandas_base, duck):  # noqa: F811
    shown = []
    for each in (pandas_base, duck):
        draft = PlanDraft(each)
        draft.add(GOLD, "gold", template="{first_name|cher client}")
        draft.add(FRANCE, "france", subject="{loyalty_tier|membre}")
        draft.set_default("others")
        panel = PlanPanel(each, locale="en")
        panel.draft = draft
        panel.refresh()
        shown.append((table_rows(panel.summary_html.value, "se-plan-summary-table"),
                      table_rows(panel.missing_html.value, "se-plan-missing-table"),
                      len(table_rows(panel.preview_html.value, "se-plan-preview-table"))))
    assert shown[0] == shown[1]
    contacts = pandas_base.contacts
    gold = contacts["loyalty_tier"].eq("gold")
    assert number(shown[1][0][1]["assigned"]) == int((contacts["country"].eq("FR") & ~gold).sum())
    assert shown[1][2] == 3 * PREVIEW_ROWS


def test_a_connected_base_gets_the_plans_message_not_a_failure(pandas_base):  # noqa: F811
    import duckdb

    connection = duckdb.connect()
    contacts = pandas_base.contacts.copy()
    for name in contacts.columns:  # an engine's tables hold no pandas categories
        if isinstance(contacts[name].dtype, pd.CategoricalDtype):
            contacts[name] = contacts[name].astype(object).where(contacts[name].notna(),
                                                                 None).astype("str")
    for name, frame in (("contacts", contacts), ("events", pandas_base.events),
                        ("orders", pandas_base.orders)):
        connection.register(name, frame)
    connected = se.connect(connection, "contacts", "events", "orders",
                           as_of=pandas_base.as_of)
    try:
        with pytest.raises(se.errors.ParameterTypeError) as refused:
            se.VariantPlan(connected)
        app = explore(connected, debounce=0, lazy=False)
        panel = app.plan_panel
        assert str(refused.value) in _text(panel.status.value)
        assert "The Plan tab cannot work on this base" in _text(panel.status.value)
        assert panel.add_button not in panel.children
        # the look-up box works there
        app.builder.rule_text.value = FRANCE
        app.builder.lookup.look_up("1")
        assert "Contact 1 is not in the segment" in _text(app.builder.lookup.output.value)
    finally:
        connected.close()
