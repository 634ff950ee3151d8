"""The console on the server: the Devices page, the banner on every page, enrolment codes, revoking."""

from __future__ import annotations

import re
import time
from typing import Any

import aiohttp
import pytest

from console.auth import add_user
from console.views import devices as views
from server.client import DeviceClient
from server.keys import STATE

PASSWORD = "correct horse battery"


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


@pytest.fixture
async def admin(server: Any) -> Any:
    """A browser-like session signed in to the server's console as an admin."""
    add_user(server.app[STATE].store, "it.admin", "admin", PASSWORD)
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with s.get(server.url + "/login") as r:
        token = csrf_of(await r.text())
    async with s.post(server.url + "/login", data={"csrf": token, "username": "it.admin", "password": PASSWORD,
                                                   "next": "/events"}, allow_redirects=False) as r:
        assert r.status == 303
    yield s
    await s.close()


async def page(s: aiohttp.ClientSession, url: str) -> str:
    async with s.get(url) as r:
        assert r.status == 200, url
        return await r.text()


async def test_devices_page_and_banner(server: Any, admin: Any, device: Any) -> None:
    healthy, broken = await device("pc-healthy"), await device("pc-broken")
    await healthy.heartbeat(policy_digest=server.cfg.policy.digest, queue_depth=3)
    html = await page(admin, server.url + "/devices")
    assert healthy.device in html and broken.device in html and "current" in html
    assert 'id="device-problems"' not in html  # healthy, and pc-broken has not been silent 3 intervals
    await broken.heartbeat(proxy_up=False, policy_digest="f" * 16)
    for url in ("/devices", "/events", "/dashboard"):
        views._BANNER.clear()  # the banner's count is cached for a few seconds
        html = await page(admin, server.url + url)
        assert 'id="device-problems"' in html and "2 device problems" in html, url
    html = await page(admin, server.url + "/devices")
    assert "proxy-down" in html and "unknown" in html
    html = await page(admin, server.url + f"/devices/{broken.device}")
    assert "Revoke this device" in html and "proxy-down" in html


async def test_enrolment_codes_page_makes_working_codes(server: Any, admin: Any, http: Any) -> None:
    html = await page(admin, server.url + "/enrol-codes")
    async with admin.post(server.url + "/enrol-codes", data={"csrf": csrf_of(html), "count": "2",
                                                             "expires": "1h"}) as r:
        assert r.status == 200
        shown = re.findall(r"<li><code>([A-Z0-9-]{23})</code></li>", await r.text())
    assert len(shown) == 2
    d = DeviceClient(server.url, http)
    assert (await d.enroll(shown[0])).status == 201
    assert (await DeviceClient(server.url, http).enroll(shown[0])).status == 403
    assert server.query("SELECT action FROM audit WHERE action = 'enrol-code' AND actor = 'it.admin'")


async def test_revoke_from_the_console(server: Any, admin: Any, device: Any) -> None:
    d = await device()
    html = await page(admin, server.url + f"/devices/{d.device}")
    async with admin.post(server.url + f"/devices/{d.device}/revoke", data={"csrf": csrf_of(html)}) as r:
        assert r.status == 200 and "revoked" in await r.text()
    ans = await d.heartbeat()
    assert ans.status == 401 and ans.body["reason"] == "revoked"


async def test_api_needs_no_console_session_and_console_needs_one(server: Any, http: Any) -> None:
    async with http.get(server.url + "/devices", allow_redirects=False) as r:
        assert r.status == 303 and "/login" in r.headers["Location"]
    async with http.post(server.url + "/enrol-codes", data={"count": "1"}) as r:
        assert r.status == 403
    async with http.get(server.url + "/api/v1/health") as r:
        assert r.status == 200


async def test_console_behind_a_tls_proxy(server_config: Any, aiohttp_server: Any) -> None:
    from dataclasses import replace

    from server import create_app

    app = create_app(replace(server_config, behind_proxy=True, secure_cookies=True))
    srv = await aiohttp_server(app)
    url = str(srv.make_url("")).rstrip("/")
    via_proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "postguard.region14.example",
                 "Origin": "https://postguard.region14.example"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.get(url + "/login", headers=via_proxy) as r:
            assert "Secure" in r.headers["Set-Cookie"]
        async with s.post(url + "/login", headers=via_proxy, data={"csrf": "x"}) as r:
            text = await r.text()  # past the same-origin check, stopped by the login form's CSRF token
            assert "cross-origin" not in text and "form expired" in text
        async with s.post(url + "/login", headers={**via_proxy, "Origin": "https://elsewhere.example"},
                          data={"csrf": "x"}) as r:
            assert r.status == 403 and "cross-origin" in await r.text()


async def test_behind_a_proxy_each_client_is_its_own_address(server_config: Any, aiohttp_server: Any) -> None:
    """Sign-in failures are counted per client address: behind the proxy that is the address the
    proxy appended to X-Forwarded-For (the last one), never the proxy's own or a forged first one."""
    from dataclasses import replace

    from server import create_app

    app = create_app(replace(server_config, behind_proxy=True))
    srv = await aiohttp_server(app)
    url = str(srv.make_url("")).rstrip("/")

    async def fail(s: aiohttp.ClientSession, xff: str) -> int:
        # http: a Secure cookie would not come back over the test's plain connection
        hdrs = {"X-Forwarded-Proto": "http", "X-Forwarded-Host": "pg.example", "Origin": "http://pg.example",
                "X-Forwarded-For": xff}
        async with s.get(url + "/login", headers=hdrs) as r:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text()).group(1)
        async with s.post(url + "/login", headers=hdrs, allow_redirects=False,
                          data={"csrf": csrf, "username": "rita", "password": "wrong-Spring2026"}) as r:
            return r.status

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        statuses = [await fail(s, f"10.9.9.9, 10.0.0.{66}") for _ in range(12)]
        assert 429 in statuses  # the sprayer at 10.0.0.66 is stopped...
        # ...and someone else, whatever first entry they forge, is a different client
        assert await fail(s, "10.0.0.66, 10.0.0.7") == 401


async def test_devices_page_shows_the_published_policy_each_device_runs(server: Any, admin: Any, device: Any) -> None:
    from checker import DEFAULT_POLICY_DIR
    from server.keys import SIGNING_KEY
    from server.policy_bundle import publish

    html = await page(admin, server.url + "/devices")
    assert "No signed policy published yet" in html
    c = server.conn()
    try:
        b = publish(c, DEFAULT_POLICY_DIR, server.app[SIGNING_KEY], "cli:it.admin")
    finally:
        c.close()
    on_it, off_it = await device("pc-on-bundle"), await device("pc-elsewhere")
    await on_it.heartbeat(policy_digest=b.policy_digest)
    await off_it.heartbeat(policy_digest="e" * 16)
    html = await page(admin, server.url + "/devices")
    assert f"Published policy: version {b.version}, digest <code>{b.policy_digest}</code>" in html
    row = html[html.index(f'href="/devices/{on_it.device}"'):]
    row = row[:row.index("</tr>")]
    assert "current" in row and f"v{b.version} <code>{b.policy_digest}</code>" in row
    other = html[html.index(f'href="/devices/{off_it.device}"'):]
    assert "unknown" in other[:other.index("</tr>")]
    html = await page(admin, server.url + f"/devices/{on_it.device}")
    assert f"version {b.version}, <code>{b.policy_digest}</code>" in html


def _row_of(html: str, device: str) -> str:
    """The Devices table's row of one device."""
    row = html[html.index(f'<tr data-href="/devices/{device}"'):]
    return row[:row.index("</tr>")]


async def test_devices_show_whom_each_computer_is_assigned_to_and_who_last_signed_in(
        server: Any, admin: Any, device: Any, capsys: Any, monkeypatch: Any) -> None:
    """From the staff fields of the devices' events (migration 10): the assigned user (source
    enrolment: the agent's own agent-start names it) and the newest browser profile or OS account,
    on the Devices page, a device's page, and `postguard devices list --json` / `show`."""
    import json

    from server_helpers import cli, row

    from agent.events import AGENT_START, agent_event
    from server import device_staff
    from store.event import GENESIS, chain_hash

    laptop, lab = await device("mac-staff-3"), await device("pc-lab-9")
    start = agent_event(AGENT_START, laptop.device, None, now=time.time() - 300, user="m.okafor@region14.example")
    start.update(seq=1, prev_hash=GENESIS)
    start["hash"] = chain_hash(start)
    by_os = row(laptop.device, 2, start["hash"], when=time.time() - 200, staff="jdoe", staff_source="os-user")
    by_profile = row(laptop.device, 3, by_os["hash"], when=time.time() - 100,
                     staff="k.lindqvist@region14.example", staff_source="browser-profile")
    ans = await laptop.send_events([start, by_os, by_profile])
    assert ans.status == 200 and ans.body["stored"] == 3, ans
    ans = await lab.send_events([row(lab.device, 1, GENESIS)])  # names no one
    assert ans.status == 200 and ans.body["stored"] == 1, ans

    html = await page(admin, server.url + "/devices")
    assert "<th>Assigned to</th><th>Last signed in</th>" in html
    mine = _row_of(html, laptop.device)
    assert '<td class="assigned"><span class="staff">m.okafor@region14.example</span></td>' in mine
    assert 'k.lindqvist@region14.example</span> <small class="muted staff-source" title="browser-profile">' in mine
    assert "jdoe" not in mine  # an older sign-in
    assert '<td class="assigned">—</td><td class="signed-in">—</td>' in _row_of(html, lab.device).replace("\n    ", "")
    html = await page(admin, server.url + f"/devices/{laptop.device}")
    assert re.search(r'id="assigned"><span class="staff">m\.okafor@region14\.example</span> <small class="muted">'
                     r"last named \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", html)
    assert 'id="signed-in"><span class="staff">k.lindqvist@region14.example</span>' in html
    html = await page(admin, server.url + f"/devices/{lab.device}")
    assert 'id="assigned">— <small class="muted">no event names an assigned user' in html

    rc, out, _ = cli(capsys, "devices", "list", "--db", server.cfg.db, "--json")
    got = {d["id"]: d for d in map(json.loads, out.splitlines())}
    assert rc == 0 and got[laptop.device]["assigned"] == {"staff": "m.okafor@region14.example",
                                                        "staff_source": "enrolment", "ts": start["ts"]}
    assert got[laptop.device]["signed_in"] == {"staff": "k.lindqvist@region14.example",
                                               "staff_source": "browser-profile", "ts": by_profile["ts"]}
    assert got[lab.device]["assigned"] is None and got[lab.device]["signed_in"] is None
    rc, out, _ = cli(capsys, "devices", "list", "--db", server.cfg.db)
    assert rc == 0 and "ASSIGNED TO" in out and "m.okafor@region14.example" in out
    rc, out, _ = cli(capsys, "devices", "show", laptop.device, "--db", server.cfg.db)
    assert "       assigned to: m.okafor@region14.example (enrolment, " in out
    assert "    last signed in: k.lindqvist@region14.example (browser-profile, " in out

    # Only the newest WINDOW events are looked at: a name older than those is unknown.
    monkeypatch.setattr(device_staff, "WINDOW", 2)
    later = row(laptop.device, 4, by_profile["hash"], when=time.time() - 50)
    ans = await laptop.send_events([later, row(laptop.device, 5, later["hash"], when=time.time() - 40)])
    assert ans.status == 200 and ans.body["stored"] == 2, ans
    rc, out, _ = cli(capsys, "devices", "show", laptop.device, "--db", server.cfg.db, "--json")
    shown = json.loads(out)
    assert shown["assigned"] is None and shown["signed_in"] is None
