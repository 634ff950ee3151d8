"""Ingest on the district server: rows a device chained itself, checked and stored exactly once.

The server verifies a device's chain, it never re-chains: each row keeps the device's `seq`,
`prev_hash` and `hash`, so `store.chain.verify` passes on the server as on the device. A row is
stored when it extends the stored head (seq = head + 1, prev_hash = the head's hash, hash =
`chain_hash(row)`); a row already stored with the same hash is a duplicate; anything else stops
the batch there and is recorded as a device problem (fork, gap, broken link).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from store import incidents, problems
from store.db import Conn
from store.event import CHAIN_FIELDS, GENESIS, STAFF_FIELDS, chain_hash, check_staff, iso
from store.problems import seconds_of

MAX_ROWS = 500
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
_INT_FIELDS = ("seq",)
_REQUIRED = ("uid", "ts", "device", "source", "action", "content_mode", "prev_hash")
_TEXT_LIMIT = {"uid": 64, "device": 200, "source": 40, "action": 40, "content_mode": 20, "kind": 80,
               "account": 40, "site": 253, "url": 600, "target": 600, "rules": 2000, "request_id": 200,
               "policy_digest": 128, "employee": 200, "content_hash": 64, "error": 600}
_COLS = (*CHAIN_FIELDS, *STAFF_FIELDS, "hash", "received_at", "skew_seconds")


class BadRows(ValueError):
    """A request whose rows are not log rows; nothing of it is stored. The message names the
    row and field, never a value (rows hold what employees wrote)."""


@dataclass
class IngestResult:
    """What one upload did: the agent may delete its rows up to `committed_through`."""

    committed_through: int = 0
    stored: int = 0
    duplicates: int = 0
    head: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    opened: list[dict[str, Any]] = field(default_factory=list)  # problems new with this upload

    def answer(self) -> dict[str, Any]:
        """The JSON answer of `POST /api/v1/events`."""
        return {"committed_through": self.committed_through, "stored": self.stored,
                "duplicates": self.duplicates, "head": self.head, "problems": self.problems}


def check_rows(rows: Any, device: str) -> list[dict[str, Any]]:
    """Validate an upload's rows (shape and types; the chain is checked on ingest); BadRows
    otherwise. Rows of another device raise PermissionError."""
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        raise BadRows(f"events: a list of at most {MAX_ROWS} rows")
    for i, r in enumerate(rows):
        _check_row(i, r)
        if r["device"] != device:
            raise PermissionError(f"events[{i}].device: not the authenticated device")
    return sorted(rows, key=lambda r: int(r["seq"]))


def _check_row(i: int, r: Any) -> None:
    if not isinstance(r, dict):
        raise BadRows(f"events[{i}]: an object")
    missing = [k for k in (*CHAIN_FIELDS, "hash") if k not in r]
    if missing:
        raise BadRows(f"events[{i}]: missing {', '.join(missing)}")
    for k in (*CHAIN_FIELDS, "hash"):
        v = r[k]
        if k in _INT_FIELDS:
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v < 2**62:
                raise BadRows(f"events[{i}].{k}: a whole number from 1")
        elif v is not None and not isinstance(v, str):
            raise BadRows(f"events[{i}].{k}: text or null")
        elif v is None and k in _REQUIRED:
            raise BadRows(f"events[{i}].{k}: required")
        elif isinstance(v, str) and len(v) > _TEXT_LIMIT.get(k, 100_000):
            raise BadRows(f"events[{i}].{k}: longer than {_TEXT_LIMIT.get(k, 100_000)} characters")
    try:  # optional (rows written before migration 10 have neither), validated when present
        check_staff(r.get("staff"), r.get("staff_source"))
    except ValueError as e:
        raise BadRows(f"events[{i}].{e}") from None
    if not _ISO.match(r["ts"]):
        raise BadRows(f"events[{i}].ts: UTC time as YYYY-MM-DDTHH:MM:SS.ffffffZ")
    if not _HEX64.match(r["prev_hash"]) or not _HEX64.match(str(r["hash"])):
        raise BadRows(f"events[{i}].prev_hash/hash: 64 lower-case hex digits")
    try:
        found = json.loads(r["findings"] or "[]")
    except ValueError:
        raise BadRows(f"events[{i}].findings: JSON text of a list") from None
    if not isinstance(found, list) or not all(isinstance(f, dict) for f in found):
        raise BadRows(f"events[{i}].findings: JSON text of a list of objects")


def ingest(conn: Conn, device: str, rows: list[dict[str, Any]], now: float,
           on_stored: Callable[[Conn, list[dict[str, Any]]], None] | None = None) -> IngestResult | None:
    """Store a device's checked rows in one transaction; None when the device is revoked or
    unknown (nothing stored). Raises the database's integrity error for a uid another event has.
    `on_stored(conn, rows)` runs inside that transaction with the rows just stored (the server's
    alert outbox is written there, so an alert is never lost nor queued for an event not stored)."""
    res = IngestResult()
    with conn.write():
        conn.lock_device(device)
        if not _touch(conn, device, now):
            return None
        head_seq, head_hash = _head(conn, device)
        stored = _stored_hashes(conn, device, rows, head_seq)
        floor = _anchor_seq(conn, device)
        accepted: list[dict[str, Any]] = []
        for r in rows:
            seq = int(r["seq"])
            if seq <= head_seq:
                have = stored.get(seq)
                if have == r["hash"] or (have is None and seq <= floor):  # stored, or purged since
                    res.duplicates += 1
                    res.committed_through = seq
                    continue
                if have is None:
                    _problem(conn, res, device, "broken-link", seq, now,
                             f"seq {seq} is missing from the server's chain (deleted on the server?)")
                    break
                _problem(conn, res, device, "fork", seq, now,
                         f"seq {seq} is stored with another hash ({have[:12]}, sent {r['hash'][:12]})")
                break
            if seq > head_seq + 1:
                _problem(conn, res, device, "gap", seq, now,
                         f"seq {seq} sent but the server's chain ends at {head_seq} (floor {floor})")
                break
            if r["prev_hash"] != head_hash or chain_hash(r) != r["hash"]:
                what = "prev_hash is not the stored head's hash" if r["prev_hash"] != head_hash \
                    else "hash is not the hash of the row"
                _problem(conn, res, device, "broken-link", seq, now, f"seq {seq}: {what}")
                break
            accepted.append(r)
            head_seq, head_hash = seq, r["hash"]
            stored[seq] = head_hash  # the same seq twice in one upload is a duplicate or a fork
            res.committed_through = seq
        if accepted:
            _insert(conn, device, accepted, now)
            _set_head(conn, device, head_seq, head_hash)
            problems.resolve_gap(conn, device, head_seq, now)
            if on_stored is not None:
                on_stored(conn, accepted)
        res.stored, res.head = len(accepted), head_seq
    return res


def _touch(conn: Conn, device: str, now: float) -> bool:
    from store.devices import touch

    return touch(conn, device, now)


def _problem(conn: Conn, res: IngestResult, device: str, kind: str, seq: int, now: float, detail: str) -> None:
    p = {"kind": kind, "seq": seq, "detail": detail}
    res.problems.append(p)
    if problems.open_problem(conn, device, kind, detail, seq, now):
        res.opened.append(p)


def _head(conn: Conn, device: str) -> tuple[int, str]:
    h = conn.one("SELECT seq, hash FROM chain_heads WHERE device = ?", (device,))
    return (int(h["seq"]), h["hash"]) if h else (0, GENESIS)


def _anchor_seq(conn: Conn, device: str) -> int:
    return int(conn.scalar("SELECT seq FROM chain_anchors WHERE device = ?", (device,)) or 0)


def _stored_hashes(conn: Conn, device: str, rows: list[dict[str, Any]], head_seq: int) -> dict[int, str]:
    """The stored hashes of the sent seqs at or below the head (one query)."""
    seqs = sorted({int(r["seq"]) for r in rows if int(r["seq"]) <= head_seq})
    if not seqs:
        return {}
    got = conn.all(f"SELECT seq, hash FROM events WHERE device = ? AND seq IN ({', '.join('?' * len(seqs))})",
                   (device, *seqs))
    return {int(g["seq"]): g["hash"] for g in got}


def _insert(conn: Conn, device: str, rows: list[dict[str, Any]], now: float) -> None:
    received = iso(now)
    values = [(*(r[c] for c in CHAIN_FIELDS), *(r.get(c) for c in STAFF_FIELDS), r["hash"], received, round(now - seconds_of(r["ts"]), 3))
              for r in rows]
    insert_many(conn, "events", _COLS, values)
    ids = {int(x["seq"]): x["id"] for x in conn.all(
        "SELECT id, seq FROM events WHERE device = ? AND seq >= ? AND seq <= ?",
        (device, int(rows[0]["seq"]), int(rows[-1]["seq"])))}
    rules: list[tuple[Any, ...]] = []
    clauses: list[tuple[Any, ...]] = []
    pairs: list[tuple[Any, ...]] = []
    for r in rows:
        eid = ids[int(r["seq"])]
        found = json.loads(r["findings"] or "[]")
        tail = (r["ts"], r["site"], r["action"], "open")  # copies for the console list's indexes
        rules += [(eid, x, *tail) for x in sorted({str(f["rule"]) for f in found if f.get("rule")})]
        clauses += [(eid, x, *tail) for x in sorted({str(f["clause"]) for f in found if f.get("clause")})]
        pairs += [(eid, a, b, *tail) for a, b in sorted({(str(f["rule"]), str(f["clause"])) for f in found
                                                         if f.get("rule") and f.get("clause")})]
    tail_cols = ("ts", "site", "action", "review_status")
    insert_many(conn, "event_rules", ("event_id", "rule", *tail_cols), rules)
    insert_many(conn, "event_clauses", ("event_id", "clause", *tail_cols), clauses)
    insert_many(conn, "event_pairs", ("event_id", "rule", "clause", *tail_cols), pairs)
    incidents.assign(conn, [(ids[int(r["seq"])], r) for r in rows])


def insert_many(conn: Conn, table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows in bulk: COPY on PostgreSQL (one round trip, no per-row statement), one
    executemany on SQLite."""
    if not rows:
        return
    if conn.pg:
        with conn.raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
        return
    conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", rows)


def _set_head(conn: Conn, device: str, seq: int, head_hash: str) -> None:
    if conn.pg:
        conn.execute("INSERT INTO chain_heads (device, seq, hash) VALUES (?, ?, ?) "
                     "ON CONFLICT (device) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash",
                     (device, seq, head_hash))
    else:
        conn.execute("INSERT OR REPLACE INTO chain_heads (device, seq, hash) VALUES (?, ?, ?)",
                     (device, seq, head_hash))
