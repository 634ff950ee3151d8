"""The agent's own events (agent-start, agent-stop) name the computer's assigned staff member
(`agent enroll --user`, source enrolment), so the server's Devices page knows whom a computer is
assigned to from the agent's first start, before any post. `agent run` as a process against the
real server; names are fictional."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
from agent_helpers import Running, enrol_one

from server.device_staff import staff_of

USER = "m.okafor@region14.example"


async def test_agent_events_name_the_assigned_user_and_the_devices_page_shows_it(
        server: Running, tmp_path: Path, http: aiohttp.ClientSession) -> None:
    e = await enrol_one(server, tmp_path / "agent", http)
    e.queue.close()
    e.state.save_device(replace(e.device, user=USER))
    p = subprocess.Popen([sys.executable, "-m", "postguard", "agent", "run", "--state", str(e.state.root),
                          "--no-proxy", "--no-backend", "--max-backoff", "2"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env={**os.environ, "POSTGUARD_DB": ""})
    try:
        deadline = time.monotonic() + 30
        while not server.query("SELECT id FROM events WHERE device = ?", (e.id,)):
            assert time.monotonic() < deadline, "agent-start did not reach the server"
            await asyncio.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(p.communicate, timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, out
    rows = server.query("SELECT kind, staff, staff_source FROM events WHERE device = ? ORDER BY seq", (e.id,))
    assert [(r["kind"], r["staff"], r["staff_source"]) for r in rows] == [
        ("agent-start", USER, "enrolment"), ("agent-stop", USER, "enrolment")]
    c = server.conn()
    try:
        got = staff_of(c, e.id)
    finally:
        c.close()
    assert got["assigned"] is not None and got["assigned"]["staff"] == USER and got["signed_in"] is None
    verify = subprocess.run([sys.executable, "-m", "postguard", "logs", "verify", "--db", server.cfg.db],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr  # the staff fields are chained and verify
