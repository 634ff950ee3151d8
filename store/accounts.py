"""Console accounts, their sessions and the audit trail, as kept in the log's database.

Only hashes are stored here: password hashes (made by the console) and hashes of session tokens.
"""

from __future__ import annotations

from typing import Any

from store.db import Conn
from store.event import iso


def save_user(conn: Conn, name: str, role: str, pw_hash: str, actor: str) -> bool:
    """Create a user, or reset an existing one's role and password hash (which signs them out);
    audited as `actor`. True when the user was created."""
    with conn.write():
        existed = conn.scalar("SELECT 1 FROM users WHERE name = ?", (name,)) is not None
        if existed:
            conn.execute("UPDATE users SET role = ?, pw_hash = ?, disabled = 0 WHERE name = ?", (role, pw_hash, name))
            conn.execute("DELETE FROM sessions WHERE username = ?", (name,))
        else:
            conn.execute("INSERT INTO users (name, role, pw_hash, created) VALUES (?, ?, ?, ?)",
                         (name, role, pw_hash, iso(None)))
        conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                     (iso(None), actor, "user:" + ("reset" if existed else "add"), f"{name} ({role})"))
    return not existed


def user_credentials(conn: Conn, name: str) -> dict[str, Any] | None:
    """An enabled user's role and password hash, or None."""
    return conn.one("SELECT role, pw_hash FROM users WHERE name = ? AND disabled = 0", (name,))


def start_session(conn: Conn, token_hash: str, name: str, csrf: str, now: float, hours: float) -> None:
    """Record a session lasting `hours` from `now` (expired sessions are deleted on the way)."""
    with conn.write():
        conn.execute("DELETE FROM sessions WHERE expires < ?", (iso(now),))
        conn.execute("INSERT INTO sessions (token_hash, username, csrf, created, expires) VALUES (?, ?, ?, ?, ?)",
                     (token_hash, name, csrf, iso(now), iso(now + hours * 3600)))


def live_session(conn: Conn, token_hash: str) -> dict[str, Any] | None:
    """The unexpired session of an enabled user (username, csrf, expires, role), or None."""
    row = conn.one(
        "SELECT s.username, s.csrf, s.expires, u.role FROM sessions s JOIN users u ON u.name = s.username "
        "WHERE s.token_hash = ? AND u.disabled = 0", (token_hash,))
    if row is None or row["expires"] < iso(None):
        return None
    return row


def end_session(conn: Conn, token_hash: str) -> None:
    """Delete a session."""
    conn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


def audit_trail(conn: Conn, actor: str = "", before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Audit entries newest first: only `actor`'s when given, only ids below `before` when given."""
    sql = "SELECT id, ts, actor, action, event_uid, detail FROM audit WHERE 1=1"
    params: list[Any] = []
    if actor:
        sql += " AND actor = ?"
        params.append(actor)
    if before:
        sql += " AND id < ?"
        params.append(before)
    return conn.all(sql + f" ORDER BY id DESC LIMIT {int(limit)}", params)
