"""Fixtures: a fresh log on each backend (SQLite file, PostgreSQL schema dropped afterwards)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from checker import load_policy, redact
from store import StoreConfig


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
