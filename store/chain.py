"""Tamper evidence (verify the per-device hash chains) and retention (purge old events)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from store.db import Conn
from store.event import CHAIN_FIELDS, GENESIS, STAFF_FIELDS, chain_hash, iso

_CHUNK = 5000
_VERIFY_COLS = ", ".join(dict.fromkeys(("id", *CHAIN_FIELDS, *STAFF_FIELDS, "hash")))


@dataclass(frozen=True)
class Problem:
    """One break in a device's chain."""

    device: str
    seq: int | None
    uid: str | None
    kind: str  # edited | deleted | reordered | inserted
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def verify(conn: Conn, device: str | None = None) -> tuple[int, list[Problem]]:
    """Walk every device's chain; return (events checked, problems found)."""
    heads = {r["device"]: r for r in conn.all("SELECT device, seq, hash FROM chain_heads")}
    anchors = {r["device"]: r for r in conn.all("SELECT device, seq, hash FROM chain_anchors")}
    devices = {r["device"] for r in conn.all("SELECT DISTINCT device FROM events")} | set(heads)
    if device is not None:
        devices &= {device}
    problems: list[Problem] = []
    checked = 0
    for dev in sorted(devices):
        n, probs = _verify_device(conn, dev, heads.get(dev), anchors.get(dev))
        checked += n
        problems += probs
    return checked, problems


def _verify_device(conn: Conn, dev: str, head: dict[str, Any] | None,
                   anchor: dict[str, Any] | None) -> tuple[int, list[Problem]]:
    out: list[Problem] = []
    exp_seq = int(anchor["seq"]) + 1 if anchor else 1
    exp_prev = anchor["hash"] if anchor else GENESIS
    last_id = -1
    n = 0
    after = exp_seq - 1 if anchor else -(2**62)
    while True:
        rows = conn.all(f"SELECT {_VERIFY_COLS} FROM events WHERE device = ? AND seq > ? ORDER BY seq LIMIT {_CHUNK}",
                        (dev, after))
        if not rows:
            break
        for r in rows:
            n += 1
            seq = int(r["seq"])
            if chain_hash(r) != r["hash"]:
                out.append(Problem(dev, seq, r["uid"], "edited", "stored fields do not match the event's hash"))
            if seq > exp_seq:
                missing = seq - exp_seq
                out.append(Problem(dev, seq, r["uid"], "deleted",
                                   f"{missing} event(s) missing before seq {seq} (expected seq {exp_seq})"))
            elif seq < exp_seq:
                out.append(Problem(dev, seq, r["uid"], "inserted", f"seq {seq} precedes the chain start {exp_seq}"))
            elif r["prev_hash"] != exp_prev:
                out.append(Problem(dev, seq, r["uid"], "deleted",
                                   "previous-hash link broken: an earlier event was removed or replaced"))
            if int(r["id"]) < last_id:
                out.append(Problem(dev, seq, r["uid"], "reordered", "stored out of chain order"))
            last_id = max(last_id, int(r["id"]))
            exp_seq, exp_prev = seq + 1, r["hash"]
        after = int(rows[-1]["seq"])
    if head is None:
        if n:
            out.append(Problem(dev, None, None, "inserted", "events for a device with no chain head"))
    else:
        hseq = int(head["seq"])
        if hseq >= exp_seq:
            out.append(Problem(dev, hseq, None, "deleted",
                               f"the chain ends at seq {exp_seq - 1} but {hseq} events were written"))
        elif hseq == exp_seq - 1 and head["hash"] != exp_prev and n:
            out.append(Problem(dev, hseq, None, "edited", "the last event differs from the one written"))
    return n, out


def purge(conn: Conn, days: int, now: float | None = None) -> int:
    """Delete events older than `days` as whole chain prefixes per device, anchoring each
    chain at the last purged event so verify still passes. Returns how many were deleted.
    Events the district server received are aged by its receive time, never by the device's
    clock (whichever process runs the purge); others by their own time."""
    if days <= 0:
        return 0
    cutoff = iso((time.time() if now is None else now) - days * 86400)
    total = 0
    for d in conn.all("SELECT device, seq FROM chain_heads ORDER BY device"):
        dev = d["device"]
        age = _age_column(conn, dev)
        keep_from = conn.scalar(f"SELECT MIN(seq) FROM events WHERE device = ? AND {age} >= ?", (dev, cutoff))
        upto = int(keep_from) if keep_from is not None else int(d["seq"]) + 1
        lo = conn.scalar("SELECT MIN(seq) FROM events WHERE device = ?", (dev,))
        if lo is None or int(lo) >= upto:
            continue
        # Short transactions: one chunk of the prefix at a time, anchor moved with it.
        for u in range(int(lo) + _CHUNK, upto + _CHUNK, _CHUNK):
            u = min(u, upto)
            with conn.write():
                last = conn.one("SELECT seq, hash FROM events WHERE device = ? AND seq = ?", (dev, u - 1))
                ids = [r["id"] for r in conn.all("SELECT id FROM events WHERE device = ? AND seq < ?", (dev, u))]
                if not ids:
                    continue
                for i in range(0, len(ids), 500):
                    part = ids[i:i + 500]
                    marks = ", ".join("?" * len(part))
                    conn.execute(f"DELETE FROM event_rules WHERE event_id IN ({marks})", part)
                    conn.execute(f"DELETE FROM event_clauses WHERE event_id IN ({marks})", part)
                    conn.execute(f"DELETE FROM event_pairs WHERE event_id IN ({marks})", part)
                    conn.execute(f"DELETE FROM reviews WHERE event_id IN ({marks})", part)
                    conn.execute(f"DELETE FROM events WHERE id IN ({marks})", part)
                if last is not None:
                    conn.execute("DELETE FROM chain_anchors WHERE device = ?", (dev,))
                    conn.execute("INSERT INTO chain_anchors (device, seq, hash, purged_at) VALUES (?, ?, ?, ?)",
                                 (dev, int(last["seq"]), last["hash"], iso(now)))
                total += len(ids)
    if total:
        with conn.write():
            conn.execute("INSERT INTO audit (ts, actor, action, detail) VALUES (?, ?, ?, ?)",
                         (iso(None), "retention", "purge", f"{total} events older than {days} days"))
    return total


def _age_column(conn: Conn, device: str) -> str:
    """`received_at` for a chain the server ingested (its rows carry the receive time), else `ts`."""
    first = conn.one("SELECT received_at FROM events WHERE device = ? ORDER BY seq LIMIT 1", (device,))
    return "received_at" if first is not None and first["received_at"] is not None else "ts"
