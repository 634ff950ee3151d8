"""The forwarder: uploads the local queue to the server in seq order, exactly as stored, and deletes
rows only once the server's `committed_through` covers them.

Nothing is ever dropped. A server that is away, a database that is down (503) or a cut link means
retrying with exponential backoff and jitter (1 s … 5 min); a refusal the agent cannot fix itself
(revoked, a row the server calls a fork, gap or broken link, a 400) keeps the rows and says so
loudly, once a minute, until someone acts. The queue has a size bound (`queue_limit`): from 80% of
it the agent warns every minute (and the heartbeat makes it a `queue-near-full` problem on the
server), past it the warning is an error; events are still kept, the bound is an alarm, not a
point where anything is thrown away.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from agent.client import DeviceAPI, Reply, network_error
from agent.queue import LocalQueue
from store.problems import QUEUE_ALARM

log = logging.getLogger("postguard.agent")
MAX_ROWS = 500          # the server's limit per upload
MAX_BYTES = 3 << 20     # of row JSON per upload; the server takes 4 MiB
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ForwarderConfig:
    """How the forwarder paces itself."""

    batch_rows: int = MAX_ROWS
    batch_bytes: int = MAX_BYTES
    idle_poll: float = 1.0          # seconds between looks at an empty queue
    backoff_min: float = 1.0
    backoff_max: float = 300.0
    queue_limit: int = 200_000
    alarm_every: float = 60.0       # seconds between repeats of a standing alarm


class Backoff:
    """Exponential backoff with jitter: the n-th delay lies in [d/2, d], d = min(max, min * 2^n)."""

    def __init__(self, lo: float, hi: float, rng: Callable[[], float] = random.random) -> None:
        self.lo, self.hi, self.rng = lo, hi, rng
        self.n = 0

    def next(self) -> float:
        """The delay before the next attempt (and one step further)."""
        d = min(self.hi, self.lo * (2 ** min(self.n, 30)))
        self.n += 1
        return d / 2 + self.rng() * d / 2

    def reset(self) -> None:
        """After a success: start again from the shortest delay."""
        self.n = 0


@dataclass
class ForwarderState:
    """What the forwarder last did (for `agent status` and the log)."""

    uploaded: int = 0                  # rows committed by the server in this run
    duplicates: int = 0                # rows the server already had (re-sent after a crash)
    committed_through: int = 0
    server_head: int | None = None
    last_ok_at: float | None = None
    last_try_at: float | None = None
    error: str | None = None           # the standing failure, if any
    error_since: float | None = None
    refused: str | None = None         # revoked / unknown-device / bad-signature
    problems: list[dict[str, Any]] = field(default_factory=list)
    next_try_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """For status.json."""
        return dict(self.__dict__)


class Forwarder:
    """Moves the local queue to the server, one batch at a time."""

    def __init__(self, api: DeviceAPI, queue: LocalQueue, cfg: ForwarderConfig | None = None,
                 rng: Callable[[], float] = random.random) -> None:
        self.api = api
        self.queue = queue
        self.cfg = cfg or ForwarderConfig()
        self.backoff = Backoff(self.cfg.backoff_min, self.cfg.backoff_max, rng)
        self.state = ForwarderState()
        self.batch_rows = self.cfg.batch_rows
        self._said: dict[str, float] = {}  # alarm text -> when it was last logged
        self.wake = asyncio.Event()

    # -- one attempt ---------------------------------------------------------------------
    async def step(self) -> float:
        """Upload one batch if any rows wait; return how long to wait before the next step."""
        rows = await self.queue.pending(self.batch_rows, self.cfg.batch_bytes)
        if not rows:
            self._clear()
            return self.cfg.idle_poll
        self.state.last_try_at = time.time()
        try:
            reply = await self.api.upload(rows)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return self._retry(f"server unreachable: {network_error(e)}")
        if reply.status == 200:
            return await self._committed(rows, reply)
        if reply.status == 413 and self.batch_rows > 1:
            self.batch_rows = max(1, self.batch_rows // 2)
            log.warning("upload of %d rows too large for the server; sending %d at a time", len(rows),
                        self.batch_rows)
            return 0.0
        if reply.status in RETRY_STATUSES:
            return self._retry(f"server answered {reply.status}: {reply.error or 'unavailable'}")
        if reply.status == 401:
            self.state.refused = reply.reason or "unauthorized"
            return self._alarm(f"the server refuses this device ({self.state.refused}); its events are kept "
                               f"here: ask IT to check the device (revoked devices must be enrolled again)")
        return self._alarm(f"the server rejected an upload ({reply.status}: {reply.error or reply.reason}); "
                           f"the rows are kept and retried")

    async def _committed(self, rows: list[dict[str, Any]], reply: Reply) -> float:
        body = reply.body
        through = body.get("committed_through")
        if not isinstance(through, int) or isinstance(through, bool):
            return self._alarm("the server's answer has no committed_through; nothing deleted")
        through = min(through, int(rows[-1]["seq"]))  # never delete past what was sent
        self.state.server_head = body.get("head") if isinstance(body.get("head"), int) else None
        self.state.problems = [p for p in body.get("problems") or [] if isinstance(p, dict)]
        gone = await self.queue.acknowledge(through) if through >= int(rows[0]["seq"]) else 0
        self.state.uploaded += int(body.get("stored") or 0)
        self.state.duplicates += int(body.get("duplicates") or 0)
        self.state.committed_through = max(self.state.committed_through, through)
        if gone and self.batch_rows < self.cfg.batch_rows:
            self.batch_rows = min(self.cfg.batch_rows, self.batch_rows * 2)
        if through < int(rows[-1]["seq"]):
            kinds = ", ".join(f"{p.get('kind')} at seq {p.get('seq')}" for p in self.state.problems) or "none given"
            return self._alarm(f"the server committed up to seq {through} of {rows[-1]['seq']} (problem: {kinds}); "
                               f"the remaining rows are kept until IT resolves it on the server")
        self.backoff.reset()
        self.state.last_ok_at = time.time()
        self._clear()
        return 0.0

    # -- failures --------------------------------------------------------------------------
    def _retry(self, why: str) -> float:
        """A passing failure (server away, 503, timeout): retry after the backoff."""
        self._fail(why, logging.WARNING)
        return self._wait()

    def _alarm(self, why: str) -> float:
        """A failure a person has to fix: logged as an error (once a minute), retried slowly."""
        self._fail(why, logging.ERROR)
        self.backoff.n = max(self.backoff.n, 30)  # at the longest delay
        return self._wait()

    def _wait(self) -> float:
        d = self.backoff.next()
        self.state.next_try_at = time.time() + d
        return d

    def _fail(self, why: str, level: int) -> None:
        now = time.time()
        if self.state.error != why:
            self.state.error_since = now if self.state.error is None else self.state.error_since
        self.state.error = why
        self.say(why, level)

    def _clear(self) -> None:
        if self.state.error is not None:
            log.info("forwarder: uploading again (was: %s)", self.state.error)
        self.state.error = self.state.error_since = self.state.refused = self.state.next_try_at = None

    def say(self, text: str, level: int) -> None:
        """Log `text`, but the same text at most once per alarm interval."""
        now = time.monotonic()
        if now - self._said.get(text, -1e18) >= self.cfg.alarm_every:
            self._said[text] = now
            log.log(level, "forwarder: %s", text)

    # -- the bound -----------------------------------------------------------------------
    def check_bound(self, depth: int) -> str | None:
        """The queue alarm for `depth` waiting rows (logged once per interval), or None."""
        limit = self.cfg.queue_limit
        if limit <= 0 or depth < QUEUE_ALARM * limit:
            return None
        why = (self.state.error or "the server has not committed them yet")
        if depth >= limit:
            text = (f"QUEUE OVER ITS LIMIT: {depth:,} events waiting (limit {limit:,}); nothing is dropped, "
                    f"but the disk is filling: {why}")
            self.say(text, logging.ERROR)
        else:
            text = f"queue near full: {depth:,} of {limit:,} events waiting: {why}"
            self.say(text, logging.WARNING)
        return text

    # -- loops ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Forward until `stop` is set."""
        last_bound = 0.0
        while not stop.is_set():
            try:
                delay = await self.step()
            except Exception as e:  # a bug or a local disk problem: keep the agent alive, say it
                log.exception("forwarder step failed")
                delay = self._retry(f"local error: {type(e).__name__}")
            if time.monotonic() - last_bound >= min(self.cfg.alarm_every, 10.0):
                last_bound = time.monotonic()
                try:
                    self.check_bound((await self.queue.stats()).depth)
                except Exception:
                    log.exception("could not read the queue depth")
            if delay > 0:
                self.wake.clear()
                stop_wait = asyncio.ensure_future(stop.wait())
                wake_wait = asyncio.ensure_future(self.wake.wait())
                try:
                    await asyncio.wait({stop_wait, wake_wait}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop_wait.cancel()
                    wake_wait.cancel()

    async def drain(self, seconds: float) -> bool:
        """Upload until the queue is empty or `seconds` have passed (a clean stop); True when empty."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not await self.queue.pending(1, self.cfg.batch_bytes):
                return True
            try:
                delay = await asyncio.wait_for(self.step(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                return False
            if delay > 0 and self.state.error:
                return False  # the server is away: the rows wait for the next start
        return not await self.queue.pending(1, self.cfg.batch_bytes)
