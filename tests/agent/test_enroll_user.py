"""`postguard agent enroll --user NAME`: the computer's assigned staff member, kept in the state,
passed to the proxy (postguard_staff) and the backend (--staff), and on the server's copy of every
event that names no one else (source enrolment), chained and verified there."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from agent_helpers import FULL, Running, enrol_one

from agent.forwarder import Forwarder
from agent.runner import RunOptions, children
from agent.state import StateDir
from store import Event, open_store
from store.chain import verify

USER = "r.fictional@ctreg14.org"  # fictional


def postguard(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "postguard", *argv], capture_output=True, text=True, timeout=60)


async def test_enroll_keeps_the_user_and_refuses_a_bad_one_before_spending_the_code(server: Running,
                                                                                  tmp_path: Path) -> None:
    code = server.codes()[0]
    state = tmp_path / "agent"
    bad = await asyncio.to_thread(postguard, "agent", "enroll", server.url, code, "--state", str(state),
                                  "--user", "<b>x</b>")
    assert bad.returncode == 2 and "--user: letters, digits" in bad.stderr and "<b>" not in bad.stderr
    ok = await asyncio.to_thread(postguard, "agent", "enroll", server.url, code, "--state", str(state),
                                 "--user", USER, "--json")  # the same code: the bad try did not use it
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["user"] == USER
    device = StateDir(state).load_device()
    assert device.user == USER
    assert json.loads((state / "device.json").read_text())["user"] == USER


def test_the_children_are_told_the_user(tmp_path: Path) -> None:
    from agent.state import Device

    state = StateDir(tmp_path / "agent")
    base = Device(server="https://postguard.example", device_id="d-1", hostname="pc", enrolled_at="")
    state.ensure()
    state.policy.mkdir()
    (state.policy / "current").symlink_to(Path(__file__).resolve().parents[2] / "policies" / "region14")
    opts = RunOptions(state=state, proxy_listen=("127.0.0.1", 0), backend_listen=("127.0.0.1", 0))
    proxy, backend = children(opts, Device(**{**base.to_json(), "user": USER}))
    assert f"postguard_staff={USER}" in proxy.argv and backend.argv[-2:] == ["--staff", USER]
    proxy, backend = children(opts, base)
    assert not any(a.startswith("postguard_staff") for a in proxy.argv) and "--staff" not in backend.argv


async def test_events_naming_no_one_reach_the_server_as_the_enrolled_user(server: Running, tmp_path: Path,
                                                                          http: aiohttp.ClientSession) -> None:
    e = await enrol_one(server, tmp_path / "agent", http)
    st = open_store(str(e.state.queue), FULL, device=e.id, auto_purge=False, staff=USER)
    try:
        st.append(Event(source="proxy", action="warned", site="x.com", text="post one"))
        st.append(Event(source="extension", action="warned", site="x.com", text="post two",
                        staff="j.doe.fictional@ctreg14.org", staff_source="browser-profile"))
        assert st.flush()
    finally:
        st.close()
    fw = Forwarder(e.api, e.queue)
    for _ in range(5):
        await fw.step()
        assert fw.state.error is None, fw.state.error
    rows: list[dict[str, Any]] = server.query("SELECT staff, staff_source FROM events WHERE device = ? "
                                              "ORDER BY seq", (e.id,))
    assert [(r["staff"], r["staff_source"]) for r in rows] == [
        (USER, "enrolment"), ("j.doe.fictional@ctreg14.org", "browser-profile")]
    c = server.conn()
    try:
        assert verify(c, e.id) == (2, [])
    finally:
        c.close()
    e.close()
