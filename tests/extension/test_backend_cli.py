"""`postguard backend` options: loopback-only listening and the install token."""

from __future__ import annotations

import argparse
import stat

import pytest

from postguard.cli import UsageError, main
from postguard.commands.backend import load_token, parse_listen


@pytest.mark.parametrize("value,expected", [
    ("127.0.0.1:8731", ("127.0.0.1", 8731)),
    ("localhost:9000", ("127.0.0.1", 9000)),
    ("[::1]:8731", ("::1", 8731)),
    (":8731", ("127.0.0.1", 8731)),
    ("127.0.0.1:0", ("127.0.0.1", 0)),
])
def test_listen_accepts_loopback(value, expected):
    assert parse_listen(value) == expected


@pytest.mark.parametrize("value", ["0.0.0.0:8731", "192.168.1.5:8731", "[::]:8731", "example.com:8731",
                                   "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000"])
def test_listen_refuses_the_rest(value):
    with pytest.raises(UsageError):
        parse_listen(value)


def _args(**kw):
    return argparse.Namespace(**{"token": None, "token_file": "unused", **kw})


def test_token_file_is_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("POSTGUARD_BACKEND_TOKEN", raising=False)
    f = tmp_path / "var" / "backend.token"
    t1 = load_token(_args(token_file=str(f)))
    assert len(t1) >= 32 and stat.S_IMODE(f.stat().st_mode) == 0o600
    assert load_token(_args(token_file=str(f))) == t1
    monkeypatch.setenv("POSTGUARD_BACKEND_TOKEN", "from-the-environment-123")
    assert load_token(_args(token_file=str(f))) == "from-the-environment-123"
    assert load_token(_args(token="given-on-the-command-line", token_file=str(f))) == "given-on-the-command-line"


def test_short_token_is_refused():
    with pytest.raises(UsageError):
        load_token(_args(token="short"))


@pytest.mark.parametrize("argv", [
    ["backend", "--listen", "0.0.0.0:8731", "--token", "x" * 20],
    ["backend", "--listen", "127.0.0.1:0", "--token", "x" * 20, "--extension-id", "not-an-id"],
])
def test_cli_exits_2_on_bad_options(argv, capsys):
    assert main(argv) == 2
    assert "postguard: error:" in capsys.readouterr().err


@pytest.mark.slow
def test_the_command_serves_on_loopback(tmp_path):
    """`postguard backend` as a process: healthz answers, a web page's Origin does not."""
    import json
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "POSTGUARD_BACKEND_TOKEN": "a-token-of-sufficient-length"}
    proc = subprocess.Popen([sys.executable, "-m", "postguard", "backend", "--listen", f"127.0.0.1:{port}",
                             "--db", str(tmp_path / "log.sqlite")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert "postguard backend: http://127.0.0.1:" in proc.stdout.readline()
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert json.load(r)["ok"] is True
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        else:
            pytest.fail("the backend did not answer /healthz")
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/check", data=b'{"text": "hi", "site": "x.com"}',
                                     headers={"Origin": "https://evil.example", "Content-Type": "application/json",
                                              "X-Postguard-Token": "a-token-of-sufficient-length"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert e.value.code == 403
    finally:
        proc.terminate()
        proc.wait(10)
