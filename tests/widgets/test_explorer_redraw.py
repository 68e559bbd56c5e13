"""A redraw of the builder on DuckDB is one query: the segment's size read off the
breakdown query, the tables from its counts, the figures' JSON changed directly, the rows
of a typed rule kept.

The expectations are independent of the new paths: ``base.count(rule)`` of the DuckDB
engine (its own ``count(*)``/positions) and the pandas engine on the same files
(``load_sample(clean=False)``), and plotly's own JSON of a figure made from scratch.
"""

from __future__ import annotations

import pandas as pd
import pytest
from duckdb_sample import duck, pandas_base  # noqa: F401 (fixtures)

from segexplore.widgets import SegmentBuilder
from segexplore.widgets.plot import (
    FigureView,
    _spec,
    distribution_figure,
    update_distribution_figure,
)
from segexplore.widgets.state.distribution import Breakdowns, distribution_table
from segexplore.widgets.state.engine_fields import fields_of

CHARTED = ["city", "device", "interests", "birth_date", "loyalty_tier"]
RULES = (
    'device = "Android" and city = "Lyon"',
    'city = "nowhere at all"',  # empty
    "count(purchase, last 90 days) >= 1",  # events alone: the contacts' index in the query
    'count(purchase where brand = "Nike", last 365 days) >= 1 and age >= 30',
    'rfm_group in ("champions", "loyal")',  # a feature
    'not region = "Bretagne" or interests has any ("sport")',
)


class _Queries:
    """Counts the queries a DuckDBFields sends (its connection wrapped)."""

    def __init__(self, fields):
        self.fields, self.connection, self.sent = fields, fields.connection, []

    def execute(self, query, *args):
        self.sent.append(query)
        return self.connection.execute(query, *args)

    def __enter__(self):
        self.fields.connection = self
        return self

    def __exit__(self, *exc):
        self.fields.connection = self.connection


@pytest.mark.parametrize("rule", RULES)
def test_the_size_read_off_the_breakdown_query_is_the_count(duck, pandas_base, rule):
    breakdowns = Breakdowns(duck)
    breakdowns.tables(CHARTED)  # the base-wide codings, made before counting the queries
    segment = duck.segment(rule, save=False)
    with _Queries(fields_of(duck)) as queries:
        size = breakdowns.size(segment, CHARTED)
        tables = breakdowns.tables(CHARTED)
    assert size == duck.count(rule) == pandas_base.count(rule)
    assert len(queries.sent) == 1 and "GROUPING SETS" in queries.sent[0]
    assert "count(*) FROM (SELECT" not in queries.sent[0]  # no count(*) of the members
    mask = pandas_base.segment(rule, save=False).mask.to_numpy()
    for attribute in CHARTED:
        pd.testing.assert_frame_equal(tables[attribute],
                                      distribution_table(pandas_base, mask, attribute),
                                      obj=attribute)


def test_the_breakdown_query_reads_the_contacts_once(duck):
    """A rule on events alone selects the members from the contacts' index: the charted
    values are read from the contacts in the same query, not by position IN (members)."""
    segment = duck.segment("count(purchase, last 90 days) >= 1", save=False)
    breakdowns = Breakdowns(duck)
    with _Queries(fields_of(duck)) as queries:
        breakdowns.size(segment, ["city"])
    (query,) = [q for q in queries.sent if "GROUPING SETS" in q]
    assert " IN (SELECT position" not in query and "contact_index" not in query


def test_features_are_counted_with_the_tables_not_with_the_size(duck, pandas_base):
    """Counting a feature may compute the features: the size never does, the tables
    count the features in a query of their own and the contact columns from the size's."""
    rule = 'device = "iOS"'
    segment = duck.segment(rule, save=False)
    breakdowns = Breakdowns(duck)
    charted = ["device", "revenue_365d"]
    breakdowns.tables(charted)
    with _Queries(fields_of(duck)) as queries:
        size = breakdowns.size(segment, charted)
        assert len(queries.sent) == 1 and "revenue_365d" not in queries.sent[0]
        tables = breakdowns.tables(charted)
    assert size == pandas_base.count(rule)
    assert len(queries.sent) == 2 and "revenue_365d" in queries.sent[1]
    mask = pandas_base.segment(rule, save=False).mask.to_numpy()
    for attribute in charted:
        pd.testing.assert_frame_equal(tables[attribute],
                                      distribution_table(pandas_base, mask, attribute))


def test_without_charts_the_size_is_a_count(duck, pandas_base):
    breakdowns = Breakdowns(duck)
    segment = duck.segment('city = "Paris"', save=False)
    with _Queries(fields_of(duck)) as queries:
        assert breakdowns.size(segment) == pandas_base.count('city = "Paris"')
    assert queries.sent == []  # base.size_of: a count(*), no breakdown
    assert breakdowns.size(None, ["city"]) == duck.contact_count  # no query: the base


def test_the_builder_redraws_from_one_query(duck, pandas_base):
    builder = SegmentBuilder(duck, debounce=0, chart_attributes=["city", "device"])
    builder.set_text('device = "iOS" and city = "Paris"')  # the rows' value lists, once
    fields = fields_of(duck)
    for rule in ('device = "Android" and city = "Lyon"', 'city = "nowhere at all"'):
        with _Queries(fields) as queries:
            builder.set_text(rule)
        assert builder.size == pandas_base.count(rule)
        assert len(queries.sent) == 1 and "GROUPING SETS" in queries.sent[0]
        assert len(builder.charts.children) == 2
        drawn = dict(zip(builder._figures["device"].data[0].y,
                         builder._figures["device"].data[0].customdata, strict=True))
        assert sum(drawn.values()) == builder.size


def test_an_updated_view_sends_the_json_plotly_makes(pandas_base):
    first = pandas_base.segment('device = "Android"', save=False).mask.to_numpy()
    second = pandas_base.segment('city = "nowhere"', save=False).mask.to_numpy()
    view = FigureView(distribution_figure(distribution_table(pandas_base, first, "city"),
                                          "city"))
    for mask, attribute, label in ((second, "device", "empty"), (first, "birth_date", "A")):
        table = distribution_table(pandas_base, mask, attribute)
        before = view.spec
        update_distribution_figure(view, table, attribute, segment_label=label)
        assert view.spec is not before
        assert view.spec == _spec(distribution_figure(table, attribute, segment_label=label))
        assert list(view.data[0].y) == list(table["value"])  # the figure follows
        assert list(view.data[1].customdata) == list(table["base_count"])


def test_a_typed_rule_keeps_the_rows_and_shows_what_new_rows_would(pandas_base):
    kept = SegmentBuilder(pandas_base, debounce=0, draw_charts=False)
    kept.set_text('nosuchfield = "x" and city = "Lyon" and device = "iOS"')
    rows = list(kept.rows)
    rule = 'device in ("Android", "iOS") and not age >= 30'
    kept.set_text(rule)
    fresh = SegmentBuilder(pandas_base, debounce=0, draw_charts=False, rule=rule)
    assert kept.rows == rows[:2]  # the same row objects
    assert [row.spec() for row in kept.rows] == [row.spec() for row in fresh.rows]
    for mine, theirs in zip(kept.rows, fresh.rows, strict=True):
        assert mine.field.options == theirs.field.options  # no field left from before
        assert mine.hint.value == theirs.hint.value
        assert mine.negate.value == theirs.negate.value
    assert kept.rule_text.value == fresh.rule_text.value and kept.size == fresh.size
    kept.rows[0].op.value = "="  # a kept row still edits the rule
    assert kept.rule_text.value.startswith("device = ")


def test_a_rule_asked_again_is_counted_from_the_kept_rows(duck, pandas_base):
    builder = SegmentBuilder(duck, debounce=0, chart_attributes=["city", "loyalty_tier"])
    first, second = 'device = "Desktop" and language = "fr"', 'city = "Nantes"'
    for rule in (first, second):
        builder.set_text(rule)
    fields = fields_of(duck)
    with _Queries(fields) as queries:
        builder.set_text(first)  # back to the first rule: nothing scanned
    assert not [q for q in queries.sent if "GROUPING SETS" in q]
    assert builder.size == pandas_base.count(first)
    mask = pandas_base.segment(first, save=False).mask.to_numpy()
    pd.testing.assert_frame_equal(builder._breakdowns.tables(["city"])["city"],
                                  distribution_table(pandas_base, mask, "city"))
    duck.segment('city = "Nantes"', name="Nantes")  # a saved segment: a table of its own
    builder.set_text('segment("Nantes") and device = "iOS"')
    assert builder.size == pandas_base.count('city = "Nantes" and device = "iOS"')
    duck.segment('city = "Lyon"', name="Nantes")  # redefined: counted anew
    with _Queries(fields) as queries:
        builder.set_text('segment("Nantes") and device = "iOS"')
    assert [q for q in queries.sent if "GROUPING SETS" in q]
    assert builder.size == pandas_base.count('city = "Lyon" and device = "iOS"')
    del duck.segments["Nantes"]


def test_charts_counted_with_the_size_are_drawn_at_once(duck, pandas_base):
    """The debounce saves counting during a burst of changes: on DuckDB the charts' counts
    come with the size, so they are drawn with it; a feature, counted apart, waits."""
    builder = SegmentBuilder(duck, debounce=30, chart_attributes=["device", "city"])
    builder.flush()
    chart = builder.charts.children[0]
    builder.set_text('device = "iOS" and city = "Lille"')
    assert not builder._debouncer.pending
    drawn = dict(zip(chart.data[0].y, chart.data[0].customdata, strict=True))
    assert drawn["iOS"] == builder.size == pandas_base.count('device = "iOS" and city = "Lille"')
    builder.chart_fields.value = ("device", "revenue_365d")
    builder.set_text('device = "Android"')
    assert builder._debouncer.pending  # the feature's counts wait for the quiet
    builder.flush()
    assert dict(zip(chart.data[0].y, chart.data[0].customdata, strict=True))["Android"] \
        == builder.size
