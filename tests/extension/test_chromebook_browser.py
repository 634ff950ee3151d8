"""A browser with no agent (a Chromebook, a computer without the agent) checks through the district
server: real Chromium, a real `postguard server` process on loopback, an extension group key made
with `postguard extension-groups create`, given through the managed-settings test hook (an unpacked
install honours storage.local `pgConfig` in full; chrome.storage.managed cannot be set in a test)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pairing_harness as PH
import pg_harness as H

pytestmark = [pytest.mark.browser, pytest.mark.slow]
H.require_chromium()

INSULT = "You are a pathetic idiot and everyone at this school knows it"  # conduct (P9)
STUDENT = "Tyler Quinlan failed the chemistry final again"  # fictional student (the test roster)


@pytest.fixture(scope="module")
def server():
    with PH.running(PH.Server) as proc:
        yield proc


@pytest.fixture(scope="module")
def chromium():
    """One browser without any native host registered (as on a Chromebook)."""
    from playwright.sync_api import sync_playwright

    sites = PH.Sites().start()
    profile = Path(tempfile.mkdtemp(prefix="pg-profile-"))
    with sync_playwright() as p:
        ctx = H.launch(p, sites.port, profile)
        try:
            yield ctx, H.service_worker(ctx)
        finally:
            ctx.close()
            sites.stop()
            shutil.rmtree(profile, ignore_errors=True)


def post(ctx, text):
    page = ctx.new_page()
    page.goto("https://www.facebook.com/")
    page.wait_for_function("() => document.readyState === 'complete'")
    page.locator("#composer").click()
    page.keyboard.type(text)
    page.locator("#post-btn").click()
    return page


def test_the_server_checks_and_logs_when_no_agent_answers(chromium, server):
    ctx, sw = chromium
    key = server.group_key("nhs-chromebooks")
    PH.dev_config(sw, serverUrl=server.url, groupKey=key)
    page = post(ctx, INSULT)
    panel = page.locator('postguard-panel [role="alertdialog"]')
    panel.wait_for(timeout=15000)
    assert panel.locator('li[data-clause="P9"]').count() >= 1
    assert page.evaluate("() => window.__sent") == []
    panel.locator('[data-act="anyway"]').click()
    panel.locator("#pg-just").fill("Quoting the message I received, to report it")
    panel.locator('[data-act="confirm"]').click()
    page.wait_for_function("() => window.__sent.length === 1")
    events = PH.until(lambda: server.events())
    assert [(e["action"], e["device"]) for e in events] == [("overridden", "ext:nhs-chromebooks")]
    assert "conduct" in events[0]["rules"]
    st = PH.popup_status(ctx)
    assert st["problem"] == "" and "through the district server" in st["status"]
    page.close()


def test_student_text_is_redacted_in_the_server_log(chromium, server):
    ctx, sw = chromium
    PH.dev_config(sw, serverUrl=server.url, groupKey=server.group_key("whs-chromebooks"))
    page = post(ctx, STUDENT)
    panel = page.locator('postguard-panel [role="alertdialog"]')
    panel.wait_for(timeout=15000)
    panel.locator('[data-act="edit"]').click()
    events = PH.until(lambda: [e for e in server.events() if e["device"] == "ext:whs-chromebooks"])
    assert events and events[0]["action"] == "edited" and "student-privacy" in events[0]["rules"]
    assert "Quinlan" not in (events[0]["content"] or "")  # the policy's content mode (redacted)
    page.close()


def test_a_wrong_or_revoked_group_key_says_not_paired(chromium, server):
    ctx, sw = chromium
    PH.dev_config(sw, serverUrl=server.url, groupKey="pgx_not-a-real-key-0123456789")
    st = PH.popup_status(ctx)
    assert st["problem"] == "not-paired" and "refused this browser's group key" in st["it"]
    key = server.group_key("revoked-group")
    server.cli("extension-groups", "revoke", "revoked-group")
    PH.dev_config(sw, serverUrl=server.url, groupKey=key)
    assert PH.popup_status(ctx)["problem"] == "not-paired"


def test_server_down_says_server_unreachable_and_fail_mode_block_holds(chromium):
    ctx, sw = chromium
    dead = f"http://127.0.0.2:{PH.free_port()}"
    PH.dev_config(sw, serverUrl=dead, groupKey="pgx_whatever-0123456789", failMode="block")
    st = PH.popup_status(ctx)
    assert st["problem"] == "server-unreachable" and st["status"].startswith("Server unreachable")
    assert dead in st["it"] and "Posting waits" in st["status"]
    page = post(ctx, INSULT)
    page.locator("postguard-toast [role=status]").wait_for()
    assert page.evaluate("() => window.__sent") == []
    page.close()


def test_the_test_hook_is_honoured_by_a_development_install_only(chromium, server):
    """storage.local may point the extension at a server only in an unpacked install; a packed or
    force-installed one takes there only the popup's keys (so only the district's managed settings
    can set serverUrl, groupKey, mode or failMode)."""
    _ctx, sw = chromium
    assert sw.evaluate("() => chrome.management.getSelf().then(s => s.installType)") == "development"
    PH.dev_config(sw, serverUrl=server.url, groupKey="pgx_x-0123456789", failMode="block", hints=False)
    dev = sw.evaluate("() => self.postguard.config()")
    assert (dev["serverUrl"], dev["failMode"], dev["hints"]) == (server.url, "block", False)
    try:
        sw.evaluate("() => { devInstall = Promise.resolve(false); }")  # as a packed install decides
        packed = sw.evaluate("() => self.postguard.config()")
        assert (packed["serverUrl"], packed["groupKey"], packed["failMode"], packed["hints"]) == ("", "", "pass", False)
    finally:
        sw.evaluate("() => { devInstall = null; }")


def test_a_server_that_answers_503_with_its_reason_says_so_and_the_record_waits(chromium):
    """A district server whose database is down answers the extension API 503 with a reason (as
    server/extension_api.py does); the popup names that, not an unreachable server, and the
    record of a post sent unchecked waits in the browser."""
    import asyncio
    import threading

    from aiohttp import web

    reason = "the server's database is unavailable; try again shortly"

    async def handler(request: web.Request) -> web.Response:
        cors = {"Access-Control-Allow-Origin": request.headers.get("Origin", "*"),
                "Access-Control-Allow-Headers": "Content-Type, Authorization, X-Postguard-Device",
                "Access-Control-Allow-Methods": "POST"}
        if request.method == "OPTIONS":
            return web.Response(status=204, headers=cors)
        return web.json_response({"error": reason}, status=503, headers=cors)

    loop = asyncio.new_event_loop()
    port = PH.free_port()
    started = threading.Event()

    async def serve() -> web.AppRunner:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.2", port).start()
        return runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(serve())
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    ctx, sw = chromium
    try:
        url = f"http://127.0.0.2:{port}"
        PH.dev_config(sw, serverUrl=url, groupKey="pgx_whatever-0123456789", failMode="pass")
        st = PH.popup_status(ctx)
        assert st["problem"] == "server-not-recording" and st["status"].startswith("Server not recording"), st
        assert reason in st["it"] and "/api/v1/health" in st["it"]
        page = post(ctx, INSULT)
        page.wait_for_function("() => window.__sent.length === 1")  # failMode pass: sent unchecked
        queued = PH.until(lambda: sw.evaluate("() => chrome.storage.local.get('pgQueue').then(r => r.pgQueue || [])"))
        assert [q["choice"] for q in queued] == ["unchecked"] and queued[0]["text"] == ""
        page.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
