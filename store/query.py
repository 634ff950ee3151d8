"""Reading the log: the filtered event list, one event, the dashboard figures, reviews."""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from store.db import Conn
from store.event import ACTIONS, GENESIS, REVIEW_STATUSES, chain_hash, iso
from store.filterform import FilterForm
from store.queue import incident_of, queue_counts, review_incidents

LIST_COLS = ", ".join(f"e.{c}" for c in (
    "id", "uid", "ts", "device", "employee", "source", "site", "account", "target", "kind", "action", "rules",
    "review_status", "content_mode", "staff", "staff_source"))


# A warning was shown to the employee in each of these; the override rate is overridden / these.
WARNING_SHOWN = ("warned", "overridden", "edited", "cancelled")


@dataclass
class Filters(FilterForm):
    """What the console and `postguard logs list` filter on (empty = any)."""

    date_from: str = ""   # YYYY-MM-DD, inclusive
    date_to: str = ""     # YYYY-MM-DD, inclusive
    rule: str = ""
    clause: str = ""
    site: str = ""
    employee: str = ""
    device: str = ""
    action: str = ""
    status: str = ""
    staff: str = ""       # the staff member (e-mail address or account name) exactly

    def validate(self) -> None:
        """Raise ValueError for a value no event could have."""
        self.check((("action", ACTIONS), ("status", REVIEW_STATUSES)))

    def sql_parts(self) -> tuple[str, str, list[Any], tuple[str, str]]:
        """(FROM clause, WHERE condition, parameters, (time column, id column) to order by).

        Each filter has an index that yields rows in (time, id) order, so a page stops after
        `limit` rows instead of sorting every match. Which index leads is chosen here, by how
        selective a filter is in any school district: an employee or a device (a few hundred
        to thousands of values) beats a rule+clause pair, which beats a rule or a clause; the
        others (action, site, review status, dates) are left to the database's planner."""
        self.validate()
        src = "events e"
        conds: list[str] = []
        params: list[Any] = []
        lead: list[Any] = []
        key = ("e.ts", "e.id")
        by_event = bool(self.employee or self.device or self.staff)
        probes = []  # rule/clause checks that do not lead: primary-key lookups per event
        if self.rule and self.clause:
            if by_event:
                probes.append(("event_pairs", "rule = ? AND x.clause = ?", [self.rule, self.clause]))
            else:
                src += " JOIN event_pairs p ON p.event_id = e.id AND p.rule = ? AND p.clause = ?"
                lead += [self.rule, self.clause]
                key = ("p.ts", "p.event_id")
        elif self.rule or self.clause:
            table, col, val = (("event_rules", "rule", self.rule) if self.rule
                               else ("event_clauses", "clause", self.clause))
            if by_event:
                probes.append((table, f"{col} = ?", [val]))
            else:
                src += f" JOIN {table} q ON q.event_id = e.id AND q.{col} = ?"
                lead.append(val)
                key = ("q.ts", "q.event_id")
        params += lead
        for table, cond, vals in probes:
            conds.append(f"EXISTS (SELECT 1 FROM {table} x WHERE x.event_id = e.id AND x.{cond})")
            params += vals
        if self.date_from:
            conds.append(f"{key[0]} >= ?")
            params.append(self.date_from)
        if self.date_to:
            conds.append(f"{key[0]} < ?")
            params.append((date.fromisoformat(self.date_to) + timedelta(days=1)).isoformat())
        # When a rule/clause table leads, its copies of site/action/status are filtered in its index.
        lead_alias = key[0].split(".")[0]
        for col, val in (("action", self.action), ("site", self.site), ("employee", self.employee),
                         ("device", self.device), ("review_status", self.status), ("staff", self.staff)):
            if val:
                alias = lead_alias if col in ("action", "site", "review_status") else "e"
                conds.append(f"{alias}.{col} = ?")
                params.append(val)
        return src, (" AND ".join(conds) or "1=1"), params, key


_CURSOR = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)_(\d{1,18})$")


def cursor_of(row: dict[str, Any]) -> str:
    """The position of an event in the list (time, then id), for "older"/"newer" links."""
    return f"{row['ts']}_{row['id']}"


def parse_cursor(cur: str | None) -> tuple[str, int] | None:
    """A cursor back into (ts, id); None when absent or malformed."""
    m = _CURSOR.match(cur or "")
    return (m.group(1), int(m.group(2))) if m else None


def list_events(conn: Conn, f: Filters, *, limit: int = 50, before: str | None = None,
                after: str | None = None) -> tuple[list[dict[str, Any]], bool]:
    """One page, newest first, keyset-paginated on (time, id) with cursors from `cursor_of`:
    (rows, whether more exist in that direction)."""
    src, where, params, (ts, eid) = f.sql_parts()
    b, a = parse_cursor(before), parse_cursor(after)
    if b:
        where += f" AND {ts} <= ? AND ({ts} < ? OR {eid} < ?)"
        params += [b[0], b[0], b[1]]
    if a:
        where += f" AND {ts} >= ? AND ({ts} > ? OR {eid} > ?)"
        params += [a[0], a[0], a[1]]
    order = "ASC" if a and not b else "DESC"
    rows = conn.all(f"SELECT {LIST_COLS} FROM {src} WHERE {where} ORDER BY {ts} {order}, {eid} {order} "
                    f"LIMIT {int(limit) + 1}", params)
    more = len(rows) > limit
    rows = rows[:limit]
    if order == "ASC":
        rows.reverse()
    for r in rows:
        r["cursor"] = cursor_of(r)
    return rows, more


def get_event(conn: Conn, uid: str) -> dict[str, Any] | None:
    """One event with its findings decoded, its reviews, its chain status and who viewed it."""
    r = conn.one("SELECT * FROM events WHERE uid = ?", (uid,))
    if r is None:
        return None
    r["findings"] = json.loads(r["findings"] or "[]")
    # reviews are of the event's incident (older ones, made per event, name the event)
    r["reviews"] = conn.all("SELECT ts, reviewer, status, note FROM reviews WHERE incident = ? OR "
                            "(incident IS NULL AND event_id = ?) ORDER BY id", (r["incident"] or uid, r["id"]))
    r["views"] = conn.all("SELECT ts, actor, action FROM audit WHERE event_uid = ? ORDER BY id DESC LIMIT 50",
                          (uid,))
    r["chain"] = chain_status(conn, r)
    return r


def chain_status(conn: Conn, r: dict[str, Any]) -> str:
    """`intact`, or what is wrong around this one event (a cheap local check)."""
    row = conn.one("SELECT * FROM events WHERE id = ?", (r["id"],))
    if row is None or chain_hash(row) != row["hash"]:
        return "edited: stored fields do not match the event's hash"
    prev = conn.one("SELECT hash FROM events WHERE device = ? AND seq = ?", (row["device"], int(row["seq"]) - 1))
    if prev is None:
        anchor = conn.one("SELECT seq, hash FROM chain_anchors WHERE device = ?", (row["device"],))
        start_hash = anchor["hash"] if anchor and int(anchor["seq"]) == int(row["seq"]) - 1 else None
        if int(row["seq"]) == 1:
            start_hash = GENESIS
        if start_hash != row["prev_hash"]:
            return "broken: the previous event is missing"
    elif prev["hash"] != row["prev_hash"]:
        return "broken: the previous event was changed"
    return "intact"


def review(conn: Conn, uid: str, reviewer: str, status: str, note: str) -> bool:
    """Record a review decision on the incident of this event (`store.queue.review_incidents`)."""
    if status not in REVIEW_STATUSES[1:]:
        raise ValueError(f"status: one of {', '.join(REVIEW_STATUSES[1:])}")
    iid = incident_of(conn, uid)
    return iid is not None and review_incidents(conn, [iid], reviewer, status, note) > 0


def dashboard(conn: Conn, days: int = 30, today: date | None = None, time_zone: str = "UTC") -> dict[str, Any]:
    """Figures for the dashboard over the last `days` days, each day from midnight to midnight in
    `time_zone` (the district's; a day of a clock change is 23 or 25 hours long). Events are
    counted per UTC hour in the database (per minute for a zone whose midnight is not on a UTC
    hour) and the hours summed into the district's days."""
    tz = ZoneInfo(time_zone)
    today = today or datetime.now(tz).date()
    day_list = [today - timedelta(days=days - 1 - i) for i in range(days)]
    bounds = [_midnight(d, tz) for d in [*day_list, today + timedelta(days=1)]]  # UTC, as stored
    width = 13 if all(b[14:16] == "00" for b in bounds) else 16  # "YYYY-MM-DDTHH" or "...:MM"
    pad = ":00:00.000000Z" if width == 13 else ":00.000000Z"

    def day_of(bucket: str) -> str | None:
        i = bisect_right(bounds, bucket + pad) - 1
        return day_list[i].isoformat() if 0 <= i < days else None

    start = bounds[0]
    per: dict[tuple[str, str], int] = {}
    top: dict[str, int] = {}
    for r in conn.all(f"SELECT substr(ts, 1, {width}) AS b, rule, COUNT(*) AS n FROM event_rules WHERE ts >= ? "
                      f"GROUP BY substr(ts, 1, {width}), rule", (start,)):  # event_rules carries the event's time
        top[r["rule"]] = top.get(r["rule"], 0) + int(r["n"])
        if day := day_of(r["b"]):
            per[(day, r["rule"])] = per.get((day, r["rule"]), 0) + int(r["n"])
    actions: dict[str, int] = {}
    status: dict[str, int] = {}
    daily: dict[str, list[int]] = {}
    for r in conn.all(f"SELECT substr(ts, 1, {width}) AS b, action, review_status, COUNT(*) AS n FROM events "
                      f"WHERE ts >= ? GROUP BY substr(ts, 1, {width}), action, review_status", (start,)):
        n = int(r["n"])
        actions[r["action"]] = actions.get(r["action"], 0) + n
        status[r["review_status"]] = status.get(r["review_status"], 0) + n
        if r["action"] in WARNING_SHOWN and (day := day_of(r["b"])):
            shown_overridden = daily.setdefault(day, [0, 0])
            shown_overridden[0] += n
            if r["action"] == "overridden":
                shown_overridden[1] += n
    warned = sum(actions.get(a, 0) for a in WARNING_SHOWN)
    return {
        "days": [d.isoformat() for d in day_list],
        "per_day": [{"day": d, "rule": rule, "n": n} for (d, rule), n in sorted(per.items())],
        "top_rules": [{"rule": rule, "n": n} for rule, n in sorted(top.items(), key=lambda x: (-x[1], x[0]))],
        "actions": actions,
        "status": status,
        "total": sum(actions.values()),
        "override_rate": (actions.get("overridden", 0) / warned) if warned else None,
        "override_per_day": [{"day": d, "shown": v[0], "overridden": v[1]} for d, v in sorted(daily.items())],
        "since": day_list[0].isoformat(),  # the first day, in the district's zone
        "time_zone": time_zone,
        "queue": queue_counts(conn, start),  # incidents with findings nobody has reviewed
    }


def _midnight(day: date, tz: ZoneInfo) -> str:
    """When a day begins in a time zone, as a stored UTC time (a midnight that a clock change
    skips: the day's first instant)."""
    return iso(datetime.combine(day, datetime.min.time(), tzinfo=tz).timestamp())
