"""The explorer and the segment report in a real browser, against a real Voila server.

DOM contract (CSS classes the app puts on its widgets): app root ``se-app``; tabs
``se-tabs`` titled Profile, Build, Compare, Export. Build: rule text ``se-rule-text``
(Textarea), size ``se-size`` holding ``<span class="se-size-value">12345</span>``, error
``se-error``, ``se-add-row``, rows ``se-row`` with ``se-row-field``, ``se-row-op``,
``se-row-value`` (categories: a multi-select labelled "value (count)"),
``se-row-remove``, ``se-combine``, ``se-segment-name``, ``se-save``, ``se-build-charts``
(figures drawn by plotly.js: ``.js-plotly-plot``). Profile: ``se-profile-summary`` (filled
once the page shows the app), ``se-profile-chart``.
Compare: ``se-compare-select``, ``se-compare-run``, ``se-compare-output``. Export:
``se-export-columns``, ``se-export-preset``, ``se-export-run``, ``se-export-output`` holding
``<a class="se-download-link" download="....csv" href="data:text/csv;base64,...">``.

The tests share one page (one kernel) and run in file order; each one sets up the state it
checks. Screenshots of every tab go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable

import pandas as pd
import pytest

import segexplore as se

pytestmark = pytest.mark.browser

UPDATE_TIMEOUT = 20.0
LYON_ANDROID = 'city in ("Lyon") and device in ("Android")'
TEXT_RULE = 'language in ("nl") and device in ("iOS", "Desktop") and age >= 30'


# ------------------------------------------------------------------ ipywidgets helpers
def wait_until(condition: Callable[[], object], timeout: float = UPDATE_TIMEOUT,
               message: str | Callable[[], str] = "condition", interval: float = 0.1):
    """Poll ``condition`` until it returns something truthy (exceptions count as False)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception):
            result = condition()
            if result:
                return result
        if time.monotonic() > deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {text}")
        time.sleep(interval)


def open_tab(page, title: str) -> None:
    """Click the app's top-level tab ``title`` and wait until it is the current one."""
    labels = page.locator(".se-tabs > .lm-TabBar .lm-TabBar-tabLabel")
    labels.filter(has_text=re.compile(rf"^\s*{re.escape(title)}\s*$")).first.click()
    page.wait_for_function(
        """title => [...document.querySelectorAll('.se-tabs > .lm-TabBar .lm-TabBar-tab')]
              .some(t => t.classList.contains('lm-mod-current')
                         && t.textContent.trim() === title)""", arg=title,
        timeout=UPDATE_TIMEOUT * 1000)


def wait_for_charts(page, container: str, count: int = 1) -> None:
    """Wait until ``count`` plotly figures are drawn inside ``container``."""
    page.wait_for_function(
        """([sel, n]) => document.querySelectorAll(sel + ' .js-plotly-plot .main-svg').length
                         >= n""", arg=[container, count], timeout=UPDATE_TIMEOUT * 1000)


def option_values(select) -> list[str]:
    """Option values of a ``<select>`` (ipywidgets sets each to its label, plain spaces)."""
    return select.evaluate("s => Array.from(s.options).map(o => o.value)")


def selected_values(select) -> list[str]:
    return select.evaluate("s => Array.from(s.selectedOptions).map(o => o.value)")


def choose(select, match: Callable[[str], bool], description: str) -> str:
    """Select the first option accepted by ``match`` once it exists; returns it."""
    seen: list[list[str]] = [[]]

    def pick():
        seen[0] = option_values(select)
        wanted = [v for v in seen[0] if match(v)]
        if wanted:
            if selected_values(select) != [wanted[0]]:
                select.select_option(value=wanted[0])
            return wanted[0]
        return None

    return wait_until(pick, message=lambda: f"an option {description}; options: "
                                            f"{seen[0][:40]}")


def is_field(name: str) -> Callable[[str], bool]:
    """A field option: the name itself or a label starting with it ("city (category)")."""
    return lambda label: label == name or re.match(rf"^{re.escape(name)}\b(?![_-])", label)


def is_value(value: str) -> Callable[[str], bool]:
    """A categorical value option labelled "value (count)"."""
    return lambda label: re.fullmatch(rf"{re.escape(value)} \(\s*[\d,.\s\u202f]+\)", label)


def rows(page):
    return page.locator(".se-row")


def row_fields(page) -> list[str | None]:
    return [r.locator(".se-row-field select").evaluate(
        "s => s.selectedIndex >= 0 ? s.options[s.selectedIndex].value : null")
        for r in rows(page).all()]


def fields_are(page, names: tuple[str, ...]) -> bool:
    """The rows' selected fields are ``names``, in order (labels may add a kind)."""
    fields = row_fields(page)
    return len(fields) == len(names) and all(
        bool(f) and bool(is_field(n)(f)) for f, n in zip(fields, names, strict=True))


def rule_text(page) -> str:
    return page.locator(".se-rule-text textarea").input_value()


def shown_size(page) -> int:
    return int(page.locator(".se-size .se-size-value").inner_text().strip())


def error_text(page) -> str:
    error = page.locator(".se-error")
    return error.inner_text().strip() if error.count() else ""


def set_rule_text(page, text: str) -> None:
    """Type a rule into the text form and leave it (the widget syncs on blur)."""
    area = page.locator(".se-rule-text textarea")
    area.click()
    area.fill(text)
    area.blur()


def wait_for_size(page, api_base, contains: tuple[str, ...]) -> tuple[str, int]:
    """Wait until the rule text mentions ``contains`` and the size shown is the API's size
    for exactly that text; returns both."""
    state = {}

    def settled():
        text = rule_text(page)
        state["text"], state["size"], state["error"] = text, shown_size(page), error_text(page)
        if not all(word in text for word in contains):
            return False
        state["api"] = api_count(api_base, text)
        return state["size"] == state["api"]

    wait_until(settled, message=lambda: f"the size of the rule; last seen {state}")
    return state["text"], state["size"]


_COUNTS: dict[str, int] = {}


def french(count: int) -> str:
    """A count as the French sample's pages write it: ``1 334`` (U+202F)."""
    return f"{count:,}".replace(",", "\u202f")


def api_count(base, text: str) -> int:
    if text not in _COUNTS:
        _COUNTS[text] = base.segment(text).size
    return _COUNTS[text]


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def api_base() -> se.ContactBase:
    return se.load_sample()


@pytest.fixture(scope="module")
def explorer(browser, explorer_server):
    page, log = browser.open(explorer_server, ".se-app .se-tabs")
    yield page, log
    page.close()


# ------------------------------------------------------------------ tests
def test_explorer_renders_with_its_five_tabs(explorer, browser):
    page, log = explorer
    titles = [t.strip() for t in
              page.locator(".se-tabs > .lm-TabBar .lm-TabBar-tabLabel").all_inner_texts()]
    assert titles == ["Profile", "Build", "Compare", "Export", "Plan"], log
    open_tab(page, "Profile")
    # The whole-base profile runs once the page shows the app; then its chart is drawn.
    page.locator(".se-profile-summary table").wait_for(state="attached")
    wait_for_charts(page, ".se-profile-chart")
    browser.screenshot(page, "explorer-profile")
    assert "Traceback" not in page.inner_text("body")


def test_build_two_conditions_through_the_ui(explorer, browser, api_base):
    page, log = explorer
    open_tab(page, "Build")
    page.locator(".se-add-row").first.wait_for(state="visible")
    for _ in range(10):  # start from one row
        count = rows(page).count()
        if count <= 1:
            break
        rows(page).last.locator(".se-row-remove").click()
        wait_until(lambda n=count: rows(page).count() < n, message="a row removed")
    if rows(page).count() == 0:
        page.locator(".se-add-row").first.click()
        wait_until(lambda: rows(page).count() == 1, message="a first row")

    for number, (field, value) in enumerate((("city", "Lyon"), ("device", "Android"))):
        if number:
            page.locator(".se-add-row").first.click()
            wait_until(lambda n=number: rows(page).count() == n + 1, message="a new row")
        row = rows(page).nth(number)
        choose(row.locator(".se-row-field select"), is_field(field), f"for field {field}")
        op = row.locator(".se-row-op select")
        wait_until(lambda op=op: "in" in option_values(op), message="the 'in' operator")
        choose(op, lambda label: label == "in", "'in'")
        choose(row.locator(".se-row-value select"), is_value(value), f"'{value} (n)'")

    text, size = wait_for_size(page, api_base, ("city", "Lyon", "device", "Android"))
    assert size == api_count(api_base, LYON_ANDROID), text
    assert size == api_base.segment(se.parse(text)).size
    assert error_text(page) == ""
    assert fields_are(page, ("city", "device")), row_fields(page)
    wait_for_charts(page, ".se-build-charts")
    browser.screenshot(page, "explorer-build")


def test_text_form_edits_update_the_rows(explorer, browser, api_base):
    page, log = explorer
    open_tab(page, "Build")
    set_rule_text(page, TEXT_RULE)
    wait_until(lambda: rows(page).count() == 3,
               message=lambda: f"3 rows; fields now {row_fields(page)}")
    wait_until(lambda: fields_are(page, ("language", "device", "age")),
               message=lambda: f"fields language, device, age; got {row_fields(page)}")
    text, size = wait_for_size(page, api_base, ("language", "iOS", "age"))
    assert se.parse(text) == se.parse(TEXT_RULE)
    assert size == api_count(api_base, TEXT_RULE)
    browser.screenshot(page, "explorer-build-text")


def test_a_half_typed_rule_shows_an_inline_error(explorer, api_base):
    page, log = explorer
    open_tab(page, "Build")
    set_rule_text(page, "city = ")
    wait_until(lambda: error_text(page), message="an error message in .se-error")
    body = page.inner_text("body")
    assert "Traceback" not in body
    set_rule_text(page, LYON_ANDROID)
    wait_until(lambda: error_text(page) == "", message="the error to clear")
    wait_for_size(page, api_base, ("Lyon", "Android"))


def save_segment(page, name: str, rule: str, api_base) -> None:
    open_tab(page, "Build")
    set_rule_text(page, rule)
    wait_for_size(page, api_base, tuple(re.findall(r'"([^"]+)"', rule)))
    page.locator(".se-segment-name input").fill(name)
    page.locator(".se-segment-name input").blur()
    page.locator(".se-save").click()


def test_compare_saved_segments(explorer, browser, api_base):
    page, log = explorer
    names = {"Lyon Android": LYON_ANDROID, "Dutch iOS or desktop": TEXT_RULE}
    for name, rule in names.items():
        save_segment(page, name, rule, api_base)
    open_tab(page, "Compare")
    select = page.locator(".se-compare-select select")
    wait_until(lambda: all(any(v.startswith(n) for v in option_values(select)) for n in names),
               message=lambda: f"saved segments in the list; got {option_values(select)}")
    wanted = [v for v in option_values(select) if any(v.startswith(n) for n in names)]
    select.select_option(value=wanted)
    page.locator(".se-compare-run").click()
    output = page.locator(".se-compare-output")
    wait_until(lambda: all(n in output.inner_text() for n in names),
               timeout=60, message=lambda: f"both segments in the comparison: "
                                           f"{output.inner_text()[:500]!r}")
    assert "Traceback" not in output.inner_text()
    browser.screenshot(page, "explorer-compare")
    wait_for_charts(page, ".se-compare-output")
    page.locator(".se-compare-output .js-plotly-plot").first.scroll_into_view_if_needed()
    browser.screenshot(page, "explorer-compare-charts")


def test_saving_a_new_rule_over_a_name_asks_first(explorer, browser, api_base):
    """Issue 10: after saving "IDF Android", a new rule was shown and saved under that
    name without a word."""
    page, log = explorer
    idf_android = 'region in ("Île-de-France") and device in ("Android")'
    lyon = 'city in ("Lyon")'
    saved, replacing = api_count(api_base, idf_android), api_count(api_base, lyon)
    status = page.locator(".se-save-status")
    name = page.locator(".se-segment-name input")
    save_segment(page, "IDF Android", idf_android, api_base)
    # the sample reads French: sizes are written with a narrow no-break space
    wait_until(lambda: f"Saved “IDF Android”: {french(saved)} contacts." in status.inner_text(),
               message=lambda: f"the saved status; got {status.inner_text()!r}")
    set_rule_text(page, lyon)
    wait_for_size(page, api_base, ("Lyon",))
    wait_until(lambda: name.input_value() == "",
               message=lambda: f"the name box to clear; got {name.input_value()!r}")
    wait_until(lambda: "Unsaved rule" in status.inner_text(),
               message=lambda: f"an unsaved status; got {status.inner_text()!r}")
    name.fill("IDF Android")
    name.blur()
    page.locator(".se-save").click()
    confirm = page.locator(".se-save-confirm")
    confirm.wait_for(state="visible", timeout=UPDATE_TIMEOUT * 1000)
    assert (f"Replace “IDF Android” ({french(saved)} contacts) with this rule "
            f"({french(replacing)} contacts)?") in confirm.inner_text()
    browser.screenshot(page, "explorer-build-replace")
    page.locator(".se-save-cancel").click()
    confirm.wait_for(state="hidden", timeout=UPDATE_TIMEOUT * 1000)
    wait_until(lambda: "Not saved" in status.inner_text(),
               message=lambda: f"a not-saved status; got {status.inner_text()!r}")


def test_export_downloads_the_members_as_csv(explorer, browser, api_base, tmp_path):
    from segexplore.delivery.export import export_segment

    page, log = explorer
    open_tab(page, "Build")
    page.locator(".se-segment-name input").fill("")
    set_rule_text(page, LYON_ANDROID)
    wait_for_size(page, api_base, ("Lyon", "Android"))
    open_tab(page, "Export")
    page.locator(".se-export-run").click()
    link = page.locator(".se-export-output a.se-download-link")
    link.wait_for(state="visible", timeout=60_000)
    assert link.get_attribute("download").endswith(".csv")
    assert link.get_attribute("href").startswith("data:text/csv;base64,")
    with page.expect_download(timeout=30_000) as info:
        link.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    browser.screenshot(page, "explorer-export")

    exported = pd.read_csv(path, dtype=str, keep_default_na=False)
    segment = api_base.segment(LYON_ANDROID)
    expected_path = tmp_path / "expected.csv"
    export_segment(segment, expected_path, manifest=False)  # the API, same defaults
    expected = pd.read_csv(expected_path, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(exported, expected)
    assert 0 < len(exported) <= segment.size
    members = set(segment.members()["email"].astype(str))
    assert set(exported["email"]) <= members


# ------------------------------------------------------------------ issue 17: readable pages
TABS = ("Profile", "Build", "Compare", "Export", "Plan")
VIEWPORTS = ((1400, 900), (1024, 768))
#: The rule's own attributes of IDF Android, and those it implies in the base.
IDF_ANDROID_OWN_OR_IMPLIED = {"region", "department", "city", "postal_code", "country",
                              "device"}
CARET_RULE = 'city = "Lyon" and age >= >= 30'

#: Per plotly figure on the page: its classes' container, and per bar trace the number of
#: categorical bars (the categories of its category axis).
_BARS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => ({
    container: (gd.closest('[class*="se-chart-"], .se-build-charts, .se-profile-chart')
                || {className: '?'}).className,
    bars: (gd.data || []).filter(t => t.type === 'bar').map(t => ({
        name: t.name || '',
        n: ((t.orientation === 'h' ? t.y : t.x) || []).length}))}))"""


def compare_only(page, names: tuple[str, ...]) -> None:
    """Compare exactly the saved segments ``names`` and wait for the findings."""
    open_tab(page, "Compare")
    select = page.locator(".se-compare-select select")
    wait_until(lambda: all(n in option_values(select) for n in names),
               message=lambda: f"{names} in the list; got {option_values(select)}")
    select.select_option(value=list(names))
    before = page.locator(".se-compare-output").inner_text()
    page.locator(".se-compare-run").click()
    wait_until(lambda: page.locator(".se-compare-differences").count()
               and page.locator(".se-compare-output").inner_text() != before, timeout=60,
               message="the comparison's findings")
    wait_for_charts(page, ".se-compare-output", 3)


def test_findings_of_idf_android_name_no_rule_or_implied_attribute(explorer, browser):
    page, log = explorer
    compare_only(page, ("IDF Android",))  # saved by test_saving_a_new_rule_over_a_name
    table = page.locator(".se-compare-differences table")
    attributes = table.evaluate(
        """t => { const heads = [...t.querySelectorAll('thead th')].map(h => h.textContent);
                  const at = heads.indexOf('attribute');
                  return [...t.querySelectorAll('tbody tr')].map(
                      r => r.children[at].textContent.trim()); }""")
    assert attributes, "no finding listed"
    assert not set(attributes) & IDF_ANDROID_OWN_OR_IMPLIED, attributes
    note = page.locator(".se-compare-differences .se-note").inner_text()
    assert "Significant differences only" in note and "department" in note, note
    browser.screenshot(page, "issue17-compare-idf-android")


def test_no_chart_draws_more_than_15_categorical_bars(explorer, browser):
    page, log = explorer
    compare_only(page, ("Lyon Android", "Dutch iOS or desktop", "IDF Android"))
    open_tab(page, "Profile")
    attribute = page.locator(".se-profile-attribute select")
    choose(attribute, is_field("city"), "the city attribute")
    wait_for_charts(page, ".se-profile-chart")
    figures = page.evaluate(_BARS_JS)
    assert figures and any(f["bars"] for f in figures), figures
    crowded = [(f["container"], b) for f in figures for b in f["bars"] if b["n"] > 15]
    assert not crowded, crowded


def test_the_caret_is_under_the_offending_token(explorer, browser, api_base):
    page, log = explorer
    open_tab(page, "Build")
    set_rule_text(page, CARET_RULE)
    wait_until(lambda: error_text(page), message="an error message in .se-error")
    position = CARET_RULE.index(">= 30")  # the second '>=' is the error
    boxes = page.locator(".se-error pre.se-error-caret").evaluate(
        """(pre, at) => { const text = pre.firstChild, line = text.data.split('\\n')[0];
               const box = (start, end) => { const r = document.createRange();
                   r.setStart(text, start); r.setEnd(text, end);
                   return r.getBoundingClientRect().toJSON(); };
               const caret = text.data.indexOf('^');
               return {token: box(at, at + 2), caret: box(caret, caret + 1),
                       font: getComputedStyle(pre).fontFamily}; }""", position)
    token, caret = boxes["token"], boxes["caret"]
    browser.screenshot(page, "issue17-caret")
    assert caret["top"] >= token["bottom"] - 1, boxes  # on the line below
    assert abs(caret["left"] - token["left"]) <= 2, boxes  # under the token's first letter
    assert caret["right"] <= token["right"] + 2, boxes
    set_rule_text(page, LYON_ANDROID)
    wait_until(lambda: error_text(page) == "", message="the error to clear")
    wait_for_size(page, api_base, ("Lyon", "Android"))


def test_screenshots_of_every_tab_at_two_sizes(explorer, browser):
    page, log = explorer
    shots = []
    try:
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            for title in TABS:
                open_tab(page, title)
                time.sleep(0.8)  # plotly relayouts after a resize
                name = f"issue17-{title.lower()}-{width}x{height}"
                shots.append(browser.screenshot(page, name))
                where = {"Build": ".se-build-charts", "Compare": ".se-compare-output"}
                charts = page.locator(f"{where.get(title, '.none')} .js-plotly-plot")
                if charts.count():
                    charts.last.scroll_into_view_if_needed()  # the page scrolls inside
                    time.sleep(0.3)
                    shots.append(browser.screenshot(page, f"{name}-charts"))
                    page.locator(".se-tabs").first.scroll_into_view_if_needed()
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})
    assert all(p.stat().st_size > 10_000 for p in shots), shots
    assert "Traceback" not in page.inner_text("body")


def test_segment_report_renders_without_errors(browser, report_server):
    page, log = browser.open(report_server, ".jp-OutputArea-output")
    page.wait_for_load_state("load", timeout=60_000)  # every cell has run
    wait_until(lambda: "Android in Lyon" in page.inner_text("body"), timeout=60,
               message=lambda: "the example segments on the page: "
                               + page.inner_text("body")[-1000:])
    time.sleep(1.0)  # let the widgets finish drawing
    browser.screenshot(page, "segment-report")
    body = page.inner_text("body")
    assert "Traceback" not in body, body[-3000:]
    assert "Error" not in body, body[-3000:]
    assert "error when executing" not in body
    page.close()
