"""Fixtures: a seeded log, console users and a signed-in aiohttp test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import PASSWORDS, login, seed

from checker import load_policy, redact
from console import ConsoleConfig, create_app
from console.auth import add_user
from store import Store, StoreConfig, open_store


@pytest.fixture(scope="session")
def policy() -> Any:
    """The default policy."""
    return load_policy(None)


@pytest.fixture(scope="session")
def config(policy: Any) -> StoreConfig:
    """The log settings the default policy gives."""
    return StoreConfig(policy.settings.content, policy.settings.retention_days, lambda text: redact(text, policy))


@pytest.fixture(scope="session")
def user_db(tmp_path_factory: pytest.TempPathFactory, config: StoreConfig) -> Path:
    """A log with the two accounts, made once: argon2 hashing is deliberately slow."""
    path = tmp_path_factory.mktemp("users") / "users.sqlite"
    with open_store(str(path), config) as st:
        add_user(st, "alice", "admin", PASSWORDS["alice"])
        add_user(st, "rita", "reviewer", PASSWORDS["rita"])
        assert st.flush()
        with st.reader().write() as c:
            c.execute("DELETE FROM audit")
    return path


@pytest.fixture
def store(tmp_path: Path, config: StoreConfig, user_db: Path) -> Iterator[Store]:
    """A seeded SQLite log with an admin (alice) and a reviewer (rita)."""
    import sqlite3

    src, dst = sqlite3.connect(user_db), sqlite3.connect(tmp_path / "log.sqlite")
    src.backup(dst)
    src.close()
    dst.close()
    st = open_store(str(tmp_path / "log.sqlite"), config, spool=tmp_path / "spool.jsonl")
    seed(st)
    yield st
    st.close()


@pytest.fixture
def make_client(aiohttp_client: Any, store: Store, policy: Any) -> Any:
    """Build a test client for the console on the seeded store (optionally with config changes,
    another policy among them)."""
    async def make(**kw: Any) -> Any:
        cfg = ConsoleConfig(**{"db": store.db, "policy": policy, "store": store, **kw})
        return await aiohttp_client(create_app(cfg))
    return make


@pytest.fixture
async def admin(make_client: Any) -> Any:
    """A client signed in as the admin."""
    c = await make_client()
    r = await login(c, "alice")
    assert r.status == 303
    return c


@pytest.fixture
async def reviewer(make_client: Any) -> Any:
    """A client signed in as a reviewer."""
    c = await make_client()
    r = await login(c, "rita")
    assert r.status == 303
    return c
