"""The staff member on the extension's events: the browser profile's account the extension sends
(source browser-profile), validated by the local backend and by the district server's extension
API (tests/extension/test_chromebook_api.py); else the device's assigned user the backend was started with (--staff, source enrolment)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from enforce import log_config
from extension.backend import EXTENSION_ID, TOKEN_HEADER, BackendConfig, create_app
from store import open_store

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
