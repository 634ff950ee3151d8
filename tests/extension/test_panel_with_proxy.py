"""The panel and what the content script logs, with a real `postguard proxy` in front.

The same stack as test_with_proxy.py (its `env` and `page` fixtures): Chromium with the
unpacked extension, every request through the proxy, x.com a local upstream behind it, the
extension's backend on loopback. All post texts are fictional.
"""

from __future__ import annotations

import json

import proxy_harness
import pytest
from test_with_proxy import env, page, panel, poll, post_anyway, results

__all__ = ["env", "page"]  # fixtures, used by name
pytestmark = [pytest.mark.browser, pytest.mark.slow]

REASON = "Quoting the message I received so IT can see it"  # fictional
POST_PATH_KEY = "tweet_text"


def tag() -> str:
    return proxy_harness.unique_word()  # the proxy keys overrides on content: one text per test


def sent_texts(env, needle: str) -> list[str]:
    """The post texts the site received (the upstream behind the proxy) that contain `needle`."""
    return [json.loads(b)["variables"][POST_PATH_KEY] for b in env["stack"].upstream.posts_with(needle)]


def test_proxy_panel_shows_every_finding_and_only_the_reason_form(env, page):
    text = f"🎉 You idiot. You moron. You loser. ({tag()})"
    page.fill("#box", text)
    page.click("#go")  # not a send control the extension knows: the proxy warns
    p = panel(page, "proxy")
    p.wait_for()
    assert p.locator(".text mark").all_inner_texts() == ["You idiot", "You moron", "You loser"]
    assert p.locator("li[data-rule]").count() == 3
    p.locator('[data-act="anyway"]').click()
    assert p.locator("#pg-just").is_visible()
    assert not p.locator('[data-act="edit"]').is_visible() and not p.locator('[data-act="anyway"]').is_visible()
    p.locator("#pg-just").fill(REASON)
    p.locator('[data-act="confirm"]').click()
    assert [r["status"] for r in results(page)] == [200]
    assert sent_texts(env, text[-9:]) == [text]


def test_disclaimer_fix_reaches_the_site_with_one_blank_line(env, page, policy):
    text = f"Nonnewaug Chargers kickoff tonight at 7pm! ({tag()})"
    page.fill("#box", text + "\n\n\n")  # stray blank lines typed after it
    page.click("#post")  # X's send button: the extension checks first
    p = panel(page, "extension")
    p.locator("button[data-fix]").click()
    p.locator('[data-act="post"]').click()
    assert [r["status"] for r in results(page)] == [200]  # the proxy lets the fixed post through
    assert sent_texts(env, text[-9:]) == [text + "\n\n" + policy.district.disclaimer_fix]
    assert [e.action for e in poll(lambda: env["log"].events)] == ["passed"]


def test_clean_posts_after_a_warning_are_not_logged(env, page):
    text = f"You are a worthless idiot and I will hurt you ({tag()})"
    page.fill("#box", text)
    page.click("#post")
    post_anyway(panel(page, "extension"), REASON)
    results(page, 1)
    assert [e.action for e in poll(lambda: env["log"].events)] == ["overridden"]
    clean = f"Lovely sunset over the lake this evening ({tag()})"
    for n in (2, 3):
        page.fill("#box", f"{clean} {n}")
        page.click("#post")
        assert [r["status"] for r in results(page, n)][-1] == 200
    page.wait_for_timeout(400)  # time for a late event to arrive
    assert [e.action for e in env["log"].events] == ["overridden"]  # the clean posts: not logged, no text kept
    assert not [e for e in env["stack"].events() if clean in (e.get("text") or "")]  # nor by the proxy


def test_proxy_panel_marks_quoted_words_wherever_they_stand(env, page):
    text = f"Go Nonnewaug Chargers! Nonnewaug Chargers all the way ({tag()})"
    page.fill("#box", text)
    page.click("#go")
    p = panel(page, "proxy")
    p.wait_for()
    assert p.locator(".text").inner_text() == text  # the whole post (the editor last focused), not the excerpts
    assert p.locator(".text mark").all_inner_texts() == ["Nonnewaug Chargers"] * 2
    p.locator('[data-act="edit"]').click()
    assert results(page)[0]["status"] == 403
