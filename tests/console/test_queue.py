"""The review queue: one row per incident (the proxy's and the extension's events of one post
together), severity from the policy, sorting and filtering by it, bulk review with one note,
assignment, district-time display with UTC exports; on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from console_helpers import NOW, PASSWORDS, csrf_of, login

from console import ConsoleConfig, create_app
from console.auth import add_user
from store import Event, Store, open_store

# One post on a sponsored page, fictional people: the extension warned, the employee posted anyway,
# the proxy saw the request go out (another host of the site, the page by its id).
THREAT = {"rule": "conduct", "clause": "D4", "reason": "threat", "score": 0.97, "action": "block",
          "category": "threat", "what": "a threat", "span": [0, 16]}
PRIVACY = {"rule": "student-privacy", "clause": "D7", "reason": "student name + health", "score": 0.9,
           "action": "warn", "category": "health", "what": "health information about a student", "span": [0, 13]}
DISCLAIMER = {"rule": "missing-disclaimer", "clause": "P2", "reason": "speaks for the district", "score": 0.7,
              "action": "warn", "category": "speaking-for"}
POST = "Tyler Quinlan has the flu again, poor kid"  # a name from the fictional roster
PAGE = "https://www.facebook.com/NonnewaugAthletics"
QUEUE = [
    dict(source="extension", action="warned", site="www.facebook.com", device="pc-5", employee="e.fictional",
         account="sponsored", target=PAGE, text=POST, findings=[PRIVACY], age=0.5),
    dict(source="extension", action="overridden", site="www.facebook.com", device="pc-5", employee="e.fictional",
         account="sponsored", target=PAGE, text=POST, findings=[PRIVACY], justification="his parent asked me to, fictional",
         age=0.5 - 60 / 86400),
    dict(source="proxy", action="passed", site="graph.facebook.com", device="pc-5", employee="e.fictional",
         account="sponsored", target="123456789012345", text=POST, findings=[], age=0.5 - 61 / 86400),
    dict(source="extension", action="warned", site="x.com", device="pc-6", employee="f.fictional", text="Region 14 says so",
         findings=[DISCLAIMER], age=0.4),
    dict(source="extension", action="edited", site="x.com", device="pc-6", employee="f.fictional", text="My view: yes",
         findings=[], age=0.4 - 30 / 86400),
    dict(source="proxy", action="blocked", site="x.com", device="pc-7", employee="g.fictional",
         text="I will hurt you, coach", findings=[THREAT], age=0.3),
    dict(source="proxy", action="passed", site="x.com", device="pc-8", employee="h.fictional",
         text="Go Chargers", findings=[], age=0.2),
]


def seed_queue(st: Store) -> list[str]:
    """Append QUEUE; return the uids, oldest first."""
    uids = []
    for e in QUEUE:
        e = dict(e)
        age = e.pop("age")
        uids.append(st.append(Event(time=NOW - age * 86400, policy_digest="abc123", **e)))
    assert st.flush()
    return uids


def incident_ids(html: str) -> list[str]:
    return re.findall(r'data-incident="([0-9a-f]{32})"', html)


def row_of(html: str, iid: str) -> str:
    at = html.index(f'data-incident="{iid}"')
    return html[html.rindex("<tr", 0, at):].split("</tr>", 1)[0]


@pytest.fixture
async def queued(make_client: Any, store: Store) -> tuple[Any, list[str]]:
    uids = seed_queue(store)
    c = await make_client()
    assert (await login(c, "rita")).status == 303
    return c, uids


async def test_one_row_per_incident_with_outcome_excerpt_finding_and_severity(queued: Any, store: Store) -> None:
    c, uids = queued
    html = await (await c.get("/events?sort=newest")).text()
    ids = incident_ids(html)
    assert uids[0] in ids and uids[1] not in ids and uids[2] not in ids  # three events, one incident
    assert uids[3] in ids and uids[4] not in ids
    row = row_of(html, uids[0])
    assert "posted anyway" in row and "his parent asked me to, fictional" in row
    assert "[STUDENT] has the flu again" in row and "Tyler" not in html and "Quinlan" not in html
    assert "student-privacy" in row and "health" in row and "D7" in row
    assert 'sev-urgent' in row and "e.fictional" in row and "pc-5" in row and "3 events" in row
    assert f'data-href="/events/{uids[1]}"' in row  # opens the latest event with the most urgent finding
    edited = row_of(html, uids[3])
    assert ">edited<" in edited and "sev-low" in edited and "missing-disclaimer" in edited


async def test_the_event_page_shows_the_incidents_timeline(queued: Any) -> None:
    c, uids = queued
    html = await (await c.get(f"/events/{uids[2]}")).text()  # the proxy's view
    timeline = html[html.index('id="timeline"'):html.index("</ol>", html.index('id="timeline"'))]
    assert [u for u in re.findall(r'href="/events/([0-9a-f]{32})"', timeline)] == uids[:3]
    assert timeline.count("<li") == 3 and "extension" in timeline and "proxy" in timeline
    assert 'id="severity">urgent' in html and "posted anyway" in html


async def test_sorted_by_severity_and_filtered_by_it(queued: Any) -> None:
    c, uids = queued
    html = await (await c.get("/events")).text()
    ids = incident_ids(html)
    threat, privacy, disclaimer, clean = uids[5], uids[0], uids[3], uids[6]
    assert ids.index(threat) < ids.index(disclaimer) and ids.index(privacy) < ids.index(disclaimer)
    assert ids.index(threat) < ids.index(privacy)  # both urgent: the newer first
    assert ids.index(disclaimer) < ids.index(clean)
    urgent = incident_ids(await (await c.get("/events?severity=urgent")).text())
    assert threat in urgent and privacy in urgent and disclaimer not in urgent
    assert (await c.get("/events?severity=critical")).status == 200
    assert "severity: one of" in await (await c.get("/events?severity=critical")).text()


@pytest.mark.parametrize("rare", [0, 10**9])  # every event filter led by the incidents, or by its events
async def test_event_filters_find_the_same_incidents_either_way(queued: Any, monkeypatch: pytest.MonkeyPatch,
                                                              rare: int) -> None:
    from store import queue

    monkeypatch.setattr(queue, "RARE", rare)
    c, uids = queued
    for q, want in (("rule=student-privacy", {uids[0]}), ("clause=D7", {uids[0]}),
                    ("rule=student-privacy&clause=D7", {uids[0]}), ("rule=student-privacy&clause=P9", set()),
                    ("action=overridden&site=graph.facebook.com", {uids[0]}), ("action=edited", {uids[3]}),
                    ("rule=conduct&site=x.com&action=blocked", {uids[5]}), ("site=facebook.com", set())):
        got = set(incident_ids(await (await c.get(f"/events?{q}")).text()))
        assert got & set(uids) == want, q


async def test_to_review_counts_incidents_with_findings_only(queued: Any, store: Store) -> None:
    c, uids = queued
    html = await (await c.get("/dashboard")).text()
    # the four seeded single-event incidents (three with findings) and the queue's four (three with findings)
    assert re.search(r'id="stat-to-review"[^>]*>6<', html)
    assert re.search(r'id="stat-urgent"[^>]*>4<', html)
    listed = incident_ids(await (await c.get("/events?status=open&findings=yes")).text())
    assert len(listed) == 6 and uids[6] not in listed


async def test_bulk_review_with_one_note_is_audit_trailed(queued: Any, store: Store) -> None:
    c, uids = queued
    html = await (await c.get("/events?severity=urgent")).text()
    token = csrf_of(html)
    chosen = [uids[0], uids[5]]
    form = [("csrf", token), ("op", "review"), ("status", "dismissed"), ("note", "discussed with HR, fictional"),
            ("back", "/events?severity=urgent"), *(("incident", i) for i in chosen)]
    r = await c.post("/incidents/bulk", data=form, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/events?severity=urgent&done=")
    html = await (await c.get(r.headers["Location"])).text()
    assert "2 marked dismissed" in html
    for iid in chosen:
        assert 's-dismissed">dismissed' in row_of(html, iid)
    got = store.read(lambda c: c.all("SELECT incident, reviewer, status, note FROM reviews ORDER BY id"))
    assert [(g["incident"], g["reviewer"], g["status"], g["note"]) for g in got] == [
        (i, "rita", "dismissed", "discussed with HR, fictional") for i in chosen]
    audit = store.read(lambda c: c.all("SELECT actor, event_uid, detail FROM audit WHERE action = 'review:dismissed'"))
    assert [(a["actor"], a["event_uid"]) for a in audit] == [("rita", i) for i in chosen]
    assert json.loads(audit[0]["detail"]) == {"note": "discussed with HR, fictional", "bulk": 2}
    # every event of the incident carries the status (exports and `postguard logs` see it)
    assert store.read(lambda c: c.all("SELECT DISTINCT review_status FROM events WHERE incident = ?",
                                      (uids[0],))) == [{"review_status": "dismissed"}]
    counts = await (await c.get("/dashboard")).text()
    assert re.search(r'id="stat-to-review"[^>]*>4<', counts)
    assert store.verify()[1] == []


@pytest.mark.parametrize(("form", "status"), [
    ([("op", "review"), ("status", "dismissed")], 400),                      # no incident chosen
    ([("op", "review"), ("status", "approved"), ("incident", "0" * 32)], 400),  # not a status
    ([("op", "review"), ("status", "reviewed"), ("incident", "../x")], 400),   # not an id
    ([("op", "delete"), ("incident", "0" * 32)], 400),
    ([("op", "assign"), ("assignee", "mallory"), ("incident", "0" * 32)], 400),  # not a console user
])
async def test_bad_bulk_forms_are_refused(queued: Any, store: Store, form: list[tuple[str, str]], status: int) -> None:
    c, _ = queued
    token = csrf_of(await (await c.get("/events")).text())
    r = await c.post("/incidents/bulk", data=[("csrf", token), *form], allow_redirects=False)
    assert r.status == status
    assert store.read(lambda c: c.scalar("SELECT COUNT(*) FROM reviews")) == 0
    r = await c.post("/incidents/bulk", data=form, allow_redirects=False)
    assert r.status == 403  # no CSRF token


async def test_assign_to_a_reviewer(queued: Any, store: Store) -> None:
    c, uids = queued
    page = await (await c.get(f"/events/{uids[5]}")).text()
    r = await c.post(f"/events/{uids[5]}/assign", data={"csrf": csrf_of(page), "assignee": "alice"},
                     allow_redirects=False)
    assert r.status == 303
    assert incident_ids(await (await c.get("/events?assignee=alice")).text()) == [uids[5]]
    assert 'id="assignee"' in (html := await (await c.get(f"/events/{uids[5]}")).text())
    assert "<option selected>alice</option>" in html
    (a,) = store.read(lambda c: c.all("SELECT actor, event_uid, detail FROM audit WHERE action = 'assign'"))
    assert (a["actor"], a["event_uid"], a["detail"]) == ("rita", uids[5], "alice")
    r = await c.post(f"/events/{uids[5]}/assign", data={"csrf": csrf_of(html), "assignee": "nobody-fictional"},
                     allow_redirects=False)
    assert r.status == 400


async def test_times_in_the_district_zone_and_utc_in_exports(queued: Any, policy: Any) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    assert policy.district.time_zone == "America/New_York"
    c, uids = queued
    html = await (await c.get("/events?sort=newest")).text()
    row = row_of(html, uids[6])
    m = re.search(r'<time datetime="([^"]+)" title="[^"]+">([^<]+)</time>', row)
    assert m
    utc = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert m.group(2) == utc.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert m.group(2).endswith((" EST", " EDT")) and "America/New_York" in html
    body = await (await c.get("/export.csv?site=x.com")).text()
    exported = list(csv.DictReader(io.StringIO(body)))
    assert exported and all(r["ts"].endswith("Z") for r in exported)
    # each event names its incident: the warning and the edit of one post share one
    assert [r["incident"] for r in exported if r["device"] == "pc-6"] == [uids[3], uids[3]]


async def test_date_filters_are_days_in_the_district_zone(queued: Any, store: Store) -> None:
    from datetime import UTC, datetime

    late = datetime(2026, 11, 20, 3, 0, tzinfo=UTC).timestamp()  # 22:00 on 19 November in New York
    uid = store.append(Event(source="extension", action="warned", site="x.com", device="pc-9", text="late, fictional",
                             findings=[DISCLAIMER], time=late))
    assert store.flush()
    c, _ = queued
    assert incident_ids(await (await c.get("/events?date_from=2026-11-19&date_to=2026-11-19")).text()) == [uid]
    assert incident_ids(await (await c.get("/events?date_from=2026-11-20&date_to=2026-11-20")).text()) == []
    html = await (await c.get("/events?date_from=2026-11-19&date_to=2026-11-19")).text()
    assert "2026-11-19 22:00:00 EST" in html


# -- the same queue on PostgreSQL -----------------------------------------------------------------
@pytest.fixture
async def pg_client(aiohttp_client: Any, pg_url: str, config: Any, policy: Any, tmp_path: Any) -> AsyncIterator[Any]:
    st = open_store(pg_url, config, spool=tmp_path / "spool.jsonl")
    try:
        add_user(st, "rita", "reviewer", PASSWORDS["rita"])
        c = await aiohttp_client(create_app(ConsoleConfig(db=pg_url, policy=policy, store=st)))
        c.st, c.uids = st, seed_queue(st)
        yield c
    finally:
        st.close()


async def test_the_queue_on_postgresql(pg_client: Any) -> None:
    c, uids = pg_client, pg_client.uids
    assert (await login(c, "rita")).status == 303
    html = await (await c.get("/events")).text()
    ids = incident_ids(html)
    assert ids == [uids[5], uids[0], uids[3], uids[6]]  # urgent (newer first), urgent, low, clean
    assert incident_ids(await (await c.get("/events?severity=low")).text()) == [uids[3]]
    token = csrf_of(html)
    r = await c.post("/incidents/bulk", data=[("csrf", token), ("op", "review"), ("status", "reviewed"),
                                              ("note", "ok, fictional"), ("incident", uids[0]), ("incident", uids[3])],
                     allow_redirects=False)
    assert r.status == 303
    assert incident_ids(await (await c.get("/events?status=open&findings=yes")).text()) == [uids[5]]
    timeline = await (await c.get(f"/events/{uids[0]}")).text()
    assert timeline.count('<li class="here"') + timeline[timeline.index('id="timeline"'):].count("<li>") >= 3
    assert c.st.verify()[1] == []
