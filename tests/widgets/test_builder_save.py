"""Issue 10, the Build tab: saving over a name, what the name box, status and legends say
once the rule changes, and did-you-mean hints for values that match nobody.

Headless, as tests/widgets/test_widgets.py: widget values are set as the browser would and
counts are checked against ``base.count(text)`` computed independently.
"""

from __future__ import annotations

import re
import warnings
from html import unescape

import pytest

import segexplore as se
from segexplore.widgets import SegmentBuilder, explore

IDF_ANDROID = 'region = "Île-de-France" and device = "Android"'
LYON = 'city = "Lyon"'


@pytest.fixture()
def base() -> se.ContactBase:
    return se.load_sample()


def shown_size(builder: SegmentBuilder) -> int:
    match = re.search(r'<span class="se-size-value"[^>]*>(\d+)</span>',
                      builder.size_display.value)
    assert match, builder.size_display.value
    return int(match.group(1))


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def _shown(widget) -> bool:
    return widget.layout.display != "none"


def save_idf_android(builder: SegmentBuilder) -> None:
    builder.rule_text.value = IDF_ANDROID
    builder.name.value = "IDF Android"
    builder.save_button.click()


def test_a_new_rule_after_saving_is_not_labelled_with_the_saved_name(base):
    builder = SegmentBuilder(base, debounce=0, chart_attributes=["city"])
    save_idf_android(builder)
    assert base.segments["IDF Android"].size == base.count(IDF_ANDROID) == 1_334
    assert "Saved “IDF Android”: 1\u202f334 contacts." in _text(builder.save_status.value)
    assert builder.charts.children[0].data[0].name == "IDF Android"

    builder.rule_text.value = LYON
    assert shown_size(builder) == base.count(LYON) == 738
    # the name box, the status and the legends describe the rule being edited
    assert builder.name.value == ""
    status = _text(builder.save_status.value)
    assert "unsaved" in status.lower() and "“IDF Android” is kept" in status
    assert "Saved “IDF Android”" not in status
    assert [trace.name for trace in builder.charts.children[0].data] == ["segment", "whole base"]
    assert builder.segment().name == LYON
    # back to the saved rule: it is the saved segment again
    builder.rule_text.value = IDF_ANDROID
    assert builder.name.value == "IDF Android"
    assert "“IDF Android”" in _text(builder.save_status.value)
    assert builder.charts.children[0].data[0].name == "IDF Android"


def test_saving_a_different_rule_over_a_name_asks_first(base):
    builder = SegmentBuilder(base, debounce=0)
    save_idf_android(builder)
    builder.rule_text.value = LYON
    builder.name.value = "IDF Android"  # typed again on purpose
    assert builder.save() is None  # not saved: a confirmation is asked
    assert str(base.segments["IDF Android"].rule) == IDF_ANDROID
    assert base.segments["IDF Android"].size == 1_334
    assert _shown(builder.confirm_box)
    assert _text(builder.confirm_text.value) == \
        "Replace “IDF Android” (1\u202f334 contacts) with this rule (738 contacts)?"
    # Cancel keeps the saved segment as it was
    builder.cancel_button.click()
    assert not _shown(builder.confirm_box)
    assert str(base.segments["IDF Android"].rule) == IDF_ANDROID
    assert "Not saved" in _text(builder.save_status.value)
    # Replace saves the rule being edited under the name
    builder.save_button.click()
    assert _shown(builder.confirm_box)
    builder.replace_button.click()
    assert not _shown(builder.confirm_box)
    assert str(base.segments["IDF Android"].rule) == LYON
    assert base.segments["IDF Android"].size == base.count(LYON) == 738
    assert "Saved “IDF Android”: 738 contacts." in _text(builder.save_status.value)


def test_an_edit_while_asking_withdraws_the_question(base):
    builder = SegmentBuilder(base, debounce=0)
    save_idf_android(builder)
    builder.rule_text.value = LYON
    builder.name.value = "IDF Android"
    builder.save_button.click()
    assert _shown(builder.confirm_box)
    builder.rule_text.value = 'city = "Paris"'  # the question was about another rule
    assert not _shown(builder.confirm_box)
    assert str(base.segments["IDF Android"].rule) == IDF_ANDROID


def test_saving_the_same_rule_again_needs_no_confirmation(base):
    builder = SegmentBuilder(base, debounce=0)
    save_idf_android(builder)
    again = builder.save()
    assert again is not None and not _shown(builder.confirm_box)
    assert str(base.segments["IDF Android"].rule) == IDF_ANDROID


def test_a_rule_saved_elsewhere_is_protected_too(base):
    base.segment(IDF_ANDROID, name="IDF Android")  # e.g. from a catalog, not this builder
    builder = SegmentBuilder(base, rule=LYON, debounce=0)
    builder.name.value = "IDF Android"
    assert builder.save() is None and _shown(builder.confirm_box)
    assert builder.save(replace=True) is not None
    assert str(base.segments["IDF Android"].rule) == LYON


def test_the_explorer_builder_follows_the_same_rules(base):
    app = explore(base, debounce=0)
    save_idf_android(app.builder)
    app.builder.rule_text.value = LYON
    assert app.builder.name.value == ""
    assert app.export_panel.segment_select.value == "(segment being built)"


def test_a_value_that_matches_nobody_gets_a_did_you_mean_beside_the_size(base):
    builder = SegmentBuilder(base, debounce=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # shown in the page, not warned on every count
        builder.rule_text.value = 'region = "Ile-de-France"'
        builder.name.value = "IDF typo"
        assert builder.save() is not None
    assert shown_size(builder) == base.count('region = "Ile-de-France"') == 0
    assert _text(builder.value_hints.value) == \
        'region = "Ile-de-France" matches no contact; did you mean "Île-de-France"?'
    assert "se-message-warning" in builder.value_hints.value
    builder.rule_text.value = 'region = "Île-de-France"'
    assert builder.value_hints.value == ""
