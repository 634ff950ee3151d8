"""Heartbeats become device health; silent devices, components down, unexpected policies and a queue
near full are problems (`postguard devices problems`: exit 1, --json), and resolve when they clear."""

from __future__ import annotations

import time
from typing import Any

from server_helpers import cli, cli_json, old_iso

from server.app import _sweep
from store.event import iso


async def test_heartbeat_updates_health(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    clock = iso(time.time() - 30)
    ans = await d.heartbeat(policy_digest=server.cfg.policy.digest, last_seq=7, head_hash="a" * 64,
                            queue_depth=12, extension_seen=iso(None), clock=clock, agent_version="0.1.0")
    assert ans.status == 200 and ans.body["policy_digest"] == server.cfg.policy.digest
    rc, got = cli_json(capsys, "devices", "show", d.device, "--db", server.cfg.db)
    assert rc == 0
    assert (got["policy_status"], got["proxy_up"], got["backend_up"], got["queue_depth"], got["last_seq"]) == (
        "current", 1, 1, 12, 7)
    assert 25 < got["skew_seconds"] < 60 and got["heartbeat_at"] and got["agent_version"] == "0.1.0"
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 0 and got["problems"] == []


async def test_unhealthy_heartbeat_opens_problems_that_clear(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    await d.heartbeat(proxy_up=False, backend_up=False, policy_digest="0" * 16, queue_depth=190_000,
                      queue_limit=200_000)
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 1
    assert sorted(p["kind"] for p in got["problems"]) == ["backend-down", "policy", "proxy-down", "queue-near-full"]
    rc, out, _ = cli(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 1 and "proxy-down" in out and "190,000 of 200,000" in out
    rc, listed, _ = cli(capsys, "devices", "list", "--db", server.cfg.db)
    assert "unknown" in listed and "DOWN" in listed
    await d.heartbeat(proxy_up=False, policy_digest=server.cfg.policy.digest)  # the proxy is still down
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert [(p["kind"], p["times"]) for p in got["problems"]] == [("proxy-down", 2)]
    await d.heartbeat(policy_digest=server.cfg.policy.digest)
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 0 and got["problems"] == []
    events = server.query("SELECT error FROM events WHERE device = 'server' AND kind = 'device-problem'")
    assert len(events) == 4  # one event per problem when it opened, not per heartbeat


async def test_heartbeat_fields_are_type_checked(device: Any) -> None:
    d = await device()
    ans = await d.heartbeat(queue_depth="lots")
    assert ans.status == 400 and "queue_depth" in ans.body["error"]
    assert (await d.heartbeat(proxy_up=1)).status == 400


async def test_a_silent_device_is_reported(device: Any, server: Any, capsys: Any) -> None:
    quiet, chatty = await device("pc-quiet"), await device("pc-chatty")
    for d in (quiet, chatty):
        await d.heartbeat(policy_digest=server.cfg.policy.digest)
    c = server.conn()
    try:  # three intervals (60 s here) and a bit ago
        c.execute("UPDATE devices SET heartbeat_at = ? WHERE id = ?", (old_iso(200 / 86400), quiet.device))
    finally:
        c.close()
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)  # no server needed for this
    assert rc == 1 and [(p["device"], p["kind"]) for p in got["problems"]] == [(quiet.device, "silent")]
    assert "no heartbeat for 3 min" in got["problems"][0]["detail"]
    await _sweep(server.app)  # the server's periodic sweep records it, once
    await _sweep(server.app)
    recorded = server.query("SELECT kind, times FROM device_problems WHERE device = ?", (quiet.device,))
    assert recorded == [{"kind": "silent", "times": 2}]
    assert len(server.query("SELECT 1 FROM events WHERE device = 'server' AND error LIKE ?", ("silent:%",))) == 1
    await quiet.heartbeat(policy_digest=server.cfg.policy.digest)
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 0


async def test_a_device_that_never_sent_a_heartbeat_goes_silent(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    c = server.conn()
    try:
        c.execute("UPDATE devices SET enrolled_at = ? WHERE id = ?", (old_iso(1), d.device))
    finally:
        c.close()
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    assert rc == 1 and got["problems"][0]["kind"] == "silent"


async def test_problems_can_be_resolved_by_hand(device: Any, server: Any, capsys: Any) -> None:
    d = await device()
    await d.heartbeat(proxy_up=False, policy_digest=server.cfg.policy.digest)
    rc, got = cli_json(capsys, "devices", "problems", "--db", server.cfg.db)
    pid = got["problems"][0]["id"]
    rc, out, _ = cli(capsys, "devices", "resolve", str(pid), "--db", server.cfg.db)
    assert rc == 0
    rc, out, err = cli(capsys, "devices", "resolve", str(pid), "--db", server.cfg.db)
    assert rc == 2 and "no open problem" in err
    assert server.query("SELECT action FROM audit WHERE action = 'problem:resolve'")


def test_enroll_code_command(tmp_path: Any, capsys: Any) -> None:
    db = str(tmp_path / "s.sqlite")
    rc, got = cli_json(capsys, "devices", "enroll-code", "--count", "3", "--expires", "30m", "--db", db)
    assert rc == 0 and len(got["codes"]) == 3 and len(set(got["codes"])) == 3
    assert all(len(c) == 23 for c in got["codes"])
    rc, out, err = cli(capsys, "devices", "enroll-code", "--expires", "soon", "--db", db)
    assert rc == 2 and "--expires" in err
    rc, out, err = cli(capsys, "devices", "show", "pc-nope-00000000", "--db", db)
    assert rc == 2 and "no device" in err
    rc, out, _ = cli(capsys, "devices", "list", "--db", db)
    assert rc == 0 and "no devices enrolled" in out


async def test_the_health_check_says_how_the_log_is_kept(server: Any, http: Any, monkeypatch: Any) -> None:
    """/api/v1/health: 200 and log.state while events are durable (written or spooled); 503
    when the server holds them in memory only, so a monitor or load balancer notices."""
    from server.keys import STATE

    async with http.get(server.url + "/api/v1/health") as r:
        body = await r.json()
        assert r.status == 200 and body["ok"] is True and body["log"]["state"] == "writing"
    writer = server.app[STATE].store.writer
    monkeypatch.setattr(writer, "conn", None)  # as after the database went away
    monkeypatch.setattr(writer, "last_try", time.monotonic() + 3600)  # and no reconnect in this test
    async with http.get(server.url + "/api/v1/health") as r:
        assert r.status == 200 and (await r.json())["log"]["state"] == "spooling"
    monkeypatch.setattr(writer, "held", [{"uid": "u1"}])
    async with http.get(server.url + "/api/v1/health") as r:
        body = await r.json()
        assert r.status == 503 and body["ok"] is False and body["log"] == {"state": "holding", "spool_bytes": 0,
                                                                           "held": 1}
