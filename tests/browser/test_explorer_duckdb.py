"""``segexplore dashboard --engine duckdb`` in a real browser, on a generated base written
as folders of Parquet parts (``segexplore sample --chunk-contacts``, what a 10M base is).

The command runs as users run it (it checks that the page renders before printing the
URL); headless Chromium then builds rules in the Build tab. Every size shown is checked
against the pandas engine on the same parts, read in this process, independently of the
page's DuckDB base; so are the charts (their bars are drawn) and the export.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest

import segexplore as se
from segexplore.cli import main

from .conftest import RENDER_TIMEOUT, dashboard_page
from .test_explorer import (
    error_text,
    open_tab,
    rule_text,
    set_rule_text,
    shown_size,
    wait_for_charts,
    wait_until,
)

pytestmark = pytest.mark.browser

RULES = (
    'device = "Android" and country = "FR"',
    'region = "Île-de-France" or language = "nl"',
    "count(purchase, last 90 days) >= 1",
)


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> Path:
    """A 3,000-contact base as folders of 1,000-contact parts."""
    folder = tmp_path_factory.mktemp("duckdb-parts")
    assert main(["sample", "--contacts", "3000", "--out", str(folder), "--seed", "11",
                 "--chunk-contacts", "1000"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["contacts", "events", "orders"]
    return folder


@pytest.fixture(scope="module")
def expected(parts) -> se.ContactBase:
    """The same files on the pandas engine, read as they are (as the DuckDB engine reads
    them): the independent expectation of every number the page shows."""
    frames = [pd.read_parquet(parts / name) for name in ("contacts", "events", "orders")]
    return se.read_base(*frames, clean=False)


@pytest.fixture(scope="module")
def page(browser, parts):
    yield from dashboard_page(browser, ["--data", str(parts), "--engine", "duckdb"],
                              first_port=18930, log_name="dashboard-duckdb")


def test_the_page_opens_the_duckdb_base(page, expected):
    page, log = page
    header = page.locator(".se-header").inner_text()
    # a generated base reads French: its 3,000 contacts are written "3 000" (U+202F)
    assert len(expected.contacts) == 3000 and "3\u202f000 contacts" in header, header
    open_tab(page, "Profile")
    # the profile of a DuckDB base waits for a click, and says so
    assert "held in DuckDB" in page.locator(".se-profile").inner_text()
    assert "Traceback" not in page.inner_text("body"), log


@pytest.mark.parametrize("rule", RULES)
def test_the_size_shown_is_the_count_of_the_rule(page, expected, rule):
    page, log = page
    open_tab(page, "Build")
    set_rule_text(page, rule)
    want = expected.count(rule)
    wait_until(lambda: shown_size(page) == want and rule_text(page) == str(se.parse(rule)),
               message=lambda: f"size {want} for {rule!r}; shown {shown_size(page)}, rule "
                               f"{rule_text(page)!r}, error {error_text(page)!r}; {log}")
    assert error_text(page) == ""
    wait_for_charts(page, ".se-build-charts", count=2)


def test_a_typo_is_a_hint_not_a_traceback(page):
    page, log = page
    open_tab(page, "Build")
    set_rule_text(page, 'city = "Lyonn"')
    wait_until(lambda: "did you mean" in page.locator(".se-value-hints").inner_text(),
               message=lambda: f"a hint; page: {page.inner_text('body')[-800:]}")
    set_rule_text(page, 'citty = "Lyon"')
    wait_until(lambda: "city" in error_text(page), message="the unknown field's error")
    assert "Traceback" not in page.inner_text("body"), log


def test_export_downloads_the_members(page, expected, tmp_path):
    page, log = page
    open_tab(page, "Build")
    rule = 'device = "iOS" and country = "BE"'
    set_rule_text(page, rule)
    wait_until(lambda: shown_size(page) == expected.count(rule), message="the iOS size")
    open_tab(page, "Export")
    page.locator(".se-export-run button, button.se-export-run").first.click()
    link = page.locator(".se-export-output a.se-download-link")
    link.wait_for(state="attached", timeout=RENDER_TIMEOUT * 1000)
    data = base64.b64decode(link.get_attribute("href").split(",", 1)[1]).decode("utf-8")
    rows = [line for line in data.splitlines()[1:] if line]
    segment = expected.segment(rule, save=False)
    sendable = se.export_segment(segment, tmp_path / "expected.csv", manifest=False).rows
    assert len(rows) == sendable
    assert re.match(r"^contact_id,email", data), data[:80]
