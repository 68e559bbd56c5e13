"""The explorer on a base held in DuckDB: the same fields, values, sizes, charts, hints,
profile, comparison and export as on the pandas base of the same files.

The expectation is always the pandas engine on the bundled sample's files read as they
are (``load_sample(clean=False)``: the DuckDB engine reads the files as they are too),
computed independently of the DuckDB answers. The DuckDB side never reads the contacts
into pandas: the builder's membership stays unfetched (``_breakdowns._mask is None``).
"""

from __future__ import annotations

from html import escape

import pandas as pd
import pytest
from duckdb_sample import duck, pandas_base  # noqa: F401 (fixtures)

import segexplore as se
from segexplore.display.numbers import format_count
from segexplore.rules.hints import value_hints
from segexplore.widgets import explore
from segexplore.widgets.state.distribution import distribution_table
from segexplore.widgets.state.fields import (
    event_property_choices,
    field_options,
    flat_options,
    numeric_bounds,
    pii_columns,
    value_choices,
)

RULES = (
    'device = "Android" and city = "Lyon"',
    'region in ("Île-de-France", "Bretagne") or language = "nl"',
    "count(purchase, last 90 days) >= 1 and age >= 30",
    'interests has any ("sport") and not loyalty_tier = "gold"',
    'count(purchase where brand = "Nike", last 365 days) >= 1',
    'rfm_group in ("champions", "loyal") and signup_date within last 730 days',
)
#: Charted attributes of every kind: categories, a multi-valued column, dates, numbers and
#: categories among the features, a text column (postal codes).
CHARTED = ("city", "region", "interests", "birth_date", "signup_date", "postal_code",
           "loyalty_tier", "age", "revenue_365d", "rfm_group", "purchases_90d")


@pytest.fixture(scope="module")
def app(duck):
    return explore(duck, debounce=0, lazy=False)


def test_the_field_list_is_the_pandas_one(duck, pandas_base):
    assert flat_options(field_options(duck)) == flat_options(field_options(pandas_base))
    assert pii_columns(duck) == pii_columns(pandas_base)


def test_value_lists_bounds_and_event_values_are_the_pandas_ones(duck, pandas_base):
    for option in flat_options(field_options(pandas_base)):
        if option.group in ("Attribute", "Feature") \
                and option.kind in ("categorical", "multi", "boolean"):
            assert value_choices(duck, option.name) == value_choices(pandas_base, option.name), \
                option.name
        elif option.group in ("Attribute", "Feature") and option.kind == "numeric":
            assert numeric_bounds(duck, option.name) == pytest.approx(
                numeric_bounds(pandas_base, option.name)), option.name
    for event_type in ("purchase", "visit", "add_to_cart", "open"):
        for prop in ("brand", "category"):
            assert event_property_choices(duck, event_type, prop) \
                == event_property_choices(pandas_base, event_type, prop), (event_type, prop)


@pytest.mark.parametrize("rule", RULES)
def test_the_builder_counts_and_charts_as_on_pandas(app, duck, pandas_base, rule):
    builder = app.builder
    builder.chart_fields.value = ()
    builder.set_text(rule)
    assert builder.error.value == ""
    expected = pandas_base.segment(rule, save=False)
    assert builder.size == expected.size == duck.count(rule)
    assert '<span class="se-size-value"' in builder.size_display.value
    assert f">{expected.size}<" in builder.size_display.value
    mask = expected.mask.to_numpy()
    tables = builder._breakdowns.tables(list(CHARTED))
    for attribute in CHARTED:
        pd.testing.assert_frame_equal(tables[attribute],
                                      distribution_table(pandas_base, mask, attribute),
                                      obj=attribute)
    assert builder._breakdowns._mask is None  # the membership never left DuckDB


def test_the_charts_drawn_follow_the_rule(app, pandas_base):
    builder = app.builder
    builder.chart_fields.value = ("city", "loyalty_tier")
    builder.set_text('device = "iOS"')
    assert len(builder.charts.children) == 2
    segment = pandas_base.segment('device = "iOS"', save=False)
    expected = distribution_table(pandas_base, segment.mask.to_numpy(), "city")
    drawn = builder._figures["city"].figure
    counts = sorted(int(n) for trace in drawn.data for n in (trace.customdata or ()))
    assert sorted([*expected["segment_count"], *expected["base_count"]]) == counts


def test_a_parent_and_saved_segments_count_as_on_pandas(app, duck, pandas_base):
    builder = app.builder
    builder.set_text('device = "Android"')
    builder.name.value = "Android"
    assert builder.save() is not None
    pandas_base.segment('device = "Android"', name="Android")
    builder.set_text('segment("Android") and city = "Paris"')
    assert builder.size == pandas_base.count('segment("Android") and city = "Paris"')
    builder.set_text('city = "Lyon"')
    builder.parent_select.value = "Android"
    assert builder.size == pandas_base.segment('city = "Lyon"', parent="Android",
                                               save=False).size
    builder.parent_select.value = "(whole base)"
    assert "Android" in app.header.value or "1 saved segment" in app.header.value


@pytest.mark.parametrize("rule", [
    'city = "Lyonn"', 'region in ("Ile-de-France", "Bretagne")',
    'city starts with "saint-etienne"',
    'count(purchase where brand = "Nikee", last 365 days) >= 1',
    'interests has any ("sprot")'])
def test_did_you_mean_hints_are_the_pandas_ones(app, pandas_base, rule):
    app.builder.set_text(rule)
    expected = value_hints(rule, pandas_base)
    assert expected, rule
    shown = app.builder.value_hints.value
    assert shown.count("se-message-warning") == len(expected)
    for hint in expected:
        assert escape(hint) in shown


def test_a_mistake_is_a_message_in_the_page(app):
    app.builder.set_text('citty = "Lyon"')
    assert "city" in app.builder.error.value  # the did-you-mean of the shared checker
    app.builder.set_text("")
    assert app.builder.error.value == ""


def test_the_profile_waits_for_a_click_then_profiles_in_duckdb(app, duck, pandas_base):
    panel = app.profile_panel
    assert not panel.ran and "click ↻ Refresh" in panel.heading.value
    panel.run()
    assert (f"{format_count(duck.contact_count, app.locale)}</b> contacts profiled"
            in panel.heading.value)
    expected = se.widgets.ProfilePanel(pandas_base, locale=app.locale)
    assert list(panel.profile.summary["attribute"]) \
        == list(expected.profile.summary["attribute"])
    assert panel.summary.value == expected.summary.value


def test_compare_and_export_are_the_pandas_ones(duck, pandas_base):
    rules = {"Lyon Android": 'city = "Lyon" and device = "Android"',
             "Buyers": "count(purchase, last 90 days) >= 1"}
    apps = [explore(base, segments=rules, debounce=0, lazy=False)
            for base in (duck, pandas_base)]
    for explorer in apps:
        explorer.compare_panel.select.value = list(rules)
        explorer.compare_panel.run()
        explorer.export_panel.segment_select.value = "Lyon Android"
        explorer.export_panel.run()
    on_duckdb, on_pandas = apps
    pd.testing.assert_frame_equal(on_duckdb.compare_panel.tables["sizes"],
                                  on_pandas.compare_panel.tables["sizes"])
    pd.testing.assert_frame_equal(on_duckdb.compare_panel.tables["overlap"],
                                  on_pandas.compare_panel.tables["overlap"])
    assert on_duckdb.export_panel.result.data == on_pandas.export_panel.result.data
    assert on_duckdb.export_panel.result.rows == on_pandas.export_panel.result.rows
    assert on_duckdb.export_panel.columns.options == on_pandas.export_panel.columns.options


def test_opening_the_explorer_and_counting_computes_no_feature():
    """The features of a large base take DuckDB a minute: the page, its charts and a rule
    on contact columns never compute them."""
    folder = se.sample_path()
    fresh = se.read_base(folder / "contacts.parquet", folder / "events.parquet",
                         folder / "orders.parquet", engine="duckdb")
    app = explore(fresh, debounce=0, lazy=False)
    app.builder.set_text('city = "Lyon" and device = "iOS"')
    assert len(app.builder.charts.children) == 2
    assert app.builder.size == fresh.count('city = "Lyon" and device = "iOS"')
    assert not fresh._store.feature_tables
