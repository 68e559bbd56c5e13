"""The explorer's header and side list in a real browser (issue 17).

``segexplore dashboard --segments CATALOG`` on the bundled sample, as users start it, with a
catalog refreshed three times (three as-of dates, one month apart) so that its size history
``CATALOG.history.csv`` holds three runs per segment. DOM contract: the header
``se-header`` (``.se-header-name``, ``.se-header-freshness``); the side list
``se-segment-list``, one ``se-segment-line`` per saved segment holding its name button
``se-segment-open``, its size ``.se-segment-size-text`` (``data-size``: the plain integer)
and a sparkline ``svg.se-sparkline`` (a ``polyline`` of one point per run and a
``title``). Sizes are checked against the API, the sparkline against the history file read
with plain pandas.
"""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest

import segexplore as se
from segexplore.delivery.catalog import Catalog
from segexplore.delivery.refresh import refresh

from .conftest import dashboard_page
from .test_explorer import VIEWPORTS, open_tab, rule_text, shown_size, wait_until

pytestmark = pytest.mark.browser

SEGMENTS = {"Gold": 'loyalty_tier = "gold"',
            "Lyon buyers": 'city = "Lyon" and purchases_365d >= 1'}
RUNS = (60, 30, 0)  # days before the sample's as-of date


@pytest.fixture(scope="module")
def sample() -> se.ContactBase:
    return se.load_sample()


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory, sample) -> Path:
    folder = tmp_path_factory.mktemp("side-list")
    catalog = Catalog()
    for name, rule in SEGMENTS.items():
        catalog.add(name, rule)
    path = catalog.save(folder / "segments.yaml")
    for days in RUNS:
        refresh(catalog, sample.at(sample.as_of - pd.Timedelta(days=days)),
                history_path=folder / "segments.history.csv")
    return path


@pytest.fixture(scope="module")
def page(browser, catalog_path):
    yield from dashboard_page(browser, ["--segments", str(catalog_path)], first_port=18990,
                              log_name="dashboard-side-list")


def side_lines(page) -> list[dict]:
    """Each line of the side list: name, shown size, data-size, sparkline points, title."""
    return page.locator(".se-segment-list .se-segment-line").evaluate_all(
        """lines => lines.map(l => {
               const size = l.querySelector('.se-segment-size-text');
               const line = l.querySelector('svg.se-sparkline polyline');
               const title = l.querySelector('svg.se-sparkline title');
               return {name: l.querySelector('.se-segment-open').innerText.trim(),
                       shown: size.innerText.trim(), size: Number(size.dataset.size),
                       points: line ? line.getAttribute('points').trim().split(/\\s+/) : [],
                       title: title ? title.textContent : ''};
           })""")


def test_the_header_names_the_base_and_its_freshness(page, sample):
    page, log = page
    header = page.locator(".se-header").inner_text()
    assert "bundled sample" in header, log
    assert f"as of {sample.as_of:%Y-%m-%d}" in header
    latest = sample.events["timestamp"].max()
    assert f"latest activity {latest:%Y-%m-%d %H:%M}" in header
    assert "2 saved segments" in header
    # French base: the contact count as French readers write it (narrow no-break space)
    assert f"{len(sample.contacts):,}".replace(",", "\u202f") in header


def test_the_side_list_shows_each_segment_its_size_and_sparkline(page, sample, catalog_path):
    page, log = page
    lines = wait_until(lambda: side_lines(page) if len(side_lines(page)) == 2 else None,
                       message="two lines in the side list")
    history = pd.read_csv(catalog_path.with_suffix(".history.csv"))
    assert [line["name"] for line in lines] == list(SEGMENTS), log
    for line in lines:
        rule = SEGMENTS[line["name"]]
        assert line["size"] == sample.count(rule)
        assert line["shown"].replace("\u202f", "") == str(sample.count(rule))
        runs = history[history["segment"] == line["name"]].sort_values("run_at")
        assert len(runs) == len(RUNS) == len(line["points"])
        sizes = runs["size"].tolist()
        # the runs grow or shrink as the history says: the SVG's y axis points down
        ys = [float(point.split(",")[1]) for point in line["points"]]
        for (a, b), (ya, yb) in zip(pairwise(sizes), pairwise(ys), strict=True):
            assert (a < b) == (ya > yb) and (a == b) == (ya == yb), (sizes, ys)
        first, last = runs.iloc[0], runs.iloc[-1]
        assert (f"{line['name']}: {first['size']:,} on {first['date'][:10]}".replace(",", "\u202f")
                in line["title"]), line["title"]
        assert f"on {last['date'][:10]} (3 runs)" in line["title"]


def test_clicking_a_name_opens_the_segment_in_build(page, sample):
    page, log = page
    page.locator(".se-segment-list .se-segment-open", has_text="Lyon buyers").click()
    wait_until(lambda: "Lyon" in rule_text(page) and shown_size(page) == sample.count(
        SEGMENTS["Lyon buyers"]), message=lambda: f"the segment in Build: {rule_text(page)!r}")
    assert sample.count(rule_text(page)) == sample.count(SEGMENTS["Lyon buyers"])
    assert page.locator(".se-tabs > .lm-TabBar .lm-mod-current").inner_text().strip() == "Build"


def test_screenshots_with_the_side_list(page, browser):
    page, log = page
    shots = []
    try:
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            open_tab(page, "Profile")
            time.sleep(0.8)  # plotly relayouts after a resize
            shots.append(browser.screenshot(page, f"issue17-side-list-{width}x{height}"))
            box = page.locator(".se-segment-list").bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, (box, width)
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})
    assert all(p.stat().st_size > 10_000 for p in shots), shots
