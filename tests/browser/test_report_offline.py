"""The stakeholder report's HTML snapshot opens offline and prints cleanly (issue 17).

``segment_report(base).to_html(path)`` on the bundled sample with three segments, one of
whose rules and another's description name a contact's email: the file references nothing
on the network, Chromium draws every chart with every request but the file's own aborted,
no email of the sample is in the page, and the print CSS applies. The sample is French:
the page writes 1,334 (the IDF Android segment, tests/widgets/test_builder_save.py) as
``1 334`` with a narrow no-break space (U+202F).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import segexplore as se
from segexplore.widgets import segment_report

from .conftest import CHROMIUM_ARGS, SCREENSHOTS, chromium_path

EMAILS = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
NETWORK = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
IDF_ANDROID = 'region = "Île-de-France" and device = "Android"'
TIMEOUT_MS = 30_000


class _References(HTMLParser):
    """Every address the page would load: script and image sources, linked stylesheets,
    fonts and icons, and ``url(...)``/``@import`` in its CSS."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name in ("src", "href", "data", "poster", "srcset"):
            if values.get(name) and tag != "a":
                self.addresses.append(f"{tag}[{name}]={values[name]}")
        self.addresses += _css_addresses(values.get("style") or "")
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.addresses += _css_addresses(data)


def _css_addresses(css: str) -> list[str]:
    found = re.findall(r"url\(\s*['\"]?([^'\")]+)", css)
    found += re.findall(r"@import\s+['\"]([^'\"]+)", css)
    return found + (["@font-face"] if "@font-face" in css else [])


@pytest.fixture(scope="module")
def sample() -> se.ContactBase:
    return se.load_sample()


@pytest.fixture(scope="module")
def snapshot(sample, tmp_path_factory) -> Path:
    contacts = sample.contacts
    # an Android contact in no other segment: the iOS rule's email adds one member
    outside = contacts[(contacts["device"] == "Android")
                       & (contacts["region"] != "Île-de-France")
                       & ~contacts["loyalty_tier"].isin(["gold", "silver"])
                       & contacts["email"].notna()]
    someone = str(outside["email"].iloc[0])
    sample.segment(IDF_ANDROID, name="IDF Android")
    sample.segment(f'device = "iOS" or email = "{someone}"', name="iOS")
    sample.segment('loyalty_tier in ("gold", "silver")', name="Loyal",
                   description=f"gold and silver members; ask {someone}")
    report = segment_report(sample)
    return report.to_html(tmp_path_factory.mktemp("report") / "report.html")


def test_the_snapshot_references_nothing_on_the_network(snapshot):
    page = snapshot.read_text(encoding="utf-8")
    parser = _References()
    parser.feed(page)
    assert parser.addresses == []  # no src, no stylesheet, no font, no url() at all
    assert page.count("plotly.js v") == 1  # plotly.js inline, once
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    assert not re.search(r"<link\b", page)
    assert "@media print" in page


def test_the_snapshot_names_no_email_of_the_sample(snapshot, sample):
    emails = set(sample.contacts["email"].dropna()) | set(
        sample.contacts["email_original"].dropna())
    page = snapshot.read_text(encoding="utf-8")
    assert not set(EMAILS.findall(page)) & emails


def test_the_snapshot_holds_the_report(snapshot):
    page = snapshot.read_text(encoding="utf-8")
    for section in ("se-report-sizes", "se-report-overlap", "se-report-differences",
                    "se-report-waterfall", "se-figure-intersections", "se-figure-sizes"):
        assert f"se-report-part {section}" in page or f"se-figure {section}" in page, section
    assert "Who can be emailed: IDF Android" in page
    assert "1\u202f334 contacts (6,7\u202f% of the base)" in page
    assert '<html lang="fr">' in page


def test_the_snapshot_draws_its_charts_with_the_network_blocked(snapshot, sample):
    from playwright.sync_api import sync_playwright

    emails = set(sample.contacts["email"].dropna())
    own = snapshot.as_uri()
    blocked: list[str] = []
    errors: list[str] = []

    def route(request_route):
        if request_route.request.url == own:
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1024, "height": 900})
            page.route("**/*", route)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(own)
            figures = page.locator(".se-figure").count()
            assert figures >= 5  # sizes, heatmap, UpSet, lift, a distribution at least
            page.wait_for_function(
                f"document.querySelectorAll('.se-figure .main-svg').length >= {figures}",
                timeout=TIMEOUT_MS)
            for kind in ("sizes", "overlap", "intersections"):
                assert page.locator(f".se-figure-{kind} .main-svg").count() >= 1, kind
            # the UpSet bars carry their French labels: iOS alone is the 6,894 iOS
            # contacts outside Loyal (tests/widgets/test_locale.py) and the one by email
            upset = page.locator(".se-figure-intersections").inner_text()
            assert "6\u202f895" in upset, upset
            text = page.locator("body").inner_text()
            assert not set(EMAILS.findall(text)) & emails
            assert "1\u202f334 contacts (6,7\u202f% of the base)" in text
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "report-offline-1024.png"), full_page=True)
            page.emulate_media(media="print")
            margin = page.evaluate("getComputedStyle(document.body).marginTop")
            keeps = page.evaluate(
                "getComputedStyle(document.querySelector('.se-figure')).breakInside")
            assert (margin, keeps) == ("0px", "avoid")
            page.screenshot(path=str(SCREENSHOTS / "report-offline-print.png"),
                            full_page=True)
            pdf = page.pdf(format="A4")
        finally:
            browser.close()
    assert blocked == [] and errors == []
    assert pdf.startswith(b"%PDF")
