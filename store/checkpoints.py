"""Chain-head checkpoints: the server's signed record of every device's chain head at a moment.

This module keeps and compares them; signing is the server's (`server.checkpoint`). The table is
append-only (the database refuses updates and deletes). A checkpoint exported to a file and kept
away from the database lets `postguard logs verify --checkpoint FILE` find a chain rewritten by
someone with database access: the row at each signed head must still carry the signed hash.
"""

from __future__ import annotations

from typing import Any

from store.chain import Problem
from store.db import Conn
from store.event import iso

FORMAT = "postguard-checkpoint-v1"


def current_heads(conn: Conn) -> list[dict[str, Any]]:
    """Every device's chain head now: device, seq, hash (sorted by device)."""
    return [{"device": r["device"], "seq": int(r["seq"]), "hash": r["hash"]}
            for r in conn.all("SELECT device, seq, hash FROM chain_heads ORDER BY device")]


def save(conn: Conn, key_id: str, payload: str, signature: str, reason: str, now: float | None = None) -> int:
    """Append a signed checkpoint; return its id."""
    with conn.write():
        cur = conn.execute("INSERT INTO checkpoints (ts, key_id, payload, signature, reason) "
                           "VALUES (?, ?, ?, ?, ?) RETURNING id", (iso(now), key_id, payload, signature, reason))
        return int(cur.fetchone()[0])


def latest(conn: Conn) -> dict[str, Any] | None:
    """The newest checkpoint (id, ts, key_id, payload, signature, reason), or None."""
    return conn.one("SELECT id, ts, key_id, payload, signature, reason FROM checkpoints ORDER BY id DESC LIMIT 1")


def listing(conn: Conn, limit: int = 20) -> list[dict[str, Any]]:
    """The newest checkpoints, without their payloads."""
    return conn.all(f"SELECT id, ts, key_id, reason FROM checkpoints ORDER BY id DESC LIMIT {int(limit)}")


def compare(conn: Conn, heads: list[dict[str, Any]], signed_at: str) -> tuple[int, list[Problem]]:
    """Check signed heads against the database: (heads checked, problems). A head whose events
    retention has purged since is checked against the chain's anchor where it can be."""
    out: list[Problem] = []
    checked = 0
    for h in heads:
        dev, seq, want = str(h["device"]), int(h["seq"]), str(h["hash"])
        row = conn.one("SELECT uid, hash FROM events WHERE device = ? AND seq = ?", (dev, seq))
        if row is not None:
            checked += 1
            if row["hash"] != want:
                out.append(Problem(dev, seq, row["uid"], "edited",
                                   f"the chain was rewritten: seq {seq} differs from the checkpoint of {signed_at}"))
            continue
        anchor = conn.one("SELECT seq, hash FROM chain_anchors WHERE device = ?", (dev,))
        if anchor is not None and int(anchor["seq"]) >= seq:
            if int(anchor["seq"]) == seq:
                checked += 1
                if anchor["hash"] != want:
                    out.append(Problem(dev, seq, None, "edited",
                                       f"the purge anchor differs from the checkpoint of {signed_at}"))
            continue  # purged by retention since the checkpoint: nothing left to compare
        out.append(Problem(dev, seq, None, "deleted",
                           f"seq {seq}, signed in the checkpoint of {signed_at}, is not in the log"))
    return checked, out
