"""The one decision path (`enforce`): outcomes per channel, failures, overrides' reasons, events."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from checker import Post, load_policy
from checker.settings import Settings
from enforce import (
    ACTION_OF_CHOICE,
    Inspection,
    decide,
    event_for,
    failed,
    inspect_post,
    inspect_request,
    justification_error,
)
from store.event import ACTIONS

WARN_TEXT = "You are a worthless idiot and I will hurt you"   # conduct: warn (personal)
BLOCK_TEXT = "Tyler Quinlan failed the chemistry final again"  # student-privacy: block
CLEAN_TEXT = "Great game tonight, go team!"


@pytest.fixture(scope="module")
def policy():
    return load_policy(None)


def tweet(policy, text: str) -> Inspection:
    body = json.dumps({"text": text}).encode()
    return inspect_request("POST", "https://api.twitter.com/2/tweets", {"content-type": "application/json"},
                           body, policy, max_bytes=policy.settings.max_body_bytes)


@pytest.mark.parametrize("text,channel,log_passed,log,reply", [
    (WARN_TEXT, "http", False, "warned", "warn"),
    (WARN_TEXT, "websocket", False, "logged", None),      # no page can be shown in a websocket
    (BLOCK_TEXT, "http", False, "blocked", "block"),
    (BLOCK_TEXT, "websocket", False, "blocked", "drop"),
    (CLEAN_TEXT, "http", False, None, None),
    (CLEAN_TEXT, "http", True, "passed", None),
])
def test_outcome_per_channel(policy, text, channel, log_passed, log, reply):
    out = decide(tweet(policy, text), channel, log_passed=log_passed)
    assert (out.log, out.reply) == (log, reply)
    assert out.proxy_action == (reply or "forward")
    assert out.log is None or out.log in ACTIONS


def test_not_a_submission_records_nothing(policy):
    found = inspect_request("GET", "https://x.com/home", {}, b"", policy, max_bytes=1000)
    out = decide(found, "http", log_passed=True)
    assert not found.is_submission and (out.log, out.reply) == (None, None)


@pytest.mark.parametrize("mode,channel,reply", [("pass", "http", None), ("block", "http", "error"),
                                                 ("block", "websocket", "drop"), ("pass", "websocket", None)])
def test_failure_follows_the_fail_mode_and_is_always_logged(mode, channel, reply):
    out = failed("check timed out", mode, channel)
    assert out.log == "error" and out.reply == reply and out.error == "check timed out"


def test_justification_rule_written_once():
    s = Settings(justification_min_chars=12)
    assert justification_error("short", s) == "Please give a reason of at least 12 characters."
    assert justification_error("   padded      ", s) is not None       # spaces do not count
    assert justification_error("a real reason given here", s) is None


def test_event_carries_the_verdict_and_drops_the_query(policy):
    v = inspect_post(Post(text=WARN_TEXT, site="x.com"), policy)
    ev = event_for("extension", "overridden", v, policy_digest="ignored", site="x.com",
                   url="https://x.com/compose?token=secret#frag", text=WARN_TEXT, justification="reported it")
    assert ev.url == "https://x.com/compose" and ev.account == v.account
    assert sorted({f["rule"] for f in ev.findings}) == v.fired and ev.policy_digest == v.policy_digest
    assert set(ACTION_OF_CHOICE.values()) <= set(ACTIONS)


def test_decision_module_imports_neither_mitmproxy_nor_aiohttp():
    code = "import sys, enforce; print(sorted(m for m in sys.modules if m.split('.')[0] in ('mitmproxy', 'aiohttp')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_log_and_the_policy_name_the_same_content_modes():
    from checker.settings import CONTENT_MODES
    from store.event import CONTENT_MODES as STORE_MODES

    assert tuple(CONTENT_MODES) == tuple(STORE_MODES)  # store/ does not import checker: kept equal here
