"""`postguard server` as its own process, with the shipped Region 14 alert routes and its SMTP
settings from the environment: a device's threat is mailed to the safety team's (fictional)
address at the loopback SMTP server, linking to the console named by POSTGUARD_CONSOLE_URL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
from alert_helpers import THREAT, Smtp, assert_no_detail, posts, until
from test_server_command import free_port

from server.client import DeviceClient
from store import devices
from store.db import Conn, migrate


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/v1/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


async def test_the_server_process_mails_a_threat_with_the_shipped_routes(tmp_path: Path, smtp: Smtp) -> None:
    port, db = free_port(), str(tmp_path / "s.sqlite")
    env = {**os.environ, "POSTGUARD_DB": "", "POSTGUARD_SMTP_HOST": "127.0.0.1", "POSTGUARD_SMTP_PORT": str(smtp.port),
           "POSTGUARD_SMTP_SECURITY": "none", "POSTGUARD_MAIL_FROM": "postguard@region14.example",
           "POSTGUARD_CONSOLE_URL": "https://review.region14.example"}
    proc = subprocess.Popen([sys.executable, "-m", "postguard", "server", "--db", db, "--listen", f"127.0.0.1:{port}",
                             "--signing-key", str(tmp_path / "sig.key")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        await until(lambda: healthy(url) or proc.poll() is not None, seconds=60)  # the policy loads first
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        c = Conn(db)
        migrate(c)
        code = devices.make_codes(c, 1, 600, "test")[0][0]
        c.close()
        async with aiohttp.ClientSession() as http:
            d = DeviceClient(url, http)
            assert (await d.enroll(code, hostname="pc-lab-7")).status == 201
            (row,) = posts(d.device, ("blocked", [THREAT]))
            assert (await d.send_events([row])).body["stored"] == 1
        (msg, raw), = await until(lambda: smtp.inbox.to("safety-team@region14.example"), seconds=15)
        body = msg.get_payload(decode=True).decode()
        assert f"https://review.region14.example/events/{row['uid']}" in body and msg["From"] == \
            "postguard@region14.example"
        assert_no_detail(raw)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "webhook alerts wait in the outbox" in out  # no secret set: webhooks wait, said once
