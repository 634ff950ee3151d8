"""Issue 19 end to end, in real Chromium against a real district server on loopback: two devices
upload a threat and a missing disclaimer; the alert e-mail for the threat reaches a real SMTP server
(aiosmtpd) with a link to the incident and no detail of the post; a reviewer signs in through the
OpenID Connect provider (another site: http://localhost), sees the urgent incident at the top of the
queue although it is older, opens it, marks it reviewed. Every name and address is fictional."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from alert_helpers import LOW, THREAT, Smtp, alert_config, until
from test_server_command import free_port

from checker import redact
from console.keys import CONFIG
from console.views import oidc
from server import ServerConfig, create_app
from store.event import GENESIS, Event, chain_hash, to_row

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ROUTES = """
console_base_url = "{console}"
[[route]]
name = "threats"
categories = ["threat", "mass-violence"]
email = ["safety@region14.example"]
mode = "immediate"
"""
# Two fictional staff posts, as a device's proxy logged them (redacted as the policy says).
THREAT_POST = "If that ref shows up Friday I will make sure he gets hurt."
LOW_POST = "Great turnout at the Region 14 science fair tonight!"


def _load(name: str, path: Path) -> Any:
    """A module of another test folder, from its file (tests/ never goes on sys.path)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    mod = sys.modules[name] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


provider_mod = _load("e2e_oidc_provider", ROOT / "tests" / "console" / "oidc_provider.py")
Running = _load("e2e_server_fixtures", Path(__file__).with_name("conftest.py")).Running


def first_row(device: str, employee: str, text: str, finding: dict[str, Any], policy: Any) -> dict[str, Any]:
    """A device's first chained row: a warned post with one finding over `finding["span"]`."""
    r = to_row(Event(source="proxy", action="warned", site="www.facebook.com", text=text, findings=[finding]),
               mode="redacted", redact=lambda t: redact(t, policy), device=device, employee=employee)
    r.update(seq=1, prev_hash=GENESIS)
    r["hash"] = chain_hash(r)
    return r


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return str(tmp_path / "server.sqlite")


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    s = Smtp(free_port())
    s.start()
    yield s
    s.stop()


@pytest.fixture
async def provider(aiohttp_server: Any, port: int) -> Any:
    p = provider_mod.Provider(redirect_uri=f"http://127.0.0.1:{port}/login/oidc/callback")
    srv = await aiohttp_server(p.app())
    p.issuer, p.consent_page = f"http://localhost:{srv.port}", True
    return p


@pytest.fixture
def server_config(db_url: str, policy: Any, tmp_path: Path, smtp: Smtp, port: int) -> ServerConfig:
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES.format(console=f"http://127.0.0.1:{port}"), encoding="utf-8")
    cfg = alert_config(db_url, policy, tmp_path, "http://127.0.0.1:9/unused", smtp_port=smtp.port,
                       smtp_security="none")
    return replace(cfg, alerts_file=routes)


@pytest.fixture
async def server(server_config: ServerConfig, aiohttp_server: Any, provider: Any, tmp_path: Path,
                 port: int) -> Any:
    """The server with its console signing in through the provider (as `postguard server --oidc`)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI")
        pytest.skip(f"{CHROMIUM} not installed (set CI=1 to require it)")
    (tmp_path / "oidc-secret").write_text(provider_mod.CLIENT_SECRET, encoding="utf-8")
    app = create_app(server_config)
    app[CONFIG].extra["oidc"] = {
        "issuer": provider.issuer, "client_id": provider_mod.CLIENT_ID,
        "client_secret_file": str(tmp_path / "oidc-secret"), "redirect_url": provider.redirect_uri,
        "label": "District account", "reviewer_groups": ["postguard-reviewers"]}
    oidc.setup(app)
    srv = await aiohttp_server(app, port=port)
    return Running(str(srv.make_url("")).rstrip("/"), app, server_config)


async def test_reviewer_signs_in_sees_the_urgent_incident_first_and_marks_it(
        device: Any, server: Any, smtp: Smtp, tmp_path: Path, policy: Any) -> None:
    from playwright.async_api import async_playwright, expect

    lab, office = await device("nhs-lab-07"), await device("nhs-office-02")
    start = THREAT_POST.index("I will")
    threat = first_row(lab.device, "b.coach", THREAT_POST,
                       {**THREAT, "span": [start, len(THREAT_POST) - 1], "what": "a threat of violence"}, policy)
    assert (await lab.send_events([threat])).body["stored"] == 1
    low = first_row(office.device, "c.nurse", LOW_POST, {**LOW, "span": [17, 26]}, policy)  # newer, but low
    assert (await office.send_events([low])).body["stored"] == 1

    (mail, raw), = await until(lambda: smtp.inbox.to("safety@region14.example"))
    assert f"{server.url}/events/{threat['uid']}" in mail.get_payload(decode=True).decode()
    assert "URGENT" in mail["Subject"]
    for detail in (b"ref shows up", b"hurt", b"b.coach"):  # no post text, no staff name
        assert detail not in raw

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(server.url + "/events")
        await page.click("#oidc")
        await page.click("#continue")  # on the provider's page
        await expect(page).to_have_url(server.url + "/events")
        await expect(page.locator(".whoami .role")).to_have_text("reviewer")
        rows = page.locator("#events tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.first).to_have_attribute("data-incident", threat["uid"])
        await expect(rows.first.locator(".badge.sev-urgent")).to_have_text("urgent")
        await page.screenshot(path=str(tmp_path / "console-incidents.png"), full_page=True)

        await rows.first.locator(".rowlink").click()
        await expect(page).to_have_url(f"{server.url}/events/{threat['uid']}")
        await expect(page.locator("#severity")).to_have_text("urgent")
        await page.check("#review input[value=reviewed]")
        await page.fill("#note", "Called the principal; the post was reported to the safety team.")
        await page.click("#review button[type=submit]")
        await expect(page.locator("#status")).to_have_text("reviewed")
        await page.screenshot(path=str(tmp_path / "console-incident.png"), full_page=True)
        await browser.close()

    (inc,) = server.query("SELECT review_status FROM incidents WHERE id = ?", (threat["uid"],))
    assert inc["review_status"] == "reviewed"
    reviews = server.query("SELECT reviewer FROM reviews WHERE incident = ?", (threat["uid"],))
    assert [r["reviewer"] for r in reviews] == [provider_mod.REVIEWER["email"]]
    if os.environ.get("POSTGUARD_SAVE_SCREENSHOT"):
        for name in ("console-incidents.png", "console-incident.png"):
            shutil.copy(tmp_path / name, ROOT / "docs" / name)
