"""The extension in real Chromium against local copies of the sites' composers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_harness as H

pytestmark = [pytest.mark.browser, pytest.mark.slow]
H.require_chromium()

STUDENT = "Tyler Quinlan failed the chemistry final again"
DISCLAIMER = "Nonnewaug Chargers kickoff tonight at 7pm!"
CLEAN = "Lovely sunset over the lake this evening."

# site -> (url, composer selector, send-button selector)
SITES = {
    "facebook": ("https://www.facebook.com/", "#composer", "#post-btn"),
    "x": ("https://x.com/home", "#composer", '[data-testid="tweetButtonInline"]'),
    "linkedin": ("https://www.linkedin.com/feed/", "#composer", "#post-btn"),
    "instagram": ("https://www.instagram.com/", "#composer", "#share-btn"),
    "youtube": ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "#contenteditable-root", "#submit-button button"),
    "reddit": ("https://www.reddit.com/r/Connecticut/comments/abc123/town_news/", "#composer", 'button[slot="submit-button"]'),
    "tiktok": ("https://www.tiktok.com/@someone/video/7300000000000000000", "#composer", "#post-btn"),
    "mastodon (generic)": ("https://mastodon.social/home", "#composer", 'button[type="submit"]'),
}


@pytest.fixture(scope="module")
def env(policy):
    """Servers, a browser with the extension, and its service worker, for the whole module."""
    yield from H.extension_env(policy)


@pytest.fixture
def page(env):
    """A fresh tab with the extension pointed at the live backend and an empty log."""
    H.configure(env["sw"], env["backend"])
    env["log"].events.clear()
    pg = env["ctx"].new_page()
    yield pg
    pg.close()


def open_site(page, name, query=""):
    url, composer, button = SITES[name]
    page.goto(url + query)
    page.wait_for_function("() => document.readyState === 'complete'")
    return page.locator(composer), page.locator(button)


def write(page, composer, text):
    composer.click()
    page.keyboard.type(text)


def composer_text(composer):
    """What the person sees in the composer (a textarea's value, or an editor's text)."""
    return composer.evaluate("el => el.matches('textarea') ? el.value : el.innerText").strip()


def panel(page):
    return page.locator('postguard-panel [role="alertdialog"]')


def sent(page):
    return page.evaluate("() => window.__sent")


def wait_events(env, page, n):
    page.wait_for_function("() => true")  # yields to the browser
    for _ in range(100):
        if len(env["log"].events) >= n:
            return env["log"].events
        page.wait_for_timeout(50)
    return env["log"].events


@pytest.mark.parametrize("site", SITES)
def test_violation_shows_panel_with_clause(env, page, site):
    composer, button = open_site(page, site)
    write(page, composer, STUDENT)
    button.click()
    p = panel(page)
    p.wait_for()
    assert p.locator('li[data-clause="P5"]').count() == 1
    assert p.locator("mark").first.inner_text() == "Tyler Quinlan failed"
    assert p.get_attribute("aria-labelledby") and p.get_attribute("aria-describedby")
    assert p.locator('[data-act="anyway"]').count() == 0  # a block: edit only
    assert sent(page) == []


@pytest.mark.parametrize("site", SITES)
def test_edit_keeps_the_text(env, page, site):
    composer, button = open_site(page, site)
    write(page, composer, DISCLAIMER)
    button.click()
    panel(page).wait_for()
    assert page.evaluate("() => document.querySelector('postguard-panel').shadowRoot.activeElement.dataset.act") == "edit"
    page.keyboard.press("Enter")  # the focused Edit button, from the keyboard
    panel(page).wait_for(state="detached")
    assert composer_text(composer) == DISCLAIMER
    assert sent(page) == []
    assert [e.action for e in wait_events(env, page, 1)] == ["edited"]


@pytest.mark.parametrize("site", SITES)
def test_post_anyway_sends_and_logs_the_justification(env, page, site):
    composer, button = open_site(page, site)
    write(page, composer, DISCLAIMER)
    button.click()
    p = panel(page)
    p.locator('[data-act="anyway"]').click()
    p.locator("#pg-just").fill("short")
    p.locator('[data-act="confirm"]').click()
    assert "at least" in p.locator("#pg-err").inner_text() and sent(page) == []
    p.locator("#pg-just").fill("Personal page; adding the statement in a follow-up")
    p.locator('[data-act="confirm"]').click()
    page.wait_for_function("() => window.__sent.length === 1")
    assert sent(page) == [DISCLAIMER]
    ev = wait_events(env, page, 1)[-1]
    assert (ev.action, ev.source, ev.justification) == ("overridden", "extension", "Personal page; adding the statement in a follow-up")
    assert [f["rule"] for f in ev.findings] == ["missing-disclaimer"] and ev.site == SITES[site][0].split("/")[2]
    real = env["log"].real
    real.flush()
    rows, _ = real.list_events(limit=1)
    row = real.get_event(rows[0]["uid"])
    assert (row["source"], row["action"], row["justification"]) == ("extension", "overridden", ev.justification)


@pytest.mark.parametrize("site", SITES)
def test_clean_post_goes_straight_through(env, page, site):
    composer, button = open_site(page, site)
    write(page, composer, CLEAN)
    button.click()
    page.wait_for_function("() => window.__sent.length === 1")
    assert sent(page) == [CLEAN]
    assert page.locator("postguard-panel").count() == 0
    page.wait_for_timeout(200)
    assert env["log"].events == []


@pytest.mark.parametrize("site", SITES)
def test_disclaimer_fix_inserts_the_statement(env, page, site, policy):
    composer, button = open_site(page, site)
    write(page, composer, DISCLAIMER)
    button.click()
    p = panel(page)
    p.locator("button[data-fix]").click()
    p.locator('[data-act="post"]').wait_for()  # re-checked: nothing left to fix
    text = composer_text(composer)
    assert DISCLAIMER in text and policy.district.disclaimer_fix in text
    p.locator('[data-act="post"]').click()
    page.wait_for_function("() => window.__sent.length === 1")
    assert policy.district.disclaimer_fix in sent(page)[0]
    assert wait_events(env, page, 1)[-1].action == "passed"


def test_x_ctrl_enter_is_caught(env, page):
    composer, _ = open_site(page, "x")
    write(page, composer, STUDENT)
    page.keyboard.press("Control+Enter")
    panel(page).wait_for()
    assert sent(page) == []
    page.keyboard.press("Escape")
    panel(page).wait_for(state="detached")
    assert wait_events(env, page, 1)[-1].action == "cancelled"


@pytest.mark.parametrize("site,selector", [("facebook", "#comment"), ("instagram", "#comment"), ("tiktok", "#composer")])
def test_enter_in_a_comment_box_is_caught_and_replayed(env, page, site, selector):
    open_site(page, site)
    box = page.locator(selector)
    write(page, box, DISCLAIMER)
    page.keyboard.press("Enter")
    p = panel(page)
    p.locator('[data-act="anyway"]').click()
    p.locator("#pg-just").fill("Replying to a parent, my own views")
    p.locator('[data-act="confirm"]').click()
    page.wait_for_function("() => window.__sent.length === 1")
    assert page.locator("article[data-sent]").first.get_attribute("data-sent") == "comment"
    assert wait_events(env, page, 1)[-1].kind == "comment"


def test_sponsored_account_target_is_read_from_the_page(env, page):
    composer, button = open_site(page, "x", "?as=Region14Schools")
    write(page, composer, "Vote for John Smith for state senate!")
    button.click()
    panel(page).wait_for()
    assert panel(page).locator('li[data-clause="D9"]').count() == 1
    open_site(page, "x", "?as=jdoe_teacher")
    write(page, composer, "Vote for John Smith for state senate!")
    button.click()
    page.wait_for_function("() => window.__sent.length === 1")


def test_typing_hint_never_blocks(env, page):
    composer, _ = open_site(page, "linkedin")
    write(page, composer, STUDENT)
    hint = page.locator('postguard-hint [role="status"]')
    hint.wait_for()
    assert "to look at" in hint.inner_text()
    page.keyboard.type(" more")
    assert composer.inner_text().strip() == STUDENT + " more"


def test_backend_down_lets_the_post_go_and_queues_the_event(env, page):
    H.configure(env["sw"], "http://127.0.0.1:9")  # nothing listens there
    composer, button = open_site(page, "facebook")
    write(page, composer, STUDENT)
    button.click()
    page.wait_for_function("() => window.__sent.length === 1")
    page.locator("postguard-toast [role=status]").wait_for()
    stored = env["sw"].evaluate("() => chrome.storage.local.get(null).then(r => JSON.stringify(r))")
    queued = env["sw"].evaluate("() => chrome.storage.local.get('pgQueue').then(r => r.pgQueue)")
    # The record waiting in the browser is redacted before it is stored: nothing of the post.
    assert [q["choice"] for q in queued] == ["unchecked"] and queued[0]["text"] == ""
    assert "Tyler" not in stored and "Quinlan" not in stored and "chemistry" not in stored
    assert queued[0]["site"] == "www.facebook.com" and f"{len(STUDENT)} characters" in queued[0]["error"]
    assert env["log"].events == []
    env["sw"].evaluate("u => chrome.storage.local.get('pgConfig').then(r => chrome.storage.local.set({pgConfig: {...r.pgConfig, backendUrl: u}}))", env["backend"])
    left = env["sw"].evaluate("() => self.postguard.flushQueue()")
    assert left == 0
    ev = env["log"].events[-1]
    assert ev.action == "error" and ev.findings == [] and ev.text == "" and "not checked when posted" in ev.error


def test_fail_mode_block_holds_the_post(env, page):
    H.configure(env["sw"], "http://127.0.0.1:9", failMode="block")
    composer, button = open_site(page, "x")
    write(page, composer, CLEAN)
    button.click()
    page.locator("postguard-toast [role=status]").wait_for()
    assert sent(page) == []


def test_chosen_image_is_checked(env, page, tmp_path):
    """A district logo chosen for upload on Instagram is caught (P3), even with no caption."""
    from PIL import Image

    logo = Path(H.ROOT / "policies" / "region14" / "logos" / "region14-shield.png")
    shot = tmp_path / "team-photo.png"  # the logo resized and re-encoded, as a phone would
    Image.open(logo).convert("RGB").resize((300, 300)).save(shot)
    composer, button = open_site(page, "instagram")
    page.locator("#file").set_input_files(str(shot))
    button.click()
    p = panel(page)
    p.wait_for()
    assert p.locator('li[data-rule="district-logo"][data-clause="P3"]').count() == 1
    p.locator('[data-act="edit"]').click()
    plain = tmp_path / "sunset.png"
    Image.new("RGB", (300, 300), (250, 120, 40)).save(plain)
    page.locator("#file").set_input_files(str(plain))
    button.click()
    page.wait_for_function("() => window.__sent.length === 1")


def test_popup_shows_status_notice_and_policy(env, page, policy):
    from extension.backend import EXTENSION_ID

    assert env["sw"].url.startswith(f"chrome-extension://{EXTENSION_ID}/")  # the manifest key pins the id
    page.goto(f"chrome-extension://{EXTENSION_ID}/popup/popup.html")
    page.locator("#status.ok").wait_for()
    assert page.locator("#notice").inner_text() == policy.data.notice.strip()
    assert page.locator("#personal li").count() == 9 and page.locator("#sponsored li").count() == 10
    H.configure(env["sw"], "http://127.0.0.1:9")
    page.reload()
    page.locator("#status.down").wait_for()


def test_generic_form_submit_by_keyboard(env, page):
    """On a host with no adapter, Ctrl+Enter -> form submit is held, then replayed on Post anyway."""
    composer, _ = open_site(page, "mastodon (generic)")
    write(page, composer, DISCLAIMER)
    page.keyboard.press("Control+Enter")
    p = panel(page)
    p.locator('[data-act="anyway"]').click()
    p.locator("#pg-just").fill("My personal account, my own views")
    p.locator('[data-act="confirm"]').click()
    page.wait_for_function("() => window.__sent.length === 1")
    assert sent(page) == [DISCLAIMER]
