"""The review queue's event filters (store.queue) when two of them each match many events: on
PostgreSQL the incidents having both are counted in migration 12's GIN index on the tag tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from checker import load_policy
from checker.categories import severity_table
from store import Event, incidents, queue
from store.db import Conn, migrate
from store.event import new_uid, to_row
from store.migrations import TAG_TOKENS
from store.writer import insert_events

T0 = time.time() - 40 * 86400
THREAT = {"rule": "conduct", "clause": "P9", "category": "threat"}
DISCLAIMER = {"rule": "missing-disclaimer", "clause": "P2", "category": "speaking-for"}
NEVER = {"site": "www.instagram.com", "action": "cancelled"}  # each common, never together


def _events(conn: Conn, specs: Sequence[tuple[str, str, Sequence[dict[str, str]]]], start: float) -> list[str]:
    """Insert one event per (site, action, findings), each an incident of its own (a device
    each), a minute apart from `start`; their uids."""
    rows = []
    for i, (site, action, findings) in enumerate(specs):
        ev = Event(source="proxy", action=action, site=site, text=f"fictional post {i}", findings=list(findings),
                   time=start + i * 60)
        row = to_row(ev, mode="full", redact=None, device=f"pc-{start:.0f}-{i}", employee="staff001")
        row["uid"] = new_uid(ev.time)
        rows.append(row)
    for k in range(0, len(rows), 500):
        insert_events(conn, rows[k:k + 500])
    return [r["uid"] for r in rows]


@pytest.fixture
def pg_queue(pg_url: str) -> Iterator[Conn]:
    """A PostgreSQL log whose queue has RARE + 100 Instagram incidents (no cancellation among
    them) and as many cancelled posts on x.com: site and action each match many events."""
    conn = Conn(pg_url)
    try:
        migrate(conn)
        incidents.configure(conn, 600, severity_table(load_policy(checks=False)))
        n = queue.RARE + 100
        _events(conn, [("www.instagram.com", ("passed", "warned", "blocked")[i % 3], [THREAT] if i % 2 else [])
                       for i in range(n)] + [("x.com", "cancelled", [] if i % 2 else [DISCLAIMER]) for i in range(n)],
                T0)
        for table in ("events", "incidents"):
            conn.execute(f"ANALYZE {table}")
        yield conn
    finally:
        conn.close()


def _walked(monkeypatch: pytest.MonkeyPatch, conn: Conn, f: queue.QueueFilters) -> list[str]:
    """The page's ids as the queue's ordered walk finds them (no count in the tag index)."""
    with monkeypatch.context() as m:
        m.setattr(queue, "_together", lambda conn, efs: None)
        return [r["id"] for r in queue.list_incidents(conn, f)[0]]


def test_two_common_filters_no_incident_has_together_answer_at_once(pg_queue: Conn,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    conn = pg_queue
    f = queue.QueueFilters.from_mapping(NEVER)
    for one in ({"site": NEVER["site"]}, {"action": NEVER["action"]}):  # each alone is common
        assert queue._few(conn, queue.QueueFilters.from_mapping(one)) is None
    assert queue._few(conn, f) == queue._NONE
    assert queue.list_incidents(conn, f) == ([], False)
    assert _walked(monkeypatch, conn, f) == []
    # a dense combination still walks the queue in its order
    dense = queue.QueueFilters.from_mapping({"site": "x.com", "action": "cancelled"})
    assert queue._few(conn, dense) is None
    rows, more = queue.list_incidents(conn, dense)
    assert len(rows) == 50 and more


def test_the_few_incidents_having_both_are_named_and_sorted(pg_queue: Conn, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = pg_queue
    both = _events(conn, [("www.instagram.com", "cancelled", [DISCLAIMER]), ("www.instagram.com", "cancelled", []),
                          ("www.instagram.com", "cancelled", [THREAT]), ("www.instagram.com", "cancelled", [DISCLAIMER])],
                   time.time() - 3600)
    low_old, clean, urgent, low_new = both
    for sort, want in (("severity", [urgent, low_new, low_old, clean]), ("newest", [low_new, urgent, clean, low_old])):
        f = queue.QueueFilters.from_mapping({**NEVER, "sort": sort})
        few = queue._few(conn, f)
        assert few is not None and few != queue._NONE and sorted(few[1]) == sorted(both)
        rows, more = queue.list_incidents(conn, f)
        assert [r["id"] for r in rows] == want and not more, sort
        assert _walked(monkeypatch, conn, f) == want  # what the walk finds, in the same order
        # the cursors page through them as they do the walked queue
        first, more = queue.list_incidents(conn, f, limit=2)
        assert [r["id"] for r in first] == want[:2] and more
        rest, more = queue.list_incidents(conn, f, limit=2, before=first[-1]["cursor"])
        assert [r["id"] for r in rest] == want[2:] and not more
        back, _ = queue.list_incidents(conn, f, limit=2, after=rest[0]["cursor"])
        assert [r["id"] for r in back] == want[:2]
        # with a filter on the incident's own columns too, and with a rare third event filter
        got = queue.list_incidents(conn, queue.QueueFilters.from_mapping({**NEVER, "severity": "low", "sort": sort}))
        assert [r["id"] for r in got[0]] == [low_new, low_old]
        got = queue.list_incidents(conn, queue.QueueFilters.from_mapping({**NEVER, "rule": "conduct", "sort": sort}))
        assert [r["id"] for r in got[0]] == [urgent]


def test_the_tag_index_exists_and_the_count_uses_it(pg_queue: Conn, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = pg_queue
    ix = conn.scalar("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_incidents_tags' AND schemaname = "
                     "current_schema()")
    assert ix is not None and "USING gin" in ix and "string_to_array(btrim(tags)" in ix
    assert conn.scalar("SELECT reloptions::text FROM pg_class WHERE relname = 'ix_incidents_tags' "
                       "AND relnamespace = current_schema()::regnamespace") == "{fastupdate=off}"
    ran: list[tuple[str, list[Any]]] = []
    real = queue._all

    def spy(conn: Conn, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        ran.append((sql, list(params)))
        return real(conn, sql, params)

    monkeypatch.setattr(queue, "_all", spy)
    queue.list_incidents(conn, queue.QueueFilters.from_mapping(NEVER))
    counts = [(sql, p) for sql, p in ran if TAG_TOKENS in sql]
    assert len(counts) == 1  # the count, which found none: nothing else to look up
    for sql, params in counts:
        plan = "\n".join(r[0] for r in conn.raw.execute("EXPLAIN " + conn.adapt_placeholders(sql), tuple(params),
                                                        prepare=False).fetchall())
        assert "ix_incidents_tags" in plan, plan


def test_sqlite_has_no_tag_index_and_the_same_answers(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "RARE", 3)  # site and action each "common" in a small log
    conn = Conn(str(tmp_path / "log.sqlite"))
    try:
        migrate(conn)
        incidents.configure(conn, 600, severity_table(load_policy(checks=False)))
        assert conn.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'ix_incidents_tags'") == 0
        _events(conn, [("www.instagram.com", "passed", [])] * 4 + [("x.com", "cancelled", [])] * 4, T0)
        f = queue.QueueFilters.from_mapping(NEVER)
        assert queue._few(conn, f) is None and queue.list_incidents(conn, f) == ([], False)
        (uid,) = _events(conn, [("www.instagram.com", "cancelled", [THREAT])], time.time() - 60)
        assert [r["id"] for r in queue.list_incidents(conn, f)[0]] == [uid]
    finally:
        conn.close()
