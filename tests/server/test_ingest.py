"""Ingest: rows stored exactly once on device + seq; another device's chain refused; forks, gaps and
broken links recorded as device problems; the server's receive time and the device's skew kept."""

from __future__ import annotations

import time
from typing import Any

from server_helpers import chain, cli, cli_json, row

from store.chain import verify
from store.event import GENESIS


def events_of(server: Any, device: str) -> list[dict[str, Any]]:
    return server.query("SELECT seq, hash, received_at, skew_seconds FROM events WHERE device = ? ORDER BY seq",
                        (device,))


def verified(server: Any) -> tuple[int, list[Any]]:
    c = server.conn()
    try:
        return verify(c)
    finally:
        c.close()


async def test_rows_are_stored_once_and_verify_passes(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    rows = chain(d.device, 12)
    first = await d.send_events(rows[:8])
    assert first.body == {"committed_through": 8, "stored": 8, "duplicates": 0, "head": 8, "problems": []}
    again = await d.send_events(rows[:8])  # the answer was lost: the agent sends the same batch
    assert again.body["stored"] == 0 and again.body["duplicates"] == 8 and again.body["committed_through"] == 8
    overlap = await d.send_events(rows[5:])
    assert (overlap.body["stored"], overlap.body["duplicates"], overlap.body["committed_through"]) == (4, 3, 12)
    stored = events_of(server, d.device)
    assert [r["seq"] for r in stored] == list(range(1, 13))
    assert [r["hash"] for r in stored] == [r["hash"] for r in rows]  # the device's chain, not re-chained
    assert all(r["received_at"] for r in stored)
    n, problems = verified(server)
    assert problems == [] and n >= 12
    rc, out, _ = cli(capsys, "logs", "verify", "--db", server.cfg.db)
    assert rc == 0 and "every chain intact" in out


async def test_rows_of_another_devices_chain_are_refused(device: Any, server: Any) -> None:
    a, b = await device("pc-a"), await device("pc-b")
    assert (await b.send_events(chain(b.device, 2))).status == 200
    forged = chain(b.device, 2, start=3, prev=events_of(server, b.device)[-1]["hash"])
    ans = await a.send_events(forged)
    assert ans.status == 403 and ans.body["reason"] == "wrong-device"
    mixed = await a.send_events([*chain(a.device, 1), *forged])
    assert mixed.status == 403
    assert events_of(server, a.device) == [] and len(events_of(server, b.device)) == 2


async def test_a_fork_is_a_problem_and_not_stored(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    rows = chain(d.device, 4)
    await d.send_events(rows)
    other = row(d.device, 3, rows[1]["hash"], text="a different third post")
    ans = await d.send_events([rows[1], other])
    assert ans.status == 200 and ans.body["committed_through"] == 2 and ans.body["stored"] == 0
    assert [p["kind"] for p in ans.body["problems"]] == ["fork"]
    assert [r["hash"] for r in events_of(server, d.device)] == [r["hash"] for r in rows]
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 1 and [(p["device"], p["kind"], p["seq"]) for p in got["problems"]] == [(d.device, "fork", 3)]
    event = server.query("SELECT source, kind, target, error FROM events WHERE device = 'server'")
    assert event and event[0]["kind"] == "device-problem" and event[0]["target"] == d.device


async def test_a_gap_is_a_problem_until_the_missing_rows_arrive(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    rows = chain(d.device, 6)
    await d.send_events(rows[:2])
    ans = await d.send_events(rows[4:])
    assert ans.body["stored"] == 0 and ans.body["committed_through"] == 0
    assert [p["kind"] for p in ans.body["problems"]] == ["gap"]
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 1 and got["problems"][0]["kind"] == "gap"
    filled = await d.send_events(rows[2:])
    assert filled.body["stored"] == 4 and filled.body["committed_through"] == 6 and filled.body["problems"] == []
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 0 and got == {"ok": True, "problems": []}


async def test_broken_links_are_problems(device: Any, server: Any) -> None:
    d = await device()
    rows = chain(d.device, 3)
    await d.send_events(rows[:1])
    wrong_prev = row(d.device, 2, "f" * 64)
    ans = await d.send_events([wrong_prev])
    assert ans.body["stored"] == 0 and ans.body["problems"][0]["kind"] == "broken-link"
    edited = dict(rows[1], content="changed after hashing")
    ans = await d.send_events([edited])
    assert ans.body["stored"] == 0 and "hash is not" in ans.body["problems"][0]["detail"]
    assert len(events_of(server, d.device)) == 1
    assert (await d.send_events(rows[1:])).body["committed_through"] == 3
    assert server.query("SELECT times FROM device_problems WHERE device = ? AND kind = 'broken-link'",
                        (d.device,))[0]["times"] == 2


async def test_received_at_and_skew(device: Any, server: Any) -> None:
    d = await device()
    slow_clock = time.time() - 3600  # the device's clock is an hour behind
    rows = [row(d.device, 1, GENESIS, when=slow_clock)]
    await d.send_events(rows)
    (r,) = events_of(server, d.device)
    assert 3590 < r["skew_seconds"] < 3700
    assert r["received_at"] > rows[0]["ts"]


async def test_bad_rows_are_a_clear_400_and_nothing_is_stored(device: Any, server: Any) -> None:
    d = await device()
    good = chain(d.device, 2)
    for bad, words in (({**good[1], "seq": "2"}, "seq"), ({**good[1], "ts": "yesterday"}, "ts"),
                       ({k: v for k, v in good[1].items() if k != "hash"}, "missing hash"),
                       ({**good[1], "findings": "{not json"}, "findings")):
        ans = await d.send_events([good[0], bad])
        assert ans.status == 400 and words in ans.body["error"], ans
        assert "idiot" not in ans.body["error"] and "post number" not in ans.body["error"]
    assert (await d.signed("POST", "/api/v1/events", raw=b"not json")).status == 400
    assert (await d.send_events([good[0]] * 501)).status == 400
    assert events_of(server, d.device) == []
