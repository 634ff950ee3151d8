"""Extension group keys: how a browser without an agent (a Chromebook, a computer where the agent
is not installed) proves to the district server that it belongs to the district.

Google Admin and Group Policy set one value per group of devices, so a key is made per group
(an organisational unit, a school): `postguard extension-groups create NAME` prints it once, the
admin pushes it as the extension's `groupKey` managed setting, and only its SHA-256 is kept.
A revoked group's key is refused within KEY_CACHE_SECONDS.

The table is this module's own (`CREATE TABLE IF NOT EXISTS`, on SQLite and PostgreSQL alike),
made the first time it is used.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from store.db import Conn

PREFIX = "pgx_"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
TABLE = """CREATE TABLE IF NOT EXISTS extension_groups (
    name TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)"""


class GroupError(Exception):
    """A group cannot be made or changed as asked; the message says why."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ensure_table(conn: Conn) -> None:
    """Make the table when it is not there yet."""
    with conn.write():
        conn.execute(TABLE)


def create(conn: Conn, name: str) -> str:
    """A new group and its key (returned once; only its hash is stored)."""
    if not NAME.match(name):
        raise GroupError(f"group name: small letters, digits and . _ - (up to 63), starting with a letter "
                         f"or digit (got {name!r})")
    ensure_table(conn)
    key = PREFIX + secrets.token_urlsafe(32)
    with conn.write():
        if conn.one("SELECT 1 AS x FROM extension_groups WHERE name = ?", (name,)):
            raise GroupError(f"group {name!r} exists already (revoke it first, then create it again for a new key)")
        conn.execute("INSERT INTO extension_groups (name, key_hash, created_at) VALUES (?, ?, ?)",
                     (name, _hash(key), _now()))
    return key


def revoke(conn: Conn, name: str) -> bool:
    """Refuse the group's key from now on and free its name; False when there was no such group."""
    ensure_table(conn)
    with conn.write():
        found = conn.one("SELECT 1 AS x FROM extension_groups WHERE name = ? AND revoked_at IS NULL", (name,))
        if found:
            # Kept under a new name, so the name can be given a new key and the old key stays refused.
            conn.execute("UPDATE extension_groups SET revoked_at = ?, name = ? WHERE name = ?",
                         (_now(), f"{name}~revoked~{secrets.token_hex(4)}", name))
    return bool(found)


def groups(conn: Conn) -> list[dict[str, Any]]:
    """Every group: name, created_at, revoked_at (never the key or its hash)."""
    ensure_table(conn)
    return conn.all("SELECT name, created_at, revoked_at FROM extension_groups ORDER BY name")


def group_of(conn: Conn, key: str) -> str | None:
    """The live group whose key this is, or None."""
    if not key.startswith(PREFIX) or len(key) > 100:
        return None
    row = conn.one("SELECT name FROM extension_groups WHERE key_hash = ? AND revoked_at IS NULL", (_hash(key),))
    return str(row["name"]) if row else None
