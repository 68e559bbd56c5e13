"""The explorer's small defects of issue 17: caret font, Excel export and presets, table
alignment, no raw size value on show, dates without a time of day, labelled event
filters, no icon font."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import segexplore as se
from segexplore.delivery.csv import PRESETS as DELIVERY_PRESETS
from segexplore.errors import RuleSyntaxError
from segexplore.widgets import SegmentBuilder, explore
from segexplore.widgets.display import error_html, frame_html, size_html
from segexplore.widgets.export_panel import PRESETS, ExportPanel, export_csv


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


def test_the_caret_line_is_monospace():
    with pytest.raises(RuleSyntaxError) as error:
        se.parse("purchases_90d last >= 2")
    html = error_html(error.value)
    match = re.search(r'<pre class="se-error-caret" style="([^"]*)"', html)
    assert match and "monospace" in match.group(1)


def test_excel_export_has_a_bom_and_semicolons(sample):
    segment = sample.segment('city = "Lyon"', name="Lyon", save=False)
    plain = export_csv(segment)
    excel = export_csv(segment, excel=True)
    assert not plain.data.startswith(b"\xef\xbb\xbf")
    assert excel.data.startswith(b"\xef\xbb\xbf")
    header = excel.data[3:].decode("utf-8").splitlines()[0]
    assert ";" in header and "," not in header
    assert excel.rows == plain.rows


def test_export_tab_offers_excel_and_every_esp_preset():
    sample = se.load_sample()  # a base of its own: a segment is saved
    panel = ExportPanel(sample)
    assert set(PRESETS) == {"plain"} | {k for k in DELIVERY_PRESETS if k}
    assert list(panel.preset.options)[0] == "plain" and set(panel.preset.options) == set(PRESETS)
    sample.segment('city = "Lyon"', name="Lyon (excel test)")
    panel.refresh_segments()
    panel.segment_select.value = "Lyon (excel test)"
    panel.excel.value = True
    panel.preset.value = "brevo"
    panel.run()
    assert panel.result.data.startswith(b"\xef\xbb\xbf")
    assert panel.result.data[3:].decode().splitlines()[0].startswith("EMAIL;")
    assert panel.result.filename == "Lyon_excel_test.csv"


def test_table_headers_are_aligned_like_their_cells():
    frame = pd.DataFrame({"segment": ["A", "B"], "size": [1234, 56], "share": [0.5, 0.25]})
    html = frame_html(frame)
    heads = re.findall(r'<th[^>]*style="text-align: ?(\w+)', html)
    cells = re.findall(r'<td[^>]*style="text-align: ?(\w+)', html)
    assert heads == ["left", "right", "right"]
    assert cells == ["left", "right", "right"] * 2


def test_the_exact_size_is_not_shown_beside_the_readable_one():
    html = size_html(1334, 20000)
    assert '<span class="se-size-value"' in html and ">1334</span>" in html  # the contract
    style = re.search(r'<span class="se-size-value"[^>]*style="([^"]*)"', html).group(1)
    assert "clip" in style and "position:absolute" in style  # for tests, not for eyes


def test_date_means_are_dates():
    frame = pd.DataFrame({"attribute": ["birth_date"],
                          "mean": [pd.Timestamp("1985-08-13 14:56:07")]}, dtype=object)
    html = frame_html(frame)
    assert "1985-08-13" in html and "14:56" not in html


def test_event_filters_show_their_label(sample):
    builder = SegmentBuilder(sample, debounce=0)
    row = builder.rows[0]
    row.field.value = "event:purchase"
    assert row.editor.filters  # brand and category
    for prop, dropdown in row.editor.filters.items():
        assert dropdown.index == 0 and dropdown.label == f"any {prop}"
    assert builder.rule_text.value == "count(purchase, last 30 days) >= 1"
    row.editor.filters["brand"].value = "Nike"
    assert 'brand = "Nike"' in builder.rule_text.value
    row.editor.filters["brand"].index = 0
    assert builder.rule_text.value == "count(purchase, last 30 days) >= 1"


def test_no_button_uses_an_icon_font(sample):
    app = explore(sample, debounce=0)
    seen = []

    def walk(widget):
        seen.append(widget)
        for child in getattr(widget, "children", ()):
            walk(child)

    walk(app)
    for panel in (app.builder, app.compare_panel, app.export_panel):
        walk(panel)
    icons = [w.description for w in seen if getattr(w, "icon", "")]
    assert icons == []


def test_the_chart_picker_says_which_fields_are_charted(sample):
    builder = SegmentBuilder(sample, rule='device = "Android"', debounce=0,
                             chart_attributes=["gender", "region"])
    assert len(builder.charts.children) == 2
    assert "<b>gender</b>, <b>region</b>" in builder.charted.value  # region: scrolled away
    builder.chart_fields.value = ("city",)
    assert "<b>city</b>" in builder.charted.value and "gender" not in builder.charted.value
