"""The local queue as the agent process uses it: one connection on one thread of its own, so the
event loop never waits on SQLite (the proxy and the backend write the same file from their own
processes; SQLite's write lock orders them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from store import forward
from store.db import Conn, migrate
from store.writer import insert_events

T = TypeVar("T")


@dataclass(frozen=True)
class QueueStats:
    """What waits, for heartbeats and `agent status`."""

    depth: int              # this device's rows not yet committed by the server
    head_seq: int           # the local chain head (the last event written)
    head_hash: str
    oldest: str | None      # device time of the oldest waiting row
    foreign: int            # rows under another device id (kept, not sendable with this key)


class LocalQueue:
    """The agent's `queue.sqlite`, for one device."""

    def __init__(self, path: Path, device: str) -> None:
        self.path = path
        self.device = device
        self._exec = ThreadPoolExecutor(1, thread_name_prefix="postguard-agent-queue")
        self._conn: Conn | None = None
        self._closed = False

    def _c(self) -> Conn:
        if self._conn is None:
            conn = Conn(str(self.path))
            migrate(conn)
            self._conn = conn
        return self._conn

    async def _run(self, fn: Callable[[Conn], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._exec, lambda: fn(self._c()))

    def call(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` on the queue's thread from synchronous code (start-up, shut-down)."""
        return self._exec.submit(lambda: fn(self._c())).result()

    async def pending(self, limit: int, max_bytes: int) -> list[dict[str, Any]]:
        """The oldest waiting rows (see `store.forward.pending`)."""
        return await self._run(lambda c: forward.pending(c, self.device, limit, max_bytes))

    async def acknowledge(self, through: int) -> int:
        """Delete what the server committed (see `store.forward.acknowledge`)."""
        return await self._run(lambda c: forward.acknowledge(c, self.device, through, time.time()))

    async def append(self, row: dict[str, Any]) -> None:
        """Chain and commit one prepared row now (the agent's own start and stop events)."""
        await self._run(lambda c: insert_events(c, [row]))

    async def stats(self) -> QueueStats:
        """Depth, head and oldest waiting row."""
        return await self._run(lambda c: stats(c, self.device))

    def close(self) -> None:
        """Close the connection and end the thread (again: nothing)."""
        if self._closed:
            return
        self._closed = True

        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._exec.submit(shut).result()
        self._exec.shutdown(wait=True)


def stats(conn: Conn, device: str) -> QueueStats:
    """The queue's figures on an open connection."""
    seq, h = forward.head(conn, device)
    return QueueStats(forward.depth(conn, device), seq, h, forward.oldest(conn, device), forward.foreign(conn, device))
