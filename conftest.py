"""Fixtures every test folder shares (a repo-root conftest, so that tests/ itself, whose folders
are named like the packages, never goes on sys.path): a PostgreSQL schema of the test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

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
        _drop(admin, schema)
        admin.close()


def _drop(admin: Any, schema: str) -> None:
    """Drop the test's schema. A connection of the code under test that is still finishing its
    last statement can deadlock with the DROP (PostgreSQL then aborts one of the two): try again."""
    import time

    import psycopg

    for attempt in range(5):
        try:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
            return
        except psycopg.errors.DeadlockDetected:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
