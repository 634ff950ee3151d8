"""A district server under test (tests/server, tests/agent): its URL, application and settings,
and the reads the tests make of its database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server import ServerConfig
from server.keys import STATE
from store import devices
from store.db import Conn, migrate


@dataclass
class Running:
    """A server on loopback: its URL, application and settings."""

    url: str
    app: Any
    cfg: ServerConfig

    def conn(self) -> Conn:
        """A connection of the test's own to the server's database."""
        c = Conn(self.cfg.db)
        migrate(c)
        return c

    def codes(self, n: int = 1, seconds: float = 3600, now: float | None = None) -> list[str]:
        """Fresh enrolment codes."""
        c = self.conn()
        try:
            return devices.make_codes(c, n, seconds, "test", now=now)[0]
        finally:
            c.close()

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Rows from the server's database (after its own queued events are written)."""
        assert self.app[STATE].store.flush()
        c = self.conn()
        try:
            return c.all(sql, params)
        finally:
            c.close()

    def seqs(self, device: str) -> list[int]:
        """The seqs the server holds for a device, in order."""
        return [int(r["seq"]) for r in self.query("SELECT seq FROM events WHERE device = ? ORDER BY seq", (device,))]
