"""`postguard alerts check|test|status`, in-process, against a real SMTP server (aiosmtpd), a real
HTTP receiver and a real SQLite outbox. Every address and secret here is fictional."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from alert_helpers import LOW, THREAT, Smtp, posts
from server_helpers import cli, cli_json

from server import alerts
from server.alerts_policy import load_alerts
from server.alerts_sign import SIGNATURE_HEADER, verify
from store.db import Conn, migrate

SECRET = "cli-webhook-secret"  # fictional


@pytest.fixture
def mail(smtp: Smtp, monkeypatch: pytest.MonkeyPatch) -> Smtp:
    """The loopback SMTP server, named by the environment as `postguard alerts test` reads it."""
    for k, v in {"POSTGUARD_SMTP_HOST": "127.0.0.1", "POSTGUARD_SMTP_PORT": str(smtp.port),
                 "POSTGUARD_SMTP_SECURITY": "none", "POSTGUARD_MAIL_FROM": "postguard@region14.example",
                 "POSTGUARD_WEBHOOK_SECRET": SECRET}.items():
        monkeypatch.setenv(k, v)
    return smtp


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    got: list[tuple[dict[str, str], bytes]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/hook", got
    srv.shutdown()


def test_check_prints_the_shipped_routes(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = cli(capsys, "alerts", "check")
    assert rc == 0 and "threats" in out and "digest 86400s" in out and "safety-team@region14.example" in out
    rc, got = cli_json(capsys, "alerts", "check")
    assert rc == 0 and [r["name"] for r in got["routes"]] == ["threats", "student-data-blocked", "escalated",
                                                               "daily-review"]


def test_check_names_the_mistake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "alerts.toml"
    bad.write_text('console_base_url = "https://c.region14.example"\n[[route]]\nname = "r"\n'
                   'email = ["it@region14.example"]\nmode = "hourly"\n', encoding="utf-8")
    rc, _, err = cli(capsys, "alerts", "check", "--file", str(bad))
    assert rc == 2 and "alerts.toml: route[0].mode: must be one of immediate, digest (got 'hourly')" in err


def test_test_sends_a_mail_and_a_signed_webhook(mail: Smtp, receiver: Any, capsys: pytest.CaptureFixture[str]) -> None:
    url, got = receiver
    rc, out, _ = cli(capsys, "alerts", "test", "--to", "it-desk@region14.example", "--webhook", url)
    assert rc == 0 and "it-desk@region14.example: sent" in out and f"{url}: sent" in out
    (msg, _), = mail.inbox.to("it-desk@region14.example")
    assert "test" in msg["Subject"] and "https://postguard.region14.example/events" in msg.get_payload()
    (headers, body), = got
    assert verify(SECRET, headers[SIGNATURE_HEADER], body) and json.loads(body)["kind"] == "test"


def test_test_says_what_did_not_work(mail: Smtp, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    mail.stop()
    rc, out, _ = cli(capsys, "alerts", "test", "--to", "it-desk@region14.example")
    assert rc == 1 and "it-desk@region14.example: NOT delivered: SMTP 127.0.0.1" in out
    assert cli(capsys, "alerts", "test", "--to", "not-an-address")[0] == 2
    assert cli(capsys, "alerts", "test")[0] == 2
    monkeypatch.delenv("POSTGUARD_SMTP_HOST")
    rc, _, err = cli(capsys, "alerts", "test", "--to", "it-desk@region14.example")
    assert rc == 2 and "no SMTP server is set" in err


def test_status_shows_what_waits_and_fails(tmp_path: Path, policy: Any, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "s.sqlite")
    assert cli(capsys, "alerts", "status", "--db", db)[:2] == (0, "no alerts in the outbox\n")
    c = Conn(db)
    migrate(c)
    now = 1_800_000_000.0
    with c.write():
        alerts.enqueue(c, load_alerts(policy), policy, posts("pc-1-0a1b2c3d", ("warned", [THREAT]), ("warned", [LOW])),
                       now)
    rows = alerts.claim(c, now, ("email",))
    alerts.mark_failed(c, rows[:1], now, "SMTP 127.0.0.1:25: ConnectionRefusedError", 30, 3600)
    c.close()
    rc, got = cli_json(capsys, "alerts", "status", "--db", db)
    assert rc == 1 and [f["last_error"] for f in got["failing"]] == ["SMTP 127.0.0.1:25: ConnectionRefusedError"]
    assert {(r["channel"], r["state"]) for r in got["counts"]} == {("email", "waiting"), ("webhook", "waiting")}
    rc, out, _ = cli(capsys, "alerts", "status", "--db", db)
    assert rc == 1 and "1 waiting after a failed try" in out
