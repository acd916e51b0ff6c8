"""The consent page in the real viewer: look a patient up, grant, withdraw, read the history."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from tests.integration.server.live import LiveServer
from tests.integration.viewer.pages import sign_in

pytestmark = pytest.mark.integration

KEY = "a-consent-page-test-key-of-enough-bytes"


@pytest.fixture(scope="module")
def consent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without analysis workers (nothing here needs a model), with a de-identification key."""
    data_dir: Path = tmp_path_factory.mktemp("consent") / "var"
    env = {"MEDSIGHT_ANALYSIS_WORKERS": "0", "MEDSIGHT_DEID_KEY": KEY}
    server = LiveServer(data_dir=data_dir, extra_env=env).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tokens(consent_server: LiveServer) -> dict[str, str]:
    """A token per role, issued over the API (a ``medsight tokens create`` process each would take seconds).

    The admin's belongs to the user ``dr.consent``, the name the history shows.
    """
    admin = {"Authorization": f"Bearer {consent_server.token('--role', 'admin')}"}
    api = f"{consent_server.url}/api/v1"
    made = httpx.post(f"{api}/users", json={"name": "dr.consent", "role": "admin"}, headers=admin, timeout=10)
    assert made.status_code == 201, made.text

    def issue(**body: str) -> str:
        issued = httpx.post(f"{api}/tokens", json=body, headers=admin, timeout=10)
        assert issued.status_code == 201, issued.text
        return str(issued.json()["value"])

    return {
        "admin": issue(user="dr.consent"),
        **{role: issue(role=role) for role in ("radiologist", "auditor", "referrer")},
    }


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _open_consent(page: Page, server: LiveServer, token: str) -> None:
    sign_in(page, server.url, token)
    page.get_by_role("link", name="Consent").click()
    expect(page.get_by_role("heading", name="Consent", exact=True)).to_be_visible()


def test_grant_then_withdraw_shows_in_force_and_history(
    page: Page, consent_server: LiveServer, tokens: dict[str, str], artifacts: Path
) -> None:
    _open_consent(page, consent_server, tokens["admin"])
    page.get_by_label("Find by").select_option("patient_id")
    page.get_by_label("Patient", exact=True).fill("MRN-PAGE-1")
    page.keyboard.press("Enter")
    title = page.locator("#consent-patient-title")
    expect(title).to_have_text(re.compile(r"^Patient ANON-[A-Z0-9]+$"))
    expect(title).to_be_focused()
    pseudonym = (title.text_content() or "").removeprefix("Patient ")
    in_force = page.locator("#consent-in-force tbody")
    expect(in_force.locator("tr")).to_have_count(4)  # every purpose, none decided
    expect(in_force).not_to_contain_text("Granted")
    assert "MRN-PAGE-1" not in page.locator("#consent-patient-panel").inner_text()

    page.get_by_label("Purpose").select_option("model-training")
    page.get_by_label("Document reference").fill("form 12/2026")
    page.get_by_role("button", name="Record grant").click()
    expect(page.locator("#consent-record-status")).to_have_text(f"Recorded: Model training granted for {pseudonym}.")
    expect(in_force.locator("tr", has_text="Model training")).to_contain_text("Granted")

    # The row's own button prepares the withdrawal; the keyboard records it.
    page.get_by_role("button", name="Prepare a withdrawal: Model training").click()
    expect(page.get_by_label("Document reference")).to_be_focused()
    page.keyboard.type("withdrawal letter 7")
    page.keyboard.press("Enter")
    expect(page.locator("#consent-record-status")).to_have_text(f"Recorded: Model training withdrawn for {pseudonym}.")
    expect(in_force.locator("tr", has_text="Model training")).to_contain_text("Withdrawn")

    history = page.locator("#consent-history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("Granted")
    expect(history.nth(0)).to_contain_text("form 12/2026")
    expect(history.nth(1)).to_contain_text("Withdrawn")
    expect(history.nth(1)).to_contain_text("withdrawal letter 7")
    expect(history.nth(1)).to_contain_text("dr.consent")  # who recorded it
    page.screenshot(path=str(artifacts / "consent-page.png"))


def test_party_field_only_for_sharing_and_api_problems_are_shown(
    page: Page, consent_server: LiveServer, tokens: dict[str, str]
) -> None:
    _open_consent(page, consent_server, tokens["radiologist"])
    page.get_by_label("Patient", exact=True).fill("MRN-9")  # a Patient ID in the pseudonym field
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_role("alert").filter(has_text="starts with ANON-")).to_be_visible()

    page.get_by_label("Patient", exact=True).fill("ANON-PAGETEST")
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#consent-history-empty")).to_be_visible()
    party = page.get_by_label("Party the data is shared with")
    expect(party).to_be_hidden()
    page.get_by_label("Purpose").select_option("sharing")
    expect(party).to_be_visible()
    party.fill("   ")  # passes the browser's "required"; the service refuses it
    page.get_by_role("button", name="Record grant").click()
    expect(page.locator("#consent-record-error")).to_have_text(
        "Not recorded: consent to sharing names the remote party (usage.invalid)"
    )
    party.fill("Hospital B")
    page.get_by_role("button", name="Record grant").click()
    expect(page.locator("#consent-in-force tbody tr", has_text="Hospital B")).to_contain_text("Granted")
    page.get_by_label("Purpose").select_option("research-export")
    expect(party).to_be_hidden()


def test_readers_look_up_by_pseudonym_only_and_others_see_no_link(
    page: Page, consent_server: LiveServer, tokens: dict[str, str]
) -> None:
    _open_consent(page, consent_server, tokens["auditor"])
    expect(page.locator("#consent-by-note")).to_be_visible()
    assert page.locator("#consent-by-patient-id").is_disabled()
    page.get_by_label("Patient", exact=True).fill("ANON-PAGETEST")
    page.keyboard.press("Enter")
    expect(page.locator("#consent-in-force tbody tr", has_text="Hospital B")).to_contain_text("Granted")
    expect(page.locator("#consent-record")).to_be_hidden()  # reads, never records
    expect(page.get_by_role("button", name=re.compile("^Prepare"))).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    assert page.locator("#consent-patient").input_value() == ""  # nothing about the patient is kept
    assert page.locator("#consent-patient-panel").get_attribute("hidden") is not None
    sign_in(page, consent_server.url, tokens["referrer"])
    expect(page.get_by_role("link", name="Consent")).to_be_hidden()
    page.evaluate("() => { location.hash = '#consent'; }")  # typed in the address bar: the worklist instead
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(page.locator("#view-consent")).to_be_hidden()
