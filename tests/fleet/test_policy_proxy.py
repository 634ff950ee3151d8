"""A real `postguard proxy` (mitmproxy, two check worker processes, HTTPS through its CA, a local
upstream) whose `postguard_policy` is a link, swapped as the agent swaps STATE/policy/current:
a post that was clean is stopped once the policy with a new word is in force, without a
restart, and checks that were running while the pool swapped are answered (none is killed:
no 503, no `error` in the log). A policy folder that does not load leaves the policy in force."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
from policy_harness import FLAGGED_TEXT, broken_copy, point, proxy_harness, tweet, versions

harness = proxy_harness()


@pytest.fixture
def live(tmp_path):
    if not Path(sys.executable).with_name("postguard").exists():
        pytest.skip("postguard console script not installed in this environment")
    _v1, v2, current = versions(tmp_path / "policy")
    (tmp_path / "proxy").mkdir()
    lv = harness.Live(tmp_path / "proxy", ["api.twitter.com"],
                      policy=current, extra_sets=("postguard_workers=2",))
    lv.v2, lv.current = v2, current
    yield lv
    lv.stop()


def post(lv, text: str) -> int:
    return int(tweet(harness, lv.port, lv.ca, text))


def test_proxy_takes_a_new_policy_without_restart_and_kills_no_check(live, tmp_path):
    assert post(live, FLAGGED_TEXT) == 200  # clean under v1: forwarded
    pid = live.proxy.proc.pid
    statuses: list[int] = []
    stop = threading.Event()

    def traffic() -> None:  # clean posts all through the swap
        i = 0
        while not stop.is_set():
            statuses.append(post(live, f"Bake sale at noon, table {i}"))
            i += 1

    threads = [threading.Thread(target=traffic) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        point(live.current, live.v2)
        deadline = time.monotonic() + 120
        while post(live, FLAGGED_TEXT) != 403:
            assert time.monotonic() < deadline, "the proxy never took the new policy:\n" + "".join(live.proxy.lines[-30:])
            time.sleep(0.5)
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert live.proxy.proc.pid == pid and live.proxy.proc.poll() is None  # the same process, never restarted
    assert len(statuses) > 10 and set(statuses) == {200}, sorted(set(statuses))
    assert harness.wait_for(lambda: sum(e["action"] == "warned" for e in live.events()) >= 1)
    assert not [e for e in live.events() if e["action"] == "error"]

    point(live.current, broken_copy(live.v2, tmp_path / "v3"))
    time.sleep(5)
    assert post(live, FLAGGED_TEXT) == 403 and live.proxy.proc.poll() is None
    assert any("not taken" in line for line in live.proxy.lines), "".join(live.proxy.lines[-20:])
