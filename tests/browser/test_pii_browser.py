"""The explorer's Profile tab in a real browser shows no contact's email (issue 11).

The page is served by a real Voila server on the bundled sample (``explorer_server`` in
``conftest.py``); the emails checked against are the sample's own, loaded here.
"""

from __future__ import annotations

import re

import pytest

import segexplore as se

pytestmark = pytest.mark.browser

EMAILS = re.compile(r"[\w.%+'-]+@[\w-]+(?:\.[\w-]+)+")
TIMEOUT_MS = 60_000


def test_profile_tab_shows_no_email(browser, explorer_server):
    base = se.load_sample()
    emails = set(base.contacts["email"].dropna()) | set(base.contacts["email_original"].dropna())
    page, log = browser.open(explorer_server, ".se-app .se-tabs")
    try:
        page.locator(".se-profile-summary table").wait_for(state="attached",
                                                            timeout=TIMEOUT_MS)
        page.locator(".se-profile-top table").wait_for(state="attached", timeout=TIMEOUT_MS)
        attributes = page.locator(".se-profile-attribute select").evaluate(
            "s => Array.from(s.options).map(o => o.value)")
        assert "city" in attributes, attributes
        assert not {"contact_id", "email", "email_original"} & set(attributes), attributes
        # the summary of every attribute, the top values of the one shown, and the
        # top values of a categorical column chosen in the page
        page.locator(".se-profile-attribute select").select_option(value="city")
        page.wait_for_function(
            "() => (document.querySelector('.se-profile-top') || {}).innerText"
            "?.includes('Paris')", timeout=TIMEOUT_MS)
        browser.screenshot(page, "explorer-profile-no-email")
        tab = page.locator(".se-profile").inner_html()
        text = page.locator(".se-profile").inner_text()
        assert not set(EMAILS.findall(tab)) & emails, str(log)
        assert not EMAILS.findall(text), text[:2000]
    finally:
        page.close()
