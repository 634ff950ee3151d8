"""The staff member on the extension's events: the browser profile's account the extension sends
(source browser-profile), validated by the local backend and by the district server's extension
API; else the device's assigned user the backend was started with (--staff, source enrolment)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from enforce import log_config
from extension.backend import EXTENSION_ID, TOKEN_HEADER, BackendConfig, create_app
from server import ServerConfig
from server import create_app as server_app
from server import extension_groups as groups
from server.keys import STATE
from store import open_store
from store.db import Conn, migrate

# Every name here is fictional.
PROFILE = "j.doe.fictional@ctreg14.org"
ENROLLED = "r.fictional@ctreg14.org"
TOKEN = "test-token-0123456789abcdef"
ORIGIN = f"chrome-extension://{EXTENSION_ID}"
GOOD = {"Origin": ORIGIN, TOKEN_HEADER: TOKEN}
EVENT = {"choice": "edited", "text": "You are a pathetic idiot", "site": "www.facebook.com"}
BAD = [("<img src=x>", "letters, digits"), ("x" * 255, "longer than 254"), ("a\u0000b", "letters, digits"),
       (7, "must be string or null")]


def staff_rows(db: str, policy: Any) -> list[tuple[str | None, str | None]]:
    st = open_store(db, log_config(policy))
    try:
        assert st.flush()
        return [(r["staff"], r["staff_source"]) for r in st.read(lambda c: c.all(
            "SELECT staff, staff_source FROM events WHERE source = 'extension' ORDER BY id"))]
    finally:
        st.close()


async def test_the_backend_records_the_profile_else_the_enrolled_user(aiohttp_client: Any, policy: Any,
                                                                      tmp_path: Path) -> None:
    db = str(tmp_path / "log.sqlite")
    c = await aiohttp_client(create_app(BackendConfig(policy=policy, token=TOKEN, db=db, staff=ENROLLED)))
    assert (await c.post("/v1/events", json={**EVENT, "staff": PROFILE}, headers=GOOD)).status == 201
    assert (await c.post("/v1/events", json=EVENT, headers=GOOD)).status == 201
    assert (await c.post("/v1/events", json={**EVENT, "staff": ""}, headers=GOOD)).status == 201  # signed out
    for value, words in BAD:
        r = await c.post("/v1/events", json={"events": [EVENT, {**EVENT, "staff": value}]}, headers=GOOD)
        body = json.dumps(await r.json())
        assert r.status == 400 and "body.events[1].staff" in body and words in body, body
        assert not (isinstance(value, str) and value in body)
    await c.close()  # writes what is queued
    assert staff_rows(db, policy) == [(PROFILE, "browser-profile"), (ENROLLED, "enrolment"), (ENROLLED, "enrolment")]


def test_backend_refuses_a_bad_staff_option(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "postguard", "backend", "--staff", "a;b", "--token", TOKEN,
                        "--db", str(tmp_path / "log.sqlite"), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--staff: letters, digits" in r.stderr


@pytest.fixture
async def srv(aiohttp_client: Any, policy: Any, tmp_path: Path) -> Any:
    db = str(tmp_path / "server.sqlite")
    cfg = ServerConfig(db=db, policy=policy, signing_key=tmp_path / "signing.key", sweep_seconds=3600,
                       retention_hours=1000, spool=tmp_path / "spool.jsonl")
    app = server_app(cfg)
    client = await aiohttp_client(app)
    conn = Conn(db)
    migrate(conn)
    client.key, client.conn, client.app_ = groups.create(conn, "nhs-chromebooks"), conn, app
    yield client
    conn.close()


async def test_the_server_extension_api_records_the_chromebook_profile(srv: Any) -> None:
    h = {"Origin": ORIGIN, "Authorization": f"Bearer {srv.key}", "X-Postguard-Device": "a1b2-c3d4"}
    assert (await srv.post("/api/ext/v1/events", json={**EVENT, "staff": PROFILE}, headers=h)).status == 201
    assert (await srv.post("/api/ext/v1/events", json=EVENT, headers=h)).status == 201
    r = await srv.post("/api/ext/v1/events", json={**EVENT, "staff": "<x>"}, headers=h)
    assert r.status == 400 and "staff" in json.dumps(await r.json())
    assert srv.app_[STATE].store.flush()
    rows = srv.conn.all("SELECT staff, staff_source FROM events WHERE source = 'extension' ORDER BY id")
    assert [(x["staff"], x["staff_source"]) for x in rows] == [(PROFILE, "browser-profile"), (None, None)]
