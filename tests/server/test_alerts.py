"""Alerts end to end: a real server on loopback (SQLite and PostgreSQL), a real SMTP server
(aiosmtpd) and a real webhook receiver (aiohttp). An urgent post is mailed at once without its
text; a low one only in the digest; with the SMTP server down the alert waits and goes out when it
is back; the webhook's signature verifies. Every name and address here is fictional."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from alert_helpers import (
    LOW,
    SECRET,
    STUDENT,
    THREAT,
    Smtp,
    alert_config,
    assert_no_detail,
    posts,
    until,
)

from server import ServerConfig
from server.alerts_send import ALERTER
from server.alerts_sign import SIGNATURE_HEADER, verify
from server.keys import STATE
from store.event import Event


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
    return alert_config(db_url, policy, tmp_path, hook[0], smtp_port=smtp.port, smtp_security="none",
                        webhook_secret=SECRET)


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
    def all_sent() -> Any:  # marked sent once the receiver answered
        got = server.query("SELECT channel, sent_at, attempts, payload FROM alert_outbox ORDER BY id")
        return got if all(o["sent_at"] for o in got) else None

    outbox = await until(all_sent)
    assert [(o["channel"], o["attempts"]) for o in outbox] == [("email", 1), ("webhook", 1)]
    for o in outbox:
        assert_no_detail(o["payload"])


async def test_a_low_post_goes_only_in_the_digest(device: Any, server: Any, smtp: Smtp) -> None:
    d = await device()
    rows = posts(d.device, ("warned", [LOW]), ("edited", [LOW]), ("passed", []))
    while time.time() % 4 > 0.3:  # just after a digest boundary (every 4 s): the next is ~4 s away
        await asyncio.sleep(0.02)
    assert (await d.send_events(rows)).body["stored"] == 3
    await asyncio.sleep(1.5)
    assert smtp.inbox.to("review@region14.example") == []  # not at once: it waits for the digest
    (msg, raw), = await until(lambda: smtp.inbox.to("review@region14.example"), seconds=8)
    body = msg.get_payload(decode=True).decode()
    assert "digest: 2 alerts (2 low)" in msg["Subject"]
    # one post warned, then edited: one incident (its first event), two alerts linking to it
    assert body.count(f"/events/{rows[0]['uid']}") == 2 and f"/events/{rows[2]['uid']}" not in body
    assert_no_detail(raw)
    assert smtp.inbox.to("safety@region14.example") == []
    await asyncio.sleep(4.5)  # the next window has nothing: no second digest
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
                     "route": "threats", "incident": row["uid"]}
    assert headers["Postguard-Event"] == "alert"


async def test_a_refused_upload_queues_no_alert(device: Any, server: Any, smtp: Smtp) -> None:
    d = await device()
    rows = posts(d.device, ("warned", [THREAT]))
    rows[0]["hash"] = "0" * 64  # a broken link: nothing stored, so nothing alerted
    ans = await d.send_events(rows)
    assert ans.body["stored"] == 0
    await asyncio.sleep(0.5)
    assert server.query("SELECT id FROM alert_outbox") == [] and smtp.inbox.messages == []


# A high finding that no route but the escalations' alerts (a low one is due in the 4 s digest, which
# would wake the sender by itself).
HIGH = {"rule": "conduct", "clause": "P9", "category": "defamation", "reason": "defamation", "score": 0.9,
        "span": [0, 5]}


async def test_an_escalation_in_the_console_is_sent_at_once_and_once(device: Any, server: Any, hook: Any) -> None:
    _, got, _ = hook
    assert server.app[ALERTER].settings.poll_seconds == 30  # the escalation wakes the sender itself
    d = await device()
    (row,) = posts(d.device, ("warned", [HIGH]))
    await d.send_events([row])
    await asyncio.sleep(0.5)  # the sender is asleep now, for up to its 30 s poll
    store = server.app[STATE].store
    t0 = time.monotonic()
    assert await asyncio.to_thread(store.review, row["uid"], "rita.reviewer", "escalated", "needs HR")  # fictional
    (headers, body), = await until(lambda: got)
    assert time.monotonic() - t0 < 3.0
    alert = json.loads(body)
    assert (alert["kind"], alert["event"], alert["route"], alert["severity"]) == ("escalated", row["uid"], "escalated", "high")
    assert verify(SECRET, headers[SIGNATURE_HEADER], body) and "needs HR" not in body.decode()
    await asyncio.to_thread(store.review, row["uid"], "rita.reviewer", "escalated", "again")
    await asyncio.sleep(0.8)
    assert len(got) == 1  # the same event escalated twice: one alert


async def test_an_event_the_server_writes_itself_is_alerted_at_once(server: Any, smtp: Smtp) -> None:
    # as the extension API does for a browser without an agent: the server's own log writer
    assert server.app[ALERTER].settings.poll_seconds == 30  # no upload wakes the sender: the new incident does
    await asyncio.sleep(0.5)  # the sender is asleep now
    t0 = time.monotonic()
    uid = server.app[STATE].store.append(Event(source="extension", action="blocked", site="x.com",
                                               text=f"{STUDENT} will regret this", findings=[THREAT],
                                               device="ext:lab-chromebooks:cb-17"))  # fictional
    (msg, raw), = await until(lambda: smtp.inbox.to("safety@region14.example"))
    assert time.monotonic() - t0 < 3.0
    body = msg.get_payload(decode=True).decode()
    assert f"/events/{uid}" in body and "ext:lab-chromebooks:cb-17" in body
    assert_no_detail(raw)
    await asyncio.sleep(0.6)
    assert len(smtp.inbox.messages) == 1  # looked at again, queued once


# Another process writing the server's PostgreSQL database: a proxy logging straight into it, and a
# console of its own (`postguard console --db postgresql://...`) marking an incident escalated.
OTHER_PROCESS = """
import sys
from store import Event, StoreConfig, open_store
db, what = sys.argv[1], sys.argv[2]
st = open_store(db, StoreConfig("full", 0), device="pc-library-3", spool=sys.argv[3], auto_purge=False)
if what == "event":
    print(st.append(Event(source="proxy", action="blocked", site="x.com", text="fictional threat, post 9",
                          findings=[{"rule": "conduct", "clause": "P9", "category": "threat", "score": 0.9}])))
else:
    print(st.review(what, "rita.reviewer", "escalated", "fictional note"))
assert st.flush()
st.close()
"""


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_another_process_writing_postgresql_wakes_the_sender(device: Any, server: Any, smtp: Smtp,
                                                                   hook: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    assert server.app[ALERTER].settings.poll_seconds == 30

    async def other(what: str) -> tuple[str, float]:
        """Run OTHER_PROCESS; (its output, when it exited)."""
        proc = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", OTHER_PROCESS, server.cfg.db, what,
                                                        str(tmp_path / "other-spool.jsonl")],
                                       capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip(), time.monotonic()

    await asyncio.sleep(0.5)  # the sender is asleep, for up to 30 s
    uid, done = await other("event")
    (msg, _), = await until(lambda: smtp.inbox.to("safety@region14.example"))
    assert time.monotonic() - done < 3.0 and f"/events/{uid}" in msg.get_payload(decode=True).decode()
    d = await device()
    (row,) = posts(d.device, ("warned", [HIGH]))
    await d.send_events([row])
    await asyncio.sleep(0.5)
    ok, done = await other(row["uid"])
    assert ok == "True"
    (_, body), = await until(lambda: [g for g in hook[1] if json.loads(g[1]).get("kind") == "escalated"])
    assert time.monotonic() - done < 3.0 and json.loads(body)["event"] == row["uid"]


async def test_a_fault_in_the_alerts_never_refuses_an_upload(device: Any, server: Any, monkeypatch: Any,
                                                             caplog: Any) -> None:
    def broken(*args: Any, **kw: Any) -> int:
        raise ValueError("a bug in the alerts")

    monkeypatch.setattr("server.alerts.enqueue", broken)
    d = await device()
    rows = posts(d.device, ("warned", [THREAT]), ("warned", [LOW]))
    ans = await d.send_events(rows)
    assert ans.status == 200 and ans.body["stored"] == 2  # stored anyway
    assert [r["uid"] for r in server.query("SELECT uid FROM events WHERE device = ? ORDER BY seq", (d.device,))] \
        == [r["uid"] for r in rows]
    assert "the alerts of 2 stored events could not be queued" in caplog.text
    monkeypatch.undo()
    more = posts(d.device, ("warned", [THREAT]), start=3, prev=rows[-1]["hash"])
    assert (await d.send_events(more)).body["stored"] == 1  # and the next upload alerts again
    assert server.query("SELECT event_uid FROM alert_outbox WHERE channel = 'email'") == [{"event_uid": more[0]["uid"]}]
