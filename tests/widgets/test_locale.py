"""The explorer's headline numbers and the stakeholder report for French readers (issue 17).

The bundled sample is French (17,333 of its 20,000 contacts read French), so both write
``20 000`` and ``6,7 %`` unless ``locale="en"`` says otherwise. The segment
``region = "Île-de-France" and device = "Android"`` has 1,334 members (tests/widgets/
test_builder_save.py), 6.67 % of the base. U+202F is the narrow no-break space.
"""

from __future__ import annotations

import pytest

import segexplore as se
from segexplore.errors import ParameterError
from segexplore.widgets import explore, segment_report

NNBSP = "\u202f"
IDF_ANDROID = 'region = "Île-de-France" and device = "Android"'


@pytest.fixture()
def sample() -> se.ContactBase:
    return se.load_sample()


def test_the_explorer_writes_numbers_for_a_french_base(sample):
    app = explore(sample, debounce=0, lazy=True)
    assert app.locale == "fr"
    assert f"20{NNBSP}000 contacts as of" in app.header.value
    app.builder.set_text(IDF_ANDROID)
    assert (f"1{NNBSP}334 contacts (6,7{NNBSP}% of the base)"
            in app.builder.size_display.value)
    assert ">1334</span>" in app.builder.size_display.value  # the hidden integer is plain


def test_every_tab_of_a_french_explorer_writes_french_numbers(sample):
    # Seen in the 1400x900 screenshot: the header said "20 000 contacts" while the Profile
    # tab beside it said "20,000 contacts profiled" and "10,602" / "53.0%".
    app = explore(sample, debounce=0)
    profile = app.profile_panel
    assert f"<b>20{NNBSP}000</b> contacts profiled" in profile.heading.value
    genders = sample.contacts["gender"].value_counts()
    top, top_count = genders.index[0], int(genders.iloc[0])
    share = f"{100 * top_count / len(sample.contacts):.1f}".replace(".", ",")
    assert f">{top_count // 1000}{NNBSP}{top_count % 1000:03d}</td>" in profile.top_values.value
    assert f">{share}{NNBSP}%</td>" in profile.top_values.value
    assert ",0%" not in profile.summary.value and f"{NNBSP}%</td>" in profile.summary.value
    assert profile.chart.children[0].figure.layout.separators == f",{NNBSP}"
    assert "% of the contacts)" in profile.suggestion.options[0][0]
    assert f"{NNBSP}%" in profile.suggestion.options[0][0]
    app.builder.set_text(IDF_ANDROID)
    app.builder.name.value = "IDF Android"
    app.builder.save()
    assert f"Saved “IDF Android”: 1{NNBSP}334 contacts." in app.builder.save_status.value
    app.compare_panel.refresh_segments()
    app.compare_panel.select.value = ["IDF Android"]
    app.compare_panel.run()
    compared = _html(app.compare_panel)
    assert f">1{NNBSP}334</td>" in compared and f">6,7{NNBSP}%</td>" in compared
    sample.segment('device = "Android"', name="Android")
    members = sample.count('device = "Android"')
    export = app.export_panel
    export.refresh_segments()
    export.segment_select.value = "Android"
    export.run()
    sendable = export.result.rows
    assert sendable >= 1000  # so the row count needs a thousands separator
    assert (f"Download CSV ({sendable // 1000}{NNBSP}{sendable % 1000:03d} rows)"
            in export.output.value)
    assert f">{members // 1000}{NNBSP}{members % 1000:03d}</td>" in export.waterfall.value


def test_an_explicit_locale_wins_in_the_explorer(sample):
    app = explore(sample, debounce=0, lazy=True, locale="en")
    assert "20,000 contacts as of" in app.header.value
    app.builder.set_text(IDF_ANDROID)
    assert "1,334 contacts (6.7% of the base)" in app.builder.size_display.value
    with pytest.raises(ParameterError):
        explore(sample, debounce=0, lazy=True, locale="french")


def _html(widget) -> str:
    parts, stack = [], [widget]
    while stack:
        node = stack.pop()
        parts.append(str(getattr(node, "value", "")))
        stack.extend(getattr(node, "children", ()))
    return " ".join(parts)


def test_the_report_writes_sizes_and_shares_for_french_readers(sample):
    sample.segment(IDF_ANDROID, name="IDF Android")
    report = segment_report(sample)
    text = _html(report)
    assert report.locale == "fr"
    assert f"20{NNBSP}000 contacts as of 2026-10-30" in text
    assert f"1{NNBSP}334 contacts (6,7{NNBSP}% of the base)" in text
    # the sizes table: the size right-aligned, then its share
    assert f">1{NNBSP}334</td>" in text and f">6,7{NNBSP}%</td>" in text
    english = _html(segment_report(sample, locale="en"))
    assert "1,334 contacts (6.7% of the base)" in english and ">6.7%</td>" in english


def test_the_report_shows_each_segments_export_waterfall(sample):
    sample.segment(IDF_ANDROID, name="IDF Android")
    report = segment_report(sample, locale="en")
    waterfall = report.parts.tables["waterfall:IDF Android"]
    # every member is matched: 20,000 - 1,334 = 18,666 are not in the segment
    first = waterfall.iloc[0]
    assert (first["remaining"], first["removed"]) == (1334, 18666)
    # consented: members with a valid email and consent "given" (plain pandas)
    contacts = sample.contacts[sample.segment(IDF_ANDROID, save=False).mask]
    consented = int((contacts["email_valid"].astype(bool)
                     & (contacts["consent"] == "given")).sum())
    assert waterfall.set_index("step").loc["consented", "remaining"] == consented == 999
    text = _html(report)
    assert "Who can be emailed: IDF Android" in text and ">18,666</td>" in text


def test_the_upset_chart_comes_with_three_segments_not_two(sample):
    sample.segment(IDF_ANDROID, name="IDF Android")
    sample.segment('device = "iOS"', name="iOS")
    assert "intersections" not in segment_report(sample).parts.figures
    sample.segment('loyalty_tier in ("gold", "silver")', name="Loyal")
    figure = segment_report(sample).parts.figures["intersections"]
    # IDF Android and iOS share nobody (one device each): no bar joins them alone
    assert "IDF Android & iOS" not in list(figure.data[0].x)
    bars = dict(zip(figure.data[0].x, zip(figure.data[0].y, figure.data[0].text,
                                          strict=True), strict=True))
    only_ios = sample.count('device = "iOS" and not (loyalty_tier in ("gold", "silver"))')
    assert only_ios == 6894
    assert bars["iOS"] == (6894, f"6{NNBSP}894")  # the bar's label, for French readers
