"""One post, two views, one incident: real Chromium with the unpacked extension, all traffic
through a real `postguard proxy`, and the extension's backend, both writing to one SQLite log
under one device as they do on a district computer (the agent's queue). The extension warns,
the employee posts anyway; the proxy sees the request. The console's queue shows one incident.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_harness as H
import proxy_harness as PH

pytestmark = [pytest.mark.browser, pytest.mark.slow]
H.require_chromium()

URL = f"https://{PH.HOST}/home"
REASON = "Quoting the message I received, fictional"


def poll(get, tries=300):
    for _ in range(tries):
        got = get()
        if got:
            return got
        time.sleep(0.1)
    return get()


def test_the_extensions_and_the_proxys_events_of_one_post_are_one_incident(policy):
    from playwright.sync_api import sync_playwright

    from checker.categories import severity_table
    from enforce import log_config
    from store import incidents, open_store, queue

    tmp = Path(tempfile.mkdtemp(prefix="pg-incident-"))
    stack = PH.ProxyStack(tmp)  # the proxy writes tmp/log.sqlite as device "test-device"
    log = open_store(str(stack.db), log_config(policy), device="test-device", employee="j.fictional")
    servers = H.Servers(policy, log).start()
    text = f"You are a worthless idiot and I will hurt you ({PH.unique_word()})"
    try:
        with sync_playwright() as p:
            ctx = PH.launch_via_proxy(p, stack, tmp / "profile", H.EXT_DIR, H.home_env())
            try:
                H.configure(H.service_worker(ctx), f"http://127.0.0.1:{servers.backend_port}", hints=False)
                page = ctx.new_page()
                page.goto(URL)
                page.fill("#box", text)
                page.click("#post")  # X's send button: the extension checks first
                panel = page.locator('postguard-panel[data-source="extension"] [role="alertdialog"]')
                panel.wait_for()
                page.locator('[data-act="anyway"]').click()
                page.locator("#pg-just").fill(REASON)
                page.locator('[data-act="confirm"]').click()
                page.wait_for_function("() => window.__results.length >= 1", timeout=30000)
                assert len(stack.upstream.posts_with(text)) == 1
            finally:
                ctx.close()

        def sources() -> set[str]:
            assert log.flush()
            rows = log.read(lambda c: c.all("SELECT source, action FROM events"))
            have = {(r["source"], r["action"]) for r in rows}
            return {s for s, a in have} if ("proxy", "overridden") in have and ("extension", "overridden") in have \
                else set()

        assert poll(sources) == {"extension", "proxy"}
        log.write(lambda c: incidents.configure(c, policy.settings.override_window_seconds, severity_table(policy),
                                                dict(policy.data.social.get("aliases", {}))))
        # in the order they were written: an incident is named by the event that started it, which
        # may be either source's (the extension's record and the proxy's see the post at once)
        rows = log.read(lambda c: c.all("SELECT uid, source, action, site, target, account, incident FROM events "
                                        "ORDER BY id"))
        assert {r["source"] for r in rows} == {"extension", "proxy"}
        assert len({r["incident"] for r in rows}) == 1, rows  # one post: one incident
        page_rows, _ = log.read(lambda c: queue.list_incidents(c, queue.QueueFilters()))
        (inc,) = page_rows
        assert inc["id"] == rows[0]["uid"] and inc["sources"] == "extension proxy"
        assert (inc["outcome"], inc["justification"]) == ("overridden", REASON)
        assert inc["rule"] == "conduct" and inc["severity"] == "urgent"  # "I will hurt you": a threat
        assert log.verify()[1] == []
    finally:
        servers.stop()
        stack.stop()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
