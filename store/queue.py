"""The review queue: incidents filtered and sorted (by severity or time), one incident with its
timeline, review and assignment of several incidents at once (each recorded in the audit)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from store.db import Conn
from store.event import ACTIONS, REVIEW_STATUSES, iso
from store.filterform import FilterForm
from store.incidents import LEVELS, ensure, rank_of

SORTS = ("severity", "newest")
FLAGGED = ("", "yes", "no")
MAX_BULK = 500
RARE = 2000  # events matching a filter, below which the incidents are found from those events
_COLS = ", ".join(f"i.{c}" for c in (
    "id", "device", "site", "account", "target", "employee", "first_ts", "last_ts", "events", "sources", "actions",
    "outcome", "rules", "rule", "category", "clause", "severity", "severity_rank", "flagged", "justification",
    "lead_event", "last_event", "review_status", "assignee", "staff", "staff_source"))
_CURSOR = re.compile(r"^(?:([0-4])_)?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)_([0-9a-f]{32})$")


@dataclass
class QueueFilters(FilterForm):
    """What the console's incident list filters and sorts on (empty = any)."""

    date_from: str = ""   # YYYY-MM-DD, inclusive, on the incident's last event, in `time_zone`
    date_to: str = ""
    rule: str = ""
    clause: str = ""
    site: str = ""        # a host exactly as an event of the incident names it
    employee: str = ""
    device: str = ""
    action: str = ""      # an action one of its events had
    status: str = ""
    severity: str = ""
    assignee: str = ""
    findings: str = ""    # yes: with findings only, no: clean posts only
    staff: str = ""       # a staff member any of its events names
    sort: str = ""        # severity (most urgent first; the default) or newest

    def validate(self) -> None:
        """Raise ValueError for a value no incident could have."""
        self.check((("action", ACTIONS), ("status", REVIEW_STATUSES), ("severity", LEVELS), ("findings", FLAGGED),
                    ("sort", ("", *SORTS))))

    def event_filters(self) -> list[tuple[str, str, list[Any]]]:
        """The filters on an incident's events: (table, condition on it as `y`, parameters)."""
        out: list[tuple[str, str, list[Any]]] = []
        if self.rule and self.clause:
            out.append(("event_pairs", "y.rule = ? AND y.clause = ?", [self.rule, self.clause]))
        elif self.rule or self.clause:
            table, col = ("event_rules", "rule") if self.rule else ("event_clauses", "clause")
            out.append((table, f"y.{col} = ?", [self.rule or self.clause]))
        out += [("events", f"y.{col} = ?", [val]) for col, val in (("action", self.action), ("site", self.site),
                                                                        ("staff", self.staff)) if val]
        return out

    def where(self, time_zone: str = "UTC", rare: frozenset[str] = frozenset()) -> tuple[str, list[Any]]:
        """(condition on incidents `i`, parameters); dates are days in `time_zone` (the
        district's, whose times the console shows). An event filter whose condition is in
        `rare` matches few events: the incidents are found from them (an index range) instead of each
        incident in list order being probed, which is what suits a filter matching many."""
        self.validate()
        conds: list[str] = []
        params: list[Any] = []
        for table, cond, vals in self.event_filters():
            to_event = "" if table == "events" else " AND x.id = y.event_id"
            src = "events y" if table == "events" else f"{table} y, events x"
            if cond in rare:
                inc = "y.incident" if table == "events" else "x.incident"
                conds.append(f"i.id IN (SELECT {inc} FROM {src} WHERE {cond}{to_event})")
            elif table == "events":
                conds.append(f"EXISTS (SELECT 1 FROM events y WHERE y.incident = i.id AND {cond})")
            else:  # by the incident's events, then each one's row by primary key
                conds.append(f"EXISTS (SELECT 1 FROM events x WHERE x.incident = i.id AND EXISTS "
                             f"(SELECT 1 FROM {table} y WHERE y.event_id = x.id AND {cond}))")
            params += vals
        if self.date_from:
            conds.append("i.last_ts >= ?")
            params.append(_day_start(date.fromisoformat(self.date_from), time_zone))
        if self.date_to:
            conds.append("i.last_ts < ?")
            params.append(_day_start(date.fromisoformat(self.date_to) + timedelta(days=1), time_zone))
        for col, val in (("employee", self.employee), ("device", self.device), ("review_status", self.status),
                         ("assignee", self.assignee)):
            if val:
                conds.append(f"i.{col} = ?")
                params.append(val)
        if self.severity:
            conds.append("i.severity_rank = ?")
            params.append(rank_of(self.severity))
        if self.findings:
            conds.append("i.flagged = ?")
            params.append(1 if self.findings == "yes" else 0)
        return " AND ".join(conds) or "1=1", params


def _day_start(day: date, time_zone: str) -> str:
    """When a day begins in a time zone, as a stored UTC time."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo(time_zone))
    return iso(start.timestamp())


def cursor_of(row: dict[str, Any], sort: str) -> str:
    """A row's place in the list, for "older"/"newer" links."""
    head = f"{int(row['severity_rank'])}_" if sort != "newest" else ""
    return f"{head}{row['last_ts']}_{row['id']}"


def _parse_cursor(cur: str | None, sort: str) -> list[Any] | None:
    m = _CURSOR.match(cur or "")
    if not m or (m.group(1) is None) != (sort == "newest"):
        return None
    return ([int(m.group(1))] if m.group(1) else []) + [m.group(2), m.group(3)]


def list_incidents(conn: Conn, f: QueueFilters, *, limit: int = 50, before: str | None = None,
                   after: str | None = None, time_zone: str = "UTC") -> tuple[list[dict[str, Any]], bool]:
    """One page of incidents (most urgent, then newest first; or newest first), keyset-paginated
    with `cursor_of` cursors, each with its lead event's stored (redacted) content: (rows, more)."""
    where, params = f.where(time_zone, _rare(conn, f))
    sort = f.sort or "severity"
    key = ["i.severity_rank", "i.last_ts", "i.id"] if sort == "severity" else ["i.last_ts", "i.id"]
    b, a = _parse_cursor(before, sort), _parse_cursor(after, sort)
    tup = f"({', '.join(key)})"
    marks = f"({', '.join('?' * len(key))})"
    if b:
        where += f" AND {tup} < {marks}"
        params += b
    if a:
        where += f" AND {tup} > {marks}"
        params += a
    order = "ASC" if a and not b else "DESC"
    rows = conn.all(f"SELECT {_COLS}, e.content, e.content_mode FROM incidents i "
                    f"LEFT JOIN events e ON e.uid = i.lead_event WHERE {where} "
                    f"ORDER BY {', '.join(f'{k} {order}' for k in key)} LIMIT {int(limit) + 1}", params)
    more = len(rows) > limit
    rows = rows[:limit]
    if order == "ASC":
        rows.reverse()
    for r in rows:
        r["cursor"] = cursor_of(r, sort)
    return rows, more


def _rare(conn: Conn, f: QueueFilters) -> frozenset[str]:
    """The conditions of the event filters that match fewer than RARE events (counted in their
    index, stopping at RARE)."""
    out = set()
    for table, cond, vals in f.event_filters():
        n = conn.scalar(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} y WHERE {cond} LIMIT {RARE}) t", vals)
        if int(n or 0) < RARE:
            out.add(cond)
    return frozenset(out)


def incident_of(conn: Conn, uid: str) -> str | None:
    """The incident an event belongs to."""
    v = conn.scalar("SELECT incident FROM events WHERE uid = ?", (uid,))
    return str(v) if v else None


def get_incident(conn: Conn, iid: str) -> dict[str, Any] | None:
    """An incident with its timeline (every event, oldest first) and its reviews."""
    inc = conn.one(f"SELECT {_COLS} FROM incidents i WHERE i.id = ?", (iid,))
    if inc is None:
        return None
    inc["timeline"] = conn.all("SELECT uid, ts, source, action, site, target, account, rules, justification, "
                               "content_hash FROM events WHERE incident = ? ORDER BY ts, id", (iid,))
    inc["reviews"] = conn.all("SELECT ts, reviewer, status, note FROM reviews WHERE incident = ? ORDER BY id", (iid,))
    return inc


def review_incidents(conn: Conn, ids: list[str], reviewer: str, status: str, note: str) -> int:
    """Mark incidents reviewed / dismissed / escalated with one note, in one transaction: a
    review row and an audit entry each, the status on the incident and on its events (and their
    list copies). Returns how many incidents there were."""
    if status not in REVIEW_STATUSES[1:]:
        raise ValueError(f"status: one of {', '.join(REVIEW_STATUSES[1:])}")
    ids = _checked_ids(ids)
    now, n = iso(None), 0
    with conn.write():
        for iid in ids:
            first = conn.scalar("SELECT e.id FROM incidents i JOIN events e ON e.uid = i.id WHERE i.id = ?", (iid,))
            if first is None and ensure(conn, iid):  # an older event the log was never configured for
                first = conn.scalar("SELECT id FROM events WHERE uid = ?", (iid,))
            if first is None:
                continue
            conn.execute("INSERT INTO reviews (event_id, ts, reviewer, status, note, incident) VALUES (?, ?, ?, ?, ?, ?)",
                         (first, now, reviewer, status, note[:2000], iid))
            conn.execute("UPDATE incidents SET review_status = ? WHERE id = ?", (status, iid))
            conn.execute("UPDATE events SET review_status = ? WHERE incident = ?", (status, iid))
            for table in ("event_rules", "event_clauses", "event_pairs"):  # the event list indexes' copies
                conn.execute(f"UPDATE {table} SET review_status = ? WHERE event_id IN "
                             f"(SELECT id FROM events WHERE incident = ?)", (status, iid))
            detail = note[:200] if len(ids) == 1 else json.dumps({"note": note[:200], "bulk": len(ids)})
            conn.execute("INSERT INTO audit (ts, actor, action, event_uid, detail) VALUES (?, ?, ?, ?, ?)",
                         (now, reviewer, f"review:{status}", iid, detail or None))
            n += 1
    return n


def assign_incidents(conn: Conn, ids: list[str], assignee: str, actor: str) -> int:
    """Assign incidents to an enabled console user ("" = nobody), each recorded in the audit."""
    ids = _checked_ids(ids)
    with conn.write():
        if assignee and not conn.scalar("SELECT 1 FROM users WHERE name = ? AND disabled = 0", (assignee,)):
            raise ValueError("assignee: not an enabled console user")
        now, n = iso(None), 0
        for iid in ids:
            if conn.execute("UPDATE incidents SET assignee = ? WHERE id = ?", (assignee or None, iid)).rowcount:
                conn.execute("INSERT INTO audit (ts, actor, action, event_uid, detail) VALUES (?, ?, ?, ?, ?)",
                             (now, actor, "assign", iid, assignee or "(nobody)"))
                n += 1
    return n


def reviewers(conn: Conn) -> list[str]:
    """The console users incidents can be assigned to."""
    return [r["name"] for r in conn.all("SELECT name FROM users WHERE disabled = 0 ORDER BY name")]


def queue_counts(conn: Conn, since: str = "") -> dict[str, int]:
    """Incidents with findings nobody has reviewed, per severity (and "total"), since a time."""
    rows = conn.all("SELECT severity_rank, COUNT(*) AS n FROM incidents WHERE review_status = 'open' AND flagged = 1 "
                    "AND last_ts >= ? GROUP BY severity_rank", (since,))
    out = {lv: 0 for lv in reversed(LEVELS)}
    for r in rows:
        if int(r["severity_rank"]):
            out[LEVELS[int(r["severity_rank"]) - 1]] = int(r["n"])
    out["total"] = sum(out.values())
    return out


def _checked_ids(ids: list[str]) -> list[str]:
    if not ids or len(ids) > MAX_BULK:
        raise ValueError(f"choose 1 to {MAX_BULK} incidents")
    bad = [i for i in ids if not re.fullmatch(r"[0-9a-f]{32}", i)]
    if bad:
        raise ValueError("incident: not an incident id")
    return list(dict.fromkeys(ids))
