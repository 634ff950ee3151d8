"""The staff member in real Chromium: with the "identity" and "identity.email" permissions the
service worker can read the profile's account (chrome.identity.getProfileUserInfo), and the
choice it reports carries it to the backend and the log (source browser-profile).

A test profile is signed in to no account (that needs Google's servers), so Chromium answers an
empty e-mail here; the signed-in case puts a (fictional) address where the worker keeps what the
API answered, and everything after that is the real path: worker -> backend -> log.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pg_harness as H

pytestmark = [pytest.mark.browser, pytest.mark.slow]
H.require_chromium()

PROFILE = "j.doe.fictional@ctreg14.org"  # fictional
DISCLAIMER = "Nonnewaug Chargers kickoff tonight at 7pm!"


@pytest.fixture(scope="module")
def env(policy):
    for e in H.extension_env(policy):
        H.configure(e["sw"], e["backend"])
        yield e


def edit_a_post(env) -> None:
    """Write a post that needs a disclaimer on the Facebook composer and choose Edit."""
    page = env["ctx"].new_page()
    try:
        page.goto("https://www.facebook.com/")
        page.wait_for_function("() => document.readyState === 'complete'")
        page.locator("#composer").click()
        page.keyboard.type(DISCLAIMER)
        page.locator("#post-btn").click()
        panel = page.locator('postguard-panel [role="alertdialog"]')
        panel.wait_for()
        panel.locator('[data-act="edit"]').click()
        panel.wait_for(state="detached")
        for _ in range(100):
            if env["log"].events:
                return
            page.wait_for_timeout(50)
    finally:
        page.close()


def test_the_identity_api_is_granted_and_a_signed_out_profile_names_no_one(env):
    info = env["sw"].evaluate("() => chrome.identity.getProfileUserInfo({accountStatus: 'ANY'})")
    assert info == {"email": "", "id": ""}
    env["log"].events.clear()
    edit_a_post(env)
    (ev,) = env["log"].events
    assert ev.action == "edited" and (ev.staff, ev.staff_source) == (None, None)


def test_the_signed_in_profile_is_the_staff_member_of_the_event(env):
    env["sw"].evaluate("email => { profileCache = email; }", PROFILE)  # what a signed-in profile answers
    env["log"].events.clear()
    edit_a_post(env)
    (ev,) = env["log"].events
    assert (ev.action, ev.staff, ev.staff_source) == ("edited", PROFILE, "browser-profile")
    real = env["log"].real
    assert real.flush()
    row = real.read(lambda c: c.one("SELECT staff, staff_source FROM events ORDER BY id DESC LIMIT 1"))
    assert row == {"staff": PROFILE, "staff_source": "browser-profile"}
