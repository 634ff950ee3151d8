"""The forwarder's decisions on each kind of answer, against a scripted server: what is deleted
(only what was committed and sent), what is retried (with backoff) and what raises an alarm."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from agent_helpers import FULL

from agent.client import Reply
from agent.forwarder import Backoff, Forwarder, ForwarderConfig
from agent.queue import LocalQueue
from store import Event, open_store

DEVICE = "pc-lab-1-0000abcd"


class Scripted:
    """A stand-in for DeviceAPI.upload: answers from a list (an exception is raised)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.sent: list[list[int]] = []

    async def upload(self, rows: list[dict[str, Any]]) -> Reply:
        self.sent.append([int(r["seq"]) for r in rows])
        a = self.answers.pop(0)
        if isinstance(a, BaseException):
            raise a
        return a


def ok(through: int, **body: Any) -> Reply:
    return Reply(200, {"committed_through": through, "stored": 0, "duplicates": 0, "head": through,
                       "problems": [], **body})


@pytest.fixture
def queue(tmp_path: Path) -> Any:
    st = open_store(str(tmp_path / "queue.sqlite"), FULL, device=DEVICE, auto_purge=False)
    for i in range(10):
        st.append(Event(source="proxy", action="logged", site="x.com", text=f"post {i}"))
    assert st.flush()
    st.close()
    q = LocalQueue(tmp_path / "queue.sqlite", DEVICE)
    yield q
    q.close()


async def left(q: LocalQueue) -> list[int]:
    return [int(r["seq"]) for r in await q.pending(500, 1 << 22)]


def fw(api: Any, q: LocalQueue, **cfg: Any) -> Forwarder:
    return Forwarder(api, q, ForwarderConfig(**cfg), rng=lambda: 1.0)  # type: ignore[arg-type]


async def test_only_what_was_committed_is_deleted(queue: LocalQueue) -> None:
    api = Scripted(ok(4), ok(99), ok(10))
    f = fw(api, queue, batch_rows=6)
    await f.step()  # 1..6 sent, 1..4 committed (a problem at 5 the server did not name)
    assert await left(queue) == [5, 6, 7, 8, 9, 10] and f.state.error
    await f.step()  # 5..10 sent; an answer beyond what was sent deletes only what was sent
    assert api.sent[1] == [5, 6, 7, 8, 9, 10] and await left(queue) == []


@pytest.mark.parametrize("answer", [Reply(200, {}), Reply(200, {"committed_through": "10"}),
                                    Reply(200, {"committed_through": True})])
async def test_an_answer_without_a_commit_deletes_nothing(queue: LocalQueue, answer: Reply) -> None:
    f = fw(Scripted(answer), queue)
    assert await f.step() > 0
    assert len(await left(queue)) == 10 and "committed_through" in (f.state.error or "")


@pytest.mark.parametrize("failure", [Reply(503, {"error": "the server's database is unavailable"}), Reply(502),
                                     Reply(429), aiohttp.ClientConnectionError("reset"), TimeoutError(),
                                     ConnectionRefusedError(111, "Connection refused")])
async def test_passing_failures_back_off_and_keep_everything(queue: LocalQueue, failure: Any) -> None:
    f = fw(Scripted(failure, failure, failure, ok(10)), queue, backoff_min=1, backoff_max=8)
    delays = [await f.step() for _ in range(3)]
    assert delays == [1.0, 2.0, 4.0]  # rng 1.0: the top of each jittered range
    assert len(await left(queue)) == 10 and f.state.error and f.state.refused is None
    assert await f.step() == 0.0
    assert await left(queue) == [] and f.state.error is None and f.backoff.n == 0


async def test_too_large_halves_the_batch(queue: LocalQueue) -> None:
    api = Scripted(Reply(413), Reply(413), ok(2), ok(4))
    f = fw(api, queue, batch_rows=8)
    assert await f.step() == 0.0 and await f.step() == 0.0
    await f.step()
    assert api.sent == [list(range(1, 9)), [1, 2, 3, 4], [1, 2]]
    await f.step()  # a success grows it back
    assert api.sent[-1] == [3, 4, 5, 6]


@pytest.mark.parametrize(("answer", "words"), [
    (Reply(401, {"error": "unauthorized", "reason": "revoked"}), "refuses this device (revoked)"),
    (Reply(400, {"error": "events[0].ts: required"}), "rejected an upload (400"),
    (Reply(409, {"error": "an event id (uid) in this upload belongs to another stored event"}), "(409"),
])
async def test_refusals_keep_the_rows_and_alarm(queue: LocalQueue, answer: Reply, words: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    f = fw(Scripted(answer, answer), queue, backoff_max=300)
    with caplog.at_level(logging.WARNING, "postguard.agent"):
        assert await f.step() == 300.0
        assert await f.step() == 300.0
    assert len(await left(queue)) == 10 and words in (f.state.error or "")
    assert len([r for r in caplog.records if words in r.getMessage()]) == 1  # once a minute, not every try
    assert all(r.levelno == logging.ERROR for r in caplog.records)


def test_backoff_grows_with_jitter_to_its_cap() -> None:
    lo = Backoff(1, 300, rng=lambda: 0.0)
    assert [lo.next() for _ in range(11)] == [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 150, 150]
    hi = Backoff(1, 300, rng=lambda: 1.0)
    assert [hi.next() for _ in range(10)][-2:] == [256, 300]
    hi.reset()
    assert hi.next() == 1.0


async def test_the_queue_bound_warns_then_errors(queue: LocalQueue, caplog: pytest.LogCaptureFixture) -> None:
    f = fw(Scripted(), queue, queue_limit=10)
    with caplog.at_level(logging.WARNING, "postguard.agent"):
        assert f.check_bound(7) is None
        assert "near full: 8 of 10" in (f.check_bound(8) or "")
        f.check_bound(8)
        assert "OVER ITS LIMIT: 12" in (f.check_bound(12) or "")
    assert [(r.levelno, "near full" in r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, True), (logging.ERROR, False)]
    assert len(await left(queue)) == 10  # the bound never deletes
