"""The widgets, headless: set widget values as the browser would, check counts and texts.

Every count is checked against ``base.segment(text).size`` computed independently, every
chart against plain pandas, and the export link against the file ``export_segment`` writes.
Updates are synchronous (``debounce=0``).
"""

from __future__ import annotations

import base64
import io
import re
import threading
import time
from datetime import date

import pandas as pd
import pytest

import segexplore as se
from segexplore.errors import IncompleteRowError
from segexplore.rules import nodes as R
from segexplore.widgets import (
    EventValue,
    RowSpec,
    SegmentBuilder,
    explore,
    field_options,
    operators_for,
    row_to_rule,
    rows_to_rule,
    rule_to_rows,
    segment_report,
)
from segexplore.widgets.display import error_html, size_html
from segexplore.widgets.export_panel import export_csv
from segexplore.widgets.plot import FigureView, plotly_library
from segexplore.widgets.state.debounce import Debouncer
from segexplore.widgets.state.distribution import DistributionCache, distribution_table
from segexplore.widgets.state.fields import (
    _dtype_kind,
    event_types,
    feature_kind,
    numeric_bounds,
    value_choices,
)


@pytest.fixture(scope="module")
def sample() -> se.ContactBase:
    """The bundled sample; tests that save segments use their own copy."""
    return se.load_sample()


def classes(widget) -> dict[str, list]:
    """Every widget under ``widget`` by CSS class."""
    found: dict[str, list] = {}
    stack = [widget]
    while stack:
        node = stack.pop()
        for name in getattr(node, "_dom_classes", ()):
            found.setdefault(name, []).append(node)
        stack.extend(getattr(node, "children", ()))
    return found


def shown_size(builder: SegmentBuilder) -> int:
    match = re.search(r'<span class="se-size-value"[^>]*>(\d+)</span>',
                      builder.size_display.value)
    assert match, builder.size_display.value
    return int(match.group(1))


def link_csv(html: str) -> pd.DataFrame:
    match = re.search(r'href="data:text/csv;base64,([A-Za-z0-9+/=]*)"', html)
    assert match, html[:300]
    return pd.read_csv(io.BytesIO(base64.b64decode(match.group(1))), dtype=str,
                       keep_default_na=False)


# -- pure functions -----------------------------------------------------------------------

def test_field_options_group_fields_by_kind(tiny_base):
    groups = field_options(tiny_base)
    assert list(groups) == ["attributes", "features", "events", "segments"]
    kinds = {o.name: o.kind for o in groups["attributes"]}
    assert "contact_id" not in kinds  # identifiers are no conditions
    assert kinds["city"] == "categorical" and kinds["score"] == "numeric"
    assert kinds["signup_date"] == "date" and kinds["interests"] == "multi"
    assert kinds["email_valid"] == "boolean" and kinds["email"] == "text"
    features = {o.name: o.kind for o in groups["features"]}
    assert features["purchases_30d"] == "numeric"
    assert features["rfm_group"] == "categorical"
    assert features["last_purchase_date"] == "date"
    assert [o.key for o in groups["events"]] == [
        "event:add_to_cart", "event:click", "event:open", "event:purchase", "event:visit"]
    assert groups["segments"] == []
    tiny_base.segment('city = "Lyon"', name="Lyonnais")
    saved = field_options(tiny_base)["segments"]
    assert [(o.key, o.label) for o in saved] == [("segment:Lyonnais", "Lyonnais (saved segment)")]
    labels = [o.label for o in groups["attributes"] + groups["features"]]
    assert "city (category)" in labels and "purchases_30d (feature, number)" in labels


def test_operators_fit_each_kind():
    assert operators_for("categorical")[:2] == ("in", "not in")
    assert {"=", "!=", "contains", "is missing"} <= set(operators_for("categorical"))
    assert {">=", "<=", "between"} <= set(operators_for("numeric"))
    assert {"within last", "more than ago", "before", "after", "between"} <= set(
        operators_for("date"))
    assert operators_for("multi")[:3] == ("has any", "has all", "has none")
    assert operators_for("event")[0] == "count >="
    with pytest.raises(ValueError, match="unknown field kind"):
        operators_for("colour")


def test_value_choices_and_bounds_come_from_the_data(tiny_base):
    assert value_choices(tiny_base, "city") == [("Lyon", 2), ("Paris", 2), ("Bruxelles", 1),
                                                ("Gent", 1)]
    interests = dict(value_choices(tiny_base, "interests"))  # split on "|"
    assert interests["outdoor"] == 2 and interests["sport"] == 1 and interests["Sport"] == 1
    assert numeric_bounds(tiny_base, "score") == (10.0, 60.0, False)
    assert numeric_bounds(tiny_base, "purchases_30d") == (0, 3, True)


@pytest.mark.parametrize(("field", "op", "value", "negated", "text"), [
    ("city", "in", ["Lyon", "Paris"], False, 'city in ("Lyon", "Paris")'),
    ("city", "not in", ("Lyon",), False, 'city not in ("Lyon")'),
    ("city", "=", "Lyon", True, 'not (city = "Lyon")'),
    ("email", "ends with", ".fr", False, 'email ends with ".fr"'),
    ("phone", "is missing", None, False, "phone is missing"),
    ("email_valid", "is true", None, False, "email_valid = true"),
    ("score", ">=", 20, False, "score >= 20"),
    ("score", "between", (10, 30.5), False, "score between 10 and 30.5"),
    ("score", "in top %", 10, False, "score in top 10%"),
    ("signup_date", "within last", 90, False, "signup_date within last 90 days"),
    ("signup_date", "more than ago", R.Duration(2, "weeks"), False,
     "signup_date more than 2 weeks ago"),
    ("signup_date", "before", date(2026, 1, 1), False, "signup_date before 2026-01-01"),
    ("signup_date", "between", (date(2026, 1, 1), date(2026, 3, 31)), False,
     "signup_date between 2026-01-01 and 2026-03-31"),
    ("birth_date", "anniversary within next", 7, False,
     "birth_date anniversary within next 7 days"),
    ("interests", "has all", ["sport", "outdoor"], False,
     'interests has all ("sport", "outdoor")'),
    ("event:purchase", "count >=", EventValue(3, 30), False,
     "count(purchase, last 30 days) >= 3"),
    ("event:click", "count <=", EventValue(2, None, (("brand", "Nike"), ("category", "shoes"))),
     False, 'count(click where brand = "Nike" and category = "shoes") <= 2'),
    ("segment:VIP", "in segment", None, True, 'not segment("VIP")'),
])
def test_row_to_rule_writes_the_canonical_text(field, op, value, negated, text):
    rule = row_to_rule(field, op, value, negated=negated)
    assert str(rule) == text
    assert se.parse(text) == rule


@pytest.mark.parametrize(("op", "value"), [("in", []), ("has any", ()), ("=", None),
                                           ("contains", ""), ("before", None)])
def test_a_row_without_a_value_is_incomplete(op, value):
    with pytest.raises(IncompleteRowError):
        row_to_rule("city", op, value)
    assert rows_to_rule([RowSpec("city", op, value)]) is None


ROUND_TRIPS = [
    'city = "Lyon" and device = "Android" and count(visit, last 30 days) >= 5',
    'count(purchase where brand = "Nike", last 365 days) >= 2 or count(click, last 90 days) >= 3',
    'interests has any ("sport", "outdoor") and not (consent = "withdrawn")',
    "signup_date within last 90 days and birth_date is not missing",
    'score >= 18.0 and email_valid = true and signup_date after 2026-01-31T10:00:00',
    'a = 1 and (b = 2 or c = 3)',
    "not (a = 1 and b = 2)",
    "sum(purchase.items, last 180 days) >= 6",
    "performed(add_to_cart not followed by purchase within 24 hours, last 7 days)",
    'language = "nl" and segment("Clients groupe A")',
    "count(purchase, last 3 weeks) >= 2 and count(open) = 0",
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_rule_to_rows_and_back_is_the_same_rule(text):
    rule = se.parse(text)
    group = rule_to_rows(rule)
    assert rows_to_rule(group.rows, group.combine) == rule


def test_rule_to_rows_marks_what_rows_cannot_show():
    group = rule_to_rows(se.parse('a = 1 or (b = 2 and c = 3) or last(purchase) more than '
                                  '30 days ago'))
    assert group.combine == "or"
    assert [row.op for row in group] == ["=", "advanced", "advanced"]
    assert group.advanced and not rule_to_rows(se.parse("a = 1")).advanced
    assert str(group[1].value) == "b = 2 and c = 3"
    event = rule_to_rows(se.parse('count(click where brand = "Nike", last 7 days) >= 3'))[0]
    assert (event.field, event.op, event.value) == (
        "event:click", "count >=", EventValue(3, 7, (("brand", "Nike"),)))
    assert rule_to_rows(None).rows == ()


def test_size_and_error_html_follow_the_dom_contract():
    html = size_html(12345, 200000)
    assert '<span class="se-size-value"' in html and ">12345</span>" in html
    assert "12,345 contacts (6.2% of the base)" in html
    with pytest.raises(se.RuleSyntaxError) as caught:
        se.parse("city = ")
    error = error_html(caught.value)
    assert "expected a value after '=' but found end of text (at position 7)" in error
    assert "city = \n       ^</pre>" in error


def test_distribution_table_matches_pandas(sample):
    mask = sample.segment('device = "Android"', save=False).mask
    table = distribution_table(sample, mask, "city", top=5).set_index("value")
    counts = sample.contacts.loc[mask, "city"].value_counts()
    assert table.loc[counts.index[:3], "segment_count"].tolist() == counts.iloc[:3].tolist()
    base_counts = sample.contacts["city"].value_counts()
    assert table["base_count"].sum() == len(sample.contacts)
    assert table.loc[base_counts.index[0], "base_share"] == base_counts.iloc[0] / 20000


def test_distribution_table_counts_every_kind_like_pandas(sample):
    mask = sample.segment('device = "iOS"', save=False).mask.to_numpy()
    n_segment = int(mask.sum())
    cache = DistributionCache()
    pairs = (sample.contacts["interests"].dropna().astype(str).str.split("|").explode()
             .str.strip().loc[lambda t: t != ""])
    pairs = pd.DataFrame({"contact": sample.contacts.index.get_indexer(pairs.index),
                          "tag": pairs.to_numpy()}).drop_duplicates()
    members = pairs[mask[pairs["contact"].to_numpy()]]
    table = distribution_table(sample, mask, "interests", top=50, cache=cache).set_index("value")
    assert table["segment_count"].drop("(missing)", errors="ignore").to_dict() == \
        members["tag"].value_counts().to_dict()
    without = n_segment - members["contact"].nunique()
    assert table["segment_count"].get("(missing)", 0) == without
    age = distribution_table(sample, mask, "age", cache=cache)  # a feature, binned
    known = sample.features["age"].notna().to_numpy()
    assert age.loc[age["value"] != "(missing)", "segment_count"].sum() == (mask & known).sum()
    assert age["base_count"].sum() == len(sample.contacts)
    signup = distribution_table(sample, mask, "signup_date", cache=cache)
    assert signup["segment_count"].sum() == n_segment
    assert list(signup["value"]) == sorted(signup["value"], key=lambda v: (v == "(missing)", v))
    valid = distribution_table(sample, mask, "email_valid", cache=cache).set_index("value")
    assert valid.loc["True", "segment_count"] == (mask & sample.contacts["email_valid"]).sum()
    # the coding is kept, and made again when the column is replaced
    coding = cache.coding(sample, "city")
    assert cache.coding(sample, "city") is coding
    copy = se.ContactBase(sample.contacts.assign(city="Gent"), sample.events, sample.orders,
                          roles=sample.roles, as_of=sample.as_of)
    gent = distribution_table(copy, mask, "city", cache=cache)
    assert gent["value"].tolist() == ["Gent"] and gent["segment_count"].tolist() == [n_segment]


def test_debouncer_calls_once_after_a_burst():
    calls = []
    done = threading.Event()
    debounced = Debouncer(0.05, lambda: (calls.append(time.monotonic()), done.set()))
    for _ in range(5):
        debounced()
    assert calls == [] and debounced.pending
    assert done.wait(2)
    time.sleep(0.1)
    assert len(calls) == 1 and not debounced.pending


# -- the builder --------------------------------------------------------------------------

def test_builder_carries_the_dom_classes(tiny_base):
    builder = SegmentBuilder(tiny_base, debounce=0)
    found = classes(builder)
    for name in ("se-rule-text", "se-size", "se-error", "se-add-row", "se-row", "se-row-field",
                 "se-row-op", "se-row-value", "se-row-remove", "se-combine",
                 "se-segment-name", "se-save", "se-build-charts"):
        assert name in found, name
    row = builder.rows[0]
    assert row.field.value == "city" and row.op.value == "in"
    labels = [label for label, _ in row.editor.widget.options]
    assert labels == ["Lyon (2)", "Paris (2)", "Bruxelles (1)", "Gent (1)"]
    assert shown_size(builder) == 7 and builder.rule_text.value == ""


def test_row_edits_rewrite_the_text_and_the_size(tiny_base):
    builder = SegmentBuilder(tiny_base, debounce=0)
    row = builder.rows[0]
    row.editor.widget.value = ("Lyon", "Paris")
    assert builder.rule_text.value == 'city in ("Lyon", "Paris")'
    assert shown_size(builder) == tiny_base.segment(builder.rule_text.value).size == 4
    builder.add_button.click()
    second = builder.rows[1]
    second.field.value = "device"
    second.op.value = "="
    second.editor.widget.value = "Android"
    assert builder.rule_text.value == 'city in ("Lyon", "Paris") and device = "Android"'
    assert shown_size(builder) == tiny_base.segment(builder.rule_text.value).size == 3
    builder.combine.value = "or"
    assert builder.rule_text.value == 'city in ("Lyon", "Paris") or device = "Android"'
    assert shown_size(builder) == tiny_base.segment(builder.rule_text.value).size == 5
    second.negate.value = True
    assert builder.rule_text.value == 'city in ("Lyon", "Paris") or not (device = "Android")'
    second.remove_button.click()
    assert len(builder.rows) == 1 and builder.rule_text.value == 'city in ("Lyon", "Paris")'
    # 5 of the 7 contacts read French: the size is written for French readers
    assert "4 contacts (57,1\u202f% of the base)" in builder.size_display.value


def test_value_widgets_fit_the_field(tiny_base):
    builder = SegmentBuilder(tiny_base, debounce=0)
    row = builder.rows[0]
    row.field.value = "score"
    assert row.op.value == ">="
    row.op.value = "between"
    slider = row.editor.widget
    assert (slider.min, slider.max) == (10.0, 60.0)
    slider.value = (20.0, 40.0)
    assert builder.rule_text.value == "score between 20 and 40"
    assert shown_size(builder) == tiny_base.segment("score between 20 and 40").size == 3
    row.field.value = "signup_date"
    assert row.op.value == "within last"
    row.editor.amount.value = 60
    assert builder.rule_text.value == "signup_date within last 60 days"
    row.op.value = "after"
    row.editor.widget.value = date(2026, 1, 1)
    assert builder.rule_text.value == "signup_date after 2026-01-01"
    assert shown_size(builder) == tiny_base.segment("signup_date after 2026-01-01").size
    row.field.value = "interests"
    assert row.op.value == "has any"
    row.editor.widget.value = ("outdoor",)
    assert builder.rule_text.value == 'interests has "outdoor"'
    assert shown_size(builder) == 2


def test_event_rows(tiny_base):
    builder = SegmentBuilder(tiny_base, debounce=0)
    row = builder.rows[0]
    row.field.value = "event:purchase"
    assert row.op.value == "count >=" and builder.rule_text.value == \
        "count(purchase, last 30 days) >= 1"
    row.editor.count.value = 3
    assert builder.rule_text.value == "count(purchase, last 30 days) >= 3"
    assert shown_size(builder) == tiny_base.segment(builder.rule_text.value).size == 2
    row.editor.days.value = 0  # all time
    row.editor.filters["brand"].value = "Nike"
    row.editor.count.value = 2
    text = 'count(purchase where brand = "Nike") >= 2'
    assert builder.rule_text.value == text
    assert shown_size(builder) == tiny_base.segment(text).size == 2
    assert [label for label, _ in row.editor.filters["brand"].options][:2] == [
        "any brand", "Nike (5)"]


def test_text_edits_rebuild_the_rows(sample):
    builder = SegmentBuilder(sample, debounce=0)
    text = ('language in ("nl") and device in ("iOS", "Desktop") and age >= 30 and '
            'count(visit where category = "running", last 90 days) >= 2')
    builder.rule_text.value = text
    assert builder.rule_text.value == text  # already canonical
    assert [(r.field.value, r.op.value) for r in builder.rows] == [
        ("language", "in"), ("device", "in"), ("age", ">="), ("event:visit", "count >=")]
    assert builder.rows[1].editor.widget.value == ("iOS", "Desktop")
    assert builder.rows[3].editor.filters["category"].value == "running"
    assert shown_size(builder) == sample.segment(text).size > 0
    builder.rows[2].editor.widget.value = 40  # a row edit keeps the others as they were
    assert builder.rule_text.value == text.replace("age >= 30", "age >= 40")
    assert shown_size(builder) == sample.segment(builder.rule_text.value).size


def test_a_rule_rows_cannot_show_keeps_its_text(sample):
    builder = SegmentBuilder(sample, debounce=0)
    text = 'city = "Paris" and (device = "iOS" or age < 25)'
    builder.rule_text.value = text
    assert builder.rule_text.value == text
    assert [r.op.value for r in builder.rows] == ["=", "advanced"]
    assert "edit it in the text box" in builder.advanced_note.value
    assert shown_size(builder) == sample.segment(text).size
    builder.rows[0].editor.widget.value = "Lyon"
    assert builder.rule_text.value == text.replace("Paris", "Lyon")
    assert shown_size(builder) == sample.segment(builder.rule_text.value).size


def test_a_half_typed_rule_shows_an_inline_error(tiny_base):
    builder = SegmentBuilder(tiny_base, rule='city = "Lyon"', debounce=0)
    builder.rule_text.value = "city = "  # no exception
    assert "expected a value after '=' but found end of text (at position 7)" in \
        builder.error.value
    assert re.search(r'<pre class="se-error-caret"[^>]*>city = \n       \^</pre>',
                     builder.error.value)
    assert "Traceback" not in builder.error.value
    assert [(r.field.value, r.op.value) for r in builder.rows] == [("city", "=")]
    assert str(builder.rule) == 'city = "Lyon"' and shown_size(builder) == 2
    builder.rule_text.value = 'cty = "Lyon"'  # well formed, unknown field
    assert "unknown field 'cty'" in builder.error.value
    builder.rule_text.value = 'city = "Paris"'
    assert builder.error.value == "" and shown_size(builder) == 2


def test_save_a_segment_and_use_it(tiny_base):
    builder = SegmentBuilder(tiny_base, rule='device = "Android"', debounce=0)
    builder.name.value = "Android"
    builder.save_button.click()
    assert tiny_base.segments["Android"].size == 4
    assert "Saved “Android”: 4 contacts" in builder.save_status.value
    assert "Android" in builder.parent_select.options
    builder.rule_text.value = 'city = "Paris"'
    builder.parent_select.value = "Android"
    assert shown_size(builder) == tiny_base.segment('city = "Paris"', parent="Android",
                                                    save=False).size == 2
    assert "of “Android”" in builder.size_display.value
    builder.parent_select.value = "(whole base)"
    builder.add_button.click()
    builder.rows[-1].field.value = "segment:Android"
    builder.rows[-1].negate.value = True
    assert builder.rule_text.value == 'city = "Paris" and not segment("Android")'
    assert shown_size(builder) == tiny_base.segment(builder.rule_text.value).size == 0


def test_build_charts_show_the_segment_against_the_base(sample):
    builder = SegmentBuilder(sample, rule='device = "Android"', debounce=0,
                             chart_attributes=["city", "interests"])
    figures = builder.charts.children
    assert len(figures) == 2
    city = figures[0]
    members = sample.contacts.loc[builder.mask, "city"].value_counts()
    shown = dict(zip(city.data[0].y, city.data[0].customdata, strict=True))
    for value in members.index[:5]:
        assert shown[value] == members[value]
    heights = dict(zip(city.data[0].y, city.data[0].x, strict=True))
    assert heights[members.index[0]] == pytest.approx(100 * members.iloc[0] / builder.size)
    base_heights = dict(zip(city.data[1].y, city.data[1].x, strict=True))
    everyone = sample.contacts["city"].value_counts()
    assert base_heights[everyone.index[0]] == pytest.approx(100 * everyone.iloc[0] / 20000)
    builder.rule_text.value = 'device = "iOS"'  # the same figure, updated in place
    assert builder.charts.children[0] is city
    ios = sample.contacts.loc[sample.contacts["device"] == "iOS", "city"].value_counts()
    shown = dict(zip(city.data[0].y, city.data[0].customdata, strict=True))
    assert shown[ios.index[0]] == ios.iloc[0]


def test_build_charts_show_category_names_not_codes(sample):
    """The y values are the category names (``F``, ``M``...), never the codes 0, 1, 2."""
    assert isinstance(sample.contacts["gender"].dtype, pd.CategoricalDtype)
    builder = SegmentBuilder(sample, rule='device = "Android"', debounce=0,
                             chart_attributes=["gender", "device", "loyalty_tier"])
    names = {"gender": set(sample.contacts["gender"].cat.categories),
             "device": set(sample.contacts["device"].cat.categories),
             "loyalty_tier": set(sample.contacts["loyalty_tier"].cat.categories)}
    assert len(builder.charts.children) == 3
    for view, attribute in zip(builder.charts.children, names, strict=True):
        for trace, sent in zip(view.data, view.spec["data"], strict=True):
            shown = set(trace.y) - {"(missing)", "other"}
            assert shown and shown <= names[attribute], (attribute, trace.y)
            assert list(sent["y"]) == list(trace.y)  # what the page draws
    gender = builder.charts.children[0]
    assert set(gender.data[0].y) >= {"F", "M"}
    assert not set(gender.data[0].y) & {"0", "1", "2", 0, 1, 2}


def test_size_is_shown_at_once_and_charts_follow_the_debounce(sample):
    builder = SegmentBuilder(sample, rule='device = "Android"', debounce=30,
                             chart_attributes=["device"])
    builder.flush()
    chart = builder.charts.children[0]
    android = dict(zip(chart.data[0].y, chart.data[0].customdata, strict=True))
    builder.rule_text.value = 'device = "iOS"'
    assert shown_size(builder) == sample.segment('device = "iOS"').size  # no waiting
    assert dict(zip(chart.data[0].y, chart.data[0].customdata, strict=True)) == android
    builder.flush()  # the debounced redraw
    ios = dict(zip(chart.data[0].y, chart.data[0].customdata, strict=True))
    assert ios["iOS"] == shown_size(builder) and ios["Android"] == 0
    assert builder.charts.children[0] is chart


def test_figures_share_one_copy_of_plotly_js(sample):
    builder = SegmentBuilder(sample, debounce=0, chart_attributes=["gender", "device"])
    first, second = builder.charts.children
    assert isinstance(first, FigureView) and first.library is second.library is plotly_library()
    assert "plotly.js" in plotly_library().source[:200]
    assert len(first.spec["data"]) == 2 and "source" not in first.spec


def test_listing_fields_computes_no_feature():
    base = se.load_sample()
    options = field_options(base)
    assert base._features is None
    guessed = {o.name: o.kind for o in options["features"]}
    assert [o.key for o in options["events"]] == [f"event:{t}" for t in base.activity.event_types]
    assert event_types(base) == base.activity.event_types
    computed = {name: _dtype_kind(base.features[name]) for name in guessed}
    assert guessed == computed  # the registry's kinds agree with the computed dtypes
    assert {o.name: o.kind for o in field_options(base)["features"]} == computed
    assert feature_kind(base, "rfm_group") == "categorical"


def test_mask_pii_lists_no_personal_values(sample):
    builder = SegmentBuilder(sample, debounce=0, mask_pii=True)
    row = builder.rows[0]
    row.field.value = "first_name"
    row.op.value = "in"
    assert not hasattr(row.editor.widget, "options")  # a text box, not the names
    row.editor.widget.value = '"Marie"'
    assert builder.rule_text.value == 'first_name in ("Marie")'
    assert shown_size(builder) == sample.segment(builder.rule_text.value).size


# -- the app ------------------------------------------------------------------------------

def test_explore_opens_five_tabs_with_the_contract_classes():
    base = se.load_sample()
    app = explore(base, segments={"Android": 'device = "Android"'}, debounce=0)
    assert [app.tabs.get_title(i) for i in range(len(app.tabs.children))] == [
        "Profile", "Build", "Compare", "Export", "Plan"]
    found = classes(app)
    assert found["se-app"] == [app] and found["se-tabs"] == [app.tabs]
    for name in ("se-compare-select", "se-compare-run", "se-compare-output",
                 "se-export-columns", "se-export-preset", "se-export-run", "se-export-output"):
        assert name in found, name
    assert "20\u202f000 contacts profiled" in app.profile_panel.heading.value.replace("<b>", "") \
        .replace("</b>", "")
    assert "Android" in app.compare_panel.select.value
    profile = app.profile_panel
    assert profile.attribute.value == "gender"  # the first attribute that is no personal data
    top = base.contacts["gender"].value_counts()
    assert f'<td style="text-align:left">{top.index[0]}</td>' in profile.top_values.value
    (figure,) = profile.chart.children
    assert dict(zip(figure.data[0].y, figure.data[0].x, strict=True)) == top.to_dict()


def test_explore_in_a_kernel_fills_each_tab_when_shown():
    base = se.load_sample()
    app = explore(base, debounce=0, lazy=True)
    assert base._features is None  # nothing visible needs the behaviour features yet
    assert "Profiling 20\u202f000 contacts" in app.profile_panel.heading.value
    assert app.builder.charts.children == () and shown_size(app.builder) == 20000
    app.builder.rule_text.value = 'device = "Android"'  # the size does not wait for the tab
    assert shown_size(app.builder) == base.segment('device = "Android"').size
    app.shown.fire()  # the browser drew the app: the open tab (Profile) is filled
    assert "20\u202f000" in app.profile_panel.heading.value and app.profile_panel.ran
    (figure,) = app.profile_panel.chart.children
    assert isinstance(figure, FigureView) and base._features is not None
    assert app.builder.charts.children == ()
    app.tabs.selected_index = 1  # Build: its charts are drawn the first time
    assert len(app.builder.charts.children) == 2
    shown = dict(zip(app.builder.charts.children[0].data[0].y,
                     app.builder.charts.children[0].data[0].customdata, strict=True))
    assert sum(shown.values()) == shown_size(app.builder)


def test_a_feature_field_is_computed_on_first_use():
    base = se.load_sample()
    app = explore(base, debounce=0, lazy=True)
    assert base._features is None
    row = app.builder.rows[0]
    row.field.value = "rfm_group"
    assert base._features is not None
    assert row.op.value == "in" and ("champions" in [v for _, v in row.editor.widget.options])


def test_compare_tab_tables():
    base = se.load_sample()
    app = explore(base, debounce=0)
    app.builder.rule_text.value = 'device = "Android"'
    app.builder.name.value = "Android"
    app.builder.save()
    app.builder.rule_text.value = 'city = "Lyon"'
    app.builder.name.value = "Lyon"
    app.builder.save()
    panel = app.compare_panel
    assert {"Android", "Lyon"} <= set(panel.select.options)
    panel.select.value = ("Android", "Lyon")
    panel.run_button.click()
    sizes = panel.tables["sizes"].set_index("segment")
    assert sizes.loc["Android", "size" if "size" in sizes else "contacts"] == \
        base.segment('device = "Android"', save=False).size
    shown = classes(panel.output)["se-compare-sizes"][0].value
    assert "Android" in shown and "Lyon" in shown
    if "overlap" in panel.tables:
        both = (base.segments["Android"].mask & base.segments["Lyon"].mask).sum()
        assert panel.tables["overlap"].loc["Android", "Lyon"] == both
    if "differences" in panel.tables:
        assert set(panel.tables["differences"]["segment"]) <= {"Android", "Lyon"}
    heatmap = panel.parts.figures["overlap"]
    assert heatmap.data[0].type == "heatmap"
    sizes_chart = panel.parts.figures["sizes"].data[0]
    assert list(sizes_chart.y) == [base.segments["Android"].size, base.segments["Lyon"].size]
    assert "se-chart-overlap" in classes(panel.output)
    (overlap,) = classes(panel.output)["se-chart-overlap"]
    assert isinstance(overlap, FigureView) and overlap.data[0].type == "heatmap"
    assert overlap.spec["layout"]["width"] == 520


def test_export_link_holds_the_exported_rows(tmp_path):
    base = se.load_sample()
    app = explore(base, debounce=0)
    app.builder.rule_text.value = 'city in ("Lyon") and device in ("Android")'
    panel = app.export_panel
    assert panel.segment_select.value == "(segment being built)"
    panel.preset.value = "mailchimp"
    panel.run_button.click()
    html = panel.output.value
    assert html.startswith('<a class="se-download-link" download="segment.csv" '
                           'href="data:text/csv;base64,')
    exported = link_csv(html)
    segment = base.segment('city in ("Lyon") and device in ("Android")', save=False)
    try:
        from segexplore.delivery.export import export_segment
    except ImportError:  # no export module: every member
        expected = segment.members().astype(str)
    else:
        export_segment(segment, tmp_path / "x.csv", preset="mailchimp", manifest=False)
        expected = pd.read_csv(tmp_path / "x.csv", dtype=str, keep_default_na=False)
        assert "remaining" in panel.waterfall.value or "matched" in panel.waterfall.value
    pd.testing.assert_frame_equal(exported, expected)
    assert f"Download CSV ({len(expected):,} rows)" in html
    members = segment.members()
    emailable = members[(members["consent"] == "given") & members["email_valid"]]
    assert set(exported.iloc[:, 0]) <= set(members["email"])
    assert len(exported) <= len(emailable) <= len(members)


def test_export_columns_and_plain_preset():
    base = se.load_sample()
    segment = base.segment('language = "nl" and purchases_365d >= 1', name="Dutch buyers")
    result = export_csv(segment, columns=["email", "city", "purchases_365d"])
    assert result.filename == "Dutch_buyers.csv"
    frame = pd.read_csv(io.BytesIO(result.data))
    assert list(frame.columns) == ["email", "city", "purchases_365d"]
    assert len(frame) == result.rows and (frame["purchases_365d"] >= 1).all()


def test_segment_report_is_read_only():
    base = se.load_sample()
    base.segment('device = "Android"', name="Android")
    base.segment("count(purchase, last 90 days) >= 1", name="Recent buyers")
    report = segment_report(base)
    assert [s.name for s in report.segments] == ["Android", "Recent buyers"]
    html = " ".join(w.value for w in report.children if isinstance(getattr(w, "value", None), str))
    assert "Android" in html and "Recent buyers" in html and "Traceback" not in html
    assert report.parts.tables["sizes"].shape[0] == 2
    inputs = [w for ws in classes(report).values() for w in ws
              if type(w).__name__ in ("Text", "Textarea", "Button", "Dropdown", "SelectMultiple")]
    assert inputs == []


def test_key_differences_leave_out_rule_and_hidden_attributes():
    from segexplore.widgets.compare_panel import key_differences

    differences = pd.DataFrame({
        "segment": ["A"] * 4 + ["B"] * 2,
        "attribute": ["city", "region", "first_name", "age", "device", "age"],
        "in_rule": [True, False, False, False, False, False],
        "reading": list("abcdef"), "effect_size": [0.9, 0.5, 0.4, 0.3, 0.6, 0.2],
    })
    table = key_differences(differences, 2, hidden=frozenset({"first_name"}))
    assert table[["segment", "attribute"]].values.tolist() == [
        ["A", "region"], ["A", "age"], ["B", "device"], ["B", "age"]]
    assert list(table.columns) == ["segment", "attribute", "reading", "effect_size"]
    assert "the rules' own attributes (city)" in table.attrs["note"]
