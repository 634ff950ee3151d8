"""Alerts end to end: a real server on loopback (SQLite and PostgreSQL), a real SMTP server
(aiosmtpd) and a real webhook receiver (aiohttp). An urgent post is mailed at once without its
text; a low one only in the digest; with the SMTP server down the alert waits and goes out when it
is back; the webhook's signature verifies. Every name and address here is fictional."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from server import ServerConfig
from server.alerts_settings import AlertSettings
from server.alerts_sign import SIGNATURE_HEADER, verify
from server.alerts_send import ALERTER
from server.keys import STATE
from store.event import GENESIS, Event, chain_hash, to_row

SECRET = "webhook-secret-for-tests"  # fictional
STUDENT = "Jordan Quillfeather"  # fictional student name, on no roster
THREAT = {"rule": "conduct", "clause": "P9", "category": "threat", "reason": "threat", "score": 0.97,
          "span": [0, 11]}
LOW = {"rule": "missing-disclaimer", "clause": "P2", "category": "speaking-for", "reason": "no disclaimer",
       "score": 0.8, "span": [0, 5]}
ALERTS = """
console_base_url = "https://console.region14.example"
[[route]]
name = "threats"
categories = ["threat", "mass-violence"]
email = ["safety@region14.example"]
webhook = ["{hook}"]
mode = "immediate"
[[route]]
name = "review"
severity = ["low", "normal"]
email = ["review@region14.example"]
mode = "digest"
every = "2s"
[[route]]
name = "escalated"
actions = ["escalated"]
webhook = ["{hook}"]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler: every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or envelope.content
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(raw), raw))
        return "250 OK"

    def to(self, address: str) -> list[tuple[Message, bytes]]:
        return [(m, raw) for rcpt, m, raw in self.messages if address in rcpt]


class Smtp:
    """A real SMTP server on a fixed loopback port that a test can stop and start again."""

    def __init__(self, port: int) -> None:
        self.port, self.inbox, self.ctl = port, Inbox(), None

    def start(self) -> None:
        self.ctl = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.ctl.start()

    def stop(self) -> None:
        if self.ctl is not None:
            self.ctl.stop()
            self.ctl = None


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    s = Smtp(free_port())
    s.start()
    yield s
    s.stop()


@pytest.fixture
async def hook(aiohttp_server: Any) -> Any:
    """A webhook receiver: answers `status[0]` and records (headers, body)."""
    got: list[tuple[dict[str, str], bytes]] = []
    status = [200]

    async def receive(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=status[0])

    app = web.Application()
    app.router.add_post("/hook", receive)
    srv = await aiohttp_server(app)
    return str(srv.make_url("/hook")), got, status


@pytest.fixture
def server_config(db_url: str, policy: Any, tmp_path: Path, smtp: Smtp, hook: Any) -> ServerConfig:
    """The server, with alert routes of its own, delivering to the loopback SMTP server and receiver."""
    routes = tmp_path / "alerts.toml"
    routes.write_text(ALERTS.format(hook=hook[0]), encoding="utf-8")
    settings = AlertSettings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                             mail_from="postguard@region14.example", webhook_secret=SECRET,
                             retry_base_seconds=0.2, retry_max_seconds=0.5, poll_seconds=30, timeout_seconds=5)
    return ServerConfig(db=db_url, policy=policy, signing_key=tmp_path / "signing.key", heartbeat_interval=60,
                        sweep_seconds=3600, retention_hours=1000, spool=tmp_path / "server-spool.jsonl",
                        alerts=settings, alerts_file=routes)


def posts(device: str, *specs: tuple[str, list[dict[str, Any]]], start: int = 1, prev: str = GENESIS) -> list[Any]:
    """Chained rows of `device`: one per (action, findings), each post naming the fictional student."""
    out = []
    for i, (action, findings) in enumerate(specs):
        text = f"{STUDENT} will regret this, post {start + i}"
        r = to_row(Event(source="proxy", action=action, site="x.com", text=text, findings=findings,
                         justification=f"{STUDENT} started it"), mode="full", redact=None, device=device,
                   employee="a.teacher")  # fictional staff account
        r.update(seq=start + i, prev_hash=prev)
        r["hash"] = prev = chain_hash(r)
        out.append(r)
    return out


async def until(check: Callable[[], Any], seconds: float = 8.0) -> Any:
    """Poll `check()` until it is truthy (the test fails after `seconds`)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if got := check():
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


def assert_no_detail(text: str | bytes) -> None:
    t = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for secret in (STUDENT, "Quillfeather", "regret", "started it", "a.teacher"):
        assert secret not in t


async def test_an_urgent_post_is_mailed_at_once_without_its_text(device: Any, server: Any, smtp: Smtp,
                                                                 hook: Any) -> None:
    d = await device()
    await asyncio.sleep(0.5)  # the sender now sleeps for its 30 s poll, unless an upload wakes it
    (row,) = posts(d.device, ("warned", [THREAT]))
    t0 = time.monotonic()
    assert (await d.send_events([row])).body["stored"] == 1
    (msg, raw), = await until(lambda: smtp.inbox.to("safety@region14.example"))
    assert time.monotonic() - t0 < 3.0  # woken by the upload, not by a digest or a slow poll
    body = msg.get_payload(decode=True).decode()
    assert f"https://console.region14.example/events/{row['uid']}" in body
    assert "URGENT" in msg["Subject"] and "conduct (P9)" in msg["Subject"] and "threat" in body
    assert d.device in body and msg["Auto-Submitted"] == "auto-generated"
    assert_no_detail(raw)
    # urgent goes at once on the digest route too (its severity is not in that route, so: not sent)
    assert smtp.inbox.to("review@region14.example") == []
    (headers, payload), = await until(lambda: hook[1])
    assert_no_detail(payload)
    outbox = server.query("SELECT channel, sent_at, attempts, payload FROM alert_outbox ORDER BY id")
    assert [(o["channel"], o["attempts"]) for o in outbox] == [("email", 1), ("webhook", 1)]
    assert all(o["sent_at"] for o in outbox)
    for o in outbox:
        assert_no_detail(o["payload"])


async def test_a_low_post_goes_only_in_the_digest(device: Any, server: Any, smtp: Smtp) -> None:
    d = await device()
    rows = posts(d.device, ("warned", [LOW]), ("edited", [LOW]), ("passed", []))
    assert (await d.send_events(rows)).body["stored"] == 3
    await asyncio.sleep(0.5)
    assert smtp.inbox.to("review@region14.example") == []  # not at once: it waits for the digest
    (msg, raw), = await until(lambda: smtp.inbox.to("review@region14.example"), seconds=6)
    body = msg.get_payload(decode=True).decode()
    assert "digest: 2 alerts (2 low)" in msg["Subject"]
    assert all(f"/events/{r['uid']}" in body for r in rows[:2]) and f"/events/{rows[2]['uid']}" not in body
    assert_no_detail(raw)
    assert smtp.inbox.to("safety@region14.example") == []
    await asyncio.sleep(2.5)  # the next window has nothing: no second digest
    assert len(smtp.inbox.messages) == 1


async def test_with_smtp_down_the_alert_waits_and_goes_when_it_is_back(device: Any, server: Any,
                                                                        smtp: Smtp) -> None:
    smtp.stop()
    d = await device()
    (row,) = posts(d.device, ("blocked", [THREAT]))
    assert (await d.send_events([row])).body["stored"] == 1

    def failed_twice() -> Any:
        got = server.query("SELECT attempts, last_error, sent_at FROM alert_outbox WHERE channel = 'email'")
        return got if got and got[0]["attempts"] >= 2 else None

    (waiting,) = await until(failed_twice)
    assert waiting["sent_at"] is None and "SMTP 127.0.0.1" in waiting["last_error"]
    assert_no_detail(waiting["last_error"])
    smtp.start()
    (msg, _), = await until(lambda: smtp.inbox.to("safety@region14.example"))
    assert row["uid"] in msg.get_payload(decode=True).decode()
    await until(lambda: server.query("SELECT sent_at FROM alert_outbox WHERE channel = 'email'")[0]["sent_at"])
    await asyncio.sleep(0.6)
    assert len(smtp.inbox.to("safety@region14.example")) == 1  # delivered once


async def test_the_webhook_is_signed_and_retried_until_accepted(device: Any, server: Any, hook: Any) -> None:
    url, got, status = hook
    status[0] = 503
    d = await device()
    (row,) = posts(d.device, ("warned", [THREAT]))
    await d.send_events([row])
    await until(lambda: len(got) >= 2)  # refused, retried
    status[0] = 200
    n = len(got)
    await until(lambda: server.query("SELECT sent_at FROM alert_outbox WHERE channel = 'webhook'")[0]["sent_at"])
    headers, body = got[-1]
    assert len(got) == n + 1 or len(got) == n  # one accepted delivery after the refusals
    assert verify(SECRET, headers[SIGNATURE_HEADER], body)
    assert not verify("another-secret", headers[SIGNATURE_HEADER], body)
    assert not verify(SECRET, headers[SIGNATURE_HEADER], body.replace(b"warned", b"passed"))
    assert not verify(SECRET, headers[SIGNATURE_HEADER], body, now=time.time() + 3600)  # a replay, later
    alert = json.loads(body)
    assert alert == {"type": "postguard.alert", "event": row["uid"], "kind": "warned", "severity": "urgent",
                     "rules": ["conduct"], "clauses": ["P9"], "categories": ["threat"], "device": d.device,
                     "time": row["ts"], "link": f"https://console.region14.example/events/{row['uid']}",
                     "route": "threats"}
    assert headers["Postguard-Event"] == "alert"


async def test_a_refused_upload_queues_no_alert(device: Any, server: Any, smtp: Smtp) -> None:
    d = await device()
    rows = posts(d.device, ("warned", [THREAT]))
    rows[0]["hash"] = "0" * 64  # a broken link: nothing stored, so nothing alerted
    ans = await d.send_events(rows)
    assert ans.body["stored"] == 0
    await asyncio.sleep(0.5)
    assert server.query("SELECT id FROM alert_outbox") == [] and smtp.inbox.messages == []


async def test_an_escalation_in_the_console_is_sent_once(device: Any, server: Any, hook: Any) -> None:
    _, got, _ = hook
    alerter = server.app[ALERTER]  # the console does not wake the sender: it looks at each poll
    alerter.settings = replace(alerter.settings, poll_seconds=0.2)
    d = await device()
    (row,) = posts(d.device, ("warned", [LOW]))
    await d.send_events([row])
    store = server.app[STATE].store
    assert await asyncio.to_thread(store.review, row["uid"], "rita.reviewer", "escalated", "needs HR")  # fictional
    (headers, body), = await until(lambda: got)
    alert = json.loads(body)
    assert (alert["kind"], alert["event"], alert["route"], alert["severity"]) == ("escalated", row["uid"], "escalated", "low")
    assert verify(SECRET, headers[SIGNATURE_HEADER], body) and "needs HR" not in body.decode()
    await asyncio.to_thread(store.review, row["uid"], "rita.reviewer", "escalated", "again")
    await asyncio.sleep(0.8)
    assert len(got) == 1  # the same event escalated twice: one alert
