"""The checker raising or hanging inside a live `postguard proxy` (a separate process, real
mitmproxy, a district rule installed as an entry point): the fail mode applies (a known posting
endpoint's: block; any other: pass) and an error event is written; a hung check is killed at its
budget and the next post is checked as usual."""

from __future__ import annotations

import json
import time

from faults_helpers import HANG, RAISE, proxy

POSTING = "https://oauth.reddit.com/api/comment"            # a site spec's posting endpoint
OTHER = "https://www.reddit.com/svc/shreddit/unknown-thing"  # a social host, no spec: generic
PRIVACY = "Mason Brandt was suspended for three days after the fight."  # fictional student


def post(lv, url: str, text: str) -> int:
    body = json.dumps({"thing_id": "t3_abc", "text": text}).encode()
    status, _, _ = proxy.https_via(lv.port, lv.ca, "POST", url, body, {"content-type": "application/json"})
    return status


def events_for(lv, n: int, timeout: float = 20.0) -> list[dict]:
    proxy.wait_for(lambda: len(lv.events()) >= n, timeout)
    return lv.events()


def test_a_checker_that_raises_ends_in_the_fail_mode_with_an_event(live_with, fault_env, fault_policy):
    lv = live_with(fault_env, policy=fault_policy, extra_sets=("postguard_workers=1",))
    assert post(lv, POSTING, f"Great game tonight {RAISE}") == 503        # posting endpoint: block
    assert post(lv, OTHER, f"Great game tonight {RAISE}") == 200          # elsewhere: pass
    assert post(lv, POSTING, PRIVACY) == 403                               # the worker still checks
    assert [(h, p) for h, _, p, _ in lv.upstream.received] == [("www.reddit.com", "/svc/shreddit/unknown-thing")]
    evs = events_for(lv, 3)
    assert [e["action"] for e in evs] == ["error", "error", "blocked"]
    assert all("RuntimeError" in (e["error"] or "") for e in evs[:2]), [e["error"] for e in evs]
    assert lv.proxy.proc.poll() is None


def test_a_hung_check_is_killed_at_its_budget_and_the_next_post_is_checked(live_with, fault_env, fault_policy):
    lv = live_with(fault_env, policy=fault_policy,
                   extra_sets=("postguard_workers=1", "postguard_check_timeout_ms=1500"))
    t0 = time.monotonic()
    assert post(lv, POSTING, f"Great game tonight {HANG}") == 503
    took = time.monotonic() - t0
    assert post(lv, OTHER, f"Great game tonight {HANG}") == 200
    assert post(lv, POSTING, PRIVACY) == 403  # a replacement worker checks it
    assert post(lv, POSTING, "Great game tonight, go team!") == 200
    evs = events_for(lv, 3)
    assert [e["action"] for e in evs][:3] == ["error", "error", "blocked"]
    assert all("time" in (e["error"] or "").lower() for e in evs[:2]), [e["error"] for e in evs]
    assert took < 15, f"the hung check held the post {took:.1f} s"
