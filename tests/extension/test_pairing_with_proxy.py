"""Zero-configuration pairing with the proxy in front: Chromium's traffic through a real `postguard
proxy`, the extension paired with a real `postguard backend` process only by the registered native
messaging host (nothing set in the browser). The extension warns first; after Post anyway the
proxy's own warning on the replayed post is overridden by the extension with the same reason, and
the post reaches the site once."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pairing_harness as pair
import pg_harness as H
import proxy_harness as proxy

pytestmark = [pytest.mark.browser, pytest.mark.slow]
H.require_chromium()

REASON = "Quoting the message I received so IT can see it"


@pytest.fixture(scope="module")
def env():
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="pg-pair-proxy-"))
    stack = proxy.ProxyStack(tmp)
    try:
        with pair.running(pair.Backend) as backend, sync_playwright() as p:
            profile = tmp / "profile"
            pair.register_host(profile, backend.url, backend.token_file)
            ctx = proxy.launch_via_proxy(p, stack, profile, H.EXT_DIR, H.home_env())
            try:
                yield {"ctx": ctx, "sw": H.service_worker(ctx), "stack": stack, "backend": backend}
            finally:
                ctx.close()
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_paired_by_the_host_alone_the_extension_and_the_proxy_agree(env):
    assert env["sw"].evaluate("() => chrome.storage.local.get(null)") == {}
    page = env["ctx"].new_page()
    page.goto(f"https://{proxy.HOST}/home")
    page.wait_for_function("() => document.readyState === 'complete'")
    text = f"You are a worthless idiot and I will hurt you ({proxy.unique_word()})"  # conduct (P9)
    page.fill("#box", text)
    page.click("#post")  # X's send button: the extension, paired through the host, checks it first
    panel = page.locator('postguard-panel[data-source="extension"] [role="alertdialog"]')
    panel.wait_for(timeout=15000)
    assert env["stack"].upstream.posts_with(text) == []
    panel.locator('[data-act="anyway"]').click()
    panel.locator("#pg-just").fill(REASON)
    panel.locator('[data-act="confirm"]').click()
    page.wait_for_function("() => window.__results.length >= 1", timeout=30000)
    assert [r["status"] for r in page.evaluate("() => window.__results")] == [200]
    assert len(env["stack"].upstream.posts_with(text)) == 1
    proxied = pair.until(lambda: [e for e in env["stack"].events()
                             if e["action"] == "overridden" and e.get("justification") == REASON])
    assert len(proxied) == 1
    ours = pair.until(lambda: [e for e in env["backend"].events() if e["action"] == "overridden"])
    assert len(ours) == 1 and ours[0]["justification"] == REASON and "conduct" in ours[0]["rules"]
