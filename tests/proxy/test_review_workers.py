"""Issue 16: a slow check cannot blind the others (pool of workers, killed past the budget)."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from mitmproxy.addonmanager import traverse
from mitmproxy.test import taddons

from proxy_addon.addon import PostguardAddon

WARN_TEXT = "You are a worthless idiot and I will hurt you"
BLOCK_TEXT = "Tyler Quinlan failed the chemistry final again"
JSONH = {"content-type": "application/json"}
URL = "https://api.twitter.com/2/tweets"


async def run(addon, flow) -> None:
    for name in ("requestheaders", "request"):
        for part in traverse([addon]):
            fn = getattr(part, name, None)
            if fn is not None:
                result = fn(flow)
                if asyncio.iscoroutine(result):
                    await result


def status(flow) -> int | None:
    return flow.response.status_code if flow.response else None


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:  # a zombie not reaped yet is gone too
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def gone(pid: int) -> bool:
    """The process has died (SIGKILL is delivered asynchronously: wait for it, bounded)."""
    for _ in range(400):
        if _gone(pid):
            return True
        await asyncio.sleep(0.05)
    return False


def release(pid: int | None) -> None:
    """Never leave a stopped process behind, whatever the test did."""
    if pid is not None and not _gone(pid):
        os.kill(pid, signal.SIGKILL)


async def test_a_hung_check_is_killed_at_its_budget_and_replaced(policy, rec, mkflow):
    a = PostguardAddon(policy=policy, store=rec)
    pid = None
    try:
        with taddons.context(a) as tctx:
            tctx.configure(a, postguard_workers=1, postguard_check_timeout_ms=1500)
            await a.state.checks.start()
            w = a.state.checks.workers[0]
            pid = w.proc.pid
            os.kill(pid, signal.SIGSTOP)  # hangs like a check that never ends
            hung = mkflow("POST", URL, json.dumps({"text": WARN_TEXT}), JSONH)
            await run(a, hung)
            assert status(hung) == 503 and "timed out" in rec.events[-1].error  # posting fail mode: block
            assert w.proc is None and await gone(pid)                         # killed, not left running
            assert a.state.checks.workers[0] is not w and a.state.checks.replaced == 1
            after = mkflow("POST", URL, json.dumps({"text": WARN_TEXT}), JSONH)
            await run(a, after)
    finally:
        release(pid)
        a.done()
    assert status(after) == 403 and rec.actions() == ["error", "warned"]


async def test_other_posts_are_checked_while_one_worker_is_stuck(policy, rec, mkflow):
    a = PostguardAddon(policy=policy, store=rec)
    pid = None
    try:
        with taddons.context(a) as tctx:
            tctx.configure(a, postguard_workers=2, postguard_check_timeout_ms=60_000)
            await a.state.checks.start()
            stuck = a.state.checks.workers[0]  # the first idle worker takes the first post
            pid = stuck.proc.pid
            os.kill(pid, signal.SIGSTOP)
            slow = mkflow("POST", URL, json.dumps({"text": WARN_TEXT}), JSONH)
            slow_task = asyncio.create_task(run(a, slow))
            while not stuck.pending:
                await asyncio.sleep(0)
            others = [mkflow("POST", URL, json.dumps({"text": t}), JSONH) for t in (BLOCK_TEXT, BLOCK_TEXT, WARN_TEXT)]
            for f in others:
                await run(a, f)
            assert not slow_task.done()  # still waiting on the stuck worker, yet nothing got past
            assert [status(f) for f in others] == [403, 403, 403]
            assert rec.actions() == ["blocked", "blocked", "warned"]
            os.kill(pid, signal.SIGKILL)
            await slow_task
    finally:
        release(pid)
        a.done()
    assert status(slow) == 503 and rec.actions()[-1] == "error"
