"""The alert outbox on a real database (SQLite and PostgreSQL): which rows an event makes, when
they are due, leases, retries and delivery marks."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alert_helpers import LOW, THREAT, posts

from server import alerts
from server.alerts_mail import digest_message, one_message
from server.alerts_policy import parse_alerts
from store.db import Conn, migrate
from store.event import iso

NOW = 1_800_000_001.0  # 1 s after a multiple of 60 and of 3600
ROUTES = {"console_base_url": "https://console.region14.example", "route": [
    {"name": "at-once", "categories": ["threat"], "email": ["safety@region14.example"]},
    {"name": "hourly", "email": ["safety@region14.example", "review@region14.example"], "mode": "digest",
     "every": "1h"},
]}


@pytest.fixture
def conn(db_url: str) -> Iterator[Conn]:
    c = Conn(db_url)
    migrate(c)
    yield c
    c.close()


def queue(conn: Conn, policy: Any, rows: list[dict[str, Any]], now: float = NOW, **kw: Any) -> list[dict[str, Any]]:
    with conn.write():
        alerts.enqueue(conn, parse_alerts(ROUTES, policy), policy, rows, now, **kw)
    return conn.all("SELECT event_uid, route, target, mode, next_try, payload FROM alert_outbox ORDER BY id")


def test_an_urgent_event_goes_at_once_even_on_a_digest_route(conn: Conn, policy: Any) -> None:
    (row,) = posts("pc-1-0a1b2c3d", ("warned", [THREAT]))
    got = queue(conn, policy, [row])
    # safety@ is named by both routes: one row, at once; review@ only by the digest route: at once too
    assert sorted((r["target"], r["route"], r["mode"], r["next_try"]) for r in got) == [
        ("review@region14.example", "hourly", "immediate", iso(NOW)),
        ("safety@region14.example", "at-once", "immediate", iso(NOW))]


def test_a_low_event_waits_for_the_end_of_its_window(conn: Conn, policy: Any) -> None:
    (row,) = posts("pc-1-0a1b2c3d", ("warned", [LOW]))
    got = queue(conn, policy, [row])
    assert {(r["target"], r["mode"], r["next_try"]) for r in got} == {
        ("safety@region14.example", "digest", iso(NOW - 1 + 3600)),
        ("review@region14.example", "digest", iso(NOW - 1 + 3600))}


def test_the_payload_holds_ids_only(conn: Conn, policy: Any) -> None:
    (row,) = posts("pc-1-0a1b2c3d", ("blocked", [THREAT, LOW]))
    payload = alerts.Alert.from_payload(queue(conn, policy, [row])[0]["payload"])
    assert payload == alerts.Alert(
        event=row["uid"], kind="blocked", severity="urgent", rules=["conduct", "missing-disclaimer"],
        clauses=["P2", "P9"], categories=["speaking-for", "threat"], device="pc-1-0a1b2c3d", time=row["ts"],
        link=f"https://console.region14.example/events/{row['uid']}", route=payload.route, incident=row["uid"])
    other = queue(conn, policy, [], base_url="https://elsewhere.region14.example")
    assert len(other) == 2  # nothing new


def test_an_event_queued_twice_is_one_alert(conn: Conn, policy: Any) -> None:
    (row,) = posts("pc-1-0a1b2c3d", ("warned", [THREAT]))
    queue(conn, policy, [row])
    assert len(queue(conn, policy, [row], now=NOW + 5)) == 2


def test_lease_retry_and_sent(conn: Conn, policy: Any) -> None:
    rows = posts("pc-1-0a1b2c3d", ("warned", [LOW]), ("warned", [LOW]))
    queue(conn, policy, rows)
    due = NOW - 1 + 3600
    assert alerts.claim(conn, due - 1, ("email",)) == []  # not yet
    first = alerts.claim(conn, due, ("email",))
    assert len(first) == 4 and alerts.claim(conn, due + 1, ("email",)) == []  # leased
    assert alerts.claim(conn, due, ("webhook",)) == []
    alerts.mark_failed(conn, first, due, "SMTP 127.0.0.1:25: ConnectionRefusedError", base=10, cap=60)
    tries = conn.all("SELECT DISTINCT next_try, attempts, last_error FROM alert_outbox")
    assert len(tries) == 1 and tries[0]["attempts"] == 1  # the batch retries together
    assert iso(due + 9) <= tries[0]["next_try"] <= iso(due + 11)
    again = alerts.claim(conn, due + 12, ("email",))
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in first)
    alerts.mark_sent(conn, [r["id"] for r in again], due + 12)
    assert alerts.claim(conn, due + 10_000, ("email",)) == []
    assert alerts.next_due(conn, ("email",)) is None
    assert alerts.purge_old(conn, NOW) == (0, 0)  # queued at NOW: kept until the retention passes
    (late,) = posts("pc-1-0a1b2c3d", ("warned", [THREAT]))
    queue(conn, policy, [late], now=NOW + 1)  # two more rows, never delivered
    assert alerts.purge_old(conn, NOW + 0.5) == (4, 0) and alerts.purge_old(conn, NOW + 2) == (0, 2)
    assert conn.all("SELECT id FROM alert_outbox") == []


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 30), (1, 60), (4, 480), (7, 3600), (60, 3600)])
def test_backoff(attempts: int, seconds: float) -> None:
    assert seconds * 0.9 <= alerts.backoff(attempts, 30, 3600) <= seconds * 1.1


def stored(conn: Conn, r: dict[str, Any], received: str | None = None, incident: str | None = None) -> None:
    """The event row as the log holds it (with the incident store.incidents gave it)."""
    conn.execute("INSERT INTO events (uid, ts, device, seq, source, action, findings, content_mode, prev_hash, "
                 "hash, received_at, incident) VALUES (?, ?, ?, ?, ?, ?, ?, 'none', ?, ?, ?, ?)",
                 (r["uid"], r["ts"], r["device"], r["seq"], r["source"], r["action"], r["findings"], r["prev_hash"],
                  r["hash"], received, incident or r["uid"]))


def test_one_alert_per_incident_kind_and_recipient(conn: Conn, policy: Any) -> None:
    # the extension's warning and the proxy's view of one post, then the employee posts anyway
    ext, proxy, anyway = posts("pc-1-0a1b2c3d", ("warned", [THREAT]), ("warned", [THREAT]), ("overridden", [THREAT]))
    for r in (ext, proxy, anyway):
        stored(conn, r, received=iso(NOW), incident=ext["uid"])
    queue(conn, policy, [ext])
    got = queue(conn, policy, [proxy, anyway], now=NOW + 2)
    assert sorted((g["event_uid"] == ext["uid"], g["target"]) for g in got) == [
        (False, "review@region14.example"), (False, "safety@region14.example"),
        (True, "review@region14.example"), (True, "safety@region14.example")]
    assert {json.loads(g["payload"])["kind"] for g in got if g["event_uid"] != ext["uid"]} == {"overridden"}
    assert {json.loads(g["payload"])["link"] for g in got} == {f"https://console.region14.example/events/{ext['uid']}"}


def test_the_scan_reads_only_what_the_server_wrote_itself(conn: Conn, policy: Any) -> None:
    rows = posts("ext:lab:cb-1", ("blocked", [THREAT]), ("blocked", [THREAT]), ("logged", []), ("warned", [LOW]))
    for i, r in enumerate(rows):
        stored(conn, r, received=iso(NOW) if i == 1 else None)  # the second came through ingest: alerted there
    routes = parse_alerts(ROUTES, policy)
    start, top = alerts.scan_start(conn, "written", "2000-01-01T00:00:00.000000Z"), alerts.scan_top(conn, "written")
    assert top - start == 4
    assert alerts.scan_start(conn, "written", "2999-01-01T00:00:00.000000Z") == top  # nothing that recent
    cur = alerts.enqueue_scan(conn, routes, policy, "written", start, top, NOW, limit=1)
    assert cur == start + 1  # a full page: go on from there
    assert alerts.enqueue_scan(conn, routes, policy, "written", cur, top, NOW, limit=1) == start + 4
    assert alerts.enqueue_scan(conn, routes, policy, "written", start, top, NOW) == top  # again: nothing new
    got = conn.all("SELECT event_uid, target FROM alert_outbox ORDER BY id")
    assert {g["event_uid"] for g in got} == {rows[0]["uid"], rows[3]["uid"]} and len(got) == 4


NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(("now", "every", "tz", "due"), [
    ("2027-01-15T08:00:00", 86400, NEW_YORK, "2027-01-16T05:00:00"),  # local midnight, EST
    ("2027-07-15T08:00:00", 86400, NEW_YORK, "2027-07-16T04:00:00"),  # EDT
    ("2027-01-15T04:59:59", 86400, NEW_YORK, "2027-01-15T05:00:00"),
    ("2027-01-15T08:20:00", 3600, NEW_YORK, "2027-01-15T09:00:00"),   # on the hour
    ("2027-01-15T08:20:00", 86400, UTC, "2027-01-16T00:00:00"),
    ("2027-01-15T08:20:00", 1800, UTC, "2027-01-15T08:30:00"),
])
def test_digests_go_out_on_the_districts_clock(now: str, every: int, tz: Any, due: str) -> None:
    t = datetime.fromisoformat(now).replace(tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(alerts.next_digest(t, every, tz), UTC).isoformat()[:19] == due


def test_the_mail_gives_the_districts_time_and_utc() -> None:
    a = alerts.Alert(event="e1", kind="blocked", severity="urgent", rules=["conduct"], clauses=["P9"],
                     categories=["threat"], device="pc-1-0a1b2c3d", time="2027-01-15T08:14:05.123456Z",
                     link="https://c.region14.example/events/e1", route="threats")
    msg = one_message(a, "postguard@region14.example", "safety@region14.example", NEW_YORK)
    assert "time:        2027-01-15 03:14 EST (08:14:05 UTC)" in msg.get_content()
    assert (msg["Importance"], msg["X-Priority"]) == ("high", "1")  # urgent
    low = one_message(dataclasses.replace(a, severity="low"), "postguard@region14.example", "r@region14.example",
                      NEW_YORK)
    assert low["Importance"] is None and "[postguard] low: blocked - conduct (P9)" == low["Subject"]
    digest = digest_message([a], "postguard@region14.example", "safety@region14.example", NEW_YORK).get_content()
    assert "2027-01-15 03:14 EST (08:14:05 UTC)  urgent  blocked    conduct (P9)  device pc-1-0a1b2c3d" in digest
