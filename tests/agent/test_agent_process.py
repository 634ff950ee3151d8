"""`postguard agent run|status` as processes: start and clean-stop events on the server, a SIGKILL
noticed at the next start, one agent per state folder, and status that says what is wrong."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from agent_helpers import Running, enrol_one


def postguard(*argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "postguard", *argv], capture_output=True, text=True, timeout=60,
                          **kw)


def start_agent(state: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "postguard", "agent", "run", "--state", str(state), "--no-proxy",
                             "--no-backend", "--max-backoff", "2", *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "POSTGUARD_DB": ""})


async def until(cond: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := cond():
            return got
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


def kinds(server: Running, device: str) -> list[tuple[str | None, str | None]]:
    return [(r["kind"], r["error"]) for r in server.query(
        "SELECT kind, error FROM events WHERE device = ? ORDER BY seq", (device,))]


def test_status_and_run_need_an_enrolment(tmp_path: Path) -> None:
    for cmd in (["agent", "status"], ["agent", "run"]):
        r = postguard(*cmd, "--state", str(tmp_path / "none"))
        assert r.returncode == 2 and "not enrolled" in r.stderr and "postguard agent enroll" in r.stderr


async def test_start_kill_restart_and_clean_stop(server: Running, tmp_path: Path, http: aiohttp.ClientSession) -> None:
    e = await enrol_one(server, tmp_path / "agent", http)
    e.queue.close()
    p = start_agent(e.state.root)
    try:
        await until(lambda: kinds(server, e.id) == [("agent-start", None)])
        await until(lambda: (e.state.status_file.exists() and json.loads(e.state.status_file.read_text())
                             .get("heartbeat", {}).get("last_ok_at")))
        st = postguard("agent", "status", "--state", str(e.state.root), "--json")
        assert st.returncode == 0, st.stdout
        got = json.loads(st.stdout)
        assert got["running"] and got["ok"] and got["queue"]["depth"] == 0 and got["device_id"] == e.id
        again = postguard("agent", "run", "--state", str(e.state.root), "--no-proxy", "--no-backend")
        assert again.returncode == 2 and "another agent is running" in again.stderr
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    st = postguard("agent", "status", "--state", str(e.state.root))
    assert st.returncode == 1 and "NOT RUNNING" in st.stdout
    e.fill(3)  # written while the agent was down (by the proxy, say): they wait in the queue
    p = start_agent(e.state.root)
    try:
        await until(lambda: len(kinds(server, e.id)) == 5)
        p.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(p.communicate, timeout=30)  # the server answers meanwhile
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, out
    assert "every event is on the server" in out
    got = kinds(server, e.id)
    assert got[0] == ("agent-start", None) and got[1:4] == [(None, None)] * 3
    assert got[4] == ("agent-start", "the previous run ended without a clean stop (killed, crashed or powered off)")
    assert got[5] == ("agent-stop", None) and len(got) == 6
    assert json.loads(e.state.status_file.read_text())["running"] is False
    e.close()


async def test_a_server_that_is_away_leaves_events_queued(tmp_path: Path, http: aiohttp.ClientSession,
                                                          server: Running) -> None:
    e = await enrol_one(server, tmp_path / "agent", http)
    e.queue.close()
    device = json.loads(e.state.device_file.read_text())
    device["server"] = "http://127.0.0.1:9"  # nothing listens there
    e.state.device_file.write_text(json.dumps(device))
    p = start_agent(e.state.root)
    try:
        await until(lambda: (e.state.status_file.exists() and
                             (json.loads(e.state.status_file.read_text()).get("forwarder") or {}).get("error")))
        st = postguard("agent", "status", "--state", str(e.state.root), "--json")
        got = json.loads(st.stdout)
        assert st.returncode == 1 and got["queue"]["depth"] == 1  # its own agent-start waits
        assert any("uploads failing: server unreachable: cannot connect" in a for a in got["alarms"])
        p.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(p.communicate, timeout=30)  # the server answers meanwhile
    finally:
        if p.poll() is None:
            p.kill()
    assert "2 event(s) wait in the queue for the next start" in out
    assert [r["kind"] for r in e.local("SELECT kind FROM events ORDER BY seq")] == ["agent-start", "agent-stop"]
    e.close()
