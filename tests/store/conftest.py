"""Fixtures: a fresh log on each backend (SQLite file, PostgreSQL schema dropped afterwards)."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from checker import load_policy, redact
from store import StoreConfig

PG_BASE = os.environ.get("POSTGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pg_admin() -> Any:
    """A connection to the test PostgreSQL; in CI a missing server fails, elsewhere skips."""
    import psycopg

    try:
        return psycopg.connect(PG_BASE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL required in CI at {PG_BASE}: {e}")
        pytest.skip(f"PostgreSQL not reachable at {PG_BASE} (set CI=1 to require it)")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A postgresql:// URL whose search_path is a fresh schema, dropped after the test."""
    admin = pg_admin()
    schema = f"pgtest_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """The same tests on both backends."""
    if request.param == "sqlite":
        return str(tmp_path / "log.sqlite")
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def policy() -> Any:
    """The default Region 14 policy (content mode `redacted`)."""
    return load_policy(None)


def store_config(policy: Any, **settings: Any) -> StoreConfig:
    """The log settings the policy gives, some replaced: `store_config(policy, content="full")`."""
    s = dataclasses.replace(policy.settings, **settings)
    return StoreConfig(s.content, s.retention_days, lambda text: redact(text, policy))


@pytest.fixture(scope="session")
def config(policy: Any) -> StoreConfig:
    """The log settings of the default policy (redacted content, 365 days)."""
    return store_config(policy)


@pytest.fixture
def config_with(policy: Any) -> Any:
    """Make log settings with some of the policy's replaced: `config_with(content="full")`."""
    return lambda **settings: store_config(policy, **settings)
