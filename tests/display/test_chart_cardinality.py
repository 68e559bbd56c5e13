"""Charts for real cardinalities: the bundled sample's department and city (issue 17)."""

from __future__ import annotations

import pytest

import segexplore as se
from segexplore.analysis.compare import compare
from segexplore.analysis.encoding import OTHER
from segexplore.display import charts

MAX_BARS = 13  # the 12 most frequent values and "other"


@pytest.fixture(scope="module")
def sample():
    return se.load_sample()


@pytest.fixture(scope="module")
def comparison(sample):
    segments = [sample.segment('region = "Île-de-France" and device = "Android"',
                               name="IDF Android", save=False),
                sample.segment("purchases_90d >= 1", name="90-day buyers", save=False)]
    return compare(segments, attributes=["department", "city", "loyalty_tier", "region"])


@pytest.mark.parametrize("attribute", ["department", "city"])
def test_categorical_distribution_keeps_the_top_values_and_other(comparison, attribute):
    fig = charts.distribution(comparison, attribute)
    assert len(fig.data) == 3  # two segments and the base, side by side
    for trace in fig.data:
        assert trace.type == "bar" and trace.orientation == "h"
        assert len(trace.y) <= MAX_BARS
    labels = list(fig.data[0].y)
    assert OTHER in labels and labels.index(OTHER) >= len(labels) - 2  # pooled at the end
    assert all(list(t.y) == labels for t in fig.data)  # the same bars in every trace
    # sorted by the base's share, largest first (the axis is reversed: first at the top)
    base = [s for v, s in zip(fig.data[-1].y, fig.data[-1].x, strict=True) if v != OTHER
            and v != "(missing)"]
    assert base == sorted(base, reverse=True)
    assert fig.layout.yaxis.automargin is True and fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.height >= 25 * len(labels)  # grows with the bars: no label dropped
    # the shares are those of the comparison (other: the rest of the segment)
    rows = comparison.distributions[(comparison.distributions["attribute"] == attribute)
                                    & (comparison.distributions["segment"] == "IDF Android")]
    shares = dict(zip(fig.data[0].y, fig.data[0].x, strict=True))
    for value, share in shares.items():
        if value != OTHER:
            assert share == pytest.approx(rows.set_index("value").loc[value, "share"])
    assert sum(shares.values()) == pytest.approx(1.0)


def test_small_categorical_distribution_is_not_pooled(comparison):
    fig = charts.distribution(comparison, "loyalty_tier")
    assert OTHER not in fig.data[0].y


def test_lift_log_axis_has_plain_tick_labels(comparison):
    fig = charts.lift(comparison, min_count=1)
    axis = fig.layout.xaxis
    assert axis.type == "log"
    assert axis.tickvals is not None and len(axis.tickvals) >= 2
    assert all(text in {"1", "2", "5", "10", "20", "50", "100", "200", "500", "1k", "2k",
                        "5k", "10k", "0.5", "0.2", "0.1", "0.05", "0.02", "0.01"}
               for text in axis.ticktext)
    assert "100" in axis.ticktext


def test_build_and_profile_charts_are_horizontal_bars_that_fit_their_labels(sample):
    from segexplore.analysis.profile import profile
    from segexplore.widgets.plot import distribution_figure
    from segexplore.widgets.state.distribution import distribution_table

    segment = sample.segment('device = "Android"', save=False)
    table = distribution_table(sample, segment.mask.to_numpy(), "city")
    fig = distribution_figure(table, "city")
    assert all(t.orientation == "h" and len(t.y) <= MAX_BARS for t in fig.data)
    assert list(fig.data[0].y) == list(table["value"])
    assert fig.layout.yaxis.automargin is True and fig.layout.height >= 26 * len(table)
    small = distribution_figure(distribution_table(sample, segment.mask.to_numpy(), "device"),
                                "device")
    assert small.layout.height < fig.layout.height  # the height follows the bars
    city = charts.profile_histogram(profile(sample.contacts[["city"]], name="base"), "city")
    assert city.data[0].orientation == "h" and len(city.data[0].y) <= MAX_BARS


def test_lift_of_findings_leaves_out_what_the_rules_say(comparison):
    everything = charts.lift(comparison, min_count=1)
    assert any(label.startswith("department = ") for t in everything.data for label in t.y
               if label)
    findings = charts.lift(comparison, min_count=1, findings_only=True)
    (idf,) = [t for t in findings.data if t.name == "IDF Android"]
    shown = {label.split(" ")[0] for label, x in zip(idf.y, idf.x, strict=True)
             if x is not None and x == x}  # NaN: not drawn
    assert shown and not shown & {"region", "department", "city"}, shown
    assert not any(label.endswith("= other") for t in everything.data for label in t.y
                   if label)
    assert findings.layout.yaxis.dtick == 1 and findings.layout.height >= 22 * len(
        findings.data[0].y)
