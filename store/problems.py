"""Device problems: a device silent, with a component down, on an unexpected policy, with its queue
near full, or whose chain the server could not extend (fork, gap, broken link).

A problem is one row per (device, kind) while it lasts: opened once, counted and touched while it
recurs, resolved when the condition clears (a heartbeat, the missing rows arriving) or by IT.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from store.db import Conn
from store.event import iso

SILENT_INTERVALS = 3
QUEUE_ALARM = 0.8
# Problems a heartbeat settles either way (it opens them or resolves them).
HEALTH_KINDS = ("silent", "proxy-down", "backend-down", "policy", "queue-near-full")
CHAIN_KINDS = ("fork", "gap", "broken-link")
KINDS = HEALTH_KINDS + CHAIN_KINDS
PROBLEM_COLS = "p.id, p.device, d.hostname, p.kind, p.detail, p.seq, p.opened, p.last_seen, p.times"


def open_problem(conn: Conn, device: str, kind: str, detail: str, seq: int | None, now: float) -> bool:
    """Open a problem, or count one that is already open (inside the caller's transaction);
    True when it is new."""
    row = conn.one("SELECT id FROM device_problems WHERE device = ? AND kind = ? AND resolved IS NULL",
                   (device, kind))
    if row is not None:
        conn.execute("UPDATE device_problems SET detail = ?, seq = ?, last_seen = ?, times = times + 1 "
                     "WHERE id = ?", (detail[:500], seq, iso(now), row["id"]))
        return False
    conn.execute("INSERT INTO device_problems (device, kind, detail, seq, opened, last_seen) "
                 "VALUES (?, ?, ?, ?, ?, ?)", (device, kind, detail[:500], seq, iso(now), iso(now)))
    return True


def resolve_kinds(conn: Conn, device: str, kinds: tuple[str, ...] | list[str], now: float) -> int:
    """Resolve the device's open problems of these kinds (inside the caller's transaction)."""
    if not kinds:
        return 0
    marks = ", ".join("?" * len(kinds))
    cur = conn.execute(f"UPDATE device_problems SET resolved = ? WHERE device = ? AND kind IN ({marks}) "
                       f"AND resolved IS NULL", (iso(now), device, *kinds))
    return int(cur.rowcount or 0)


def resolve_gap(conn: Conn, device: str, head_seq: int, now: float) -> None:
    """A gap is closed once the chain has grown past where it was seen."""
    conn.execute("UPDATE device_problems SET resolved = ? WHERE device = ? AND kind = 'gap' "
                 "AND resolved IS NULL AND seq <= ?", (iso(now), device, head_seq + 1))


def resolve_by_id(conn: Conn, problem_id: int, actor: str) -> bool:
    """IT marks a problem handled (audited); False when there is no such open problem."""
    with conn.write():
        row = conn.one("SELECT device, kind FROM device_problems WHERE id = ? AND resolved IS NULL", (problem_id,))
        if row is None:
            return False
        conn.execute("UPDATE device_problems SET resolved = ? WHERE id = ?", (iso(None), problem_id))
        conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                     (iso(None), actor, "problem:resolve", f"{row['device']} {row['kind']} #{problem_id}"))
    return True


def health_conditions(hb: dict[str, Any], current_digest: str | None, known: set[str]) -> dict[str, str]:
    """The problems a heartbeat shows: kind -> what is wrong (empty when the device is healthy)."""
    from store.devices import policy_status

    out: dict[str, str] = {}
    if hb.get("proxy_up") is False:
        out["proxy-down"] = "the proxy is not running"
    if hb.get("backend_up") is False:
        out["backend-down"] = "the extension backend is not running"
    status = policy_status(hb.get("policy_digest"), current_digest, known)
    if current_digest and status != "current":
        out["policy"] = f"policy {status}: digest {str(hb.get('policy_digest'))[:16]} (server: {current_digest[:16]})"
    depth, limit = hb.get("queue_depth"), hb.get("queue_limit")
    if isinstance(depth, int) and isinstance(limit, int) and limit > 0 and depth >= QUEUE_ALARM * limit:
        out["queue-near-full"] = f"queue holds {depth:,} of {limit:,} events"
    return out


def seconds_of(ts: str) -> float:
    """Unix time of a stored ISO time (`store.event.iso`)."""
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def silent_devices(conn: Conn, now: float | None = None) -> list[dict[str, Any]]:
    """Devices not revoked whose last heartbeat (or enrolment) is older than three intervals."""
    now = time.time() if now is None else now
    out = []
    for d in conn.all("SELECT id, hostname, enrolled_at, heartbeat_at, heartbeat_interval FROM devices "
                      "WHERE revoked_at IS NULL ORDER BY id"):
        last = d["heartbeat_at"] or d["enrolled_at"]
        quiet = now - seconds_of(last)
        if quiet > SILENT_INTERVALS * int(d["heartbeat_interval"]):
            d["quiet_seconds"] = quiet
            out.append(d)
    return out


def silent_detail(quiet_seconds: float, interval: int) -> str:
    """How long a device has been silent, in words."""
    return f"no heartbeat for {quiet_seconds / 60:.0f} min (interval {interval} s)"


def open_problems(conn: Conn, now: float | None = None) -> list[dict[str, Any]]:
    """Every open problem, with devices silent right now included even when no server has
    recorded it yet (so `postguard devices problems` is right while the server is down)."""
    rows = conn.all(f"SELECT {PROBLEM_COLS} FROM device_problems p LEFT JOIN devices d ON d.id = p.device "
                    f"WHERE p.resolved IS NULL ORDER BY p.opened, p.id")
    have = {(r["device"], r["kind"]) for r in rows}
    for d in silent_devices(conn, now):
        if (d["id"], "silent") not in have:
            last = d["heartbeat_at"] or d["enrolled_at"]
            rows.append({"id": None, "device": d["id"], "hostname": d["hostname"], "kind": "silent",
                         "detail": silent_detail(d["quiet_seconds"], int(d["heartbeat_interval"])),
                         "seq": None, "opened": last, "last_seen": iso(now), "times": 1})
    return rows


def problem_count(conn: Conn, now: float | None = None) -> int:
    """How many problems are open (the console's banner)."""
    return len(open_problems(conn, now))


def device_problems(conn: Conn, device: str, limit: int = 50) -> list[dict[str, Any]]:
    """One device's problems, open first, then the newest resolved."""
    return conn.all("SELECT id, kind, detail, seq, opened, last_seen, times, resolved FROM device_problems "
                    "WHERE device = ? ORDER BY (CASE WHEN resolved IS NULL THEN 0 ELSE 1 END), id DESC "
                    f"LIMIT {int(limit)}", (device,))


def sweep_silent(conn: Conn, now: float | None = None) -> list[tuple[str, str]]:
    """Open a `silent` problem for each device silent now; return the newly opened (device, detail)."""
    now = time.time() if now is None else now
    opened = []
    quiet = silent_devices(conn, now)
    if not quiet:
        return []
    with conn.write():
        for d in quiet:
            detail = silent_detail(d["quiet_seconds"], int(d["heartbeat_interval"]))
            if open_problem(conn, d["id"], "silent", detail, None, now):
                opened.append((str(d["id"]), detail))
    return opened
