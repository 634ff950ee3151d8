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
from store.incidents import LEVELS, ensure, rank_of, signal, tag
from store.migrations import TAG_TOKENS

SORTS = ("severity", "newest")
FLAGGED = ("", "yes", "no")
MAX_BULK = 500
RARE = 2000  # events matching a filter, below which the incidents are found from those events
COUNT_CAP = 1000  # to-review incidents counted per severity (more read "1,000+")
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

    def event_filters(self) -> list[EventFilter]:
        """The filters on an incident's events: where each is indexed, and its tag."""
        out: list[EventFilter] = []
        if self.rule and self.clause:
            out.append(EventFilter("event_pairs", "y.rule = ? AND y.clause = ?", [self.rule, self.clause],
                                   tag("p", self.rule, self.clause)))
        elif self.rule or self.clause:
            table, col, kind = ("event_rules", "rule", "r") if self.rule else ("event_clauses", "clause", "c")
            out.append(EventFilter(table, f"y.{col} = ?", [self.rule or self.clause], tag(kind, self.rule or self.clause)))
        out += [EventFilter("events", f"y.{col} = ?", [val], tag(kind, val))
                for col, kind, val in (("action", "a", self.action), ("site", "s", self.site), ("staff", "u", self.staff))
                if val]
        return out

    def where(self, time_zone: str = "UTC", pg: bool = False) -> tuple[str, list[Any]]:
        """(condition on incidents `i`, parameters); dates are days in `time_zone` (the
        district's, whose times the console shows). An event filter is checked on the incident's
        `tags` (a token per value its events have, store.incidents.tag)."""
        self.validate()
        conds: list[str] = []
        params: list[Any] = []
        find = "strpos" if pg else "instr"
        for ef in self.event_filters():
            conds.append(f"{find}(i.tags, ?) > 0")
            params.append(f" {ef.tag} ")
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
        if self.findings:  # an incident has findings exactly when it has a severity (rank 1 to 4)
            conds.append("i.severity_rank > 0" if self.findings == "yes" else "i.severity_rank = 0")
        return " AND ".join(conds) or "1=1", params


@dataclass(frozen=True)
class EventFilter:
    """A filter on an incident's events: the table whose index holds the value (as `y`), the
    condition on it, its parameters, and the incident tag that says one of its events has it."""

    table: str
    cond: str
    params: list[Any]
    tag: str


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
    with `cursor_of` cursors, each with its lead event's stored (redacted) content: (rows, more).

    A page is read in the order of an index (migration 11) and stops after `limit` + 1 rows; the
    filters on the incident's own columns are checked in that index, an event filter on its row
    (`tags`). An event filter matching fewer than RARE events instead names the incidents to
    look at (found in its index), which are then sorted: a rare value never walks the queue; on
    PostgreSQL neither does a combination of common values that fewer than RARE incidents have."""
    where, params = f.where(time_zone, conn.pg)
    few = _few(conn, f)
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
    sort_by = key
    if few is not None:
        if few == _NONE:
            return [], False
        where += f" AND {few[0]}"
        params += few[1]
        # sorted, not walked: no index gives this order (+ 0 and || '' hide the columns from the planner)
        sort_by = ["i.severity_rank + 0", "i.last_ts", "i.id"] if sort == "severity" else ["i.last_ts || ''", "i.id"]
    by = ", ".join(f"{k} {order}" for k in sort_by)
    outer = ", ".join(f"q.{k.split('.')[1]} {order}" for k in key)
    # the page first, then its lead events' content (51 lookups, not one per incident looked at)
    rows = _all(conn, f"SELECT q.*, e.content, e.content_mode FROM (SELECT {_COLS} FROM incidents i WHERE {where} "
                      f"ORDER BY {by} LIMIT {int(limit) + 1}) q LEFT JOIN events e ON e.uid = q.lead_event "
                      f"ORDER BY {outer}", params)
    more = len(rows) > limit
    rows = rows[:limit]
    if order == "ASC":
        rows.reverse()
    for r in rows:
        r["cursor"] = cursor_of(r, sort)
    return rows, more


_NONE: tuple[str, list[Any]] = ("1=0", [])


def _few(conn: Conn, f: QueueFilters) -> tuple[str, list[Any]] | None:
    """When an event filter matches fewer than RARE events (counted in its index, stopping at
    RARE): the condition on `i` naming those events' incidents (of several such filters, the
    incidents all of them name), with its parameters; _NONE when one matches no event at all.
    On PostgreSQL the incidents are looked up first and named by id, so that the plan cannot
    depend on an estimate of how many there are; there, two or more filters that each match many
    events name the incidents that have all their tags when fewer than RARE do (`_together`).
    None when every event filter matches many (and, on PostgreSQL, together RARE or more incidents)."""
    conds: list[str] = []
    params: list[Any] = []
    ids: set[str] | None = None
    common: list[EventFilter] = []
    for ef in f.event_filters():
        n = int(_all(conn, f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM {ef.table} y WHERE {ef.cond} LIMIT {RARE}) t",
                     ef.params)[0]["n"] or 0)
        if n >= RARE:
            common.append(ef)
            continue
        if n == 0:
            return _NONE
        sql = (f"SELECT y.incident FROM events y WHERE {ef.cond} AND y.incident IS NOT NULL"
               if ef.table == "events" else
               f"SELECT x.incident FROM {ef.table} y JOIN events x ON x.id = y.event_id "
               f"WHERE {ef.cond} AND x.incident IS NOT NULL")
        if not conn.pg:
            conds.append(f"i.id IN ({sql})")
            params += ef.params
            continue
        got = {str(r["incident"]) for r in _all(conn, sql, ef.params)}
        ids = got if ids is None else ids & got
        if not ids:
            return _NONE
    if ids is None and len(common) > 1 and conn.pg:
        ids = _together(conn, common)
        if ids is not None and not ids:
            return _NONE
    if ids is not None:
        conds.append(f"i.id IN ({', '.join('?' * len(ids))})")
        params += sorted(ids)
    return (" AND ".join(conds), params) if conds else None


def _together(conn: Conn, efs: list[EventFilter]) -> set[str] | None:
    """PostgreSQL, event filters that each match many events: the incidents having all their tags
    when fewer than RARE do (counted in migration 12's GIN index on the tag tokens, stopping at
    RARE), so that a combination few or no incidents have is sorted, not found by reading the
    queue to its end; None when RARE or more do (the queue's order finds a page of them sooner)."""
    has = f"{TAG_TOKENS} @> ARRAY[{', '.join('?' * len(efs))}]::text[]"  # the index's expression, as written there
    tags = [ef.tag for ef in efs]
    n = int(_all(conn, f"SELECT COUNT(*) AS n FROM (SELECT 1 FROM incidents WHERE {has} LIMIT {RARE}) t",
                 tags)[0]["n"] or 0)
    if n >= RARE:
        return None
    return {str(r["id"]) for r in _all(conn, f"SELECT id FROM incidents WHERE {has}", tags)} if n else set()


def _all(conn: Conn, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """`conn.all`, planned for these values every time: on PostgreSQL not as a prepared statement
    (psycopg prepares a query it has run 5 times, and the server then keeps one generic plan for
    any value: a plan for "the average site" walks the whole table for a site that has no events)."""
    if not conn.pg:
        return conn.all(sql, params)
    cur = conn.raw.execute(conn.adapt_placeholders(sql), tuple(params), prepare=False)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


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
        if n and status == "escalated":  # the alert sender looks now (store.incidents.signal)
            signal(conn, "reviews", int(conn.scalar("SELECT MAX(id) FROM reviews") or 0))
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


def queue_counts(conn: Conn, since: str = "", cap: int = COUNT_CAP) -> dict[str, Any]:
    """Incidents with findings nobody has reviewed, per severity (and "total"), since a time;
    each severity counted up to `cap` in the queue's index ("capped" names those that reached
    it: the page says "1,000+"), so a long queue is never counted row by row."""
    out: dict[str, Any] = {lv: 0 for lv in reversed(LEVELS)}
    capped = []
    for lv in reversed(LEVELS):
        n = int(_all(conn, "SELECT COUNT(*) AS n FROM (SELECT 1 FROM incidents WHERE severity_rank = ? AND last_ts >= ? "
                           f"AND review_status = 'open' LIMIT {int(cap)}) t", [rank_of(lv), since])[0]["n"] or 0)
        out[lv] = n
        if n >= cap:
            capped.append(lv)
    out["total"] = sum(out[lv] for lv in LEVELS)
    out["capped"] = capped
    return out


def _checked_ids(ids: list[str]) -> list[str]:
    if not ids or len(ids) > MAX_BULK:
        raise ValueError(f"choose 1 to {MAX_BULK} incidents")
    bad = [i for i in ids if not re.fullmatch(r"[0-9a-f]{32}", i)]
    if bad:
        raise ValueError("incident: not an incident id")
    return list(dict.fromkeys(ids))
