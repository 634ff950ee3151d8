"""Alerts (docs/server.md, "Alerts"): a stored event that matches one of the policy's routes
(`alerts.toml`) becomes rows of the durable outbox (`alert_outbox`, migration 9), written in the
transaction that stores the event; `server.alerts_send` delivers them by e-mail and webhook.

An alert carries ids only: the kind of event, its severity, the rule, sub-category and clause ids,
the device id, the time, and the link to the incident in the console. Never the post, an excerpt,
a justification or a name: a mailbox or a ticketing system is not the place for student details.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from checker.categories import SEVERITIES, severity_of
from server.alerts_policy import AlertPolicy, Route
from store.db import Conn
from store.event import iso
from store.problems import seconds_of

if TYPE_CHECKING:
    from checker import Policy

LEASE_SECONDS = 300.0  # a claimed row is retried after this if the sender died while sending it
MAX_ERROR = 300


@dataclass(frozen=True)
class Alert:
    """What one alert says (its JSON is the outbox row's payload and the webhook's body)."""

    event: str           # the event's uid
    kind: str            # the event's action (blocked, warned, ...) or "escalated"
    severity: str | None  # the most urgent of its findings (checker.categories.SEVERITIES)
    rules: list[str]
    clauses: list[str]
    categories: list[str]
    device: str
    time: str            # when it happened (UTC, as logged)
    link: str            # the incident in the console
    route: str
    incident: str = ""   # the post's incident (store.incidents: its first event's uid)

    @classmethod
    def from_payload(cls, text: str) -> Alert:
        """The alert an outbox row holds."""
        return cls(**json.loads(text))


def _ranked(findings: list[dict[str, Any]], policy: Policy) -> list[tuple[str, str | None, str | None]]:
    out: list[tuple[str, str | None, str | None]] = []
    for f in findings:
        rule = f.get("rule")
        if isinstance(rule, str) and rule:
            cat = f.get("category") if isinstance(f.get("category"), str) else None
            out.append((rule, cat, severity_of(policy, rule, cat)))
    return out


def _most_urgent(levels: list[str | None]) -> str | None:
    known = [lv for lv in levels if lv in SEVERITIES]
    return min(known, key=SEVERITIES.index) if known else None


def next_digest(now: float, every: int, tz: tzinfo = UTC) -> float:
    """The digest boundary after `now`: multiples of `every` counted from midnight in the
    district's time zone (a "24h" digest goes out at local midnight, "1h" on the hour). Every alert
    of one window is due at the same time and goes out in one message."""
    offset = (datetime.fromtimestamp(now, tz).utcoffset() or timedelta()).total_seconds()
    return math.floor((now + offset) / every) * every + every - offset


def enqueue(conn: Conn, alerts: AlertPolicy, policy: Policy, rows: list[dict[str, Any]], now: float,
            kind: str | None = None, base_url: str = "") -> int:
    """Outbox rows for the stored `rows` that match a route (inside the caller's transaction); the
    number written. One alert per incident, kind and recipient: the extension's and the proxy's
    warnings of one post are one alert, its "overridden" another; a recipient that two routes
    name gets it once, at once if either route is immediate or the event is urgent."""
    if not alerts.routes:
        return 0
    tz, created, base = ZoneInfo(policy.district.time_zone), iso(now), base_url or alerts.console_base_url
    dues = {rt.every: next_digest(now, rt.every, tz) for rt in alerts.routes if rt.mode == "digest"}
    matched = []
    for r in rows:
        findings = json.loads(r.get("findings") or "[]")
        ranked, what = _ranked(findings, policy), kind or str(r["action"])
        routes = [rt for rt in alerts.routes if rt.matches(what, ranked)]
        if routes:
            matched.append((r, findings, ranked, what, routes))
    if not matched:
        return 0
    incident_of = _incidents(conn, [str(m[0]["uid"]) for m in matched])
    done = _alerted(conn, sorted(set(incident_of.values())))
    out: list[tuple[Any, ...]] = []
    stamps: dict[float, str] = {now: created}
    for r, findings, ranked, what, routes in matched:
        inc = incident_of.get(str(r["uid"]), str(r["uid"]))
        severity = _most_urgent([s for _, _, s in ranked])
        alert = {"event": r["uid"], "kind": what, "severity": severity, "rules": sorted({x for x, _, _ in ranked}),
                 "clauses": sorted({str(f["clause"]) for f in findings if isinstance(f.get("clause"), str)}),
                 "categories": sorted({c for _, c, _ in ranked if c}), "device": str(r["device"]),
                 "time": str(r["ts"]), "link": f"{base}/events/{inc}", "incident": inc}  # the fields of Alert
        for (channel, target), (route, due) in _recipients(routes, severity == "urgent", now, dues).items():
            if (inc, what, channel, target) in done:
                continue
            done.add((inc, what, channel, target))
            payload = json.dumps({**alert, "route": route.name}, separators=(",", ":"))
            if due not in stamps:
                stamps[due] = iso(due)
            out.append((created, r["uid"], what, route.name, channel, target,
                        "immediate" if due <= now else "digest", payload, stamps[due]))
    if out:
        conn.executemany(
            "INSERT INTO alert_outbox (created, event_uid, kind, route, channel, target, mode, payload, next_try) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_uid, kind, channel, target) DO NOTHING", out)
    return len(out)


def _incidents(conn: Conn, uids: list[str]) -> dict[str, str]:
    """Event uid -> its incident (events without one are their own)."""
    out: dict[str, str] = {}
    for i in range(0, len(uids), 500):
        part = uids[i:i + 500]
        for g in conn.all(f"SELECT uid, incident FROM events WHERE uid IN ({', '.join('?' * len(part))})", part):
            out[g["uid"]] = g["incident"] or g["uid"]
    return out


def _alerted(conn: Conn, incidents: list[str]) -> set[tuple[str, str, str, str]]:
    """(incident, kind, channel, target) already in the outbox for these incidents."""
    out: set[tuple[str, str, str, str]] = set()
    for i in range(0, len(incidents), 500):
        part = incidents[i:i + 500]
        for g in conn.all("SELECT e.incident, o.kind, o.channel, o.target FROM alert_outbox o JOIN events e "
                          f"ON e.uid = o.event_uid WHERE e.incident IN ({', '.join('?' * len(part))})", part):
            out.add((g["incident"], g["kind"], g["channel"], g["target"]))
    return out


def _recipients(routes: list[Route], urgent: bool, now: float,
                dues: dict[int, float]) -> dict[tuple[str, str], tuple[Route, float]]:
    """(channel, target) -> (the route that decides, when it is due): the earliest wins."""
    best: dict[tuple[str, str], tuple[Route, float]] = {}
    for rt in routes:
        due = now if rt.mode == "immediate" or urgent else dues[rt.every]
        for key in [("email", e) for e in rt.email] + [("webhook", u) for u in rt.webhook]:
            if key not in best or due < best[key][1]:
                best[key] = (rt, due)
    return best


# Alerts the sender finds by reading a table forward (id windows, see Alerter._scan): the events
# the server wrote itself (its own log writer, as the extension API does for browsers without an
# agent; ingested rows have received_at and are alerted in their upload's transaction), and the
# reviews a reviewer marked escalated (however the console recorded them).
SCANS: dict[str, tuple[str, str, str | None]] = {
    "written": ("events", "SELECT id AS cursor, uid, ts, device, action, findings FROM events "
                          "WHERE id > ? AND id <= ? AND received_at IS NULL AND findings <> '[]' "
                          "ORDER BY id LIMIT ?", None),
    "escalated": ("reviews", "SELECT r.id AS cursor, e.uid, e.ts, e.device, e.action, e.findings FROM reviews r "
                             "JOIN events e ON e.id = r.event_id WHERE r.id > ? AND r.id <= ? "
                             "AND r.status = 'escalated' ORDER BY r.id LIMIT ?", "escalated"),
}


def scan_start(conn: Conn, scan: str, since: str) -> int:
    """Where a starting server begins reading: just before the first row at or after `since`."""
    table = SCANS[scan][0]
    first = conn.scalar(f"SELECT MIN(id) FROM {table} WHERE ts >= ?", (since,))
    return int(first) - 1 if first is not None else scan_top(conn, scan)


def scan_top(conn: Conn, scan: str) -> int:
    """The newest row id of the scan's table."""
    return int(conn.scalar(f"SELECT COALESCE(MAX(id), 0) FROM {SCANS[scan][0]}") or 0)


def enqueue_scan(conn: Conn, alerts: AlertPolicy, policy: Policy, scan: str, after: int, upto: int, now: float,
                 base_url: str = "", limit: int = 500) -> int:
    """Alerts for the scan's rows with ids in (after, upto], at most `limit` (one transaction); the
    last id read, `upto` once the window is done. Reading a row again queues nothing twice (the
    outbox's key is event, kind, channel, target)."""
    _, sql, kind = SCANS[scan]
    with conn.write():
        got = conn.all(sql, (after, upto, limit))
        if got:
            enqueue(conn, alerts, policy, got, now, kind=kind, base_url=base_url)
    return int(got[-1]["cursor"]) if len(got) == limit else upto


def claim(conn: Conn, now: float, channels: tuple[str, ...], limit: int = 200) -> list[dict[str, Any]]:
    """Take the due rows of these channels (oldest first) and lease them for LEASE_SECONDS, so a
    second sender skips them and a sender that dies mid-send leaves them to be retried."""
    if not channels:
        return []
    marks = ", ".join("?" * len(channels))
    with conn.write():
        rows = conn.all(f"SELECT id, event_uid, kind, route, channel, target, mode, payload, attempts "
                        f"FROM alert_outbox WHERE sent_at IS NULL AND next_try <= ? AND channel IN ({marks}) "
                        f"ORDER BY next_try, id LIMIT ?" + (" FOR UPDATE SKIP LOCKED" if conn.pg else ""),
                        (iso(now), *channels, limit))
        if rows:
            conn.executemany("UPDATE alert_outbox SET next_try = ? WHERE id = ?",
                             [(iso(now + LEASE_SECONDS), r["id"]) for r in rows])
    return rows


def next_due(conn: Conn, channels: tuple[str, ...]) -> float | None:
    """When the next unsent row of these channels is due (unix time), or None."""
    if not channels:
        return None
    got = conn.scalar(f"SELECT MIN(next_try) FROM alert_outbox WHERE sent_at IS NULL "
                      f"AND channel IN ({', '.join('?' * len(channels))})", channels)
    return seconds_of(got) if got else None


def mark_sent(conn: Conn, ids: list[int], now: float) -> None:
    """Delivered: never sent again."""
    with conn.write():
        conn.executemany("UPDATE alert_outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL "
                         "WHERE id = ?", [(iso(now), i) for i in ids])


def mark_failed(conn: Conn, rows: list[dict[str, Any]], now: float, error: str, base: float, cap: float) -> None:
    """Not delivered: the batch is retried together after base * 2^attempts seconds (at most
    `cap`, +-10% so that many failed batches do not all come back at once). The error names the
    failure, never the alert."""
    retry = iso(now + backoff(max(int(r["attempts"]) for r in rows), base, cap))
    with conn.write():
        conn.executemany("UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_try = ? WHERE id = ?",
                         [(error[:MAX_ERROR], retry, r["id"]) for r in rows])


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before the next try after `attempts` failed ones."""
    return min(cap, base * 2 ** min(attempts, 30)) * random.uniform(0.9, 1.1)


def purge_old(conn: Conn, before: float) -> tuple[int, int]:
    """Forget alerts queued before `before` (the server passes the log's retention: an event still
    in the log keeps its outbox rows, so it is never alerted twice, and an alert whose event is
    gone would link to nothing); (sent, never delivered) counts."""
    cut = iso(before)
    with conn.write():
        lost = int(conn.scalar("SELECT COUNT(*) FROM alert_outbox WHERE sent_at IS NULL AND created < ?", (cut,)) or 0)
        n = int(conn.execute("DELETE FROM alert_outbox WHERE created < ?", (cut,)).rowcount or 0)
    return n - lost, lost
