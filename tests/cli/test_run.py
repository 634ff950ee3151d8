"""`postguard run` starts a server and an agent on loopback, enrols the agent by itself (once), and
stops both on SIGTERM, the agent's clean stop reaching the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from store.db import Conn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, headers: dict[str, str], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            req = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(req, timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} never answered")


def server_events(db: Path) -> list[dict[str, Any]]:
    c = Conn(str(db))
    try:
        return c.all("SELECT device, kind FROM events WHERE source = 'agent' ORDER BY id")
    finally:
        c.close()


def until(cond: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := cond():
            return got
        time.sleep(0.2)
    raise AssertionError("condition not reached")


def start(tmp_path: Path, *extra: str, sport: int | None = None) -> tuple[subprocess.Popen[str], int]:
    sport = sport or free_port()
    p = subprocess.Popen(
        [sys.executable, "-m", "postguard", "run", "--server-listen", f"127.0.0.1:{sport}",
         "--db", str(tmp_path / "log.sqlite"), *extra],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "POSTGUARD_DB": "", "POSTGUARD_AGENT_STATE": ""},
    )
    return p, sport


def stop(p: subprocess.Popen[str]) -> str:
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=60)
    return out


def test_run_starts_a_server_and_an_enrolled_agent_then_stops(tmp_path: Path) -> None:
    bport, pport = free_port(), free_port()
    p, sport = start(tmp_path, "--backend-listen", f"127.0.0.1:{bport}", "--proxy-listen", f"127.0.0.1:{pport}")
    try:
        assert wait_http(f"http://127.0.0.1:{bport}/healthz", {"Host": f"127.0.0.1:{bport}"}) == 200
        assert wait_http(f"http://127.0.0.1:{sport}/login", {}) == 200  # the console, on the server
        admin = tmp_path / "var" / "console-admin.txt"
        assert admin.exists() and stat.S_IMODE(admin.stat().st_mode) == 0o600
        assert admin.read_text().startswith("user: admin\npassword: ")
        device = json.loads((tmp_path / "var" / "agent" / "device.json").read_text())
        assert device["server"] == f"http://127.0.0.1:{sport}"
        until(lambda: server_events(tmp_path / "log.sqlite") == [{"device": device["device_id"], "kind": "agent-start"}])
        with socket.socket() as s:
            until(lambda: s.connect_ex(("127.0.0.1", pport)) == 0)
        assert (tmp_path / "var" / "backend.token").exists()
    finally:
        out = stop(p)
    assert "agent enrolled as" in out and "monitor" in out  # the P.A. 98-142 notice is shown
    assert server_events(tmp_path / "log.sqlite")[-1] == {"device": device["device_id"], "kind": "agent-stop"}
    for port in (bport, sport, pport):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "a service outlived postguard run"

    p, sport2 = start(tmp_path, "--no-proxy", "--no-backend")  # another port: enrolled again, once
    try:
        until(lambda: len(server_events(tmp_path / "log.sqlite")) == 3)
    finally:
        out = stop(p)
    assert "agent enrolled as" in out and "enrolled with another server" in out
    p, _ = start(tmp_path, "--no-proxy", "--no-backend", sport=sport2)
    try:
        until(lambda: len(server_events(tmp_path / "log.sqlite")) == 5)
    finally:
        out = stop(p)
    assert "agent enrolled as" not in out  # the same server: the enrolment is kept


def test_run_refuses_a_broken_policy(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "postguard", "run", "--policy", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "policy folder not found" in r.stderr
