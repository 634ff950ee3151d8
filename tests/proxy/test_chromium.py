"""Real Chromium through the live proxy: a plain form post to www.facebook.com is warned; the
user goes back, submits again, and posts anyway with a reason; the upstream gets it once.

Chromium trusts the proxy's CA only by its SPKI hash (`--ignore-certificate-errors-spki-list`),
and host resolution is disabled, so nothing can leave the machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs

import pytest

CHROMIUM = Path("/usr/bin/chromium")
WARN_TEXT = "You are a worthless idiot and I will hurt you"
REASON = "Quoting the message I received so IT can see it"

pytestmark = pytest.mark.browser


@pytest.fixture
def browser(live, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is required in CI")
        pytest.skip("Debian chromium is not installed")
    yield from _launch(live, tmp_path)


def _launch(live, tmp_path):
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "no-downloads"))
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            env={**os.environ, "HOME": str(tmp_path)},
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  f"--proxy-server=http://127.0.0.1:{live.port}",
                  f"--ignore-certificate-errors-spki-list={live.spki()}",
                  # the proxy resolves names (to the local upstream); the browser resolves none
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            yield b
        finally:
            b.close()


def test_form_post_warned_then_posted_anyway(live, browser, poll):
    page = browser.new_page()
    page.goto("https://www.facebook.com/compose")
    page.fill("#m", WARN_TEXT)
    page.click("#post")
    # the warning page, at the form's own address
    page.wait_for_selector("text=Please check this post before it goes out")
    assert page.locator("mark").count() >= 1
    assert "personal rule 9" in page.content() and "P.A. 98-142" in page.content()
    assert not [b for b in live.upstream.bodies_to("/composer/mbasic/") if b"worthless" in b]

    # "Go back and edit" returns to the composer
    page.click("text=Go back and edit")
    page.wait_for_selector("#m")
    page.fill("#m", WARN_TEXT)
    page.click("#post")
    page.wait_for_selector("text=Post anyway")

    # a reason is required (the browser refuses an empty one; the proxy would too)
    page.click("button:has-text('Post anyway')")
    assert page.locator("#justification").count() == 1
    page.fill("#justification", REASON)
    page.click("button:has-text('Post anyway')")
    page.wait_for_selector("h1:has-text('Posted')")

    posted = [parse_qs(b.decode()) for b in live.upstream.bodies_to("/composer/mbasic/")]
    mine = [q for q in posted if q.get("xc_message") == [WARN_TEXT]]
    assert len(mine) == 1 and mine[0]["fb_dtsg"] == ["AQHsampletoken123"]
    assert poll(lambda: any(e["action"] == "overridden" and e.get("justification") == REASON
                            for e in live.events()))
    warned = [e for e in live.events() if e["action"] == "warned" and "composer" in (e.get("url") or "")]
    assert len(warned) >= 2  # one per submission the user saw warned


def test_pac_file_sends_only_social_hosts_to_the_proxy(live, tmp_path):
    """Chromium with the PAC from `postguard pac`: a social host loads through the proxy; any other
    host is sent DIRECT, which fails here because the browser itself may resolve no names."""
    import base64

    from postguard.cli import main as cli

    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is required in CI")
        pytest.skip("Debian chromium is not installed")
    pac = tmp_path / "postguard.pac"
    assert cli(["pac", "--proxy", f"127.0.0.1:{live.port}", "--out", str(pac)]) == 0
    url = "data:application/x-ns-proxy-autoconfig;base64," + base64.b64encode(pac.read_bytes()).decode()
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, env={**os.environ, "HOME": str(tmp_path)},
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  f"--proxy-pac-url={url}", f"--ignore-certificate-errors-spki-list={live.spki()}",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            page = b.new_page()
            page.goto("https://www.facebook.com/compose")
            assert page.locator("#m").count() == 1            # via the proxy
            with pytest.raises(Error, match="ERR_NAME_NOT_RESOLVED"):
                page.goto("https://www.example.org/")         # DIRECT: not the proxy
        finally:
            b.close()
