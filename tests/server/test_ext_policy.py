"""The extension API (/api/ext/v1/, Chromebooks) checks posts with the newest signed policy bundle
the server publishes to its devices, not with its own --policy: a publish is followed without a
restart (and the cached verdicts with it), and a bundle the server's key did not sign is not taken.
On SQLite and PostgreSQL, through aiohttp's test client."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checker import DEFAULT_POLICY_DIR
from extension.backend import EXTENSION_ID
from server import ServerConfig, create_app
from server import extension_groups as groups
from server.checkpoint import load_key
from server.keys import SERVED, STATE
from server.policy_bundle import publish
from store.db import Conn, migrate

ORIGIN = f"chrome-extension://{EXTENSION_ID}"
BASE = "/api/ext/v1"
NEW_WORD = "zorblat"  # a made-up word, obscene only in the published policy
TEXT = f"What a {NEW_WORD} of a week, see you all at the bake sale"


def with_new_word(dest: Path) -> Path:
    """A copy of the shipped policy with NEW_WORD among its obscene words."""
    shutil.copytree(DEFAULT_POLICY_DIR, dest)
    with open(dest / "lexicons" / "profanity.txt", "a", encoding="utf-8") as f:
        f.write(f"\n{NEW_WORD}\n")
    return dest


@pytest.fixture
async def srv(aiohttp_client: Any, db_url: str, policy: Any, tmp_path: Path) -> Any:
    cfg = ServerConfig(db=db_url, policy=policy, signing_key=tmp_path / "signing.key", sweep_seconds=3600,
                       retention_hours=1000, spool=tmp_path / "spool.jsonl", policy_seconds=0.2,
                       policy_cache=tmp_path / "served")
    app = create_app(cfg)
    client = await aiohttp_client(app)
    conn = Conn(db_url)
    migrate(conn)
    client.key = groups.create(conn, "cart-chromebooks")
    client.conn, client.app_, client.cfg = conn, app, cfg
    yield client
    conn.close()


def hdr(srv: Any) -> dict[str, str]:
    return {"Origin": ORIGIN, "Authorization": f"Bearer {srv.key}", "X-Postguard-Device": "cart-07"}


async def view_digest(srv: Any) -> str:
    r = await srv.post(f"{BASE}/policy", json={}, headers=hdr(srv))
    assert r.status == 200, await r.text()
    return str((await r.json())["digest"])


async def fired(srv: Any, text: str = TEXT) -> list[str]:
    r = await srv.post(f"{BASE}/check", json={"text": text, "site": "www.facebook.com"}, headers=hdr(srv))
    assert r.status == 200, await r.text()
    return list((await r.json())["fired"])


async def until(cond: Callable[[], Any], seconds: float = 90.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := await cond():
            return got
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached")


async def first_look(srv: Any) -> None:
    """Wait until the server has had its first look at the newest bundle."""
    await asyncio.wait_for(srv.app_[SERVED].looked.wait(), 60)


def server_events(srv: Any) -> list[tuple[str, str]]:
    assert srv.app_[STATE].store.flush()
    return [(r["kind"], r["error"]) for r in srv.conn.all(
        "SELECT kind, error FROM events WHERE device = 'server' AND kind IN ('policy-updated', 'policy-refused') ORDER BY id")]


async def test_a_publish_is_followed_by_the_extension_api_without_a_restart(srv, policy, tmp_path):
    await first_look(srv)
    assert await view_digest(srv) == policy.digest and await fired(srv) == []  # the server's --policy
    key = load_key(srv.cfg.signing_key)

    b1 = publish(srv.conn, with_new_word(tmp_path / "region14"), key, "test")
    assert b1.policy_digest != policy.digest

    async def on_b1() -> bool:
        return await view_digest(srv) == b1.policy_digest
    await until(on_b1)
    assert await fired(srv)  # the same text, checked again with the published bundle: flagged now
    ev = {"choice": "overridden", "text": TEXT, "site": "www.facebook.com",
          "justification": "Quoting a message I received, to report it"}
    r = await srv.post(f"{BASE}/events", json=ev, headers=hdr(srv))
    assert r.status == 201, await r.text()
    assert srv.app_[STATE].store.flush()
    row = srv.conn.one("SELECT policy_digest, rules FROM events WHERE source = 'extension'")
    assert row["policy_digest"] == b1.policy_digest and row["rules"]
    assert srv.app_[SERVED].version == b1.version

    b2 = publish(srv.conn, DEFAULT_POLICY_DIR, key, "test")  # back to the shipped policy, as version 2

    async def on_b2() -> bool:
        return await view_digest(srv) == b2.policy_digest
    await until(on_b2)
    assert await fired(srv) == []  # not the verdict cached under version 1
    assert server_events(srv) == [("policy-updated", "extension API: version 1"),
                                  ("policy-updated", "extension API: version 2")]
    served = sorted(p.name for p in (tmp_path / "served").iterdir())
    assert len(served) == 2 and served[0].startswith("v1-") and served[1].startswith("v2-")  # the one before stays
    assert all(p.stat().st_mode & 0o077 == 0 for p in (tmp_path / "served").rglob("*"))  # the roster is in there


async def test_a_bundle_the_servers_key_did_not_sign_is_not_taken(srv, policy, tmp_path):
    await first_look(srv)
    folder = with_new_word(tmp_path / "region14")
    forged = publish(srv.conn, folder, Ed25519PrivateKey.generate(), "someone with database access")

    async def refused() -> bool:
        return bool(server_events(srv))
    await until(refused)
    kind, detail = server_events(srv)[0]
    assert kind == "policy-refused" and "version 1 not taken" in detail and "bad signature" in detail
    assert forged.version == 1 and srv.app_[SERVED].version == 0
    assert await view_digest(srv) == policy.digest and await fired(srv) == []  # --policy stays in force
    assert not any((tmp_path / "served").glob("v1-*"))  # nothing of it kept

    good = publish(srv.conn, folder, load_key(srv.cfg.signing_key), "test")  # a newer, properly signed one

    async def on_good() -> bool:
        return await view_digest(srv) == good.policy_digest
    await until(on_good)
    assert await fired(srv) and srv.app_[SERVED].version == 2


async def test_a_cache_folder_it_cannot_write_refuses_the_bundle_with_a_clear_reason(srv, policy, tmp_path):
    await first_look(srv)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be\n")
    srv.app_[SERVED].cache = blocked
    publish(srv.conn, with_new_word(tmp_path / "region14"), load_key(srv.cfg.signing_key), "test")

    async def refused() -> bool:
        return bool(server_events(srv))
    await until(refused)
    kind, detail = server_events(srv)[0]
    assert kind == "policy-refused" and f"cannot unpack it into {blocked}" in detail
    assert srv.app_[SERVED].version == 0 and await fired(srv) == []  # the policy in force stays


async def test_the_extension_apis_events_keep_what_the_published_policy_says(srv, tmp_path):
    """The server's own events (the extension API's) are kept as the policy in force says: the
    --policy's content mode (redacted) until a bundle with content "none" is taken, then none."""
    import re

    await first_look(srv)
    text = "Tyler Quinlan failed the chemistry final again"  # a fictional student of the roster

    async def send(rid: str) -> dict[str, Any]:
        r = await srv.post(f"{BASE}/events", headers=hdr(srv), json={
            "choice": "edited", "site": "www.facebook.com", "text": text, "request_id": rid})
        assert r.status == 201, await r.text()
        assert srv.app_[STATE].store.flush()
        return srv.conn.one("SELECT content_mode, content FROM events WHERE request_id = ?", (rid,))

    before = await send("req-before")
    assert before["content_mode"] == "redacted" and "Quinlan" not in (before["content"] or "")
    folder = tmp_path / "region14"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    rules = folder / "rules.toml"
    rules.write_text(re.sub(r'(?m)^content = "redacted"', 'content = "none"', rules.read_text()))
    b = publish(srv.conn, folder, load_key(srv.cfg.signing_key), "test")
    await until(lambda: _version_is(srv, b.version))
    after = await send("req-after")
    assert after["content_mode"] == "none" and not after["content"]


async def _version_is(srv: Any, version: int) -> bool:
    return srv.app_[SERVED].version == version
