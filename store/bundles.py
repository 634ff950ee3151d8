"""Signed policy bundles as the district server keeps them (`postguard policy publish`).

A bundle is a tar.gz of a policy folder (roster included), kept as base64 text with the exact
manifest text the server signed and the signature. Versions only grow; devices fetch the newest.
Building and signing are the server's (`server.policy_bundle`); this module only stores them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from store.db import Conn
from store.event import iso

FORMAT = "postguard-policy-bundle-v1"
# What a bundle may hold: `publish` refuses more, and a device refuses more before unpacking.
MAX_BUNDLE_BYTES = 16 << 20     # the tar.gz
MAX_UNPACKED_BYTES = 64 << 20   # every file together
MAX_FILES = 2000
META_COLS = "version, created_at, policy_digest, sha256, size, manifest, signature, published_by"


@dataclass(frozen=True)
class Bundle:
    """One published bundle (`data` only when asked for)."""

    version: int
    created_at: str
    policy_digest: str
    sha256: str
    size: int
    manifest: str    # the canonical JSON text that was signed
    signature: str   # base64 Ed25519 signature of `manifest`
    published_by: str
    data: bytes | None = None

    @property
    def etag(self) -> str:
        """The HTTP entity tag devices send back in If-None-Match."""
        return f'"v{self.version}-{self.sha256[:16]}"'


def _bundle(row: dict[str, Any], data: bytes | None = None) -> Bundle:
    return Bundle(version=int(row["version"]), created_at=str(row["created_at"]),
                  policy_digest=str(row["policy_digest"]), sha256=str(row["sha256"]), size=int(row["size"]),
                  manifest=str(row["manifest"]), signature=str(row["signature"]),
                  published_by=str(row["published_by"]), data=data)


def next_version(conn: Conn) -> int:
    """The version the next bundle gets (1 for the first)."""
    return int(conn.scalar("SELECT COALESCE(MAX(version), 0) FROM policy_bundles") or 0) + 1


def save(conn: Conn, b: Bundle) -> None:
    """Store a signed bundle and audit it (the caller's write transaction). A version taken meanwhile
    by another publish fails on the primary key: nothing is replaced."""
    assert b.data is not None
    conn.execute(f"INSERT INTO policy_bundles ({META_COLS}, bundle) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (b.version, b.created_at, b.policy_digest, b.sha256, b.size, b.manifest, b.signature,
                  b.published_by, base64.b64encode(b.data).decode("ascii")))
    conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                 (iso(None), b.published_by, "policy:publish",
                  f"version {b.version}, digest {b.policy_digest}, {b.size:,} bytes"))


def latest(conn: Conn, with_data: bool = False) -> Bundle | None:
    """The newest bundle (with its bytes when `with_data`), or None when none was published."""
    cols = f"{META_COLS}, bundle" if with_data else META_COLS
    row = conn.one(f"SELECT {cols} FROM policy_bundles ORDER BY version DESC LIMIT 1")
    if row is None:
        return None
    return _bundle(row, base64.b64decode(row["bundle"]) if with_data else None)


def listing(conn: Conn, limit: int = 20) -> list[Bundle]:
    """The newest bundles, without their bytes."""
    return [_bundle(r) for r in conn.all(f"SELECT {META_COLS} FROM policy_bundles ORDER BY version DESC LIMIT ?",
                                         (limit,))]


def versions_by_digest(conn: Conn) -> dict[str, int]:
    """Each published policy digest and the newest version that carried it (for the console)."""
    return {r["policy_digest"]: int(r["v"]) for r in
            conn.all("SELECT policy_digest, MAX(version) AS v FROM policy_bundles GROUP BY policy_digest")}


def served_digest(conn: Conn, fallback: str) -> str:
    """The policy digest devices should run: the newest bundle's, else the server's own policy's."""
    got = conn.scalar("SELECT policy_digest FROM policy_bundles ORDER BY version DESC LIMIT 1")
    return str(got) if got else fallback
