"""A real headless Chromium signs a reviewer in to `postguard console --oidc FILE` through the test
OpenID Connect provider, each its own process. The provider is at http://localhost and the console
at http://127.0.0.1, two different sites as in a district (Google or Microsoft, then the console):
the Strict session cookie must still be there on the first page after the provider's redirect."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import SEED
from oidc_helpers import serve, start_provider, stop
from oidc_provider import OUTSIDER, REVIEWER
from test_console_browser import ARGS, CHROMIUM, free_port, need_chromium

from store import Event, StoreConfig, open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def servers(request: Any, tmp_path: Path, config: StoreConfig) -> Iterator[tuple[str, str]]:
    """(console URL, provider URL): the provider signing in the user the test names (REVIEWER by default)."""
    need_chromium()
    user = getattr(request, "param", REVIEWER)
    db = tmp_path / "log.sqlite"
    with open_store(str(db), config) as st:
        for e in SEED:
            e = dict(e)
            age = e.pop("age")
            st.append(Event(source="extension", time=time.time() - age * 3600, **e))
        assert st.flush()
    cport, pport = free_port(), free_port()
    console = f"http://127.0.0.1:{cport}"
    request.node.db = db
    provider, settings = start_provider(tmp_path, pport, console, user, consent_page=True)
    try:
        proc = serve([sys.executable, "-m", "postguard", "console", "--db", str(db), "--listen", f"127.0.0.1:{cport}",
                      "--oidc", str(settings)], console + "/login", tmp_path)
        try:
            yield console, f"http://localhost:{pport}"
        finally:
            stop(proc)
    finally:
        stop(provider)


def _browser(p: Any) -> Any:
    return p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


def test_reviewer_signs_in_through_the_provider(servers: tuple[str, str], tmp_path: Path, monkeypatch: Any) -> None:
    from playwright.sync_api import expect, sync_playwright

    console, issuer = servers
    monkeypatch.setenv("HOME", str(tmp_path))
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(console + "/events")
        expect(page).to_have_url(f"{console}/login?next=/events")
        page.click("#oidc")
        expect(page).to_have_url(re.compile(re.escape(issuer) + "/authorize"))
        page.click("#continue")  # on the provider's page: from here on the navigation is cross-site
        expect(page).to_have_url(f"{console}/events")
        expect(page.locator(".whoami")).to_contain_text(REVIEWER["email"])
        expect(page.locator(".whoami .role")).to_have_text("reviewer")
        assert page.locator("main table tbody tr").count() >= 1
        assert page.locator(".alert").count() == 0
        browser.close()


@pytest.mark.parametrize("servers", [OUTSIDER], indirect=True)
def test_unmapped_user_sees_why(servers: tuple[str, str], tmp_path: Path, monkeypatch: Any) -> None:
    from playwright.sync_api import expect, sync_playwright

    console, _ = servers
    monkeypatch.setenv("HOME", str(tmp_path))
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        page.goto(console + "/login")
        page.click("#oidc")
        page.click("#continue")
        expect(page.locator(".alert")).to_contain_text(f"{OUTSIDER['email']} may not use the review console")
        page.goto(console + "/events")
        expect(page).to_have_url(f"{console}/login?next=/events")  # no session
        browser.close()


def test_reviewer_prints_an_incident_record(servers: tuple[str, str], tmp_path: Path, monkeypatch: Any,
                                             request: Any, config: StoreConfig) -> None:
    """Signed in through the provider, a reviewer opens an incident, follows "Record for the file",
    and prints it: the print layout drops the on-screen notes and Chromium makes a PDF of it."""
    from playwright.sync_api import expect, sync_playwright

    console, _ = servers
    with open_store(str(request.node.db), config) as st:
        uid = st.read(lambda c: c.scalar("SELECT incident FROM events WHERE action = 'warned' AND employee = 'a.teacher'"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page()
        page.goto(f"{console}/events/{uid}")
        page.click("#oidc")
        page.click("#continue")
        expect(page).to_have_url(f"{console}/events/{uid}")
        page.click("#record")
        expect(page).to_have_url(f"{console}/incidents/{uid}/record")
        expect(page.locator("h1")).to_have_text("Incident record")
        expect(page.locator("#chain")).to_have_text("intact")
        expect(page.locator("#exported-by")).to_have_text(REVIEWER["email"])
        assert "Tyler" not in page.content()
        page.emulate_media(media="print")
        expect(page.locator(".noprint")).to_be_hidden()
        pdf = page.pdf(format="Letter")
        assert pdf.startswith(b"%PDF-") and len(pdf) > 10_000
        (tmp_path / "record.pdf").write_bytes(pdf)
        browser.close()
