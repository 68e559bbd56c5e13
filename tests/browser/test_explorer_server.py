"""``segexplore dashboard --connect`` in a real browser, on tables in a throwaway
PostgreSQL 15 (tests/servers.py): the explorer opens the base where it lives.

The command runs as users run it, the URL read from an environment variable (``--connect
env:VAR``: no password on a command line) and the tables named with ``--tables``; headless
Chromium then builds rules in the Build tab (the checks of test_explorer_duckdb.py, imported)
and exports. Every size shown and the export's bytes are checked against the pandas engine
on the same tables, read in this process.
"""

from __future__ import annotations

import base64
import os

import pandas as pd
import pytest
import servers
from servers import load_postgres

import segexplore as se
from segexplore.cli import main

from .conftest import RENDER_TIMEOUT, dashboard_page
from .test_explorer import open_tab, set_rule_text, shown_size, wait_until
from .test_explorer_duckdb import (  # noqa: F401 (the same checks, on this page)
    test_a_typo_is_a_hint_not_a_traceback,
    test_the_size_shown_is_the_count_of_the_rule,
)

pytestmark = pytest.mark.browser
postgres_server, postgres = servers.postgres_server, servers.postgres


@pytest.fixture(scope="module")
def expected(tmp_path_factory) -> se.ContactBase:
    """A 3,000-contact generated base on the pandas engine, read as it is: the
    independent expectation of every number the page shows."""
    folder = tmp_path_factory.mktemp("server-base")
    assert main(["sample", "--contacts", "3000", "--out", str(folder), "--seed", "5"]) == 0
    frames = [pd.read_parquet(next((folder / name).glob("*.parquet"))
                              if (folder / name).is_dir() else folder / f"{name}.parquet")
              for name in ("contacts", "events", "orders")]
    return se.read_base(*frames, clean=False)


@pytest.fixture(scope="module")
def page(browser, expected, postgres, postgres_server):
    names = load_postgres(postgres, {"contacts": expected.contacts, "events": expected.events,
                                     "orders": expected.orders}, prefix="bx_")
    environment = dict(os.environ)
    environment["SEGEXPLORE_TEST_CRM"] = (f"postgresql://{postgres_server.user}@"
                                          f"{postgres_server.host}:{postgres_server.port}/"
                                          f"{postgres_server.dbname}")
    tables = ",".join(names[t] for t in ("contacts", "events", "orders"))
    yield from dashboard_page(browser, ["--connect", "env:SEGEXPLORE_TEST_CRM", "--tables",
                                        tables], first_port=18950,
                              log_name="dashboard-connect", env=environment)


def test_the_page_opens_the_postgres_base(page, expected):
    page, log = page
    header = page.locator(".se-header").inner_text()
    # a generated base reads French: its 3,000 contacts are written "3 000" (U+202F)
    assert len(expected.contacts) == 3000 and "3\u202f000 contacts" in header, header
    open_tab(page, "Profile")
    assert "held in PostgreSQL" in page.locator(".se-profile").inner_text()
    assert "Traceback" not in page.inner_text("body"), log


def test_export_downloads_the_sendable_members(page, expected, tmp_path):
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
    want = se.export_segment(expected.segment(rule, save=False), tmp_path / "expected.csv",
                             manifest=False)
    assert data == want.path.read_bytes().decode("utf-8") and want.rows > 0
