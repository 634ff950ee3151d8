"""A real headless Chromium signs a reviewer in to `postguard console --oidc FILE` through the test
OpenID Connect provider, each its own process. The provider is at http://localhost and the console
at http://127.0.0.1, two different sites as in a district (Google or Microsoft, then the console):
the Strict session cookie must still be there on the first page after the provider's redirect."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import SEED
from oidc_provider import CLIENT_ID, CLIENT_SECRET, OUTSIDER, REVIEWER
from test_console_browser import ARGS, CHROMIUM, free_port, need_chromium

from store import Event, StoreConfig, open_store

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PROVIDER_SCRIPT = Path(__file__).resolve().parent / "oidc_provider.py"


def _serve(cmd: list[str], url: str, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return proc
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"{cmd[1:3]} exited: " + proc.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
            time.sleep(0.1)
    proc.terminate()
    pytest.fail(f"{url} did not answer")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


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
    console, issuer = f"http://127.0.0.1:{cport}", f"http://localhost:{pport}"
    (tmp_path / "oidc-secret").write_text(CLIENT_SECRET, encoding="utf-8")
    (tmp_path / "oidc.toml").write_text(
        f'[oidc]\nissuer = "{issuer}"\nclient_id = "{CLIENT_ID}"\nclient_secret_file = "oidc-secret"\n'
        f'redirect_url = "{console}/login/oidc/callback"\nlabel = "District account"\n'
        'reviewer_groups = ["postguard-reviewers"]\n', encoding="utf-8")
    provider = _serve([sys.executable, str(PROVIDER_SCRIPT), "--host", "localhost", "--port", str(pport),
                       "--secret-file", str(tmp_path / "oidc-secret"), "--redirect", f"{console}/login/oidc/callback",
                       "--user-json", json.dumps(user), "--consent-page"],
                      f"http://127.0.0.1:{pport}/.well-known/openid-configuration", tmp_path)
    try:
        proc = _serve([sys.executable, "-m", "postguard", "console", "--db", str(db), "--listen", f"127.0.0.1:{cport}",
                       "--oidc", str(tmp_path / "oidc.toml")], console + "/login", tmp_path)
        try:
            yield console, issuer
        finally:
            _stop(proc)
    finally:
        _stop(provider)


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
