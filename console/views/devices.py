"""The district server's devices: health and policy status, who uses them (the assigned and the last
signed-in staff member), revocation, enrolment codes."""

from __future__ import annotations

import re
import time
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from console.keys import STORE, USER
from console.threads import in_thread
from console.views.admin import require_admin
from store import bundles, devices, problems
from store.db import Conn

DEVICE_ID = re.compile(r"^[a-z0-9.-]{1,64}$")
EXPIRY_CHOICES = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}
BANNER_SECONDS = 10.0
_BANNER: dict[int, tuple[float, int]] = {}  # id(store) -> (when counted, open problems)


def _staff(c: Conn, rows: list[dict[str, Any]]) -> None:
    """Each device's assigned and last signed-in staff member, from its events (server/device_staff.py)."""
    # Imported here, not at the top: the server package imports the console.
    from server.device_staff import add_staff

    add_staff(c, rows)


def _with_status(c: Conn) -> dict[str, Any]:
    rows = devices.list_devices(c)
    _staff(c, rows)
    current, known = devices.current_digest(c), devices.known_digests(c)
    open_rows = problems.open_problems(c)
    by_device: dict[str, list[str]] = {}
    for p in open_rows:
        by_device.setdefault(p["device"], []).append(p["kind"])
    versions = bundles.versions_by_digest(c)
    for r in rows:
        r["policy_status"] = devices.policy_status(r["policy_digest"], current, known)
        r["policy_version"] = versions.get(r["policy_digest"] or "")
        r["problems"] = sorted(set(by_device.get(r["id"], [])))
    return {"devices": rows, "problems": open_rows, "current": current, "bundle": bundles.latest(c)}


@aiohttp_jinja2.template("devices.html")
async def device_list(request: web.Request) -> dict[str, Any]:
    """Every device: last seen, staff, policy status, components, queue, revoked, and the open problems."""
    return await in_thread(request.app[STORE].read, _with_status)


@aiohttp_jinja2.template("device.html")
async def device_page(request: web.Request) -> dict[str, Any]:
    """One device: its last heartbeat in full and its problem history."""
    dev = request.match_info["device"]
    if not DEVICE_ID.match(dev):
        raise web.HTTPNotFound(text="no such device")

    def get(c: Conn) -> dict[str, Any] | None:
        d = devices.get_device(c, dev)
        if d is None:
            return None
        d["policy_status"] = devices.policy_status(d["policy_digest"], devices.current_digest(c),
                                                   devices.known_digests(c))
        d["policy_version"] = bundles.versions_by_digest(c).get(d["policy_digest"] or "")
        _staff(c, [d])
        return {"d": d, "history": problems.device_problems(c, dev), "saved": request.query.get("saved")}

    got = await in_thread(request.app[STORE].read, get)
    if got is None:
        raise web.HTTPNotFound(text="no such device")
    return got


async def revoke(request: web.Request) -> web.StreamResponse:
    """Revoke a device (admins): its requests are refused with 401 from now on."""
    require_admin(request)
    dev = request.match_info["device"]
    if not DEVICE_ID.match(dev):
        raise web.HTTPNotFound(text="no such device")
    st, who = request.app[STORE], request[USER].name
    await in_thread(st.write, lambda c: devices.revoke(c, dev, who))
    _BANNER.clear()
    raise web.HTTPSeeOther(f"/devices/{dev}?saved=revoked")


async def resolve(request: web.Request) -> web.StreamResponse:
    """Mark a recorded problem handled (admins)."""
    require_admin(request)
    pid = request.match_info["problem"]
    if not pid.isdigit() or len(pid) > 18:
        raise web.HTTPNotFound(text="no such problem")
    st, who = request.app[STORE], request[USER].name
    await in_thread(st.write, lambda c: problems.resolve_by_id(c, int(pid), who))
    _BANNER.clear()
    raise web.HTTPSeeOther("/devices")


@aiohttp_jinja2.template("enrol.html")
async def enrol_form(request: web.Request) -> dict[str, Any]:
    """The form that makes one-time enrolment codes (admins)."""
    require_admin(request)
    return {"codes": None, "choices": list(EXPIRY_CHOICES), "count": 1, "expires_choice": "24h"}


async def enrol_make(request: web.Request) -> web.StreamResponse:
    """Make codes and show them once; only their SHA-256 is stored."""
    require_admin(request)
    form = await request.post()
    count_s, expiry = str(form.get("count") or "1"), str(form.get("expires") or "24h")
    if not count_s.isdigit() or not 1 <= int(count_s) <= 100 or expiry not in EXPIRY_CHOICES:
        raise web.HTTPBadRequest(text="between 1 and 100 codes, valid for 1h, 24h or 7d")
    st, who = request.app[STORE], request[USER].name
    codes, expires = await in_thread(st.write, lambda c: devices.make_codes(c, int(count_s),
                                                                            EXPIRY_CHOICES[expiry], who))
    return aiohttp_jinja2.render_template("enrol.html", request, {
        "codes": codes, "expires": expires, "choices": list(EXPIRY_CHOICES), "count": int(count_s),
        "expires_choice": expiry})


async def banner_count(request: web.Request) -> int:
    """Open device problems for the banner on every page (counted at most every 10 s)."""
    st = request.app[STORE]
    now = time.monotonic()
    seen = _BANNER.get(id(st))
    if seen is not None and now - seen[0] < BANNER_SECONDS:
        return seen[1]
    try:
        n = int(await in_thread(st.read, problems.problem_count))
    except ConnectionError:
        return seen[1] if seen else 0
    _BANNER[id(st)] = (now, n)
    return n
