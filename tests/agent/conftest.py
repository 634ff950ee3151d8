"""Fixtures: a real district server on loopback (SQLite file, or a fresh PostgreSQL schema), an
enrolled device with its state folder, and the device's local queue as the proxy writes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from agent_helpers import Enrolled, Running, enrol_one

from checker import load_policy
from server import ServerConfig, create_app


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The server's database: a SQLite file, or a PostgreSQL schema of the test's own."""
    if request.param == "sqlite":
        return str(tmp_path / "server.sqlite")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    """A SQLite server database (for tests whose point is the agent, not the backend)."""
    return str(tmp_path / "server.sqlite")


@pytest.fixture(scope="session")
def policy() -> Any:
    """The default Region 14 policy."""
    return load_policy(None)


async def _serve(db: str, policy: Any, tmp_path: Path, aiohttp_server: Any) -> Running:
    cfg = ServerConfig(db=db, policy=policy, signing_key=tmp_path / "signing.key", heartbeat_interval=60,
                       sweep_seconds=3600, retention_hours=1000, spool=tmp_path / "server-spool.jsonl")
    app = create_app(cfg)
    srv = await aiohttp_server(app)
    return Running(str(srv.make_url("")).rstrip("/"), app, cfg)


@pytest.fixture
async def server(sqlite_db: str, policy: Any, tmp_path: Path, aiohttp_server: Any) -> Running:
    """The district server on SQLite, listening on 127.0.0.1."""
    return await _serve(sqlite_db, policy, tmp_path, aiohttp_server)


@pytest.fixture
async def any_server(db_url: str, policy: Any, tmp_path: Path, aiohttp_server: Any) -> Running:
    """The district server on each backend."""
    return await _serve(db_url, policy, tmp_path, aiohttp_server)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session."""
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def enrolled(server: Running, tmp_path: Path, http: aiohttp.ClientSession) -> AsyncIterator[Enrolled]:
    """A device enrolled with the SQLite server."""
    e = await enrol_one(server, tmp_path / "agent", http)
    yield e
    e.close()


@pytest.fixture
async def any_enrolled(any_server: Running, tmp_path: Path, http: aiohttp.ClientSession) -> AsyncIterator[Enrolled]:
    """A device enrolled with the server on each backend."""
    e = await enrol_one(any_server, tmp_path / "agent", http)
    yield e
    e.close()
