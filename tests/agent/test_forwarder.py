"""The forwarder against the real server: uploads in seq order exactly as stored, deletes only what
the server committed (the chain continues from its head), survives a lost answer, keeps rows the
server will not take, and says so."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from agent_helpers import FULL, Enrolled, Running

from agent.events import AGENT_START, agent_event
from agent.forwarder import Forwarder, ForwarderConfig
from store import Event, open_store
from store.chain import verify
from store.db import Conn
from store.event import chain_hash
from store.forward import UPLOAD_COLS


async def drain(fw: Forwarder, steps: int = 50) -> None:
    """Step until the queue is empty (a failed step fails the test)."""
    for _ in range(steps):
        if not await fw.queue.pending(1, 1 << 20):
            return
        delay = await fw.step()
        assert fw.state.error is None, fw.state.error
        assert delay == 0.0
    raise AssertionError("the queue did not drain")


async def test_rows_go_up_in_order_exactly_once_and_leave_the_queue(any_enrolled: Enrolled, any_server: Running) -> None:
    e = any_enrolled
    uids = e.fill(1203)
    local = e.local(f"SELECT {', '.join(UPLOAD_COLS)} FROM events ORDER BY seq")
    fw = Forwarder(e.api, e.queue)
    await drain(fw)
    assert any_server.seqs(e.id) == list(range(1, 1204))  # three uploads: 500, 500, 203
    stored = any_server.query(f"SELECT {', '.join(UPLOAD_COLS)} FROM events WHERE device = ? ORDER BY seq", (e.id,))
    assert stored == local  # the rows exactly as the device chained them
    assert [r["uid"] for r in stored] == uids
    assert e.local("SELECT COUNT(*) AS n FROM events")[0]["n"] == 0
    assert e.local("SELECT seq, hash FROM chain_anchors") == [{"seq": 1203, "hash": local[-1]["hash"]}]
    assert e.local("SELECT seq, hash FROM chain_heads") == [{"seq": 1203, "hash": local[-1]["hash"]}]
    assert (fw.state.uploaded, fw.state.committed_through, fw.state.server_head) == (1203, 1203, 1203)

    e.fill(2, "after")  # the local chain continues from its head, so the server takes it
    await drain(fw)
    assert any_server.seqs(e.id)[-2:] == [1204, 1205]
    conn = any_server.conn()
    try:
        checked, problems = verify(conn)
    finally:
        conn.close()
    assert problems == [] and checked >= 1205
    c = Conn(str(e.state.queue))
    try:
        assert verify(c)[1] == []  # what is left locally verifies too (anchored, empty)
    finally:
        c.close()


async def test_a_lost_answer_means_duplicates_not_copies(enrolled: Enrolled, server: Running) -> None:
    e = enrolled
    e.fill(30)
    rows = await e.queue.pending(500, 1 << 22)
    first = await e.api.upload(rows[:20])  # stored, but the agent "died" before deleting anything
    assert first.body["committed_through"] == 20
    fw = Forwarder(e.api, e.queue)
    await drain(fw)
    assert server.seqs(e.id) == list(range(1, 31))
    assert (fw.state.duplicates, fw.state.uploaded) == (20, 10)


async def test_the_agents_own_events_are_chained_with_the_rest(enrolled: Enrolled, server: Running) -> None:
    e = enrolled
    await e.queue.append(agent_event(AGENT_START, e.id, "digest", "the previous run ended without a clean stop"))
    e.fill(2)
    await drain(Forwarder(e.api, e.queue))
    got = server.query("SELECT seq, source, kind, action, error FROM events WHERE device = ? ORDER BY seq", (e.id,))
    assert got[0] == {"seq": 1, "source": "agent", "kind": "agent-start", "action": "logged",
                      "error": "the previous run ended without a clean stop"}
    assert [g["seq"] for g in got] == [1, 2, 3]


async def test_a_fork_keeps_the_rows_and_raises_an_alarm(enrolled: Enrolled, server: Running,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    e = enrolled
    e.fill(3)
    rows = await e.queue.pending(500, 1 << 22)
    forged = dict(rows[2], content="another third post")
    forged["hash"] = chain_hash(forged)
    assert (await e.api.upload([*rows[:2], forged])).body["committed_through"] == 3  # the server now has a fork
    e.fill(2)
    fw = Forwarder(e.api, e.queue)
    with caplog.at_level(logging.ERROR, "postguard.agent"):
        delay = await fw.step()
    assert delay > 60  # a person has to act: retried slowly
    assert fw.state.committed_through == 2 and [p["kind"] for p in fw.state.problems] == ["fork"]
    assert "committed up to seq 2 of 5" in (fw.state.error or "")
    assert [r["seq"] for r in e.local("SELECT seq FROM events ORDER BY seq")] == [3, 4, 5]  # kept, never dropped
    assert any("fork at seq 3" in r.getMessage() for r in caplog.records)


async def test_rows_of_another_device_id_are_kept_and_not_sent(enrolled: Enrolled, server: Running) -> None:
    e = enrolled
    st = open_store(str(e.state.queue), FULL, device="pc-lab-1-oldid000", auto_purge=False)
    st.append(Event(source="proxy", action="logged", site="x.com", text="before enrolment"))
    assert st.flush()
    st.close()
    e.fill(1)
    await drain(Forwarder(e.api, e.queue))
    assert server.seqs(e.id) == [1]
    assert (await e.queue.stats()).foreign == 1
    assert e.local("SELECT device FROM events") == [{"device": "pc-lab-1-oldid000"}]


async def test_a_revoked_device_keeps_its_rows(enrolled: Enrolled, server: Running, capsys: Any) -> None:
    from postguard.cli import main

    e = enrolled
    e.fill(4)
    assert main(["devices", "revoke", e.id, "--db", server.cfg.db]) == 0
    fw = Forwarder(e.api, e.queue, ForwarderConfig(backoff_max=120))
    delay = await fw.step()
    assert fw.state.refused == "revoked" and 60 <= delay <= 120
    assert len(e.local("SELECT seq FROM events")) == 4 and server.seqs(e.id) == []


async def test_stopping_drains_what_it_can(enrolled: Enrolled, server: Running) -> None:
    e = enrolled
    e.fill(700)
    fw = Forwarder(e.api, e.queue)
    assert await fw.drain(30) is True
    assert server.seqs(e.id)[-1] == 700


async def test_a_clock_far_off_is_corrected_from_the_servers_date(enrolled: Enrolled, server: Running) -> None:
    e = enrolled
    e.api.clock_offset = -3600.0  # this computer's clock is an hour slow
    e.fill(1)
    await drain(Forwarder(e.api, e.queue))
    assert server.seqs(e.id) == [1]
    assert abs(e.api.clock_offset) < 5
