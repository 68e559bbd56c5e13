"""The explorer's Plan tab in a real browser (issue 15): two entries, their sizes, the export.

``segexplore dashboard`` on the bundled sample, as users start it (``dashboard_page`` in
``conftest.py``). DOM contract of the tab: ``se-plan``; the form ``se-plan-source``
(Dropdown), ``se-plan-variant``, ``se-plan-subject``, ``se-plan-template`` (Text),
``se-plan-add``; the tables ``se-plan-summary`` (``table.se-plan-summary-table``),
``se-plan-missing``, ``se-plan-preview``; the export ``se-plan-export-run`` and
``se-plan-export-output`` (the folder in ``.se-plan-export-folder``, a download link per
file). Every number checked is computed here with plain pandas masks, first rule wins.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import segexplore as se

from .conftest import dashboard_page
from .test_explorer import open_tab, set_rule_text, shown_size, wait_until

pytestmark = pytest.mark.browser

GOLD = 'loyalty_tier = "gold"'
FRANCE = 'country = "FR"'
EMAILS = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")


@pytest.fixture(scope="module")
def page(browser):
    yield from dashboard_page(browser, [], first_port=18970, log_name="dashboard-plan")


@pytest.fixture(scope="module")
def sample() -> se.ContactBase:
    return se.load_sample()


def summary_rows(page) -> list[dict[str, str]]:
    """The rows of the sizes table: ``{header: cell text}``."""
    return page.locator(".se-plan-summary table.se-plan-summary-table").evaluate(
        """t => { const heads = [...t.querySelectorAll('thead th')].map(h => h.innerText.trim());
                  return [...t.querySelectorAll('tbody tr')].map(r => Object.fromEntries(
                      [...r.querySelectorAll('td')].map((c, i) => [heads[i], c.innerText.trim()])));
                }""")


def number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def add_entry(page, sample, rule: str, variant: str, subject: str) -> None:
    """Build ``rule`` in the Build tab, then add it as the next entry in the Plan tab."""
    open_tab(page, "Build")
    set_rule_text(page, rule)
    wait_until(lambda: shown_size(page) == sample.count(rule), message=f"the size of {rule}")
    open_tab(page, "Plan")
    source = page.locator(".se-plan-source select")
    source.select_option(value="(segment being built)")
    page.locator(".se-plan-variant input").fill(variant)
    page.locator(".se-plan-subject input").fill(subject)
    page.locator(".se-plan-add").click()
    wait_until(lambda: variant in [r["variant"] for r in summary_rows(page)],
               message=lambda: f"{variant} in the sizes table; status: "
                               f"{page.locator('.se-plan-status').inner_text()}")


def test_two_entries_their_sizes_and_the_export(page, sample, browser, tmp_path):
    page, log = page
    contacts = sample.contacts
    gold = contacts["loyalty_tier"].eq("gold")
    france = contacts["country"].eq("FR")
    add_entry(page, sample, GOLD, "gold", "{first_name|Cher client}, merci")
    add_entry(page, sample, FRANCE, "france", "Bonjour {first_name|cher client}")

    rows = {r["variant"]: r for r in summary_rows(page)}
    assert list(rows) == ["gold", "france"]
    assert number(rows["gold"]["assigned"]) == int(gold.sum()) == 510
    assert number(rows["france"]["matched"]) == int(france.sum())
    assert number(rows["france"]["taken_by_earlier"]) == int((france & gold).sum())
    assert number(rows["france"]["assigned"]) == int((france & ~gold).sum())
    unassigned = page.locator(".se-plan-summary .se-plan-unassigned").inner_text()
    assert number(unassigned.split("without")[0].split("target,")[1]) == \
        int((~gold & ~france).sum())
    plan_text = page.locator(".se-plan").inner_text()
    assert "Traceback" not in plan_text
    assert not EMAILS.findall(page.locator(".se-plan-preview").inner_text())  # masked
    browser.screenshot(page, "explorer-plan")

    page.locator(".se-plan-export-run").click()
    link = page.locator(".se-plan-export-output a.se-download-link").first
    link.wait_for(state="attached")
    folder = Path(page.locator(".se-plan-export-output .se-plan-export-folder").text_content())
    written = pd.read_csv(folder / "plan.csv", dtype=str, keep_default_na=False)
    sendable = contacts["consent"].eq("given") & contacts["email"].notna()
    expected = {"gold": int((gold & sendable).sum()),
                "france": int((france & ~gold & sendable).sum())}
    assert written["variant"].value_counts().to_dict() == expected
    assert len(written) == sum(expected.values())
    assert set(written["email"]) <= set(contacts.loc[gold | france, "email"])
    # the page offers the very file written
    with page.expect_download(timeout=30_000) as info:
        link.click()
    downloaded = tmp_path / "plan.csv"
    info.value.save_as(downloaded)
    assert downloaded.read_bytes() == (folder / "plan.csv").read_bytes()
    # a second export goes to a new folder: the first one stays as it was
    page.locator(".se-plan-export-run").click()
    wait_until(lambda: page.locator(".se-plan-export-output .se-plan-export-folder")
               .text_content() != str(folder), message="a second export")
    second = Path(page.locator(".se-plan-export-output .se-plan-export-folder").text_content())
    assert second.name == "plan_2" and second.parent == folder.parent
    assert (folder / "plan.csv").read_bytes() == downloaded.read_bytes()
    assert not log.errors, str(log)
