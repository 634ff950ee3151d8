"""`postguard run` starts the services on loopback and stops them all on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request


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


def test_run_starts_backend_and_console_then_stops(tmp_path):
    bport, cport = free_port(), free_port()
    p = subprocess.Popen(
        [sys.executable, "-m", "postguard", "run", "--only", "backend", "--only", "console",
         "--backend-listen", f"127.0.0.1:{bport}", "--console-listen", f"127.0.0.1:{cport}",
         "--db", str(tmp_path / "log.sqlite")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "POSTGUARD_BACKEND_TOKEN": "test-token-123456"},
    )
    try:
        assert wait_http(f"http://127.0.0.1:{bport}/healthz", {"Host": f"127.0.0.1:{bport}"}) == 200
        assert wait_http(f"http://127.0.0.1:{cport}/login", {}) == 200
        admin = tmp_path / "var" / "console-admin.txt"
        assert admin.exists() and stat.S_IMODE(admin.stat().st_mode) == 0o600
        assert admin.read_text().startswith("user: admin\npassword: ")
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
    assert "backend starting" in out and "console starting" in out
    assert "monitor" in out  # the P.A. 98-142 notice is shown
    for port in (bport, cport):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "a service outlived postguard run"


def test_run_refuses_a_broken_policy(tmp_path):
    r = subprocess.run([sys.executable, "-m", "postguard", "run", "--policy", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "policy folder not found" in r.stderr
