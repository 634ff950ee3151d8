"""Fixtures: a real district server on loopback over a fresh database (SQLite file, or a
PostgreSQL schema dropped afterwards), and signed device clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from checker import load_policy
from server import ServerConfig, create_app
from server.client import DeviceClient
from server.keys import STATE
from store import devices
from store.db import Conn, migrate


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests on both backends, each on a database of its own."""
    if request.param == "sqlite":
        return str(tmp_path / "server.sqlite")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def policy() -> Any:
    """The default Region 14 policy."""
    return load_policy(None)


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


@pytest.fixture
def server_config(db_url: str, policy: Any, tmp_path: Path) -> ServerConfig:
    """The server's settings (silent-device sweeps and retention are called by the tests)."""
    return ServerConfig(db=db_url, policy=policy, signing_key=tmp_path / "signing.key", heartbeat_interval=60,
                        sweep_seconds=3600, retention_hours=1000, spool=tmp_path / "server-spool.jsonl")


@pytest.fixture
async def server(server_config: ServerConfig, aiohttp_server: Any) -> Running:
    """The district server, listening on 127.0.0.1 (set up after its database, so stopped before it)."""
    app = create_app(server_config)
    srv = await aiohttp_server(app)
    return Running(str(srv.make_url("")).rstrip("/"), app, server_config)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client session."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def device(server: Running, http: aiohttp.ClientSession) -> Any:
    """Make an enrolled device client: `await device("pc-lab-1")`."""
    async def make(hostname: str = "pc-lab-1") -> DeviceClient:
        d = DeviceClient(server.url, http)
        ans = await d.enroll(server.codes()[0], hostname=hostname)
        assert ans.status == 201, ans
        return d
    return make


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on a free loopback port, started; `.inbox` holds what it
    accepted, `.stop()` / `.start()` take it down and up again (the alert tests)."""
    import socket

    from alert_helpers import Smtp

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    s = Smtp(port)
    s.start()
    yield s
    s.stop()
