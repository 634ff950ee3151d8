"""`postguard agent run` (a separate process) SIGKILLed while it uploads a full queue and the
proxy keeps writing to it: after a restart every event the device wrote is on the district
server exactly once, in order (seqs 1..N with no gap or repeat), and the server's
`postguard logs verify` passes."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_db_faults import verify

from checker import load_policy
from server import ServerConfig, create_app

_spec = importlib.util.spec_from_file_location("pg_faults_agent_helpers",
                                               Path(__file__).resolve().parents[1] / "agent" / "agent_helpers.py")
assert _spec is not None and _spec.loader is not None
helpers = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = helpers  # its dataclasses look their module up there
_spec.loader.exec_module(helpers)

QUEUED, MORE = 1200, 200


def start_agent(state: Path) -> subprocess.Popen[str]:
    out = open(state / f"agent-{time.monotonic_ns()}.out", "w")  # the process holds it open
    return subprocess.Popen([sys.executable, "-m", "postguard", "agent", "run", "--state", str(state), "--no-proxy",
                             "--no-backend", "--max-backoff", "1"], stdout=out, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "POSTGUARD_DB": "", "POSTGUARD_DEBUG": "1"})


async def until(cond: Any, seconds: float = 40) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := await asyncio.to_thread(cond):
            return got
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


@pytest.fixture
async def server(tmp_path: Path, aiohttp_server: Any) -> Any:
    cfg = ServerConfig(db=str(tmp_path / "server.sqlite"), policy=load_policy(None), signing_key=tmp_path / "k",
                       heartbeat_interval=60, sweep_seconds=3600, retention_hours=1000,
                       spool=tmp_path / "server-spool.jsonl")
    srv = await aiohttp_server(create_app(cfg))
    return helpers.Running(str(srv.make_url("")).rstrip("/"), srv.app, cfg)


async def test_agent_killed_mid_upload_delivers_every_event_once(server: Any, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        e = await helpers.enrol_one(server, tmp_path / "agent", http)
    e.queue.close()
    for _ in range(QUEUED // 300):
        await asyncio.to_thread(e.fill, 300)
    p = start_agent(e.state.root)
    try:
        got = await until(lambda: len(server.seqs(e.id)) > 0)  # uploading has begun
        more = asyncio.create_task(asyncio.to_thread(e.fill, MORE))  # the proxy keeps writing meanwhile
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        await more
    finally:
        if p.poll() is None:
            p.kill()
    partial = len(server.seqs(e.id))
    assert got and partial < QUEUED + MORE, "all uploaded before the kill: nothing was proved"
    p = start_agent(e.state.root)
    try:
        total = QUEUED + MORE + 2  # + the two agent-start events
        try:
            await until(lambda: len(server.seqs(e.id)) >= total, 60)
        except AssertionError:
            logs = "".join(f.read_text()[-3000:] for f in sorted(e.state.root.glob("agent-*.out")))
            raise AssertionError(f"{len(server.seqs(e.id))} of {total} on the server; agent said:\n{logs}") from None
        await until(lambda: not e.local("SELECT 1 FROM events LIMIT 1"), 30)  # deleted once committed
    finally:
        p.send_signal(signal.SIGTERM)
        await asyncio.to_thread(p.wait, 30)
    seqs = server.seqs(e.id)
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= total
    posts = server.query("SELECT COUNT(*) AS n, COUNT(DISTINCT uid) AS u FROM events WHERE device = ? AND "
                         "source = 'proxy'", (e.id,))[0]
    assert (posts["n"], posts["u"]) == (QUEUED + MORE, QUEUED + MORE)
    e.close()
    v = verify(server.cfg.db)
    assert v.returncode == 0, v.stdout + v.stderr
