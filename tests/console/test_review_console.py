"""Issue 16, the console's findings: open redirect, lockout, Secure cookies, users, CSV formulas."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from console_helpers import PASSWORDS, csrf_of, login

from console.auth import LoginThrottle, check_password
from store import Store
from store.event import Event


@pytest.mark.parametrize("nxt", [
    "%2F%09%2Fevil.example", "/%09/evil.example", "%2F%0A%2Fevil.example", "%2F%0D%2Fevil.example",
    "/%5C/evil.example", "%2F%20%2Fevil.example", "https%3A%2F%2Fevil.example", "%2F%2F%2Fevil.example",
    "/%E3%80%80/evil.example",
])
async def test_login_next_never_leaves_the_site(make_client: Any, nxt: str) -> None:
    c = await make_client()
    page = await c.get(f"/login?next={nxt}")
    assert "evil.example" not in await page.text()
    r = await c.post("/login", data={"csrf": csrf_of(await page.text()), "username": "rita",
                                     "password": PASSWORDS["rita"], "next": _unquote(nxt)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/events"


def _unquote(s: str) -> str:
    from urllib.parse import unquote
    return unquote(s)


async def test_login_next_keeps_a_local_path(make_client: Any) -> None:
    c = await make_client()
    r = await login(c, "rita", next_="/events?rule=conduct&page=2")
    assert r.headers["Location"] == "/events?rule=conduct&page=2"


def test_someone_elses_failures_do_not_lock_the_account() -> None:
    t = LoginThrottle(per_account=5, per_client=20, seconds=900)
    for _ in range(50):
        t.failed("10.0.0.66", "alice", 100.0)
    assert t.locked("10.0.0.66", "alice", 101.0)      # the attacker is locked out of it
    assert not t.locked("10.0.0.7", "alice", 101.0)   # the admin at her own desk is not
    assert not t.locked("10.0.0.66", "alice", 1001.0)  # and the attacker not forever


def test_a_sprayed_password_is_locked() -> None:
    t = LoginThrottle(per_account=5, per_client=20, seconds=900)
    for i in range(20):
        assert not t.locked("10.0.0.66", f"user{i}", 100.0)
        t.failed("10.0.0.66", f"user{i}", 100.0)
    assert t.locked("10.0.0.66", "rita", 100.0)  # one try on each of many names: the client is locked
    assert not t.locked("10.0.0.8", "rita", 100.0)


async def test_spraying_through_the_form_is_locked(make_client: Any) -> None:
    c = await make_client(max_login_failures=3)  # 3 per account, 12 per client
    for i in range(12):
        assert (await login(c, f"user{i}", "Spring2026!!")).status == 401
    assert (await login(c, "rita")).status == 429


async def test_cookies_are_secure_over_https(make_client: Any) -> None:
    c = await make_client()
    page = await c.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in page.headers.get("Set-Cookie", "").lower()  # plain HTTP here, no proxy trusted
    from aiohttp.test_utils import make_mocked_request

    from console.views.signin import _secure
    req = make_mocked_request("GET", "/login", app=c.server.app, sslcontext=True)
    assert req.secure and _secure(req)


async def test_admin_disables_and_removes_a_user(admin: Any, make_client: Any, store: Store) -> None:
    rita = await make_client()
    assert (await login(rita, "rita")).status == 303
    page = await admin.get("/users")
    html = await page.text()
    assert page.status == 200 and "rita" in html and "pw_hash" not in html
    r = await admin.post("/users/rita/disable", data={"csrf": csrf_of(html)}, allow_redirects=False)
    assert r.status == 303
    assert (await rita.get("/events", allow_redirects=False)).status == 303    # signed out at once
    assert (await login(await make_client(), "rita")).status == 401            # and cannot sign in
    assert check_password(store, "rita", PASSWORDS["rita"]) is None
    r = await admin.post("/users/rita/enable", data={"csrf": csrf_of(html)}, allow_redirects=False)
    assert (await login(await make_client(), "rita")).status == 303
    r = await admin.post("/users/rita/remove", data={"csrf": csrf_of(html)}, allow_redirects=False)
    assert r.status == 303 and "rita" not in await (await admin.get("/users")).text()
    assert (await admin.post("/users/alice/remove", data={"csrf": csrf_of(html)})).status == 400  # not oneself
    actions = [a["action"] for a in store.audit_trail("alice")]
    assert {"user:disable", "user:enable", "user:remove"} <= set(actions)


async def test_reviewers_cannot_manage_users(reviewer: Any) -> None:
    assert (await reviewer.get("/users")).status == 403
    page = await reviewer.get("/events")
    r = await reviewer.post("/users/alice/disable", data={"csrf": csrf_of(await page.text())})
    assert r.status == 403


async def test_csv_export_does_not_write_formulas(admin: Any, store: Store) -> None:
    store.append(Event(source="extension", action="overridden", site="www.facebook.com", kind="post",
                       text="=HYPERLINK(\"https://evil.example\",\"click\")", policy_digest="abc123",
                       justification="+cmd|' /C calc'!A0", target="@SUM(1+1)", account="personal"))
    assert store.flush()
    body = await (await admin.get("/export.csv")).text()
    rows = list(csv.DictReader(io.StringIO(body)))
    cells = [v for r in rows for v in r.values() if v]
    assert not [v for v in cells if v.lstrip(" ")[:1] in ("=", "+", "-", "@")]
    mine = [r for r in rows if r["action"] == "overridden" and r["target"] == "'@SUM(1+1)"]
    assert mine and mine[0]["content"].startswith("'=HYPERLINK(")
