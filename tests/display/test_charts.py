"""Charts and HTML views: the figures show exactly the numbers of the tables they read."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from segexplore.analysis.compare import compare
from segexplore.analysis.profile import profile
from segexplore.display import charts
from segexplore.display import html as render


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 300
    return pd.DataFrame({
        "device": rng.choice(["Android", "iOS", "Desktop"], n),
        "zip": rng.choice(["2018", "75001", "69002"], n),  # labels that look like numbers
        "spend": rng.gamma(2.0, 40.0, n).round(1),
        "signup_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 400, n),
                                                                     unit="D"),
        "interests": rng.choice(["sport|outdoor", "home", "kids|home", None], n),
        "rfm_recency": pd.array(rng.choice([1, 2, 3, 4, 5, None], n), dtype="Int8"),
        "rfm_frequency": pd.array(rng.choice([1, 2, 3, 4, 5, None], n), dtype="Int8"),
        "bought": rng.random(n) < 0.3,
    })


@pytest.fixture(scope="module")
def comparison(frame):
    masks = {"android": frame["device"] == "Android", "spenders": frame["spend"] > 80,
             "recent": frame["signup_date"] >= "2025-10-01"}
    return compare(masks, frame, rate="bought", attributes=["device", "zip", "spend",
                                                             "signup_date"])


@pytest.fixture(scope="module")
def prof(frame):
    return profile(frame, name="all")


def test_segment_sizes_uses_the_shared_vocabulary(comparison):
    fig = charts.segment_sizes(comparison)
    assert list(fig.data[0].x) == ["android", "spenders", "recent"]
    assert list(fig.data[0].y) == comparison.sizes["size"].tolist()
    assert fig.layout.title.text == "Segment sizes"
    assert fig.layout.yaxis.title.text == "contacts"
    styled = charts.segment_sizes(
        comparison, title="Sizes", labels={"size": "Contacts", "segment": "Segment"},
        color_discrete_map={"recent": "#123456"}, height=300, width=500,
        category_orders={"segment": ["recent", "android"]})
    assert list(styled.data[0].x) == ["recent", "android", "spenders"]
    assert styled.data[0].marker.color[0] == "#123456"
    assert (styled.layout.title.text, styled.layout.height, styled.layout.width) == (
        "Sizes", 300, 500)
    assert (styled.layout.xaxis.title.text, styled.layout.yaxis.title.text) == (
        "Segment", "Contacts")


def test_overlap_heatmap_shows_the_overlap_matrix(comparison):
    for kind in ("jaccard", "count"):
        fig = charts.overlap_heatmap(comparison, kind=kind)
        assert np.allclose(np.array(fig.data[0].z, dtype=float),
                           comparison.overlap_matrix(kind).to_numpy(dtype=float))
        assert list(fig.data[0].x) == list(comparison.segments)
    with pytest.raises(ValueError, match="received: 'dice'"):
        charts.overlap_heatmap(comparison, kind="dice")


def test_intersections_bars_above_member_dots(comparison):
    fig = charts.intersections(comparison)
    table = comparison.intersections
    assert list(fig.data[0].y) == table["size"].tolist()
    assert len(fig.data[1].x) == len(table) * 3  # every cell of the matrix
    assert len(fig.data[2].x) == table["degree"].sum()  # one dark dot per membership
    first = table.iloc[0]
    expected = " & ".join(n for n in comparison.segments if first[n])
    assert fig.data[0].x[0] == expected
    assert fig.layout.xaxis.type == "category"


def test_distribution_of_categories_against_the_base(comparison):
    fig = charts.distribution(comparison, "zip")
    rows = comparison.distributions[comparison.distributions["attribute"] == "zip"]
    android = rows[rows["segment"] == "android"]
    android = android.sort_values("base_share", ascending=False, kind="stable")
    assert fig.data[0].name == "android" and fig.data[0].orientation == "h"
    assert list(fig.data[0].y) == [str(v) for v in android["value"]]
    assert list(fig.data[0].x) == pytest.approx(android["share"].tolist())
    assert fig.data[-1].name == "all contacts"
    assert list(fig.data[-1].x) == pytest.approx(android["base_share"].tolist())
    assert fig.layout.yaxis.type == "category"  # "2018" is a postal code, not a year


def test_distribution_of_numbers_as_boxes_from_the_quantiles(comparison):
    fig = charts.distribution(comparison, "spend")
    numeric = comparison.numeric.set_index(["segment", "attribute"])
    spenders = numeric.loc[("spenders", "spend")]
    box = fig.data[1]
    assert box.name == "spenders"
    assert (box.q1[0], box.median[0], box.q3[0]) == pytest.approx(
        (spenders["p25"], spenders["median"], spenders["p75"]))
    assert (box.lowerfence[0], box.upperfence[0]) == pytest.approx(
        (spenders["p5"], spenders["p95"]))
    base = comparison.base_numeric.set_index("attribute").loc["spend"]
    assert fig.data[-1].median[0] == pytest.approx(base["median"])
    dates = charts.distribution(comparison, "signup_date")
    assert dates.layout.yaxis.type == "date"


def test_distribution_from_segments_and_unknown_attribute(tiny_base, comparison):
    android = tiny_base.segment('device = "Android"', name="Android")
    fig = charts.distribution([android], "city")
    shares = dict(zip(fig.data[0].y, fig.data[0].x, strict=True))
    assert shares["Lyon"] == pytest.approx(1 / 4) and shares["Paris"] == pytest.approx(2 / 4)
    with pytest.raises(ValueError) as error:
        charts.distribution(comparison, "cty")
    assert str(error.value) == (
        "Value of 'attribute' is not an attribute of this comparison. Expected one of "
        "['device', 'zip', 'spend', 'signup_date'] but received: cty")


def test_lift_dots_are_the_index_with_a_line_at_100(comparison):
    fig = charts.lift(comparison, "android", min_count=1)
    rows = comparison.distributions[comparison.distributions["segment"] == "android"]
    index = dict(zip(rows["attribute"] + " = " + rows["value"].astype(str), rows["index"], strict=True))
    for label, value in zip(fig.data[0].y, fig.data[0].x, strict=True):
        assert value == pytest.approx(index[label])
    assert fig.data[0].y[-1] == "device = Android"  # furthest from 100: at the top
    assert fig.layout.shapes[0].x0 == 100 and fig.layout.xaxis.type == "log"
    assert len(charts.lift(comparison, min_count=1).data) == 3  # one trace per segment
    with pytest.raises(ValueError, match="'segment'.*received: ios"):
        charts.lift(comparison, "ios")


def test_size_vs_expected_and_size_history(comparison):
    fig = charts.size_vs_expected(comparison)
    expected = comparison.expected
    assert list(fig.data[0].x) == expected["size"].tolist()
    assert list(fig.data[0].y) == pytest.approx(expected["expected_conversions"].tolist())
    assert list(fig.data[0].error_y.array) == pytest.approx(
        (expected["expected_high"] - expected["expected_conversions"]).tolist())
    history = pd.DataFrame({"date": pd.to_datetime(["2026-02-01", "2026-01-01", "2026-01-01"]),
                            "segment": ["a", "a", "b"], "size": [12, 10, 5]})
    lines = charts.size_history(history)
    assert [t.name for t in lines.data] == ["a", "b"]
    assert list(lines.data[0].y) == [10, 12]  # sorted by date
    with pytest.raises(ValueError, match=r"lacks the columns \['size'\]"):
        charts.size_history(history.drop(columns="size"))


def test_rfm_grid_counts_contacts_per_score(frame, tiny_base):
    fig = charts.rfm_grid(frame)
    expected = pd.crosstab(frame["rfm_recency"], frame["rfm_frequency"])
    assert np.array_equal(np.array(fig.data[0].z), expected.to_numpy())
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == (
        "frequency score", "recency score")
    grid = np.array(charts.rfm_grid(tiny_base).data[0].z)
    assert grid.sum() == tiny_base.features["rfm_recency"].notna().sum()
    with pytest.raises(ValueError, match="no column 'rfm_recency'"):
        charts.rfm_grid(frame.drop(columns="rfm_recency"))


def test_profile_histogram_reads_the_profile_tables(prof):
    spend = charts.profile_histogram(prof, "spend")
    bins = prof.histograms[prof.histograms["attribute"] == "spend"]
    assert list(spend.data[0].y) == bins["count"].tolist()
    assert spend.data[0].x[0] == pytest.approx((bins["left"].iloc[0] + bins["right"].iloc[0]) / 2)
    device = charts.profile_histogram(prof, "device")
    top = prof.top_values[prof.top_values["attribute"] == "device"]
    assert list(device.data[0].y) == top["value"].tolist()
    assert list(device.data[0].x) == top["count"].tolist()
    assert device.data[0].orientation == "h" and device.layout.yaxis.automargin is True
    tags = charts.profile_histogram(prof, "interests")
    assert dict(zip(tags.data[0].y, tags.data[0].x, strict=True))["home"] == prof.tags.set_index("tag").loc[
        "home", "count"]
    dates = charts.profile_histogram(prof, "signup_date")
    assert sum(dates.data[0].y) == 300
    with pytest.raises(ValueError, match="not an attribute of this profile.*received: spnd"):
        charts.profile_histogram(prof, "spnd")


def test_notebook_views_are_light_tables(prof, comparison):
    """Jupyter shows tables and inline SVG: no plotly.js, no script (charts are figures)."""
    first = prof._repr_html_()
    second = comparison._repr_html_()
    assert "plotly.js v" not in first and "plotly.js v" not in second
    assert "<script" not in first and "<script" not in second
    assert "Suggested rules" in first
    assert "Comparison of 3 segments of 300 contacts" in second
    drawn = prof.summary[(prof.summary["kind"] != "identifier") & (prof.summary["count"] > 0)]
    assert render.profile_html(prof).count("<svg") == len(drawn)  # one bar chart each


def _offline(html: str) -> None:
    assert html.count("plotly.js v") == 1  # the library, embedded exactly once
    assert not re.search(r"<script[^>]*\ssrc=", html)
    assert "cdn.plot.ly/plotly" not in html


def test_standalone_reports_work_offline(prof, comparison, tmp_path):
    written = prof.to_html(tmp_path / "profile.html")
    _offline(written.read_text(encoding="utf-8"))
    report = comparison.to_html(tmp_path / "nested" / "comparison.html")
    _offline(report.read_text(encoding="utf-8"))


@pytest.mark.browser
def test_report_draws_every_chart_without_network(prof, tmp_path):
    chromium = shutil.which("chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    if chromium is None:
        pytest.skip("chromium is not installed")
    path = prof.to_html(tmp_path / "profile.html")
    expected = int((prof.summary["kind"] != "identifier").sum())
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        outside = []
        page.route("**/*", lambda route: (outside.append(route.request.url), route.abort())
                   if not route.request.url.startswith("file:") else route.continue_())
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot').length >= "
                               f"{expected}", timeout=20_000)
        browser.close()
    assert errors == [] and outside == []
