"""Incidents: the events of one post (the extension's warning, the choice, the proxy's view of
the request) share one incident, assigned when they are written, by the device's own writer and
by the server's ingest alike; severity comes from the policy through `incidents.configure`."""

from __future__ import annotations

import time
from typing import Any

import pytest

from checker.categories import severity_of, severity_table
from checker.policy import SEVERITIES
from store import Event, open_store
from store import incidents as inc
from store.db import Conn, migrate
from store.event import GENESIS, chain_hash, iso, to_row
from store.ingest import ingest

T0 = time.time() - 3600
THREAT = {"rule": "conduct", "clause": "P9", "reason": "threat", "score": 0.95, "action": "warn",
          "category": "threat", "what": "a threat", "span": [0, 10]}
DISCLAIMER = {"rule": "missing-disclaimer", "clause": "P2", "reason": "speaks for the district", "score": 0.7,
              "action": "warn", "category": "speaking-for"}
PAGE_URL = "https://www.facebook.com/groups/NonnewaugBandParents"


def levels(policy: Any) -> dict[tuple[str, str], str]:
    """What the console passes: every (rule, category) and each rule's fallback (category "")."""
    table = severity_table(policy)
    assert table[("conduct", "")] == severity_of(policy, "conduct", None) == "urgent"
    return table


def post_events(when: float, text: str = "I will hurt you tomorrow") -> list[Event]:
    """One post as the two sources see it: warned and posted anyway in the extension, then the
    proxy's view of the request (another host of the site, the group by its id)."""
    return [
        Event(source="extension", action="warned", site="www.facebook.com", account="personal",
              target=PAGE_URL, text=text, findings=[THREAT], time=when),
        Event(source="extension", action="overridden", site="www.facebook.com", account="personal",
              target=PAGE_URL, text=text, findings=[THREAT], justification="quoting a film, fictional",
              time=when + 40),
        Event(source="proxy", action="passed", site="graph.facebook.com", account="personal",
              target="555000111222333", text=text, findings=[], time=when + 41),
    ]


def incident_rows(conn: Conn) -> list[dict[str, Any]]:
    return conn.all("SELECT * FROM incidents ORDER BY first_ts")


@pytest.fixture
def log(db_url: str, config: Any, policy: Any, tmp_path: Any) -> Any:
    st = open_store(db_url, config, device="pc-7", employee="a.teacher", spool=tmp_path / "spool.jsonl")
    st.write(lambda c: inc.configure(c, policy.settings.override_window_seconds, levels(policy)))
    yield st
    st.close()


def test_the_levels_are_the_checkers(policy: Any) -> None:
    assert tuple(reversed(inc.LEVELS)) == SEVERITIES


def test_one_post_seen_by_both_sources_is_one_incident(log: Any) -> None:
    uids = [log.append(e) for e in post_events(T0)]
    assert log.flush()
    (i,) = log.read(incident_rows)
    assert i["id"] == uids[0] and i["events"] == 3 and i["sources"] == "extension proxy"
    assert (i["outcome"], i["justification"]) == ("overridden", "quoting a film, fictional")
    assert (i["rule"], i["category"], i["clause"], i["severity"]) == ("conduct", "threat", "P9", "urgent")
    assert i["flagged"] == 1 and i["review_status"] == "open" and i["site_key"] == "facebook.com"
    assert i["lead_event"] == uids[1] and i["last_event"] == uids[2]
    assert log.read(lambda c: [r["incident"] for r in c.all("SELECT incident FROM events ORDER BY id")]) == [uids[0]] * 3
    assert log.verify()[1] == []  # the incident column is outside the chain


def test_a_gap_longer_than_the_override_window_starts_a_new_incident(log: Any, policy: Any) -> None:
    gap = policy.settings.override_window_seconds
    a = log.append(post_events(T0)[0])
    b = log.append(Event(source="extension", action="warned", site="www.facebook.com", account="personal",
                         target=PAGE_URL, text="I will hurt you", findings=[THREAT], time=T0 + gap + 5))
    assert log.flush()
    assert [i["id"] for i in log.read(incident_rows)] == [a, b]


def test_other_targets_of_one_source_and_other_sites_are_other_incidents(log: Any) -> None:
    e = post_events(T0)[0]
    a = log.append(e)
    b = log.append(Event(**{**e.__dict__, "target": "https://www.facebook.com/groups/AnotherGroup", "time": T0 + 5}))
    c = log.append(Event(**{**e.__dict__, "site": "x.com", "target": None, "time": T0 + 6}))
    d = log.append(Event(**{**e.__dict__, "account": "sponsored", "target": None, "time": T0 + 7}))
    assert log.flush()
    assert sorted(i["id"] for i in log.read(incident_rows)) == sorted([a, b, c, d])


def test_a_clean_post_is_an_incident_without_findings_and_an_edit_keeps_the_severity(log: Any) -> None:
    clean = log.append(Event(source="proxy", action="passed", site="x.com", text="Go Chargers", time=T0))
    warned = log.append(Event(source="extension", action="warned", site="www.facebook.com", text="Region 14 says",
                              findings=[DISCLAIMER], time=T0 + 1000))
    log.append(Event(source="extension", action="edited", site="www.facebook.com", text="My own view",
                     findings=[], time=T0 + 1030))
    assert log.flush()
    got = {i["id"]: i for i in log.read(incident_rows)}
    assert (got[clean]["flagged"], got[clean]["severity"], got[clean]["outcome"]) == (0, None, "passed")
    assert (got[warned]["severity"], got[warned]["outcome"], got[warned]["events"]) == ("low", "edited", 2)


def test_a_finding_after_a_review_reopens_the_incident(log: Any) -> None:
    first = post_events(T0)[0]
    iid = log.append(first)
    assert log.flush()
    log.write(lambda c: c.execute("UPDATE incidents SET review_status = 'reviewed' WHERE id = ?", (iid,)))
    log.append(Event(**{**first.__dict__, "action": "overridden", "time": T0 + 30}))
    assert log.flush()
    assert log.read(lambda c: c.scalar("SELECT review_status FROM incidents WHERE id = ?", (iid,))) == "open"


def test_configure_ranks_again_and_builds_incidents_for_older_events(log: Any, policy: Any) -> None:
    iid = log.append(post_events(T0)[0])
    assert log.flush()
    log.write(lambda c: c.execute("DELETE FROM incidents"))  # as after migration 7 on an old log
    lv = {**levels(policy), ("conduct", "threat"): "high"}
    assert log.write(lambda c: inc.configure(c, 600, lv)) is True
    (i,) = log.read(incident_rows)
    assert (i["id"], i["severity"], i["severity_rank"]) == (iid, "high", 3)
    assert log.write(lambda c: inc.configure(c, 600, lv)) is False  # nothing changed: no work
    with pytest.raises(ValueError, match="severity: one of"):
        log.write(lambda c: inc.configure(c, 600, {("conduct", "threat"): "critical"}))


@pytest.mark.parametrize(("host", "key"), [
    ("www.facebook.com", "facebook.com"), ("graph.facebook.com", "facebook.com"), ("api.twitter.com", "x.com"),
    ("x.com", "x.com"), ("www.bbc.co.uk", "bbc.co.uk"), ("localhost:8080", "localhost"), (None, ""),
])
def test_site_key(host: str | None, key: str) -> None:
    assert inc.site_key(host, {"twitter.com": "x.com"}) == key


def chained(events: list[tuple[Event, str]], device: str) -> list[dict[str, Any]]:
    """Rows as a device chains them, each (event, source): the agent's own have source "agent"."""
    rows, prev = [], GENESIS
    for seq, (ev, source) in enumerate(events, start=1):
        r = to_row(ev, mode="full", redact=None, device=device, employee="b.coach")
        r.update(uid=f"{int(ev.time * 1000):012x}{seq:020x}", seq=seq, prev_hash=prev, source=source)
        r["hash"] = prev = chain_hash(r)
        rows.append(r)
    return rows


def test_the_servers_ingest_assigns_the_same_incidents(db_url: str, policy: Any) -> None:
    """Rows a device chained itself, uploaded: the server's incidents match the device's; the
    agent's own events (another source) are incidents of their own."""
    starts = [Event(source="proxy", action="logged", kind="agent-start", time=T0 + 50 + i) for i in range(2)]
    rows = chained([*((e, e.source) for e in post_events(T0)), *((e, "agent") for e in starts)], "pc-9")
    conn = Conn(db_url)
    try:
        migrate(conn)
        inc.configure(conn, 600, levels(policy))
        with conn.write():
            conn.execute("INSERT INTO devices (id, public_key, hostname, enrolled_at, heartbeat_interval) "
                         "VALUES ('pc-9', 'k', 'pc-9.fictional.example', ?, 60)", (iso(T0),))
        res = ingest(conn, "pc-9", rows, time.time())
        assert res is not None and res.stored == 5, res.problems
        (i, *others) = incident_rows(conn)
        assert (i["id"], i["events"], i["outcome"], i["severity"], i["employee"]) == \
            (rows[0]["uid"], 3, "overridden", "urgent", "b.coach")
        assert [(o["id"], o["events"], o["flagged"]) for o in others] == [(a["uid"], 1, 0) for a in rows[3:]]
    finally:
        conn.close()


def test_an_incident_whose_first_event_was_purged_is_named_by_the_next(log: Any, policy: Any) -> None:
    uids = [log.append(e) for e in post_events(T0)]
    assert log.flush()
    log.write(lambda c: c.execute("DELETE FROM events WHERE uid = ?", (uids[0],)))  # as retention does
    assert log.read(incident_rows) == []  # the incident went with its first event
    assert log.write(lambda c: inc.configure(c, 600, levels(policy))) is True
    (i,) = log.read(incident_rows)
    assert (i["id"], i["events"], i["outcome"]) == (uids[1], 2, "overridden")


def test_two_posts_in_a_row_are_two_incidents(log: Any) -> None:
    """Within the window, on one page: once the extension has the choice for a post (or the
    proxy its answer), another text from that source is another post; its own repeat is not."""
    first = post_events(T0)  # warned, posted anyway, the proxy's pass
    uids = [log.append(e) for e in first]
    second = log.append(Event(**{**first[0].__dict__, "text": "Another post, fictional", "time": T0 + 120}))
    third = log.append(Event(source="proxy", action="passed", site="x.com", text="Go Chargers", time=T0 + 130))
    fourth = log.append(Event(source="proxy", action="passed", site="x.com", text="Go Chargers!!", time=T0 + 140))
    again = log.append(Event(source="proxy", action="passed", site="x.com", text="Go Chargers!!", time=T0 + 141))
    assert log.flush()
    got = {i["id"]: i["events"] for i in log.read(incident_rows)}
    assert got == {uids[0]: 3, second: 1, third: 1, fourth: 2} and again not in got


def test_an_incident_holds_at_most_max_events(log: Any) -> None:
    """Warnings one after another that never end in a choice (a script posting, say) do not
    grow one incident without bound."""
    for i in range(inc.MAX_EVENTS + 3):
        log.append(Event(source="proxy", action="warned", site="x.com", text=f"fictional post {i}",
                         findings=[THREAT], time=T0 + i))
    assert log.flush()
    assert [i["events"] for i in log.read(incident_rows)] == [inc.MAX_EVENTS, 3]


def test_a_log_from_before_migration_7_gets_one_incident_per_event(db_url: str, policy: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Upgrading: migration 7 names each old event's incident after it, keeps its review; the
    first configure builds and ranks the incidents."""
    from store import db as dbmod
    from store import queue
    from store.migrations import MIGRATIONS
    from store.writer import _EVENT_COLS

    monkeypatch.setattr(dbmod, "MIGRATIONS", [m for m in MIGRATIONS if m[0] <= 6])
    conn = Conn(db_url)
    try:
        assert migrate(conn) == 6
        old, prev = [], GENESIS
        for seq, ev in enumerate(post_events(T0)[:2], start=1):
            r = to_row(ev, mode="full", redact=None, device="old-pc", employee="c.fictional")
            r.update(uid=f"{int(ev.time * 1000):012x}{seq:020x}", seq=seq, prev_hash=prev)
            r["hash"] = prev = chain_hash(r)
            old.append(r)
        with conn.write():
            for r in old:
                conn.execute(f"INSERT INTO events ({', '.join(_EVENT_COLS)}) VALUES ({', '.join('?' * len(_EVENT_COLS))})",
                             [r[c] for c in _EVENT_COLS])
            eid = conn.scalar("SELECT id FROM events WHERE uid = ?", (old[0]["uid"],))
            conn.execute("INSERT INTO reviews (event_id, ts, reviewer, status, note) VALUES (?, ?, 'rita', 'reviewed', 'ok')",
                         (eid, iso(T0 + 100)))
            conn.execute("UPDATE events SET review_status = 'reviewed' WHERE id = ?", (eid,))
        monkeypatch.undo()
        assert migrate(conn) == max(m[0] for m in MIGRATIONS)
        assert inc.configure(conn, 600, levels(policy)) is True
        got = {i["id"]: i for i in incident_rows(conn)}
        assert set(got) == {r["uid"] for r in old}
        first = got[old[0]["uid"]]
        assert (first["review_status"], first["severity"], first["outcome"]) == ("reviewed", "urgent", "warned")
        assert got[old[1]["uid"]]["review_status"] == "open"
        detail = queue.get_incident(conn, old[0]["uid"])
        assert detail is not None and [(x["reviewer"], x["status"]) for x in detail["reviews"]] == [("rita", "reviewed")]
    finally:
        conn.close()


def test_an_incidents_tags_name_every_value_its_events_have(log: Any) -> None:
    iid = [log.append(ev) for ev in post_events(T0)][0]
    assert log.flush()
    tags = log.read(lambda c: c.scalar("SELECT tags FROM incidents WHERE id = ?", (iid,)))
    assert tags.startswith(" ") and tags.endswith(" ")
    for t in ("r:conduct", "c:P9", "p:conduct/P9", "s:www.facebook.com", "s:graph.facebook.com",
              "a:warned", "a:overridden", "a:passed"):
        assert f" {t} " in tags, t
    assert " a:blocked " not in tags and " r:missing-disclaimer " not in tags


def test_a_tag_never_holds_a_space_and_two_values_never_make_one() -> None:
    assert inc.tag("u", "a b") == "u:a~20;b" and " " not in inc.tag("c", "D4, P9\t")
    assert inc.tag("p", "a/b", "c") != inc.tag("p", "a", "b/c")
    assert inc.tag("u", "~20;") != inc.tag("u", " ")  # the escape character is escaped too
    with pytest.raises(ValueError, match="tag kind"):
        inc.tag("x", "conduct")


def test_configure_fills_the_tags_of_incidents_from_before_migration_11(log: Any, policy: Any) -> None:
    iid = log.append(post_events(T0)[0])
    assert log.flush()
    log.write(lambda c: c.execute("UPDATE incidents SET tags = NULL"))  # as migration 11 leaves them
    assert log.write(lambda c: inc.configure(c, policy.settings.override_window_seconds, levels(policy))) is True
    assert " r:conduct " in log.read(lambda c: c.scalar("SELECT tags FROM incidents WHERE id = ?", (iid,)))
    assert log.write(lambda c: inc.configure(c, policy.settings.override_window_seconds, levels(policy))) is False


def test_the_to_review_counts_stop_at_their_cap(log: Any) -> None:
    from store import queue

    for i in range(3):
        log.append(Event(source="proxy", action="blocked", site="x.com", text=f"threat {i}", findings=[THREAT],
                         time=T0 + i * 3600))
    log.append(Event(source="proxy", action="warned", site="x.com", text="Region 14", findings=[DISCLAIMER],
                     time=T0 + 4 * 3600))
    assert log.flush()
    got = log.read(lambda c: queue.queue_counts(c, iso(T0 - 1), cap=2))
    assert (got["urgent"], got["low"], got["total"], got["capped"]) == (2, 1, 3, ["urgent"])
    got = log.read(lambda c: queue.queue_counts(c, iso(T0 - 1)))
    assert (got["urgent"], got["total"], got["capped"]) == (3, 4, [])


def test_stale_planner_statistics_are_refreshed_on_postgresql(log: Any, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        assert log.read(inc.refresh_stats) == []  # SQLite: nothing to do
        return
    for i in range(1200):  # more than 1,000 rows changed since the (never) last ANALYZE
        log.append(Event(source="proxy", action="passed", site="x.com", text=f"post {i}", time=T0 + i))
    assert log.flush()
    done: list[str] = []
    for _ in range(50):  # the statistics views lag the commits by up to a second
        done = log.read(inc.refresh_stats)
        if "incidents" in done:
            break
        time.sleep(0.1)
    assert "incidents" in done and "events" in done
    assert log.read(lambda c: c.scalar("SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass")) > 1000
    assert "incidents" not in log.read(inc.refresh_stats)  # fresh now
