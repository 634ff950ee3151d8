"""The server's database threads: each with its own connection, so ingest runs off the event loop
and (on PostgreSQL) several devices' uploads commit at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from store.db import Conn, db_down, is_postgres, migrate

T = TypeVar("T")


class DbPool:
    """`await pool.run(fn)` runs `fn(conn)` on one of `size` threads, each with its own connection;
    a connection that fails with a database-down error is dropped and the error raised as
    ConnectionError (the device retries)."""

    def __init__(self, db: str, size: int = 0) -> None:
        self.db = db
        self.size = size or (4 if is_postgres(db) else 1)
        self._exec = ThreadPoolExecutor(self.size, thread_name_prefix="postguard-server-db")
        self._local = threading.local()
        self._conns: list[Conn] = []
        self._lock = threading.Lock()
        self._migrated = False

    def _conn(self) -> Conn:
        conn: Conn | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = Conn(self.db)
            if not self._migrated:
                migrate(conn)
                self._migrated = True
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _call(self, fn: Callable[[Conn], T]) -> T:
        try:
            return fn(self._conn())
        except db_down() as e:
            conn = getattr(self._local, "conn", None)
            self._local.conn = None
            if conn is not None:
                conn.close()
            raise ConnectionError(f"database unavailable: {type(e).__name__}") from e

    async def run(self, fn: Callable[[Conn], T]) -> T:
        """Run `fn(conn)` on a database thread."""
        return await asyncio.get_running_loop().run_in_executor(self._exec, self._call, fn)

    def close(self) -> None:
        """Stop the threads and close their connections."""
        self._exec.shutdown(wait=True)
        with self._lock:
            for c in self._conns:
                c.close()
            self._conns.clear()
