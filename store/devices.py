"""Enrolled devices, their one-time enrolment codes and their health, as the district server keeps them.

Codes are stored as SHA-256 only; a device is known by its id and its Ed25519 public key.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from store.db import Conn
from store.event import iso

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed from paper
CODE_GROUPS = 4
HEALTH_FIELDS = ("agent_version", "policy_digest", "last_seq", "head_hash", "proxy_up", "backend_up",
                 "extension_seen", "queue_depth", "queue_limit", "clock", "started_at")
DEVICE_COLS = ("id", "hostname", "name", "enrolled_at", "revoked_at", "last_seen", "heartbeat_at",
               "heartbeat_interval", "skew_seconds", *HEALTH_FIELDS)


class EnrolError(Exception):
    """An enrolment code that is unknown, already used or expired."""


@dataclass(frozen=True)
class Enrolment:
    """What a device gives at enrolment (the code is checked, then only its hash is kept)."""

    code: str
    public_key: str
    hostname: str
    name: str | None
    agent_version: str | None


def normalize_code(code: str) -> str:
    """The code as hashed: upper case, without dashes or spaces."""
    return "".join(ch for ch in code.upper() if ch not in "- ")


def code_hash(code: str) -> str:
    """The SHA-256 a code is stored as."""
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def new_code() -> str:
    """A one-time code: 4 groups of 5 characters (100 bits), e.g. `K7QF2-M9XHD-...`."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(5 * CODE_GROUPS))
    return "-".join(chars[i:i + 5] for i in range(0, len(chars), 5))


def make_codes(conn: Conn, count: int, expires_seconds: float, actor: str,
               now: float | None = None) -> tuple[list[str], str]:
    """Make `count` codes valid for `expires_seconds`; return them (shown once) and their expiry."""
    now = time.time() if now is None else now
    expires = iso(now + expires_seconds)
    codes = [new_code() for _ in range(count)]
    with conn.write():
        conn.executemany("INSERT INTO enrol_codes (code_hash, created, expires, created_by) VALUES (?, ?, ?, ?)",
                         [(code_hash(c), iso(now), expires, actor) for c in codes])
        conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                     (iso(now), actor, "enrol-code", f"{count} code(s) valid until {expires}"))
    return codes, expires


def device_id_for(hostname: str) -> str:
    """A new device id: the host name's safe characters and 8 random hex digits."""
    stem = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-." else "-" for ch in hostname.lower())[:40].strip("-.")
    return f"{stem or 'device'}-{secrets.token_hex(4)}"


def enrol(conn: Conn, e: Enrolment, interval: int, now: float | None = None) -> str:
    """Use a code once and record the device; return its new id. EnrolError when the code is
    unknown, used or expired (the same answer for each, so codes cannot be probed)."""
    now = time.time() if now is None else now
    device = device_id_for(e.hostname)
    with conn.write():
        row = conn.one("SELECT id, expires, used_at FROM enrol_codes WHERE code_hash = ?", (code_hash(e.code),))
        if row is None or row["used_at"] is not None or row["expires"] < iso(now):
            raise EnrolError("enrolment code unknown, used or expired")
        conn.execute("UPDATE enrol_codes SET used_at = ?, device = ? WHERE id = ?", (iso(now), device, row["id"]))
        conn.execute("INSERT INTO devices (id, public_key, hostname, name, enrolled_at, heartbeat_interval, "
                     "agent_version) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (device, e.public_key, e.hostname, e.name, iso(now), interval, e.agent_version))
        conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                     (iso(now), "server", "device:enrol", f"{device} ({e.hostname})"))
    return device


def public_key(conn: Conn, device: str) -> tuple[str, bool] | None:
    """A device's public key (base64) and whether it is revoked; None when unknown."""
    row = conn.one("SELECT public_key, revoked_at FROM devices WHERE id = ?", (device,))
    return None if row is None else (row["public_key"], row["revoked_at"] is not None)


def touch(conn: Conn, device: str, now: float) -> bool:
    """Mark the device seen (inside the caller's transaction); False when it is revoked or unknown,
    so a revocation takes effect on the next request whatever a key cache holds."""
    cur = conn.execute("UPDATE devices SET last_seen = ? WHERE id = ? AND revoked_at IS NULL", (iso(now), device))
    return bool(cur.rowcount)


def save_heartbeat(conn: Conn, device: str, health: dict[str, Any], skew: float | None, now: float) -> bool:
    """Record a heartbeat's health fields (inside the caller's transaction); False when revoked."""
    sets = ", ".join(f"{k} = ?" for k in HEALTH_FIELDS)
    cur = conn.execute(
        f"UPDATE devices SET {sets}, heartbeat_at = ?, last_seen = ?, skew_seconds = ? "
        f"WHERE id = ? AND revoked_at IS NULL",
        [*(_column(health.get(k)) for k in HEALTH_FIELDS), iso(now), iso(now), skew, device])
    return bool(cur.rowcount)


def _column(v: Any) -> Any:
    # Flags are stored as 0/1 on both backends.
    return int(v) if isinstance(v, bool) else v


def revoke(conn: Conn, device: str, actor: str) -> bool:
    """Revoke a device (its requests get 401 from now on); False when unknown or already revoked."""
    with conn.write():
        cur = conn.execute("UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                           (iso(None), device))
        if not cur.rowcount:
            return False
        conn.execute("UPDATE device_problems SET resolved = ? WHERE device = ? AND resolved IS NULL",
                     (iso(None), device))
        conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                     (iso(None), actor, "device:revoke", device))
    return True


def list_devices(conn: Conn) -> list[dict[str, Any]]:
    """Every device, newest enrolment first."""
    return conn.all(f"SELECT {', '.join(DEVICE_COLS)} FROM devices ORDER BY enrolled_at DESC, id")


def get_device(conn: Conn, device: str) -> dict[str, Any] | None:
    """One device with its chain head on the server."""
    row = conn.one(f"SELECT {', '.join(DEVICE_COLS)} FROM devices WHERE id = ?", (device,))
    if row is None:
        return None
    head = conn.one("SELECT seq, hash FROM chain_heads WHERE device = ?", (device,))
    row["server_seq"] = int(head["seq"]) if head else 0
    row["server_hash"] = head["hash"] if head else None
    return row


def note_policy_digest(conn: Conn, digest: str) -> None:
    """Record the digest the server serves now (the newest `first_served`); digests served before
    stay known, so a device on one of them is `outdated` rather than `unknown`."""
    with conn.write():
        if current_digest(conn) == digest:
            return
        conn.execute("DELETE FROM policy_digests WHERE digest = ?", (digest,))
        conn.execute("INSERT INTO policy_digests (digest, first_served) VALUES (?, ?)", (digest, iso(None)))


def policy_status(digest: str | None, current: str | None, known: set[str]) -> str:
    """`current`, `outdated` (a digest this server served before) or `unknown`."""
    if digest and digest == current:
        return "current"
    return "outdated" if digest and digest in known else "unknown"


def known_digests(conn: Conn) -> set[str]:
    """Every policy digest this server has served."""
    return {r["digest"] for r in conn.all("SELECT digest FROM policy_digests")}


def current_digest(conn: Conn) -> str | None:
    """The digest the server serves now (the newest it recorded)."""
    return conn.scalar("SELECT digest FROM policy_digests ORDER BY first_served DESC, digest LIMIT 1")
