"""Shared by the alert tests: the routes, fictional posts, a loopback SMTP server's inbox, polling.
Every name and address here is fictional."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from server import ServerConfig
from server.alerts_settings import AlertSettings
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
every = "4s"
[[route]]
name = "escalated"
actions = ["escalated"]
webhook = ["{hook}"]
"""


class Inbox:
    """aiosmtpd handler: every message it accepted."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
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


def alert_config(db_url: str, policy: Any, tmp_path: Path, hook: str, **settings: Any) -> ServerConfig:
    """The test server's settings with the routes above (webhooks to `hook`), quick retries and
    delivery `settings` (SMTP host and port, security, ...)."""
    routes = tmp_path / "alerts.toml"
    routes.write_text(ALERTS.format(hook=hook), encoding="utf-8")
    alerts = AlertSettings(**{"smtp_host": "127.0.0.1", "mail_from": "postguard@region14.example",
                              "retry_base_seconds": 0.2, "retry_max_seconds": 0.5, "poll_seconds": 30,
                              "timeout_seconds": 5, **settings})
    return ServerConfig(db=db_url, policy=policy, signing_key=tmp_path / "signing.key", heartbeat_interval=60,
                        sweep_seconds=3600, retention_hours=1000, spool=tmp_path / "server-spool.jsonl",
                        alerts=alerts, alerts_file=routes)
