"""The warning panel, the typing hint and what the content script logs, in real Chromium.

The same servers and browser as test_extension_browser.py (its `env` and `page` fixtures):
the unpacked extension in Debian's Chromium, the local composer fixtures, the backend on
loopback. All post texts are fictional.
"""

from __future__ import annotations

import pytest
from test_extension_browser import (  # the module's browser and helpers, shared, not copied
    CLEAN,
    DISCLAIMER,
    SITES,
    STUDENT,
    env,
    open_site,
    page,
    panel,
    sent,
    wait_events,
    write,
)

__all__ = ["env", "page"]  # fixtures, used by name
pytestmark = [pytest.mark.browser, pytest.mark.slow]

REASON = "My own page; the statement follows in a reply"  # fictional


def visible(locator) -> bool:
    return locator.count() > 0 and locator.first.is_visible()


def settle(page, ms=400):
    """Give a late event the time to reach the backend (the log is checked for its absence)."""
    page.wait_for_timeout(ms)


def test_post_anyway_shows_only_the_reason_form(env, page):
    composer, button = open_site(page, "facebook")
    write(page, composer, DISCLAIMER)
    button.click()
    p = panel(page)
    p.wait_for()
    edit, anyway = p.locator('[data-act="edit"]'), p.locator('[data-act="anyway"]')
    assert visible(edit) and visible(anyway) and not visible(p.locator("#pg-just"))
    anyway.click()
    assert visible(p.locator("#pg-just")) and visible(p.locator('[data-act="confirm"]'))
    assert not visible(edit) and not visible(anyway)  # the old row is gone, not under the form
    assert p.evaluate("el => getComputedStyle(el.querySelector('[data-act=edit]').parentElement).display") == "none"
    p.locator('[data-act="back"]').click()
    assert visible(edit) and visible(anyway) and not visible(p.locator("#pg-just"))


def post_anyway(page, reason=REASON):
    p = panel(page)
    p.locator('[data-act="anyway"]').click()
    p.locator("#pg-just").fill(reason)
    p.locator('[data-act="confirm"]').click()
    panel(page).wait_for(state="detached")


def send_clean(page, composer, button, n, text=CLEAN):
    write(page, composer, text)
    button.click()
    page.wait_for_function("n => window.__sent.length === n", arg=n)


@pytest.mark.parametrize("site", ["facebook", "mastodon (generic)"])
def test_clean_posts_after_an_override_are_not_logged(env, page, site):
    composer, button = open_site(page, site)
    write(page, composer, DISCLAIMER)
    button.click()
    post_anyway(page)
    page.wait_for_function("() => window.__sent.length === 1")
    assert [e.action for e in wait_events(env, page, 1)] == ["overridden"]
    send_clean(page, composer, button, 2)
    send_clean(page, composer, button, 3, "Our garden club meets on Saturday.")  # fictional
    settle(page)
    assert [e.action for e in env["log"].events] == ["overridden"]  # no clean post, no text kept


@pytest.mark.parametrize("site", ["facebook", "mastodon (generic)"])
def test_a_warned_post_edited_by_hand_is_logged_once(env, page, site):
    composer, button = open_site(page, site)
    write(page, composer, DISCLAIMER)
    button.click()
    panel(page).locator('[data-act="edit"]').click()
    panel(page).wait_for(state="detached")
    composer.press("Control+a")
    composer.press("Delete")
    send_clean(page, composer, button, 1, "So proud of the team tonight!")  # the warned post, rewritten
    events = wait_events(env, page, 2)
    assert [e.action for e in events] == ["edited", "passed"]
    send_clean(page, composer, button, 2)
    settle(page)
    assert [e.action for e in env["log"].events] == ["edited", "passed"]  # the next clean post: nothing


def test_clean_post_after_the_panel_fix_is_not_logged_again(env, page, policy):
    composer, button = open_site(page, "x")
    write(page, composer, DISCLAIMER)
    button.click()
    p = panel(page)
    p.locator("button[data-fix]").click()
    p.locator('[data-act="post"]').click()
    page.wait_for_function("() => window.__sent.length === 1")
    assert [e.action for e in wait_events(env, page, 1)] == ["passed"]
    send_clean(page, composer, button, 2)
    settle(page)
    assert [e.action for e in env["log"].events] == ["passed"]


@pytest.mark.parametrize("site", SITES)
@pytest.mark.parametrize("typed", ["", "\n", "   "], ids=["plain", "trailing-newline", "trailing-spaces"])
def test_disclaimer_fix_adds_exactly_one_blank_line(env, page, site, typed, policy):
    composer, button = open_site(page, site)
    write(page, composer, DISCLAIMER)
    if typed == "\n":
        page.keyboard.press("Shift+Enter" if site in ("youtube", "reddit", "tiktok") else "Enter")
    else:
        page.keyboard.type(typed)
    button.click()
    p = panel(page)
    p.locator("button[data-fix]").click()
    p.locator('[data-act="post"]').wait_for()
    want = DISCLAIMER + "\n\n" + policy.district.disclaimer_fix
    p.locator('[data-act="post"]').click()
    page.wait_for_function("() => window.__sent.length === 1")
    assert sent(page) == [want]  # the site's own model of the text, as it would post it


def rect(locator):
    return locator.evaluate("el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }")


def apart(a, b) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


HINT = 'postguard-hint [role="status"]'


@pytest.mark.parametrize("scrolled", [False, True], ids=["as-loaded", "composer-at-top"])
@pytest.mark.parametrize("site", SITES)
def test_typing_hint_never_covers_the_send_button(env, page, site, scrolled):
    composer, button = open_site(page, site)
    if scrolled:  # no room above the composer: the hint must find another place
        page.evaluate("sel => { document.body.style.paddingBottom = '3000px';"
                      " const r = document.querySelector(sel).getBoundingClientRect(); scrollTo(0, scrollY + r.top); }",
                      SITES[site][1])
    write(page, composer, STUDENT)
    hint = page.locator(HINT)
    hint.wait_for()
    h, b, c = rect(hint), rect(button), rect(composer)
    assert apart(h, b), (h, b)
    assert apart(h, c), (h, c)  # nor the text being written
    assert h[1] >= 0 and h[3] <= page.viewport_size["height"]
    page.mouse.wheel(0, 40)  # the page scrolls: the hint follows and still keeps clear
    page.wait_for_timeout(100)
    if hint.is_visible():
        assert apart(rect(hint), rect(button))


def marks(p) -> list[str]:
    return [m.inner_text() for m in p.locator(".text mark").all()]


# Fictional posts: (text, highlighted words, rules listed in the panel, in order)
MANY = [
    ("You are an idiot, a moron and a loser.", ["You are an idiot", "moron", "loser"], ["conduct"]),
    ("You idiot. You moron. You loser.", ["You idiot", "You moron", "You loser"], ["conduct"] * 3),
    ("🎉 Tyler Quinlan failed the chemistry final again, what a moron. Nonnewaug Chargers kickoff at 7pm!",
     ["Tyler Quinlan failed", "what a moron", "Nonnewaug Chargers"], ["student-privacy", "conduct", "missing-disclaimer"]),
]


@pytest.mark.parametrize("site", ["facebook", "mastodon (generic)"])
@pytest.mark.parametrize("text,words,rules", MANY, ids=["one-finding", "three-findings", "three-rules-emoji"])
def test_panel_shows_every_finding_and_every_span_at_once(env, page, site, text, words, rules):
    composer, button = open_site(page, site)
    write(page, composer, text)
    button.click()
    p = panel(page)
    p.wait_for()
    assert marks(p) == words  # every span, on the right characters (an emoji before them)
    assert [li.get_attribute("data-rule") for li in p.locator("li[data-rule]").all()] == rules
    for i, li in enumerate(p.locator("li[data-rule]").all()):  # each finding has its marks
        assert p.locator(f'.text mark[data-finding~="{i}"]').count() >= 1
        if rules[i] == "conduct":
            assert all(f"“{w}”" in li.inner_text() for w in words if p.locator(f'.text mark[data-finding~="{i}"]', has_text=w).count())
    assert sent(page) == []


# A plain contenteditable (no editor model) whose paragraph ends in white space that is not
# rendered: the native backspace then reaches the visible text, which must never be lost.
PLAIN_EDITOR = """html => {
  const form = document.getElementById("compose");
  document.getElementById("composer").remove();
  const ed = document.createElement("div");
  Object.assign(ed, { contentEditable: "true", id: "rich" });
  ed.setAttribute("role", "textbox");
  ed.setAttribute("aria-label", "What's on your mind?");
  ed.innerHTML = html;
  form.prepend(ed);
}"""


@pytest.mark.parametrize("html", [
    "<p>Nonnewaug Chargers kickoff tonight at 7pm!<span>   </span></p>",
    "<p>Nonnewaug Chargers kickoff tonight at 7pm!</p><p><br></p><p><br></p>",
    "<div>Nonnewaug Chargers kickoff tonight at 7pm!</div>",
], ids=["unrendered-spaces", "empty-paragraphs", "plain"])
def test_disclaimer_fix_never_deletes_what_was_written(env, page, policy, html):
    open_site(page, "mastodon (generic)")
    page.evaluate(PLAIN_EDITOR, html)
    page.locator("#rich").click()
    page.locator('button[type="submit"]').click()
    p = panel(page)
    p.locator("button[data-fix]").click()
    p.locator('[data-act="post"]').wait_for()
    text = page.locator("#rich").evaluate("el => el.innerText").strip()
    assert text.startswith(DISCLAIMER) and text.endswith(policy.district.disclaimer_fix)
    assert text.replace(DISCLAIMER, "", 1).strip() == policy.district.disclaimer_fix
