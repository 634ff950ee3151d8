"""Zero-configuration pairing in real Chromium: a fresh profile, the extension loaded, the agent's
backend running as its own process and its native messaging host registered (as `postguard agent
install` does) -- and no setup step in the browser. Also what the popup says when nothing answers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pairing_harness as PH
import pg_harness as H

pytestmark = [pytest.mark.browser, pytest.mark.slow]
H.require_chromium()

STUDENT = "Tyler Quinlan failed the chemistry final again"  # fictional student (tests/corpus roster)


@pytest.fixture(scope="module")
def sites():
    s = PH.Sites().start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def backend():
    with PH.running(PH.Backend) as proc:
        yield proc


@pytest.fixture
def browser(sites):
    """Start Chromium on a fresh profile prepared by `prepare(profile)`; closed after the test."""
    from playwright.sync_api import sync_playwright

    made = []
    with sync_playwright() as p:
        def start(prepare=None, profile=None):
            profile = profile or Path(tempfile.mkdtemp(prefix="pg-profile-"))
            if prepare:
                prepare(profile)
            ctx = H.launch(p, sites.port, profile)
            made.append((ctx, profile))
            return ctx, H.service_worker(ctx)
        yield start
        for ctx, profile in made:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)
            shutil.rmtree(profile.parent / f"{profile.name}-native-host", ignore_errors=True)


def post(ctx, text, site="facebook"):
    page = ctx.new_page()
    page.goto({"facebook": "https://www.facebook.com/", "x": "https://x.com/home"}[site])
    page.wait_for_function("() => document.readyState === 'complete'")
    page.locator("#composer").click()
    page.keyboard.type(text)
    page.locator("#post-btn" if site == "facebook" else '[data-testid="tweetButtonInline"]').click()
    return page


def test_fresh_profile_with_the_agent_warns_with_no_setup(browser, backend):
    ctx, sw = browser(lambda prof: PH.register_host(prof, backend.url, backend.token_file))
    # Nothing was set in the browser: no token, no backend address, no managed settings.
    assert sw.evaluate("() => chrome.storage.local.get(null)") == {}
    page = post(ctx, STUDENT)
    panel = page.locator('postguard-panel [role="alertdialog"]')
    panel.wait_for(timeout=15000)
    assert panel.locator('li[data-clause="P5"]').count() == 1
    assert page.evaluate("() => window.__sent") == []
    panel.locator('[data-act="edit"]').click()
    events = PH.until(backend.events)  # the choice reaches the agent's log through the native host
    assert [(e["action"], e["source"]) for e in events] == [("edited", "extension")]
    assert "student-privacy" in events[0]["rules"]
    st = PH.popup_status(ctx)
    assert st["problem"] == "" and "through the postguard agent on this computer" in st["status"]


def test_no_agent_registered_says_not_paired(browser):
    ctx, _sw = browser()
    st = PH.popup_status(ctx)
    assert st["problem"] == "not-paired"
    assert st["status"].startswith("Not paired")
    assert "postguard agent install" in st["it"] and "serverUrl and groupKey" in st["it"]


def test_agent_registered_but_not_running_says_so_and_fail_mode_applies(browser, backend):
    dead = f"http://127.0.0.1:{PH.free_port()}"  # nothing listens there
    ctx, _sw = browser(lambda prof: PH.register_host(prof, dead, backend.token_file))
    st = PH.popup_status(ctx)
    assert st["problem"] == "agent-down" and st["status"].startswith("Agent not running")
    assert "systemctl status postguard-agent" in st["it"]
    page = post(ctx, STUDENT)  # failMode pass (the default): the post goes, a record waits
    page.wait_for_function("() => window.__sent.length === 1")
    page.locator("postguard-toast [role=status]").wait_for()


def test_host_registered_for_another_extension_is_not_used(browser, backend):
    other = ("a" * 32,)  # the host manifest allows another extension id only
    ctx, _sw = browser(lambda prof: PH.register_host(prof, backend.url, backend.token_file, other))
    st = PH.popup_status(ctx)
    assert st["problem"] == "not-paired" and "forbidden" in st["it"].lower()


def test_wrong_pairing_token_says_not_paired(browser, backend, tmp_path):
    wrong = tmp_path / "token"
    wrong.write_text("not-the-agents-token-0123456789\n", encoding="utf-8")
    ctx, _sw = browser(lambda prof: PH.register_host(prof, backend.url, wrong))
    st = PH.popup_status(ctx)
    assert st["problem"] == "not-paired" and "refused the pairing token" in st["it"]


def test_registered_for_this_user_with_the_command_then_no_setup(browser, backend, tmp_path):
    """A trial or development machine: `postguard native-host --register chromium` (as the user),
    then the user's own Chromium profile pairs by itself."""
    home = tmp_path / "home"
    out = subprocess.run([sys.executable, "-m", "postguard", "native-host", "--register", "chromium",
                          "--backend", backend.url, "--token-file", str(backend.token_file)],
                         env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (home / ".config/chromium/NativeMessagingHosts/org.postguard.agent.json").is_file()
    ctx, _sw = browser(profile=home / ".config" / "chromium")  # Chromium's default profile folder
    page = post(ctx, STUDENT, site="x")
    page.locator('postguard-panel [role="alertdialog"]').wait_for(timeout=15000)
    assert page.evaluate("() => window.__sent") == []


def test_the_enrolled_agent_pairs_and_the_choice_reaches_the_server(browser, tmp_path):
    """The whole chain: `postguard server`, an agent enrolled with it and running (`agent run`, its
    backend on the pairing token), the host registered, a fresh profile with nothing set: the post
    is warned, and the choice goes through the agent's queue to the server's log as that device's."""
    with PH.running(PH.Server) as server:
        agent = PH.Agent(tmp_path, server).start()
        try:
            ctx, sw = browser(lambda prof: PH.register_host(prof, agent.url, agent.token_file))
            assert sw.evaluate("() => chrome.storage.local.get(null)") == {}
            page = post(ctx, STUDENT)
            panel = page.locator('postguard-panel [role="alertdialog"]')
            panel.wait_for(timeout=15000)
            assert panel.locator('li[data-clause="P5"]').count() == 1
            panel.locator('[data-act="edit"]').click()
            got = PH.until(lambda: [e for e in server.events() if e["device"] == agent.device], seconds=60)
            assert [(e["action"], "student-privacy" in e["rules"]) for e in got] == [("edited", True)]
        finally:
            agent.stop()
