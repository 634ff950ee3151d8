"""The district server's extension API (/api/ext/v1/) through aiohttp's test client, on SQLite
and PostgreSQL: who may call it, the same decision path as the local backend, the log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extension.backend import EXTENSION_ID
from server import ServerConfig, create_app
from server import extension_groups as groups
from server.keys import STATE
from store.db import Conn, migrate

ORIGIN = f"chrome-extension://{EXTENSION_ID}"
INSULT = "You are a pathetic idiot and everyone at this school knows it"
BASE = "/api/ext/v1"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "server.sqlite")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def srv(aiohttp_client, db_url, policy, tmp_path):
    cfg = ServerConfig(db=db_url, policy=policy, signing_key=tmp_path / "signing.key", sweep_seconds=3600,
                       retention_hours=1000, spool=tmp_path / "spool.jsonl")
    app = create_app(cfg)
    client = await aiohttp_client(app)
    conn = Conn(db_url)
    migrate(conn)
    client.key = groups.create(conn, "nhs-chromebooks")
    client.conn, client.app_ = conn, app
    yield client
    conn.close()


def hdr(key: str | None, origin: str | None = ORIGIN, **extra: str) -> dict[str, str]:
    h = dict(extra)
    if origin is not None:
        h["Origin"] = origin
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    return h


def logged(srv) -> list[dict]:
    assert srv.app_[STATE].store.flush()
    return srv.conn.all("SELECT device, source, action, rules, justification FROM events WHERE source = 'extension' "
                        "ORDER BY id")


async def test_check_decides_as_the_backend(srv):
    r = await srv.post(f"{BASE}/check", json={"text": INSULT, "site": "www.facebook.com"}, headers=hdr(srv.key))
    assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == ORIGIN
    body = await r.json()
    assert "conduct" in body["fired"] and body["findings"][0]["explanation"] and body["request_id"]
    assert "check;dur=" in r.headers["Server-Timing"]


@pytest.mark.parametrize("headers,status", [
    (hdr(None), 401),                                            # no key
    (hdr("pgx_wrong-key-0123456789"), 401),                      # unknown key
    (hdr("KEY", origin=None), 403),                              # no Origin
    (hdr("KEY", origin="https://www.facebook.com"), 403),        # a web page
    (hdr("KEY", origin="chrome-extension://" + "a" * 32), 403),  # another extension
    (hdr("KEY", **{"X-Postguard-Device": "../../etc"}), 400),    # a device id that is not one
])
async def test_who_may_call(srv, headers, status):
    headers = {k: v.replace("KEY", srv.key) for k, v in headers.items()}
    r = await srv.post(f"{BASE}/check", json={"text": INSULT, "site": "x.com"}, headers=headers)
    assert r.status == status, await r.text()
    assert ("Access-Control-Allow-Origin" in r.headers) == (status in (401, 400))


async def test_preflight_answers_the_extension_only(srv):
    ok = await srv.options(f"{BASE}/check", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert ok.status == 204 and ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in ok.headers["Access-Control-Allow-Headers"]
    bad = await srv.options(f"{BASE}/check", headers={"Origin": "https://evil.example"})
    assert bad.status == 403 and "Access-Control-Allow-Origin" not in bad.headers


async def test_a_revoked_key_is_refused(srv, monkeypatch):
    from server import extension_api

    r = await srv.post(f"{BASE}/policy", json={}, headers=hdr(srv.key))
    assert r.status == 200 and (await r.json())["district"]
    groups.revoke(srv.conn, "nhs-chromebooks")
    monkeypatch.setattr(extension_api, "KEY_CACHE_SECONDS", 0.0)  # else refused within 30 s
    r = await srv.post(f"{BASE}/policy", json={}, headers=hdr(srv.key))
    assert r.status == 401


async def test_events_are_logged_with_the_device_and_findings_recomputed(srv):
    ev = {"choice": "overridden", "text": INSULT, "site": "www.facebook.com",
          "justification": "Quoting the message I received, to report it"}
    r = await srv.post(f"{BASE}/events", json=ev, headers=hdr(srv.key, **{"X-Postguard-Device": "a1b2-c3d4"}))
    assert r.status == 201, await r.text()
    r = await srv.post(f"{BASE}/events", json={**ev, "justification": None}, headers=hdr(srv.key))
    assert r.status == 400 and "justification" in json.dumps(await r.json())
    rows = logged(srv)
    assert [(x["device"], x["action"]) for x in rows] == [("ext:nhs-chromebooks:a1b2-c3d4", "overridden")]
    assert "conduct" in rows[0]["rules"]


async def test_events_are_acknowledged_once_durable(srv):
    """A 201 means every event of it is in the log already (no flush); when neither the
    database nor the spool takes them, 503 and no ids, so the extension keeps them."""
    from store.writer import NotDurable, Pending

    ev = {"choice": "edited", "text": "Fixed my typo", "site": "x.com"}
    r = await srv.post(f"{BASE}/events", json={"events": [ev, ev]}, headers=hdr(srv.key))
    assert r.status == 201, await r.text()
    ids = (await r.json())["ids"]
    stored = srv.conn.all("SELECT uid FROM events WHERE source = 'extension'")
    assert sorted(x["uid"] for x in stored) == sorted(ids)

    store = srv.app_[STATE].store

    def unkept(event):
        p = Pending("u-unkept", None, None)
        p.future.set_exception(NotDurable("database down and spool disk full"))
        return p

    store.submit = unkept
    r = await srv.post(f"{BASE}/events", json=ev, headers=hdr(srv.key))
    body = await r.json()
    assert r.status == 503 and "ids" not in body and "cannot take events" in body["error"]


async def test_a_batch_sent_again_is_stored_once(srv):
    """As the local backend: the same choice on the same check, sent twice, is one event, per
    device (another device's request id is its own)."""
    ev = {"choice": "edited", "text": "Fixed my typo", "site": "x.com", "request_id": "c0ffee"}
    h = hdr(srv.key, **{"X-Postguard-Device": "cart-1"})
    ids = [(await (await srv.post(f"{BASE}/events", json=ev, headers=h)).json())["ids"] for _ in range(2)]
    assert ids[0] == ids[1]
    other = hdr(srv.key, **{"X-Postguard-Device": "cart-2"})
    assert (await srv.post(f"{BASE}/events", json=ev, headers=other)).status == 201
    assert [x["device"] for x in logged(srv)] == ["ext:nhs-chromebooks:cart-1", "ext:nhs-chromebooks:cart-2"]


async def test_a_queued_record_without_text_is_logged_as_not_checked(srv):
    ev = {"choice": "overridden", "text": "", "site": "x.com", "queued": True,
          "error": "overridden, recorded while postguard was unreachable (40 characters)"}
    r = await srv.post(f"{BASE}/events", json={"events": [ev]}, headers=hdr(srv.key))
    assert r.status == 201, await r.text()
    assert [(x["action"], x["rules"]) for x in logged(srv)] == [("overridden", "")]


async def test_event_budget_and_body_cap(srv):
    one = {"choice": "edited", "text": "hello", "site": "x.com"}
    r = await srv.post(f"{BASE}/events", json={"events": [one] * 200}, headers=hdr(srv.key))
    assert r.status == 201
    r = await srv.post(f"{BASE}/events", json=one, headers=hdr(srv.key))
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    big = json.dumps({"text": "a" * 10, "site": "x.com", "images": [{"name": "x", "data": "A" * (5 << 20)}]})
    r = await srv.post(f"{BASE}/check", data=big, headers={**hdr(srv.key), "Content-Type": "application/json"})
    assert r.status == 413


async def test_inventing_device_ids_does_not_multiply_a_group_budget(srv, monkeypatch):
    from server import extension_api

    monkeypatch.setattr(extension_api, "GROUP_EVENTS", ((1.0, 300), (1 << 20, 64 << 20)))
    one = {"choice": "edited", "text": "hello", "site": "x.com"}
    statuses = []
    for i in range(3):  # 3 x 150 events from 3 claimed devices: the group's 300 run out
        r = await srv.post(f"{BASE}/events", json={"events": [one] * 150},
                           headers=hdr(srv.key, **{"X-Postguard-Device": f"made-up-{i}"}))
        statuses.append(r.status)
    assert statuses == [201, 201, 429]


async def test_a_group_is_rate_limited_as_a_whole(srv, monkeypatch):
    from server import extension_api

    monkeypatch.setattr(extension_api, "GROUP_REQUESTS", (0.001, 3))
    got = [(await srv.post(f"{BASE}/policy", json={}, headers=hdr(srv.key))).status for _ in range(4)]
    assert got == [200, 200, 200, 429]


async def test_the_chromebook_profile_is_the_staff_member(srv):
    profile = "j.doe.fictional@ctreg14.org"  # fictional
    ev = {"choice": "edited", "text": INSULT, "site": "www.facebook.com"}
    h = hdr(srv.key, **{"X-Postguard-Device": "a1b2-c3d4"})
    assert (await srv.post(f"{BASE}/events", json={**ev, "staff": profile}, headers=h)).status == 201
    assert (await srv.post(f"{BASE}/events", json=ev, headers=h)).status == 201
    r = await srv.post(f"{BASE}/events", json={**ev, "staff": "<x>"}, headers=h)
    assert r.status == 400 and "body.events[0].staff" in json.dumps(await r.json())
    assert srv.app_[STATE].store.flush()
    rows = srv.conn.all("SELECT staff, staff_source FROM events WHERE source = 'extension' ORDER BY id")
    assert [(x["staff"], x["staff_source"]) for x in rows] == [(profile, "browser-profile"), (None, None)]
