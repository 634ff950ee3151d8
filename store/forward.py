"""An agent's local log as its durable queue: the rows to upload, and deleting what the server committed.

The agent's proxy and backend append to the local SQLite log as on any machine (chained per
device: seq, prev_hash, hash). The forwarder reads the oldest rows in seq order, uploads them
exactly as stored, and deletes them only up to the server's `committed_through`. The chain head
(`chain_heads`) is never touched, so the next event continues the same chain; the last deleted
row becomes the chain's anchor (`chain_anchors`, as retention does), so `store.chain.verify`
still passes on what is left.
"""

from __future__ import annotations

import json
from typing import Any

from store.db import Conn
from store.event import CHAIN_FIELDS, GENESIS, STAFF_FIELDS, iso

UPLOAD_COLS = (*CHAIN_FIELDS, *STAFF_FIELDS, "hash")
_SELECT = ", ".join(UPLOAD_COLS)
_CHILDREN = ("event_rules", "event_clauses", "event_pairs", "reviews")


def pending(conn: Conn, device: str, limit: int = 500, max_bytes: int = 3 << 20) -> list[dict[str, Any]]:
    """The device's oldest rows, in seq order, each with every chained field and its hash: at most
    `limit` rows and about `max_bytes` of JSON (always at least one row when any is waiting)."""
    rows = conn.all(f"SELECT {_SELECT} FROM events WHERE device = ? ORDER BY seq LIMIT ?", (device, int(limit)))
    out: list[dict[str, Any]] = []
    size = 0
    for r in rows:
        size += len(json.dumps(r, ensure_ascii=False).encode("utf-8")) + 1
        if out and size > max_bytes:
            break
        out.append(r)
    return out


def acknowledge(conn: Conn, device: str, through: int, now: float | None = None) -> int:
    """Delete the device's rows with seq up to `through` (the server has committed them), and
    anchor the chain at the last one deleted. Returns how many rows were deleted."""
    with conn.write():
        last = conn.one("SELECT seq, hash FROM events WHERE device = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
                        (device, int(through)))
        if last is None:
            return 0
        ids = "SELECT id FROM events WHERE device = ? AND seq <= ?"
        for table in _CHILDREN:
            conn.execute(f"DELETE FROM {table} WHERE event_id IN ({ids})", (device, int(through)))
        n = conn.execute("DELETE FROM events WHERE device = ? AND seq <= ?", (device, int(through))).rowcount
        conn.execute("DELETE FROM chain_anchors WHERE device = ?", (device,))
        conn.execute("INSERT INTO chain_anchors (device, seq, hash, purged_at) VALUES (?, ?, ?, ?)",
                     (device, int(last["seq"]), last["hash"], iso(now)))
    return int(n)


def head(conn: Conn, device: str) -> tuple[int, str]:
    """The device's chain head (seq, hash): (0, GENESIS) before its first event."""
    h = conn.one("SELECT seq, hash FROM chain_heads WHERE device = ?", (device,))
    return (int(h["seq"]), str(h["hash"])) if h else (0, GENESIS)


def depth(conn: Conn, device: str) -> int:
    """How many of the device's rows wait for the server."""
    return int(conn.scalar("SELECT COUNT(*) FROM events WHERE device = ?", (device,)) or 0)


def foreign(conn: Conn, device: str) -> int:
    """Rows in the queue under another device id (written before enrolment, or under an earlier
    enrolment): they cannot be sent with this device's key, and are kept, never dropped."""
    return int(conn.scalar("SELECT COUNT(*) FROM events WHERE device <> ?", (device,)) or 0)


def oldest(conn: Conn, device: str) -> str | None:
    """The device time of the oldest row still waiting (None when the queue is empty)."""
    r = conn.one("SELECT ts FROM events WHERE device = ? ORDER BY seq LIMIT 1", (device,))
    return None if r is None else str(r["ts"])
