"""The imaging-protocol page in Chromium: a profile typed into the form, ranked and explained examinations back.

A referrer signs in, opens Protocols, asks about a child with suspected appendicitis and
poor kidney function (ultrasound first, the contrast warning), a pregnant patient (the
pregnancy pathway), a contradictory profile (the error names the field), and a stroke
without its onset time (the page says which finding is needed); a device token sees no
Protocols link.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from tests.integration.server.live import LiveServer
from tests.integration.viewer.pages import sign_in

pytestmark = pytest.mark.integration


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _open_protocols(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server.url, live_server.token("--role", "referrer"))
    page.get_by_role("link", name="Protocols").click()
    expect(page.get_by_role("heading", name="Imaging protocol")).to_be_visible()


def test_the_form_ranks_explains_and_warns(page: Page, live_server: LiveServer, artifacts: Path) -> None:
    _open_protocols(page, live_server)
    page.get_by_label("Indication").select_option("suspected_appendicitis")
    page.get_by_label("Age in years").fill("9")
    page.get_by_label("Sex").select_option("male")
    page.get_by_label("eGFR").fill("20")
    page.get_by_role("button", name="Recommend").click()
    ranked = page.get_by_role("list", name="Ranked examinations").locator(":scope > li")
    expect(ranked.first).to_contain_text("Ultrasound right lower quadrant")
    expect(ranked.first).to_contain_text("9/9 usually appropriate")
    expect(ranked.first).to_contain_text("Sensitivity 88%")
    expect(page.get_by_role("heading", name="Suspected acute appendicitis: paediatric pathway")).to_be_visible()
    expect(page.locator(".protocol-warnings li[data-code=contrast_egfr_below_30]")).to_be_visible()
    ct = ranked.filter(has_text="CT abdomen and pelvis with IV contrast")
    expect(ct).to_contain_text("paediatric low-dose protocol")
    ranked.first.get_by_text("Why").click()
    link = ranked.first.get_by_role("link").first
    expect(link).to_have_attribute("href", "https://acsearch.acr.org/docs/3105874/Narrative/")
    expect(page.get_by_text("FHIR ServiceRequest draft")).to_be_visible()
    page.screenshot(path=str(artifacts / "protocols.png"), full_page=True)

    page.get_by_label("Age in years").fill("29")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Pregnant").select_option("true")
    page.get_by_role("button", name="Recommend").click()
    expect(page.get_by_role("heading", name="Suspected acute appendicitis: pregnancy pathway")).to_be_visible()
    expect(ranked.first).to_contain_text("Ultrasound right lower quadrant")

    page.get_by_label("Sex").select_option("male")
    page.get_by_role("button", name="Recommend").click()
    expect(page.locator("#protocol-error")).to_have_text(
        "pregnant: is true while sex is male; send sex 'female' or 'other' for a pregnant patient"
    )


def test_a_missing_finding_is_named(page: Page, live_server: LiveServer) -> None:
    _open_protocols(page, live_server)
    page.get_by_label("Indication").select_option("suspected_stroke")
    expect(page.get_by_label("onset hours (h)")).to_be_visible()  # the findings follow the indication
    page.get_by_label("Age in years").fill("70")
    page.get_by_label("Sex").select_option("male")
    page.get_by_role("button", name="Recommend").click()
    expect(page.get_by_text("No recommendation yet")).to_be_visible()
    expect(page.get_by_role("list", name="Fields needed")).to_contain_text("findings.onset_hours")
    page.get_by_label("onset hours (h)").fill("2")
    page.get_by_role("button", name="Recommend").click()
    expect(page.get_by_role("list", name="Ranked examinations").locator(":scope > li").first).to_contain_text(
        "CT head without IV contrast"
    )


def test_roles_without_the_scope_see_no_link(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url)
    page.get_by_label("Access token").fill(live_server.token("--role", "auditor"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#whoami")).to_contain_text("auditor")
    expect(page.locator("#nav-protocols")).to_be_hidden()
